//! `kubectl agents render` held to the truth: what it prints for a file is what the operator
//! writes once the file is applied, field by field (every field render sets has the live
//! object's value; what the API server fills in besides is not render's to print), with the
//! cluster's uids (`--cluster`) and without a cluster (uids aside); and every child the operator
//! wrote is in what render printed.

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use agents_api::{Agent, AgentPhase};
use anyhow::{Context, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use libtest_mimic::Trial;
use serde::Deserialize;
use serde_json::Value;

use crate::support::{Ctx, Env, ends_quietly_on_a_closed_stdout, output_within, phase_is, run_ok, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "plugin_render",
        [render_prints_what_the_operator_applies, render_needs_no_cluster_and_explains_bad_input]
    )
}

/// An Agent using a ModelAPI, an MCPServer and a peer, with the optional children; the peer
/// autoscaled; a Hosted ModelAPI with a claim; a scheduled workflow calling the Agent; a build;
/// and a Secret, which is not the operator's to render.
const MANIFEST: &str = "apiVersion: v1
kind: Secret
metadata: {name: openai}
stringData: {api-key: not-a-real-key}
---
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: research}
spec:
  description: Finds papers
  instructions: Be brief.
  model: {provider: openai, name: gpt-4o, modelAPIRef: {name: gateway}, maxTokens: 512}
  mcpServers: [{name: fetch}]
  peers: [{name: writer}]
  replicas: 2
  config: {memory: {kind: buffer, size: 20}}
  env: [{name: LOG_LEVEL, value: debug}]
  resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}
  disruptionBudget: {minAvailable: 1}
  networkPolicy: {}
---
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: writer}
spec:
  image: ghcr.io/example/writer:v1
  autoscaling: {minReplicas: 1, maxReplicas: 3}
---
apiVersion: agents.dev/v1alpha1
kind: ModelAPI
metadata: {name: gateway}
spec:
  mode: Proxy
  proxy:
    models:
    - {name: gpt-4o, model: openai/gpt-4o, apiKeySecretRef: {name: openai, key: api-key}}
---
apiVersion: agents.dev/v1alpha1
kind: ModelAPI
metadata: {name: local}
spec:
  mode: Hosted
  hosted: {models: [llama3.2], storage: {size: 1Gi}}
---
apiVersion: agents.dev/v1alpha1
kind: MCPServer
metadata: {name: fetch}
spec:
  package: {runtime: uvx, name: mcp-server-fetch, version: '2025.4.7'}
---
apiVersion: agents.dev/v1alpha1
kind: AgentWorkflow
metadata: {name: digest}
spec:
  schedule: {cron: '0 9 * * *'}
  steps:
  - {name: find, agentRef: {name: research}, input: new papers}
---
apiVersion: agents.dev/v1alpha1
kind: AgentBuild
metadata: {name: research-image}
spec:
  git: {url: 'https://github.com/example/research.git', revision: v1}
  image: ghcr.io/example/research
  tag: v1
";

/// One object of a YAML stream or of a `v1` List, by `Kind/name`.
fn objects(stream: &str) -> anyhow::Result<Vec<Value>> {
    let mut objects = Vec::new();
    for document in serde_norway::Deserializer::from_str(stream) {
        let value = Value::deserialize(document)?;
        if !value.is_null() {
            objects.push(value);
        }
    }
    Ok(objects)
}

fn label(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Where `rendered` differs from `live`: every field `rendered` sets must hold the same value in
/// `live` (lists item by item, with as many items), unless `ignored` says the path does not count.
/// An empty list or map is the same as none, as the API server stores it.
fn differences(rendered: &Value, live: &Value, path: &str, ignored: &dyn Fn(&str) -> bool, out: &mut Vec<String>) {
    if ignored(path) {
        return;
    }
    match (rendered, live) {
        (Value::Object(fields), Value::Object(live_fields)) => {
            for (key, value) in fields {
                let inner = format!("{path}.{key}");
                match live_fields.get(key) {
                    Some(live_value) => differences(value, live_value, &inner, ignored, out),
                    // Go's omitempty: the API server stores no empty list or map.
                    None if value.is_null()
                        || value == &Value::Array(Vec::new())
                        || value == &serde_json::json!({}) => {}
                    None if !ignored(&inner) => out.push(format!("{inner}: rendered {value}, missing in the cluster")),
                    None => {}
                }
            }
        }
        (Value::Array(items), Value::Array(live_items)) if items.len() == live_items.len() => {
            for (i, (item, live_item)) in items.iter().zip(live_items).enumerate() {
                differences(item, live_item, &format!("{path}[{i}]"), ignored, out);
            }
        }
        _ if rendered == live => {}
        _ => out.push(format!("{path}: rendered {rendered}, the cluster has {live}")),
    }
}

impl Ctx {
    /// The live object a rendered one names.
    async fn live_of(&self, rendered: &Value) -> anyhow::Result<Option<Value>> {
        let object: DynamicObject = serde_json::from_value(rendered.clone())?;
        let types = object.types.context("a rendered object without apiVersion and kind")?;
        let gvk = GroupVersionKind::try_from(&types)?;
        let (resource, _) = kube::discovery::pinned_kind(&self.client, &gvk).await?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &self.ns, &resource);
        let name = object.metadata.name.context("a rendered object without a name")?;
        Ok(api.get_opt(&name).await?.map(serde_json::to_value).transpose()?)
    }

    /// Checks each rendered object against the live one; all differences in one error.
    async fn holds(&self, rendered: &[Value], ignored: &dyn Fn(&str) -> bool, what: &str) -> anyhow::Result<()> {
        let mut found = Vec::new();
        for object in rendered {
            let Some(live) = self.live_of(object).await? else {
                found.push(format!("{}: rendered, not in the cluster", label(object)));
                continue;
            };
            let mut differ = Vec::new();
            differences(object, &live, "", ignored, &mut differ);
            found.extend(differ.into_iter().map(|d| format!("{} {d}", label(object))));
        }
        ensure!(found.is_empty(), "{what} differs from what the operator applied:\n{}", found.join("\n"));
        Ok(())
    }

    /// `Kind/name` of every object the operator wrote in this namespace (its label says so).
    async fn operators_children(&self) -> anyhow::Result<Vec<String>> {
        let selector = ListParams::default().labels("app.kubernetes.io/managed-by=agents-operator");
        let mut children = Vec::new();
        macro_rules! collect {
            ($($kind:ty),*) => {$(
                for object in self.api::<$kind>().list(&selector).await?.items {
                    children.push(format!("{}/{}", <$kind as kube::Resource>::kind(&()), object.metadata.name.unwrap_or_default()));
                }
            )*};
        }
        collect!(
            ServiceAccount,
            ConfigMap,
            Deployment,
            Service,
            HorizontalPodAutoscaler,
            PodDisruptionBudget,
            NetworkPolicy,
            PersistentVolumeClaim
        );
        for resource in
            [agents_render::workflow::argo::cron_workflow_resource(), agents_render::build::pipeline_run_resource()]
        {
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &self.ns, &resource);
            for object in api.list(&selector).await?.items {
                children.push(format!("{}/{}", resource.kind, object.metadata.name.unwrap_or_default()));
            }
        }
        children.sort();
        Ok(children)
    }
}

async fn render_prints_what_the_operator_applies(ctx: Ctx) -> anyhow::Result<()> {
    let file = ctx.cluster.dir().join(format!("{}-render.yaml", ctx.ns));
    std::fs::write(&file, MANIFEST)?;
    let path = file.to_str().context("a UTF-8 path")?;
    // Before anything exists, and with no cluster read: what applying the file will do.
    let before_text = ctx.agents_ok(&["render", "-f", path])?;

    let _operator = ctx.operator(&[])?;
    ctx.agents_ok(&["apply", "-f", path])?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "research", "research Ready", phase_is(AgentPhase::Ready)).await?;
    let workflows: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &ctx.ns, &agents_render::workflow::argo::cron_workflow_resource());
    ctx.wait_for_value("the CronWorkflow", || async { Ok(workflows.get_opt("digest").await?) }).await?;

    // With the cluster's uids, dependencies and runs: every field as applied.
    let rendered = objects(&ctx.agents_ok(&["render", "-f", path, "--cluster"])?)?;
    let mut labels: Vec<String> = rendered.iter().map(label).collect();
    labels.sort();
    // The build's run exists already, so the operator writes no other: render prints none.
    let mut expected = ctx.operators_children().await?;
    expected.retain(|l| !l.starts_with("PipelineRun/"));
    ensure!(labels == expected, "render --cluster printed {labels:?}; the operator wrote {expected:?}");
    ctx.holds(&rendered, &|_| false, "render --cluster").await?;

    // Without a cluster, the same objects and fields but the owners' uids (placeholders, and the
    // content hash that covers them), and the build's first run, which the operator created.
    let uid_free = |path: &str| {
        path.starts_with(".metadata.ownerReferences") && path.ends_with(".uid")
            || path == ".metadata.annotations.agents.dev/spec-hash"
    };
    let before = objects(&before_text)?;
    let mut labels: Vec<String> = before.iter().map(label).collect();
    labels.sort();
    let expected = ctx.operators_children().await?;
    ensure!(labels == expected, "render printed {labels:?}; the operator wrote {expected:?}");
    ctx.holds(&before, &uid_free, "render without a cluster").await?;

    // The same from stdin; -o json is the same objects as a v1 List; kubectl takes the stream.
    let mut from_stdin = ctx.agents(&["render", "-f", "-"]);
    from_stdin.stdin(Stdio::piped());
    ensure!(objects(&piped(from_stdin, MANIFEST.to_string())?)? == before, "render -f - printed other objects");
    let list: Value = serde_json::from_str(&ctx.agents_ok(&["render", "-f", path, "-o", "json"])?)?;
    ensure!(list["kind"] == "List" && list["items"].as_array() == Some(&before), "-o json: {list}");
    let mut kubectl = ctx.kubectl();
    kubectl.args(["apply", "--dry-run=client", "-f", "-", "-n", &ctx.ns]).stdin(Stdio::piped());
    let applied = piped(kubectl, before_text)?;
    let lines: Vec<&str> = applied.lines().collect();
    ensure!(lines.len() == before.len() && lines.iter().all(|l| l.ends_with("(dry run)")), "{applied}");
    Ok(())
}

/// Runs `command` with `input` on its stdin; its stdout.
fn piped(mut command: std::process::Command, input: String) -> anyhow::Result<String> {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output()?;
    writer.join().map_err(|_| anyhow::anyhow!("the writer panicked"))??;
    if !output.status.success() {
        bail!("{command:?} exited with {}: {}", output.status, text(&output.stderr));
    }
    Ok(text(&output.stdout))
}

async fn render_needs_no_cluster_and_explains_bad_input(ctx: Ctx) -> anyhow::Result<()> {
    let dir = ctx.cluster.dir().join(format!("{}-render", ctx.ns));
    std::fs::create_dir_all(&dir)?;
    let agent = "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: research}\n\
                 spec:\n  model: {provider: openai, name: gpt-4o, modelAPIRef: {name: gateway}}\n  mcpServers: [{name: fetch}]\n";
    std::fs::write(dir.join("agent.yaml"), agent)?;
    let path = dir.to_str().context("a UTF-8 path")?;

    // No kubeconfig at all: kubectl runs the plugin, which reads nothing but the files.
    let no_cluster = |args: &[&str]| {
        let mut command = ctx.kubectl();
        command.env("KUBECONFIG", dir.join("absent")).arg("agents").args(args);
        command
    };
    let output = run_ok(&mut no_cluster(&["render", "-f", path, "-n", "team-a"]))?;
    let printed = text(&output.stdout);
    for said in [
        "#   owner uids: 00000000-0000-0000-0000-000000000000 stands for the uid",
        "#   ModelAPI team-a/gateway: not in the input: assumed Ready at http://gateway.team-a.svc.cluster.local:8000",
        "#   MCPServer team-a/fetch: not in the input: assumed Ready at http://fetch.team-a.svc.cluster.local:8000/mcp",
        "value: http://gateway.team-a.svc.cluster.local:8000",
    ] {
        ensure!(printed.contains(said), "render did not print {said:?}:\n{printed}");
    }
    ensure!(output.stderr.is_empty(), "{}", text(&output.stderr));
    let names: Vec<String> = objects(&printed)?.iter().map(label).collect();
    ensure!(
        names == ["ServiceAccount/research", "ConfigMap/research", "Deployment/research", "Service/research"],
        "{names:?}"
    );
    // -o json: the notes on stderr, the List on stdout.
    let output = run_ok(&mut no_cluster(&["render", "-f", path, "-o", "json"]))?;
    ensure!(text(&output.stderr).starts_with("Assumed:\n  owner uids:"), "{}", text(&output.stderr));
    ensure!(serde_json::from_slice::<Value>(&output.stdout)?["items"].as_array().map(Vec::len) == Some(4));

    // Bad input: what is wrong, where, and what to do; exit 1, nothing on stdout.
    let bad_dir = dir.join("bad");
    std::fs::create_dir_all(&bad_dir)?;
    for (file, text_of, said) in [
        ("kind.yaml", agent.replace("kind: Agent", "kind: Agnet"), "has no kind Agnet (did you mean Agent?)"),
        (
            "field.yaml",
            format!("{agent}  replicas: two\n"),
            "Agent research: spec.replicas: invalid type: string \"two\"",
        ),
        ("version.yaml", agent.replace("v1alpha1", "v2"), "set apiVersion: agents.dev/v1alpha1"),
        (
            "secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n".to_string(),
            "hold no agents.dev resource",
        ),
    ] {
        let bad = bad_dir.join(file);
        std::fs::write(&bad, text_of)?;
        let output = output_within(&mut no_cluster(&["render", "-f", bad.to_str().unwrap_or_default()]))?;
        let stderr = text(&output.stderr);
        ensure!(output.status.code() == Some(1), "{file}: exit {:?}: {stderr}", output.status.code());
        ensure!(stderr.contains(said) && output.stdout.is_empty(), "{file}: {stderr}");
    }
    ends_quietly_on_a_closed_stdout(&mut no_cluster(&[
        "render",
        "-f",
        dir.join("agent.yaml").to_str().unwrap_or_default(),
    ]))
}

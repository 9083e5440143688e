//! `kubectl agents install`, `uninstall` and `check`. Installing and uninstalling touch the
//! cluster's CRDs, which the shared cluster's other tests rely on: those scenarios run on a
//! second, private control plane of their own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use agents_api::Agent;
use agents_testenv::{Cluster, Options};
use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use libtest_mimic::Trial;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::support::{Ctx, Env, output_within, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "plugin_install",
        [install_check_and_uninstall_on_a_cluster_of_their_own, check_reports_what_it_may_not_see]
    )
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
const CRD: &str = "agents.agents.dev";
const NAMESPACE: &str = "agents-system";
const OPERATOR: &str = "agents-operator";

/// What `install` prints, in the order it applies: the CRDs first, the Deployment last.
/// What `install` prints, in order: every CRD of the API, then the operator's objects.
fn applied() -> Vec<String> {
    let crds = agents_api::crd::all().into_iter().map(|crd| {
        format!("customresourcedefinition.apiextensions.k8s.io/{} applied", crd.metadata.name.unwrap_or_default())
    });
    let operator = [
        "namespace/agents-system applied",
        "serviceaccount/agents-operator applied",
        "clusterrole.rbac.authorization.k8s.io/agents-operator applied",
        "clusterrolebinding.rbac.authorization.k8s.io/agents-operator applied",
        "role.rbac.authorization.k8s.io/agents-operator-leader-election applied",
        "rolebinding.rbac.authorization.k8s.io/agents-operator-leader-election applied",
        "deployment.apps/agents-operator applied",
    ];
    crds.chain(operator.map(String::from)).collect()
}

/// The whole story of a command, for failure messages.
fn story(output: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// Every object of a YAML stream; a `List` counts as its items.
pub(crate) fn objects(yaml: &str) -> anyhow::Result<Vec<Value>> {
    let mut objects = Vec::new();
    for document in serde_norway::Deserializer::from_str(yaml) {
        let value = Value::deserialize(document)?;
        match value["kind"].as_str() {
            None => {}
            Some("List") => objects.extend(value["items"].as_array().cloned().unwrap_or_default()),
            Some(_) => objects.push(value),
        }
    }
    Ok(objects)
}

/// `kind namespace/name`.
pub(crate) fn identity(object: &Value) -> String {
    let metadata = &object["metadata"];
    let namespace = metadata["namespace"].as_str().unwrap_or("");
    format!("{} {namespace}/{}", object["kind"].as_str().unwrap_or("?"), metadata["name"].as_str().unwrap_or("?"))
}

fn identities(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().map(identity).collect()
}

/// The same value with every number a float: kustomize writes the CRD's `minimum: 1.0` as `1`.
pub(crate) fn numbers_as_floats(value: Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map(Value::from).unwrap_or(Value::Number(n)),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, numbers_as_floats(v))).collect()),
        other => other,
    }
}

/// The row of `check -o json` called `name`.
fn row<'a>(report: &'a Value, name: &str) -> anyhow::Result<&'a Value> {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .with_context(|| format!("no check {name:?} in {report:#}"))
}

/// One private control plane; the plugin and kubectl talk to it only.
struct Private<'a> {
    ctx: &'a Ctx,
    cluster: Cluster,
    client: kube::Client,
}

impl Private<'_> {
    /// `kubectl` (with the plugin on PATH) aimed at the private cluster, by KUBECONFIG too: a
    /// mistake here must never reach the shared cluster's CRDs.
    fn kubectl(&self) -> Command {
        let mut command = self.ctx.kubectl();
        command.env("KUBECONFIG", self.cluster.kubeconfig());
        command
    }

    /// `kubectl agents ARGS --kubeconfig <the private cluster's>`.
    fn agents(&self, args: &[&str]) -> Command {
        self.agents_with(&self.cluster.kubeconfig(), args)
    }

    fn agents_with(&self, kubeconfig: &Path, args: &[&str]) -> Command {
        let mut command = self.kubectl();
        command.arg("agents").args(args).arg("--kubeconfig").arg(kubeconfig);
        command
    }

    fn output(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut command = self.agents(args);
        output_within(&mut command)
    }

    /// Runs `kubectl agents ARGS`, expecting this exit code.
    fn expect(&self, args: &[&str], code: i32) -> anyhow::Result<Output> {
        let output = self.output(args)?;
        ensure!(
            output.status.code() == Some(code),
            "kubectl agents {} did not exit {code}: {}",
            args.join(" "),
            story(&output)
        );
        Ok(output)
    }

    /// `check -o json`, expecting this exit code.
    fn check(&self, code: i32) -> anyhow::Result<Value> {
        let output = self.expect(&["check", "-o", "json"], code)?;
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    async fn crd_exists(&self) -> anyhow::Result<bool> {
        Ok(Api::<CustomResourceDefinition>::all(self.client.clone()).get_opt(CRD).await?.is_some())
    }

    async fn deployment(&self) -> anyhow::Result<Option<Deployment>> {
        Ok(Api::<Deployment>::namespaced(self.client.clone(), NAMESPACE).get_opt(OPERATOR).await?)
    }

    /// Whether the operator's ServiceAccount may `verb` secrets in every namespace, as the API
    /// server's RBAC authorizer answers `kubectl auth can-i`.
    fn operator_may(&self, verb: &str) -> anyhow::Result<bool> {
        let account = format!("--as=system:serviceaccount:{NAMESPACE}:{OPERATOR}");
        let output = output_within(self.kubectl().args(["auth", "can-i", verb, "secrets", "-A", &account]))?;
        match text(&output.stdout).trim() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => anyhow::bail!("kubectl auth can-i {verb} secrets: {}", story(&output)),
        }
    }

    /// The args of the operator's container.
    async fn operator_args(&self) -> anyhow::Result<Vec<String>> {
        let deployment = self.deployment().await?.context("no operator Deployment")?;
        let containers = deployment.spec.template.spec.map(|s| s.containers).unwrap_or_default();
        Ok(containers.into_iter().next().and_then(|c| c.args).unwrap_or_default())
    }
}

async fn install_check_and_uninstall_on_a_cluster_of_their_own(ctx: Ctx) -> anyhow::Result<()> {
    let name = format!("install-{}", ctx.ns);
    let result = async {
        let cluster = Cluster::up(&name, &Options::default()).await.context("starting the private control plane")?;
        let client = cluster.client().await?;
        let private = Private { ctx: &ctx, cluster, client };
        scenarios(&private).await
    }
    .await;
    let down = Cluster::down(&name).with_context(|| format!("stopping the private control plane {name}"));
    result?;
    down?;
    Ok(())
}

async fn scenarios(p: &Private<'_>) -> anyhow::Result<()> {
    empty_cluster_is_not_ready(p).await?;
    dry_run_prints_what_kustomize_builds(p).await?;
    install_creates_everything(p).await?;
    follow_secrets_comes_and_goes_with_the_flag(p).await?;
    uninstall_asks_first(p).await?;
    uninstall_keeps_the_crds_and_agents(p).await?;
    an_operator_outside_the_cluster_is_found_by_its_lease(p).await?;
    uninstall_crds_removes_them(p).await
}

/// On a cluster without the CRDs and the operator, `check` exits 1, names both with the install
/// hint, and reports Tekton's and Argo's CRDs present but their controllers absent.
async fn empty_cluster_is_not_ready(p: &Private<'_>) -> anyhow::Result<()> {
    // Any command that needs the API says how to get it.
    let output = p.expect(&["get"], 1)?;
    let stderr = text(&output.stderr);
    ensure!(
        stderr.trim() == "error: the agents.dev CRDs are not installed in this cluster: run `kubectl agents install`",
        "{stderr}"
    );

    let output = p.expect(&["check"], 1)?;
    let table = text(&output.stdout);
    ensure!(table.starts_with("CHECK") && table.contains("STATUS") && table.contains("DETAIL"), "{table}");
    for needle in [
        "CRD agents.agents.dev",
        "not installed",
        "hint: run `kubectl agents install`",
        "no Deployment labelled app.kubernetes.io/name=agents-operator in any namespace",
        "an operator that runs outside the cluster is found by its leader Lease",
        "pipelineruns.tekton.dev served",
        "workflows.argoproj.io served",
    ] {
        ensure!(table.contains(needle), "check does not say {needle:?}:\n{table}");
    }
    let missing: Vec<String> =
        agents_api::crd::all().iter().map(|c| format!("CRD {}", c.metadata.name.clone().unwrap_or_default())).collect();
    let summary = format!("Not ready: {}, Operator", missing.join(", "));
    ensure!(table.contains(&summary), "check does not say {summary:?}:\n{table}");

    let report = p.check(1)?;
    ensure!(report["ready"] == false, "{report:#}");
    for (name, status) in [
        ("CRD agents.agents.dev", "fail"),
        ("Operator", "fail"),
        ("Tekton CRD", "ok"),
        ("Tekton controller", "warn"),
        ("Argo Workflows CRD", "ok"),
        ("Argo Workflows controller", "warn"),
    ] {
        let check = row(&report, name)?;
        ensure!(check["status"] == status, "{name} should be {status}: {check:#}");
    }
    let operator = row(&report, "Operator")?;
    ensure!(operator["hint"].as_str().unwrap_or_default().contains("kubectl agents install"), "{operator:#}");
    let tekton = row(&report, "Tekton controller")?;
    ensure!(
        tekton["detail"].as_str().unwrap_or_default().contains("no Deployment tekton-pipelines-controller")
            && tekton["hint"].as_str().unwrap_or_default().contains("kubectl agents build"),
        "{tekton:#}"
    );
    let argo = row(&report, "Argo Workflows controller")?;
    ensure!(
        argo["detail"].as_str().unwrap_or_default().contains("no Deployment workflow-controller")
            && argo["hint"].as_str().unwrap_or_default().contains("AgentWorkflows"),
        "{argo:#}"
    );
    Ok(())
}

/// `install --dry-run` prints every manifest, contacts nothing (it works with a kubeconfig whose
/// server does not exist) and creates nothing; what it prints is what `kubectl apply -k
/// operator/config/default` applies, so both ways of installing come from the same files. With
/// `--follow-secrets` it prints what `operator/config/follow-secrets` builds, in a stream kubectl
/// reads; with `--crds-only` too it is refused.
async fn dry_run_prints_what_kustomize_builds(p: &Private<'_>) -> anyhow::Result<()> {
    let output = p.expect(&["install", "--dry-run"], 0)?;
    let printed = objects(&text(&output.stdout))?;
    ensure!(
        printed.len() == applied().len(),
        "install --dry-run printed {} objects: {}",
        printed.len(),
        story(&output)
    );
    let crds = agents_api::crd::all().len();
    ensure!(
        printed[..crds].iter().all(|o| o["kind"] == "CustomResourceDefinition")
            && printed.last().is_some_and(|o| o["kind"] == "Deployment"),
        "out of order: the CRDs come first, the Deployment last"
    );

    let kubeconfig: Value = serde_norway::from_str(&std::fs::read_to_string(p.cluster.kubeconfig())?)?;
    let mut dead = kubeconfig.clone();
    dead["clusters"][0]["cluster"]["server"] = json!("https://127.0.0.1:9");
    let dead_path = p.cluster.dir().join("unreachable.kubeconfig");
    std::fs::write(&dead_path, serde_norway::to_string(&dead)?)?;
    let offline = output_within(&mut p.agents_with(&dead_path, &["install", "--dry-run"]))?;
    ensure!(
        offline.status.success() && offline.stdout == output.stdout,
        "dry run without a server: {}",
        story(&offline)
    );

    let crds_only = p.expect(&["install", "--dry-run", "--crds-only"], 0)?;
    let crds = objects(&text(&crds_only.stdout))?;
    let names: Vec<&str> = crds.iter().filter_map(|c| c["metadata"]["name"].as_str()).collect();
    let expected: Vec<String> = agents_api::crd::all().into_iter().filter_map(|c| c.metadata.name).collect();
    ensure!(names == expected, "{}", story(&crds_only));

    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../operator/config");
    let default = config.join("default");
    let default = default.to_str().context("a UTF-8 path")?;
    let applied = crate::support::run_ok(p.kubectl().args(["apply", "-k", default, "--dry-run=client", "-o", "yaml"]))?;
    let applied = objects(&text(&applied.stdout))?;
    ensure!(
        identities(&applied) == identities(&printed),
        "kubectl apply -k applies {:?}, install {:?}",
        identities(&applied),
        identities(&printed)
    );
    same_as_kustomize(p, printed, &config.join("default"))?;

    // With --follow-secrets: the overlay's objects, and a stream kubectl reads (it is written
    // by the plugin, not copied from the files).
    let output = p.expect(&["install", "--dry-run", "--follow-secrets"], 0)?;
    let stdout = text(&output.stdout);
    ensure!(stdout.starts_with("# kubectl agents install --follow-secrets: "), "{}", story(&output));
    let stream = p.cluster.dir().join("follow-secrets.yaml");
    std::fs::write(&stream, &stdout)?;
    let stream = stream.to_str().context("a UTF-8 path")?;
    let read = crate::support::run_ok(p.kubectl().args(["apply", "-f", stream, "--dry-run=client", "-o", "yaml"]))?;
    let printed = objects(&stdout)?;
    ensure!(identities(&objects(&text(&read.stdout))?) == identities(&printed), "kubectl reads otherwise:\n{stdout}");
    same_as_kustomize(p, printed, &config.join("follow-secrets"))?;

    let refused = p.expect(&["install", "--dry-run", "--crds-only", "--follow-secrets"], 1)?;
    let stderr = text(&refused.stderr);
    ensure!(
        refused.stdout.is_empty() && stderr.contains("--crds-only installs no operator to follow Secrets"),
        "{}",
        story(&refused)
    );

    ensure!(!p.crd_exists().await?, "install --dry-run created the CRD");
    let namespaces: Api<Namespace> = Api::all(p.client.clone());
    ensure!(namespaces.get_opt(NAMESPACE).await?.is_none(), "install --dry-run created the namespace");
    Ok(())
}

/// `printed` (by `install --dry-run`) holds, object for object, what `kubectl kustomize
/// kustomization` builds. Compared as they are but for what a release build of the plugin pins
/// by digest and the kustomizations name by tag (see plugin/src/manifests.rs `pin`): the
/// operator's image loses its `@sha256:…` and the `--agent-runtime-image=…@sha256:…` arg is
/// dropped. Other builds (these tests') pin nothing, and then nothing is skipped.
fn same_as_kustomize(p: &Private<'_>, printed: Vec<Value>, kustomization: &Path) -> anyhow::Result<()> {
    let built = crate::support::run_ok(p.kubectl().arg("kustomize").arg(kustomization))?;
    let mut built = objects(&text(&built.stdout))?;
    built.sort_by_key(identity);
    let mut printed: Vec<Value> = printed.into_iter().map(unpinned).collect();
    printed.sort_by_key(identity);
    ensure!(
        identities(&built) == identities(&printed),
        "kustomize builds {:?} of {kustomization:?}, install --dry-run prints {:?}",
        identities(&built),
        identities(&printed)
    );
    for (built, printed) in built.into_iter().zip(printed) {
        ensure!(
            numbers_as_floats(built) == numbers_as_floats(printed.clone()),
            "kustomize builds {} otherwise from {kustomization:?}",
            identity(&printed)
        );
    }
    Ok(())
}

/// The object without the image digests a release build of the plugin pins.
fn unpinned(mut object: Value) -> Value {
    if object["kind"] != "Deployment" {
        return object;
    }
    for container in
        object.pointer_mut("/spec/template/spec/containers").and_then(Value::as_array_mut).into_iter().flatten()
    {
        if let Some((image, _digest)) = container["image"].as_str().and_then(|i| i.split_once('@')) {
            container["image"] = json!(image);
        }
        if let Some(args) = container["args"].as_array_mut() {
            args.retain(|a| {
                !a.as_str().is_some_and(|a| a.starts_with("--agent-runtime-image=") && a.contains("@sha256:"))
            });
        }
    }
    object
}

/// With only the CRDs installed and the operator running here (as in the README's demo), `check`
/// and `version` find it by its leader Lease; once it stops, `check` fails again.
async fn an_operator_outside_the_cluster_is_found_by_its_lease(p: &Private<'_>) -> anyhow::Result<()> {
    let kubeconfig = p.cluster.kubeconfig();
    let mut operator =
        p.ctx.operator_as(&kubeconfig, &["--leader-elect=true", "--leader-election-namespace=default"])?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let operator_row = loop {
        let report = p.check(0)?;
        let row = row(&report, "Operator")?.clone();
        // The Lease is labelled with the version a moment after the operator leads.
        if row["status"] == "ok" || std::time::Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let detail = operator_row["detail"].as_str().unwrap_or_default();
    ensure!(
        operator_row["status"] == "ok"
            && detail.starts_with("running outside the cluster: leader ")
            && detail.contains("(Lease default/agents-operator, renewed ")
            && detail.ends_with(&format!("version {VERSION}")),
        "{operator_row:#}"
    );
    let version = text(&p.expect(&["version"], 0)?.stdout);
    ensure!(
        version.contains(&format!("Operator: {VERSION}, outside the cluster: leader ")),
        "version printed:\n{version}"
    );
    operator.stop()?;
    let report = p.check(1)?;
    ensure!(row(&report, "Operator")?["status"] == "fail", "{report:#}");
    Ok(())
}

/// `install --wait` applies everything in order and waits for the operator; the cluster is then
/// ready, `version` sees the versions, and a second install changes nothing.
async fn install_creates_everything(p: &Private<'_>) -> anyhow::Result<()> {
    let output = p.expect(&["install", "--wait", "--timeout", "60s"], 0)?;
    let lines: Vec<String> = text(&output.stdout).lines().map(str::to_string).collect();
    let mut expected = applied();
    expected.push("deployment.apps/agents-operator available".into());
    ensure!(lines == expected, "install printed:\n{}", story(&output));

    let crd = Api::<CustomResourceDefinition>::all(p.client.clone()).get(CRD).await?;
    let established = crd.status.and_then(|s| s.conditions).unwrap_or_default();
    ensure!(established.iter().any(|c| c.type_ == "Established" && c.status == "True"), "{established:?}");
    ensure!(
        crd.metadata.labels.unwrap_or_default().get("app.kubernetes.io/version").map(String::as_str) == Some(VERSION),
        "the CRD's version label"
    );
    let namespace = Api::<Namespace>::all(p.client.clone()).get(NAMESPACE).await?;
    ensure!(
        namespace.metadata.labels.unwrap_or_default().get("pod-security.kubernetes.io/enforce").map(String::as_str)
            == Some("restricted"),
        "the namespace is not restricted"
    );
    Api::<ServiceAccount>::namespaced(p.client.clone(), NAMESPACE).get(OPERATOR).await?;
    Api::<ClusterRole>::all(p.client.clone()).get(OPERATOR).await?;
    Api::<ClusterRoleBinding>::all(p.client.clone()).get(OPERATOR).await?;
    Api::<Role>::namespaced(p.client.clone(), NAMESPACE).get("agents-operator-leader-election").await?;
    Api::<RoleBinding>::namespaced(p.client.clone(), NAMESPACE).get("agents-operator-leader-election").await?;
    let deployment = p.deployment().await?.context("no operator Deployment")?;
    let image = deployment.spec.template.spec.as_ref().map(|s| s.containers[0].image.clone().unwrap_or_default());
    ensure!(image.as_deref().is_some_and(|i| i.ends_with(&format!(":v{VERSION}"))), "the operator image is {image:?}");
    let labels = deployment.metadata.labels.clone().unwrap_or_default();
    ensure!(labels.get("app.kubernetes.io/version").map(String::as_str) == Some(VERSION), "labels {labels:?}");
    ensure!(deployment.status.as_ref().and_then(|s| s.available_replicas) == Some(2), "{:?}", deployment.status);
    let managers: Vec<String> =
        deployment.metadata.managed_fields.iter().flatten().filter_map(|m| m.manager.clone()).collect();
    ensure!(managers.iter().any(|m| m == "kubectl-agents"), "field managers {managers:?}");

    let report = p.check(0)?;
    ensure!(report["ready"] == true, "{report:#}");
    ensure!(row(&report, "CRD agents.agents.dev")?["status"] == "ok", "{report:#}");
    let operator = row(&report, "Operator")?;
    ensure!(
        operator["status"] == "ok"
            && operator["detail"].as_str().unwrap_or_default().contains(&format!("2/2 ready, version {VERSION}")),
        "{operator:#}"
    );
    let table = text(&p.expect(&["check"], 0)?.stdout);
    ensure!(table.contains("Ready: the CRDs are installed and the operator is running"), "{table}");

    let version = text(&p.expect(&["version"], 0)?.stdout);
    ensure!(
        version.contains(&format!("CRDs:     {VERSION}"))
            && version.contains(&format!("Operator: {VERSION} (namespace {NAMESPACE})")),
        "version printed:\n{version}"
    );

    let again = p.expect(&["install"], 0)?;
    let again_stdout = text(&again.stdout);
    let lines: Vec<&str> = again_stdout.lines().collect();
    ensure!(lines == applied(), "a second install printed:\n{}", story(&again));
    let after = p.deployment().await?.context("the Deployment went")?;
    ensure!(
        after.metadata.generation == deployment.metadata.generation,
        "a second install changed the Deployment's spec: generation {:?} -> {:?}",
        deployment.metadata.generation,
        after.metadata.generation
    );
    Ok(())
}

/// `install --follow-secrets` lets the operator list and watch Secrets (not get them) and passes
/// it the flag last; a plain install again takes both away: every install applies as the same
/// field manager, so what it no longer applies goes.
async fn follow_secrets_comes_and_goes_with_the_flag(p: &Private<'_>) -> anyhow::Result<()> {
    let output = p.expect(&["install", "--follow-secrets"], 0)?;
    let stdout = text(&output.stdout);
    ensure!(
        stdout.lines().eq(applied().iter().map(String::as_str)),
        "install --follow-secrets printed:\n{}",
        story(&output)
    );
    ensure!(text(&output.stderr).contains("the operator (following Secrets)"), "{}", story(&output));
    ensure!(p.operator_may("list")? && p.operator_may("watch")?, "the operator may not list and watch secrets");
    ensure!(!p.operator_may("get")?, "the operator may get secrets");
    let args = p.operator_args().await?;
    ensure!(args.last().map(String::as_str) == Some("--follow-secrets"), "the operator's args are {args:?}");

    p.expect(&["install"], 0)?;
    ensure!(!p.operator_may("list")? && !p.operator_may("watch")?, "a plain install left the operator the secrets");
    let args = p.operator_args().await?;
    ensure!(!args.iter().any(|a| a == "--follow-secrets"), "a plain install left the operator's args {args:?}");
    Ok(())
}

/// Without a terminal and without --yes, uninstall refuses and says how to confirm; with --crds it
/// says that every Agent goes, and how many there are. On a terminal it asks, and "n" keeps all.
async fn uninstall_asks_first(p: &Private<'_>) -> anyhow::Result<()> {
    let agent: Agent = serde_json::from_value(json!({
        "apiVersion": "agents.dev/v1alpha1", "kind": "Agent",
        "metadata": {"name": "survivor"},
        "spec": {"image": "ghcr.io/example/survivor:v1"},
    }))?;
    Api::<Agent>::namespaced(p.client.clone(), "default").create(&PostParams::default(), &agent).await?;

    let refused = p.output(&["uninstall"])?;
    let stderr = text(&refused.stderr);
    ensure!(!refused.status.success() && stderr.contains("--yes"), "{}", story(&refused));
    let refused = p.output(&["uninstall", "--crds"])?;
    let stderr = text(&refused.stderr);
    ensure!(
        !refused.status.success()
            && stderr.contains("deletes every Agent in the cluster (1 Agent now, in namespace default)")
            && stderr.contains("--yes"),
        "{}",
        story(&refused)
    );

    let command = p.agents(&["uninstall", "--crds"]);
    let (prompt, status) = tokio::task::spawn_blocking(move || -> anyhow::Result<(String, String)> {
        let mut session = rexpect::session::spawn_command(command, Some(20_000))?;
        let prompt = session.exp_string("Continue?")?;
        session.send("n")?;
        session.flush()?;
        let rest = session.exp_eof()?;
        let status = session.process().wait()?;
        Ok((format!("{prompt}{rest}"), format!("{status:?}")))
    })
    .await??;
    ensure!(prompt.contains("deletes every Agent in the cluster (1 Agent now, in namespace default)"), "{prompt}");
    ensure!(prompt.contains("Nothing removed."), "{prompt}");
    ensure!(status.starts_with("Exited(") && !status.ends_with(", 0)"), "declining exited with {status}");

    ensure!(p.crd_exists().await? && p.deployment().await?.is_some(), "a refused uninstall removed something");
    Ok(())
}

/// `uninstall --yes` removes the operator and keeps the CRDs and the Agents.
async fn uninstall_keeps_the_crds_and_agents(p: &Private<'_>) -> anyhow::Result<()> {
    let output = p.expect(&["uninstall", "--yes", "--wait", "--timeout", "60s"], 0)?;
    let stdout = text(&output.stdout);
    for label in ["deployment.apps/agents-operator", "serviceaccount/agents-operator", "namespace/agents-system"] {
        ensure!(stdout.contains(&format!("{label} deleted")), "{}", story(&output));
    }
    ensure!(!stdout.contains("customresourcedefinition"), "{}", story(&output));
    ensure!(p.deployment().await?.is_none(), "the operator is still there");
    ensure!(Api::<Namespace>::all(p.client.clone()).get_opt(NAMESPACE).await?.is_none(), "agents-system is left");
    ensure!(Api::<ClusterRole>::all(p.client.clone()).get_opt(OPERATOR).await?.is_none(), "the ClusterRole is left");
    ensure!(p.crd_exists().await?, "uninstall without --crds removed the CRD");
    Api::<Agent>::namespaced(p.client.clone(), "default").get("survivor").await.context("the Agent went")?;
    let report = p.check(1)?;
    ensure!(row(&report, "CRD agents.agents.dev")?["status"] == "ok", "{report:#}");
    ensure!(row(&report, "Operator")?["status"] == "fail", "{report:#}");
    Ok(())
}

/// `uninstall --crds` removes the CRDs too; objects already gone are fine.
async fn uninstall_crds_removes_them(p: &Private<'_>) -> anyhow::Result<()> {
    let output = p.expect(&["uninstall", "--yes", "--crds", "--wait", "--timeout", "60s"], 0)?;
    let stdout = text(&output.stdout);
    ensure!(
        stdout.contains("deployment.apps/agents-operator already absent")
            && stdout.contains("customresourcedefinition.apiextensions.k8s.io/agents.agents.dev deleted"),
        "{}",
        story(&output)
    );
    ensure!(!p.crd_exists().await?, "uninstall --crds left the CRD");
    let report = p.check(1)?;
    ensure!(row(&report, "CRD agents.agents.dev")?["status"] == "fail", "{report:#}");
    Ok(())
}

/// A user who may read nothing gets a row per probe saying it could not be checked and why, and
/// exit 1, not a crash. (Read-only, so it runs on the shared cluster.)
async fn check_reports_what_it_may_not_see(ctx: Ctx) -> anyhow::Result<()> {
    let accounts: Api<ServiceAccount> = ctx.api();
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "nobody"}}))?;
    accounts.create(&PostParams::default(), &account).await?;
    let request: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}}))?;
    let token = accounts
        .create_token_request("nobody", &PostParams::default(), &request)
        .await?
        .status
        .context("no token in the TokenRequest")?
        .token;
    let admin: Value = serde_norway::from_str(&std::fs::read_to_string(ctx.cluster.kubeconfig())?)?;
    let ca = admin.pointer("/clusters/0/cluster/certificate-authority-data").context("no CA in the kubeconfig")?;
    let kubeconfig: PathBuf = ctx.cluster.dir().join(format!("nobody-{}.kubeconfig", ctx.ns));
    let document = json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "nobody",
        "clusters": [{"name": "local", "cluster": {"server": ctx.cluster.server(), "certificate-authority-data": ca}}],
        "users": [{"name": "nobody", "user": {"token": token}}],
        "contexts": [{"name": "nobody", "context": {"cluster": "local", "user": "nobody", "namespace": ctx.ns}}],
    });
    std::fs::write(&kubeconfig, serde_norway::to_string(&document)?)?;
    let kubeconfig = kubeconfig.to_str().context("a UTF-8 path")?;

    let output = output_within(ctx.kubectl().args(["agents", "check", "--kubeconfig", kubeconfig]))?;
    let table = text(&output.stdout);
    ensure!(output.status.code() == Some(1) && output.stderr.is_empty(), "{}", story(&output));
    // One row per CRD of the API, the operator, and Tekton's and Argo's CRD and controller.
    let rows = agents_api::crd::all().len() + 5;
    ensure!(table.matches("UNKNOWN").count() == rows && table.contains("forbidden"), "{table}");

    let output = output_within(ctx.kubectl().args(["agents", "check", "-o", "json", "--kubeconfig", kubeconfig]))?;
    ensure!(output.status.code() == Some(1), "{}", story(&output));
    let report: Value = serde_json::from_slice(&output.stdout)?;
    for check in report["checks"].as_array().context("no checks")? {
        let detail = check["detail"].as_str().unwrap_or_default();
        ensure!(
            check["status"] == "unknown" && detail.starts_with("could not be checked:") && detail.contains("nobody"),
            "{check:#}"
        );
    }
    Ok(())
}

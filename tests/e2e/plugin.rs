//! `kubectl agents` through kubectl's own plugin discovery, against the operator: scaffold →
//! apply --wait → get (every output format parsed) → describe → scale → restart → delete, and
//! what a user sees when the input or the cluster is wrong; and kubectl's completion of the plugin.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agents_api::{Agent, AgentPhase};
use anyhow::{Context, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ResourceQuota, Service};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::support::{
    Ctx, DEADLINE, Env, ends_quietly_on_a_closed_stdout, output_within, phase_is, run_ok, text, trials,
};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "plugin",
        [
            a_tour_from_scaffold_to_delete,
            get_watch_prints_each_change,
            bad_input_gets_a_clear_error,
            apply_wait_fails_with_the_reason,
            the_wizard_runs_on_a_terminal,
            delete_asks_first_on_a_terminal,
            a_closed_stdout_ends_it_quietly,
            kubectl_completes_commands_flags_and_live_names,
        ]
    )
}

impl Ctx {
    /// `kubectl agents ARGS… -n <this test's namespace>`.
    pub(crate) fn agents(&self, args: &[&str]) -> Command {
        let mut command = self.kubectl();
        command.arg("agents").args(args).args(["-n", &self.ns]);
        command
    }

    pub(crate) fn agents_ok(&self, args: &[&str]) -> anyhow::Result<String> {
        Ok(String::from_utf8(run_ok(&mut self.agents(args))?.stdout)?)
    }

    /// Runs a command that must fail; returns its stderr.
    pub(crate) fn agents_err(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = output_within(&mut self.agents(args))?;
        ensure!(!output.status.success(), "`kubectl agents {}` succeeded:\n{}", args.join(" "), text(&output.stdout));
        Ok(text(&output.stderr))
    }
}

async fn a_tour_from_scaffold_to_delete(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let agents: Api<Agent> = ctx.api();
    let scaffold = [
        "create",
        "agent",
        "tour",
        "--image",
        "ghcr.io/example/tour:v1",
        "--model",
        "gpt-4o",
        "--provider",
        "openai",
        "--api-key-secret",
        "openai:api-key",
        "--replicas",
        "2",
    ];

    // Scaffold: printed, not created; then validated by the API server, still not created.
    let printed = ctx.agents_ok(&[&scaffold[..], &["--dry-run=client", "-o", "yaml"]].concat())?;
    let manifest: Value = serde_norway::from_str(&printed).context("create --dry-run=client -o yaml is not YAML")?;
    ensure!(manifest["kind"] == "Agent" && manifest["spec"]["replicas"] == 2, "{printed}");
    ensure!(manifest["spec"]["model"]["apiKeySecretRef"] == json!({"name": "openai", "key": "api-key"}));
    let server = ctx.agents_ok(&[&scaffold[..], &["--dry-run=server"]].concat())?;
    ensure!(server.trim() == "agent.agents.dev/tour created (server dry run)", "{server}");
    ensure!(agents.get_opt("tour").await?.is_none(), "a dry run created the Agent");

    // Apply the scaffold with --wait: it returns once the Agent is Ready.
    let file = ctx.cluster.dir().join(format!("{}-tour.yaml", ctx.ns));
    std::fs::write(&file, &printed)?;
    let applied = ctx.agents_ok(&["apply", "-f", file.to_str().unwrap(), "--wait"])?;
    ensure!(applied.contains("agent.agents.dev/tour applied"), "{applied}");
    ensure!(applied.contains("agent.agents.dev/tour Ready"), "{applied}");
    ensure!(phase_is(AgentPhase::Ready)(agents.get_opt("tour").await?.as_ref()), "apply --wait returned early");

    // get, in every format.
    let table = ctx.agents_ok(&["get"])?;
    let lines: Vec<&str> = table.lines().collect();
    ensure!(
        lines[0].split_whitespace().collect::<Vec<_>>()
            == ["NAME", "PHASE", "READY", "MODEL", "IMAGE", "ENDPOINT", "AGE"],
        "{table}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    ensure!(row[..5] == ["tour", "Ready", "2/2", "gpt-4o", "ghcr.io/example/tour:v1"], "{table}");
    ensure!(row[5] == format!("http://tour.{}.svc.cluster.local", ctx.ns), "{table}");
    let wide = ctx.agents_ok(&["get", "-o", "wide"])?;
    ensure!(wide.lines().next().unwrap_or_default().contains("PROVIDER") && wide.contains("openai"), "{wide}");
    let all = ctx.agents_ok(&["get", "-A"])?;
    ensure!(all.lines().any(|l| l.starts_with(&ctx.ns) && l.contains("tour")), "{all}");
    let one: Value = serde_json::from_str(&ctx.agents_ok(&["get", "tour", "-o", "json"])?)?;
    ensure!(
        one["kind"] == "Agent" && one["status"]["phase"] == "Ready" && one["metadata"].get("managedFields").is_none()
    );
    let list: Value = serde_json::from_str(&ctx.agents_ok(&["get", "-o", "json"])?)?;
    ensure!(list["kind"] == "List" && list["items"][0]["metadata"]["name"] == "tour", "{list}");
    let yaml: Value = serde_norway::from_str(&ctx.agents_ok(&["get", "agents", "tour", "-o", "yaml"])?)?;
    ensure!(yaml["spec"]["image"] == "ghcr.io/example/tour:v1");
    ensure!(ctx.agents_ok(&["get", "-o", "name"])?.trim() == "agent.agents.dev/tour");
    ensure!(ctx.agents_ok(&["list", "tour"])?.contains("tour"), "the list alias");

    // describe: one page with the story, Events of the Deployment, its ReplicaSet and its pods
    // included (kube-controller-manager and the scheduler publish them a moment later).
    let reasons = ["ScalingReplicaSet", "SuccessfulCreate", "Scheduled"];
    let events: Api<Event> = ctx.api();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let published = events.list(&Default::default()).await?;
        if reasons.iter().all(|r| published.items.iter().any(|e| e.reason.as_deref() == Some(r))) {
            break;
        }
        ensure!(Instant::now() < deadline, "no {reasons:?} Events within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = ctx.agents_ok(&["describe", "tour"])?;
    for needle in [
        "Name:",
        "Phase:",
        "Ready (Ready: 2/2 pods ready)",
        "openai/gpt-4o",
        "key from Secret openai/api-key",
        "Conditions:",
        "Children:",
        "Deployment",
        "2/2 ready",
        "Service",
        "Pods:",
        "Events:",
        "deployment/tour",
        "ScalingReplicaSet",
        "SuccessfulCreate",
        "Scheduled",
    ] {
        ensure!(page.contains(needle), "describe lacks {needle:?}:\n{page}");
    }

    // scale through the scale subresource.
    ensure!(ctx.agents_ok(&["scale", "tour", "--replicas", "3"])?.contains("scaled to 3"));
    ctx.wait_for(&agents, "tour", "3 ready", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref()).is_some_and(|s| s.ready_replicas == Some(3))
    })
    .await?;

    // restart: the operator rolls the pods.
    let deployments: Api<Deployment> = ctx.api();
    let before = deployments.get("tour").await?.metadata.generation;
    ensure!(ctx.agents_ok(&["restart", "tour"])?.contains("restarted"));
    ctx.wait_for(&deployments, "tour", "a restart annotation on the pod template", |d: Option<&Deployment>| {
        d.is_some_and(|d| {
            d.metadata.generation > before
                && d.spec
                    .template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.annotations.as_ref())
                    .is_some_and(|a| a.contains_key("agents.dev/restartedAt"))
        })
    })
    .await?;

    // delete --wait: no question without a terminal; returns once the children are gone.
    let deleted = ctx.agents_ok(&["delete", "tour", "--wait"])?;
    ensure!(deleted.contains("agent.agents.dev/tour deleted"), "{deleted}");
    ensure!(agents.get_opt("tour").await?.is_none(), "the Agent is still there");
    ensure!(ctx.api::<Service>().get_opt("tour").await?.is_none(), "the Service outlived delete --wait");
    Ok(())
}

async fn get_watch_prints_each_change(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: watched}\nspec: {image: ghcr.io/example/a:v1, replicas: 1}\n")
        .await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "watched", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let mut child = ctx.agents(&["get", "watched", "-w"]).stdout(Stdio::piped()).spawn()?;
    let (lines, reader) = crate::support::read_lines(child.stdout.take().context("no stdout")?);
    let deadline = Instant::now() + DEADLINE;
    while lines.lock().unwrap().len() < 2 {
        ensure!(Instant::now() < deadline, "get -w printed no listing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agents.patch("watched", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}}))).await?;
    let deadline = Instant::now() + DEADLINE;
    let seen = loop {
        let seen = lines.lock().unwrap().clone();
        if seen.iter().any(|l| l.contains("2/2")) {
            break seen;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("get -w did not print the change to 2/2; it printed:\n{}", seen.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    child.kill()?;
    child.wait()?;
    drop(reader);
    ensure!(seen[0].starts_with("NAME"), "the header comes first: {seen:?}");
    ensure!(seen.iter().filter(|l| l.starts_with("NAME")).count() == 1, "the header is printed once: {seen:?}");
    ensure!(seen[1].contains("1/1"), "the listing comes before the changes: {seen:?}");
    let phase_column = seen[0].find("PHASE").context("no PHASE column")?;
    let starts_a_column = |line: &String| {
        let bytes = line.as_bytes();
        bytes.len() > phase_column && bytes[phase_column - 1] == b' ' && bytes[phase_column] != b' '
    };
    ensure!(seen.iter().all(starts_a_column), "watched rows keep the listing's columns: {seen:?}");
    Ok(())
}

async fn bad_input_gets_a_clear_error(ctx: Ctx) -> anyhow::Result<()> {
    let stderr = ctx.agents_err(&["get", "nope"])?;
    ensure!(
        stderr.trim()
            == format!(
                "error: agent \"nope\" not found in namespace \"{}\": list them with `kubectl agents get -A`, or pass -n NAMESPACE",
                ctx.ns
            ),
        "{stderr}"
    );
    let stderr = ctx.agents_err(&["describe", "nope"])?;
    ensure!(stderr.contains("agent \"nope\" not found"), "{stderr}");
    let stderr = ctx.agents_err(&["delete", "nope", "--yes"])?;
    ensure!(stderr.contains("agent \"nope\" not found"), "{stderr}");

    let dir = ctx.cluster.dir().join(format!("{}-bad", ctx.ns));
    std::fs::create_dir_all(&dir)?;
    let invalid = dir.join("invalid.yaml");
    std::fs::write(
        &invalid,
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: a}\nspec: {image: x:1, replicas: 5000}\n",
    )?;
    let stderr = ctx.agents_err(&["apply", "-f", invalid.to_str().unwrap()])?;
    ensure!(stderr.contains("spec.replicas: Invalid value: 5000"), "{stderr}");
    let rule = dir.join("rule.yaml");
    std::fs::write(
        &rule,
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: a}\nspec: {model: {name: m}}\n",
    )?;
    let stderr = ctx.agents_err(&["apply", "-f", rule.to_str().unwrap()])?;
    ensure!(stderr.contains("calls its model through spec.model.modelAPIRef"), "{stderr}");
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "kind: Agent\nmetadata: {name: a}\n")?;
    let stderr = ctx.agents_err(&["apply", "-f", broken.to_str().unwrap()])?;
    ensure!(stderr.contains("document 1 has no apiVersion"), "{stderr}");
    let stderr = ctx.agents_err(&["apply", "-f", dir.join("missing.yaml").to_str().unwrap()])?;
    ensure!(stderr.contains("cannot read") && stderr.contains("missing.yaml"), "{stderr}");

    // A referenced Secret that does not exist: applied, with a warning that says how to fix it.
    let keyless = dir.join("keyless.yaml");
    std::fs::write(
        &keyless,
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: keyless}\n\
         spec: {image: x:1, model: {name: m, apiKeySecretRef: {name: openai, key: api-key}}}\n",
    )?;
    let output = run_ok(&mut ctx.agents(&["apply", "-f", keyless.to_str().unwrap()]))?;
    let stderr = text(&output.stderr);
    ensure!(
        stderr.contains("warning: Secret \"openai\" does not exist")
            && stderr.contains("kubectl create secret generic openai"),
        "{stderr}"
    );
    let page = ctx.agents_ok(&["describe", "keyless"])?;
    ensure!(page.contains("Secrets:") && page.contains("missing"), "{page}");

    let stderr = ctx.agents_err(&["create", "agent", "lost"])?;
    ensure!(
        stderr.contains("say what the agent answers with: --model NAME with --model-api MODELAPI"),
        "without a terminal the wizard must not start: {stderr}"
    );
    let stderr = ctx.agents_err(&["get", "--kubeconfig", "/nonexistent/kubeconfig"])?;
    ensure!(stderr.contains("no usable kubeconfig"), "{stderr}");
    let unreachable = dir.join("unreachable.kubeconfig");
    let admin = std::fs::read_to_string(ctx.cluster.kubeconfig())?;
    std::fs::write(&unreachable, admin.replace(ctx.cluster.server(), "https://127.0.0.1:1"))?;
    let stderr = ctx.agents_err(&["get", "--kubeconfig", unreachable.to_str().unwrap(), "--request-timeout", "5s"])?;
    ensure!(stderr.contains("cannot reach the Kubernetes API server"), "{stderr}");

    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: elastic}\nspec: {image: x:1, autoscaling: {maxReplicas: 4}}\n")
        .await?;
    let stderr = ctx.agents_err(&["scale", "elastic", "--replicas", "2"])?;
    ensure!(stderr.contains("is autoscaled"), "{stderr}");
    let stderr = ctx.agents_err(&["scale", "elastic", "--replicas", "-1"])?;
    ensure!(stderr.contains("--replicas"), "{stderr}");
    Ok(())
}

/// `apply --wait` exits non-zero and says why when an Agent fails or never gets Ready.
async fn apply_wait_fails_with_the_reason(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: no-pods}\nspec: {hard: {pods: \"0\"}}\n")
        .await?;
    // The quota binds once kube-controller-manager has counted its usage; a pod created before
    // that (the test run alone, on an idle cluster) was admitted.
    let quota_counted = |q: Option<&ResourceQuota>| q.and_then(|q| q.status.as_ref()?.used.as_ref()).is_some();
    ctx.wait_for(&ctx.api::<ResourceQuota>(), "no-pods", "its usage counted", quota_counted).await?;
    let file = ctx.cluster.dir().join(format!("{}-failing.yaml", ctx.ns));
    std::fs::write(
        &file,
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: blocked}\nspec: {image: x:1}\n",
    )?;
    let output = output_within(&mut ctx.agents(&["apply", "-f", file.to_str().unwrap(), "--wait"]))?;
    let stderr = text(&output.stderr);
    ensure!(output.status.code() == Some(1), "exit {:?}: {stderr}", output.status);
    ensure!(
        stderr.contains("agent blocked failed: PodsCannotBeCreated") && stderr.contains("exceeded quota"),
        "{stderr}"
    );

    // Applied once and reported Waiting, then `apply --wait` again: the reason is the operator's,
    // whatever the 5 s allow.
    let lonely = "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: lonely}\nspec: {image: x:1, peers: [{name: nobody}]}\n";
    ctx.apply_yaml(lonely).await?;
    ctx.wait_for(&ctx.api::<Agent>(), "lonely", "phase Waiting", phase_is(AgentPhase::Waiting)).await?;
    let waiting = ctx.cluster.dir().join(format!("{}-waiting.yaml", ctx.ns));
    std::fs::write(&waiting, lonely)?;
    let output =
        output_within(&mut ctx.agents(&["apply", "-f", waiting.to_str().unwrap(), "--wait", "--timeout", "5s"]))?;
    let stderr = text(&output.stderr);
    ensure!(output.status.code() == Some(1), "exit {:?}: {stderr}", output.status);
    ensure!(
        stderr.contains("did not become Ready within 5s") && stderr.contains("Agent nobody does not exist"),
        "{stderr}"
    );
    Ok(())
}

/// On a terminal and without flags, `create agent` asks; the answers become the Agent.
async fn the_wizard_runs_on_a_terminal(ctx: Ctx) -> anyhow::Result<()> {
    let command = ctx.agents(&["create", "agent", "guided"]);
    let namespace = ctx.ns.clone();
    let answered = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut session = rexpect::session::spawn_command(command, Some(20_000))?;
        session.exp_string("What does the agent run?")?;
        session.send_line("")?; // the first choice: the reference runtime
        session.exp_string("ModelAPI to call")?;
        session.send_line("")?; // none: a provider directly
        session.exp_string("Model provider")?;
        session.send_line("")?; // the first choice: openai
        session.exp_string("Model")?;
        session.send_line("")?; // the suggested gpt-4o
        session.exp_string("SECRET:KEY")?;
        session.send_line("openai:api-key")?;
        session.exp_string("Instructions")?;
        session.send_line("Be helpful.")?;
        session.exp_string("Replicas")?;
        session.send_line("2")?;
        session.exp_string("Expose it as a Service")?;
        session.send("n")?;
        session.flush()?;
        let rest = session.exp_eof()?;
        Ok(format!("{rest} (namespace {namespace})"))
    })
    .await??;
    ensure!(answered.contains("agent.agents.dev/guided created"), "the wizard ended with: {answered}");
    let agent = ctx.api::<Agent>().get("guided").await?;
    let spec = serde_json::to_value(&agent.spec)?;
    ensure!(spec.get("image").is_none() && spec["instructions"] == "Be helpful.", "{spec}");
    ensure!(
        spec["model"]
            == json!({"provider": "openai", "name": "gpt-4o", "apiKeySecretRef": {"name": "openai", "key": "api-key"}}),
        "{spec}"
    );
    ensure!(spec["replicas"] == 2 && spec["expose"] == false, "{spec}");
    Ok(())
}

/// On a terminal, delete asks; "n" keeps the Agent and exits non-zero.
async fn delete_asks_first_on_a_terminal(ctx: Ctx) -> anyhow::Result<()> {
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: precious}\nspec: {image: x:1}\n")
        .await?;
    let command = ctx.agents(&["delete", "precious"]);
    let status = tokio::task::spawn_blocking(move || -> anyhow::Result<rexpect::process::WaitStatus> {
        let mut session = rexpect::session::spawn_command(command, Some(20_000))?;
        session.exp_string("Delete agent precious")?;
        session.send("n")?;
        session.flush()?;
        session.exp_string("Nothing deleted.")?;
        session.exp_eof()?;
        Ok(session.process().wait()?)
    })
    .await??;
    ensure!(
        matches!(status, rexpect::process::WaitStatus::Exited(_, code) if code != 0),
        "a declined delete must exit non-zero: {status:?}"
    );
    ensure!(ctx.api::<Agent>().get_opt("precious").await?.is_some(), "the Agent was deleted after \"n\"");
    Ok(())
}

/// `kubectl agents … | head` must end as kubectl does when `head` has read enough: at once and
/// silently (before, it printed "error: Broken pipe" and exited 1).
async fn a_closed_stdout_ends_it_quietly(ctx: Ctx) -> anyhow::Result<()> {
    ends_quietly_on_a_closed_stdout(&mut ctx.agents(&["completion", "bash"]))
}

/// `kubectl __complete agents ARGS…`, what a shell asks kubectl on TAB, with the repository's
/// `kubectl_complete-agents` on PATH beside the plugin; returns stdout's lines.
fn kubectl_complete(ctx: &Ctx, args: &[&str]) -> anyhow::Result<Vec<String>> {
    let dir = ctx.cluster.dir().join(format!("complete-{}", ctx.ns));
    let completer = dir.join("kubectl_complete-agents");
    if !completer.exists() {
        std::fs::create_dir_all(&dir)?;
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin/kubectl_complete-agents");
        std::os::unix::fs::symlink(script.canonicalize()?, &completer)?;
    }
    let mut command = ctx.kubectl();
    let path = command.get_envs().find(|(key, _)| *key == "PATH").and_then(|(_, value)| value).unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(dir.clone()).chain(std::env::split_paths(path)))?;
    command.env("PATH", path).arg("__complete").arg("agents").args(args);
    Ok(text(&run_ok(&mut command)?.stdout).lines().map(str::to_string).collect())
}

/// kubectl completes `kubectl agents …` through `kubectl_complete-agents`: commands, flags, a
/// flag's values, namespaces, the live Agents of the namespace given with -n (of every namespace
/// with -A), the runs and containers of the object named on the line, and files for -f.
async fn kubectl_completes_commands_flags_and_live_names(ctx: Ctx) -> anyhow::Result<()> {
    for name in ["research", "writer"] {
        ctx.apply_yaml(&format!(
            "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: {name}}}\nspec: {{image: x:1}}\n"
        ))
        .await?;
    }
    let values = |lines: &[String]| -> Vec<String> {
        lines.iter().map(|line| line.split('\t').next().unwrap_or_default().to_string()).collect()
    };
    let commands = kubectl_complete(&ctx, &[""])?;
    ensure!(commands.iter().any(|l| l.starts_with("describe\tShow a resource in detail")), "{commands:?}");
    ensure!(["get", "logs", "workflow"].iter().all(|c| values(&commands).contains(&c.to_string())), "{commands:?}");
    ensure!(commands.last().map(String::as_str) == Some(":4"), "no file completion: {commands:?}");
    ensure!(values(&kubectl_complete(&ctx, &["wo"])?) == ["workflow", ":4"]);

    let flags = values(&kubectl_complete(&ctx, &["get", "--"])?);
    ensure!(["--namespace", "--output", "--watch"].iter().all(|f| flags.contains(&f.to_string())), "{flags:?}");
    let formats = values(&kubectl_complete(&ctx, &["get", "-o", ""])?);
    ensure!(["table", "json", "yaml", "name"].iter().all(|f| formats.contains(&f.to_string())), "{formats:?}");

    let namespaces = values(&kubectl_complete(&ctx, &["get", "-n", ""])?);
    ensure!(namespaces.contains(&ctx.ns), "{namespaces:?}");
    let agents = kubectl_complete(&ctx, &["get", "agents", "-n", &ctx.ns, ""])?;
    ensure!(agents == ["research", "writer", ":4"], "{agents:?}");
    let described = kubectl_complete(&ctx, &["describe", "-n", &ctx.ns, "agent", "w"])?;
    ensure!(described == ["writer", ":4"], "{described:?}");
    let logs_agents = values(&kubectl_complete(&ctx, &["logs", &format!("--namespace={}", ctx.ns), ""])?);
    ensure!(logs_agents == ["research", "writer", ":4"], "{logs_agents:?}");
    let nothing_here = kubectl_complete(&ctx, &["get", "modelapis", "-n", &ctx.ns, ""])?;
    ensure!(nothing_here == [":4"], "{nothing_here:?}");

    // -A: every namespace's Agents, overriding -n, each name once (research is in two).
    let elsewhere = ctx.cluster.namespace("complete-elsewhere").await?;
    let other: Api<Agent> = Api::namespaced(ctx.client.clone(), elsewhere.name());
    for name in ["research", elsewhere.name()] {
        let agent = json!({"apiVersion": "agents.dev/v1alpha1", "kind": "Agent", "metadata": {"name": name},
                           "spec": {"image": "x:1"}});
        other.patch(name, &PatchParams::apply("e2e"), &Patch::Apply(&agent)).await?;
    }
    let everywhere = values(&kubectl_complete(&ctx, &["get", "agents", "-A", "-n", &ctx.ns, ""])?);
    let count = |name: &str| everywhere.iter().filter(|value| *value == name).count();
    ensure!(count("research") == 1 && count("writer") == 1 && count(elsewhere.name()) == 1, "{everywhere:?}");
    elsewhere.delete().await?;

    // The runs of the build or workflow named on the line: PipelineRuns and Argo Workflows by
    // the owner's label, admitted by Tekton's and Argo's own CRDs.
    ctx.apply_yaml(concat!(
        "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: site-1, labels: {agents.dev/build: site}}\n",
        "spec: {pipelineRef: {name: build}}\n---\n",
        "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: blog-1, labels: {agents.dev/build: blog}}\n",
        "spec: {pipelineRef: {name: build}}\n---\n",
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: review-a1, labels: {agents.dev/workflow: review}}\n",
        "spec: {entrypoint: main, templates: [{name: main, suspend: {}}]}\n",
    ))
    .await?;
    let build_runs = kubectl_complete(&ctx, &["build", "logs", "-n", &ctx.ns, "site", ""])?;
    ensure!(build_runs == ["site-1", ":4"], "{build_runs:?}");
    let workflow_runs = kubectl_complete(&ctx, &["workflow", "approve", "-n", &ctx.ns, "review", "--run", ""])?;
    ensure!(workflow_runs == ["review-a1", ":4"], "{workflow_runs:?}");

    // The containers of the agent's pods, init containers last, for `logs NAME -c`.
    ctx.apply_yaml(concat!(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: research-0, labels: {agents.dev/agent: research}}\n",
        "spec: {initContainers: [{name: setup, image: x:1}], containers: [{name: agent, image: x:1}, {name: proxy, image: x:1}]}\n",
    ))
    .await?;
    let containers = kubectl_complete(&ctx, &["logs", "-n", &ctx.ns, "research", "-c", ""])?;
    ensure!(containers == ["agent", "proxy", "setup", ":4"], "{containers:?}");

    let files = kubectl_complete(&ctx, &["apply", "-f", ""])?;
    ensure!(files == [":0"], "the shell completes files after -f: {files:?}");
    Ok(())
}

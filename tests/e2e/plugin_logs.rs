//! `kubectl agents logs` through kubectl's plugin discovery, against the operator's pods on KWOK
//! (every simulated container logs `ctx.cluster.container_log()`): every replica with its prefix,
//! the flags, the errors, and `-f` following a rollout until Ctrl-C.

use std::io::Write;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agents_api::{Agent, AgentPhase};
use anyhow::{Context, bail, ensure};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use libtest_mimic::Trial;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

use crate::support::{Ctx, DEADLINE, Env, output_within, read_lines, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "plugin_logs",
        [
            every_replica_is_printed_with_its_pod,
            unknown_and_stopped_agents_are_explained,
            follow_tracks_a_rollout_until_ctrl_c
        ]
    )
}

/// The line KWOK's simulated containers start their log with.
const STARTED: &str = "agent container started";

const CHAT: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata:
  name: chat
spec:
  image: ghcr.io/example/chat-agent:v1
  replicas: 2
"#;

/// `kubectl agents logs ARGS… -n <the test's namespace>`.
fn logs(ctx: &Ctx, args: &[&str]) -> Command {
    let mut command = ctx.kubectl();
    command.args(["agents", "logs"]).args(args).args(["-n", &ctx.ns]).stdin(Stdio::null());
    command
}

fn lines_of(out: &str) -> Vec<String> {
    out.lines().map(str::to_string).collect()
}

/// Stdout of a command that must succeed, with nothing on stderr.
fn quiet_ok(command: &mut Command) -> anyhow::Result<String> {
    let output = output_within(command)?;
    ensure!(
        output.status.success() && output.stderr.is_empty(),
        "{command:?} exited with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    Ok(text(&output.stdout))
}

/// Applies `yaml` (one Agent), waits until it is Ready, and returns its pods' names, sorted.
async fn ready_agent(ctx: &Ctx, yaml: &str, name: &str) -> anyhow::Result<Vec<String>> {
    ctx.apply_yaml(yaml).await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, name, "phase Ready", |agent: Option<&Agent>| {
        agent.and_then(|a| a.status.as_ref()).and_then(|s| s.phase) == Some(AgentPhase::Ready)
    })
    .await?;
    let mut pods: Vec<String> = pods_of(ctx, name).await?.iter().map(|p| p.name_any()).collect();
    pods.sort();
    Ok(pods)
}

async fn pods_of(ctx: &Ctx, agent: &str) -> anyhow::Result<Vec<Pod>> {
    let selector = format!("{}={agent}", agents_render::labels::AGENT);
    Ok(ctx.api::<Pod>().list(&ListParams::default().labels(&selector)).await?.items)
}

/// The pod whose prefix starts `line` (`[pod] …` or `[pod/container] …`), and the rest.
fn split_prefix(line: &str) -> Option<(&str, &str)> {
    let (prefix, rest) = line.strip_prefix('[')?.split_once("] ")?;
    Some((prefix.split('/').next()?, rest))
}

/// How many lines of `pod` contain `needle`.
fn count(lines: &[String], pod: &str, needle: &str) -> usize {
    lines.iter().filter(|l| split_prefix(l).is_some_and(|(p, rest)| p == pod && rest.contains(needle))).count()
}

/// Appends a line to the log of every simulated container, as a container runtime would.
fn append_to_container_log(ctx: &Ctx, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new().append(true).open(ctx.cluster.container_log())?;
    file.write_all(format!("{} stdout F {text}\n", Timestamp::now()).as_bytes())?;
    Ok(())
}

async fn every_replica_is_printed_with_its_pod(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let pods = ready_agent(&ctx, CHAT, "chat").await?;
    ensure!(pods.len() == 2, "expected 2 pods, found {pods:?}");

    // Everything, pod by pod in name order, every line prefixed; no colour (NO_COLOR is set).
    let out = quiet_ok(&mut logs(&ctx, &["chat"]))?;
    let lines = lines_of(&out);
    ensure!(!out.contains('\u{1b}'), "escape codes despite NO_COLOR:\n{out}");
    let mut order = Vec::new();
    for line in &lines {
        let (pod, _) = split_prefix(line).with_context(|| format!("a line without a pod prefix: {line:?}"))?;
        ensure!(pods.iter().any(|p| p == pod), "a line of an unknown pod: {line:?}");
        order.push(pod.to_string());
    }
    ensure!(order.is_sorted(), "the pods' lines are interleaved or out of order:\n{out}");
    for pod in &pods {
        ensure!(count(&lines, pod, STARTED) == 1, "pod {pod} does not have exactly one {STARTED:?} line:\n{out}");
    }

    // --tail=1: one line per pod, the last one.
    let out = quiet_ok(&mut logs(&ctx, &["chat", "--tail=1"]))?;
    let prefixes: Vec<&str> = out.lines().filter_map(|l| split_prefix(l).map(|(p, _)| p)).collect();
    ensure!(prefixes == pods && out.lines().count() == 2, "--tail=1 printed:\n{out}");

    // --timestamps: the runtime's RFC 3339 timestamp after the prefix.
    let out = quiet_ok(&mut logs(&ctx, &["chat", "--tail=1", "--timestamps"]))?;
    ensure!(out.lines().count() == 2, "--tail=1 --timestamps printed:\n{out}");
    for line in out.lines() {
        let (_, rest) = split_prefix(line).context("no prefix")?;
        let (stamp, _) = rest.split_once(' ').unwrap_or((rest, ""));
        ensure!(stamp.parse::<Timestamp>().is_ok(), "no timestamp after the prefix: {line:?}");
    }
    let out = quiet_ok(&mut logs(&ctx, &["chat"]))?;
    let stamped = |line: &str| {
        split_prefix(line)
            .is_some_and(|(_, rest)| rest.split(' ').next().is_some_and(|w| w.parse::<Timestamp>().is_ok()))
    };
    ensure!(!out.lines().any(stamped), "timestamps without --timestamps:\n{out}");

    // --since: only what is newer (the first line was written when the cluster started).
    let out = quiet_ok(&mut logs(&ctx, &["chat", "--since=1h"]))?;
    ensure!(pods.iter().all(|p| count(&lines_of(&out), p, STARTED) == 1), "--since=1h printed:\n{out}");
    let out = quiet_ok(&mut logs(&ctx, &["chat", "--since=1s"]))?;
    ensure!(!out.contains(STARTED), "--since=1s printed an old line:\n{out}");

    // --previous: the containers never restarted, which is said, and is not a failure.
    let output = output_within(&mut logs(&ctx, &["chat", "--previous"]))?;
    let stderr = text(&output.stderr);
    ensure!(output.status.success() && output.stdout.is_empty(), "--previous: {}\n{stderr}", output.status);
    ensure!(stderr.lines().count() == 2 && stderr.contains("no previous instance"), "--previous: {stderr}");

    // -c names the container in the prefix; an unknown container is an error.
    let out = quiet_ok(&mut logs(&ctx, &["chat", "-c", "agent", "--tail=1"]))?;
    let expected: Vec<String> = pods.iter().map(|p| format!("[{p}/agent]")).collect();
    let got: Vec<&str> = out.lines().filter_map(|l| l.split(' ').next()).collect();
    ensure!(got == expected, "-c agent printed:\n{out}");
    let output = output_within(&mut logs(&ctx, &["chat", "-c", "sidecar"]))?;
    ensure!(!output.status.success(), "-c sidecar succeeded:\n{}", text(&output.stdout));
    ensure!(text(&output.stderr).contains("\"sidecar\""), "-c sidecar: {}", text(&output.stderr));

    // -l: the pods of every Agent the selector matches, pod by pod in name order.
    let solo = "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: solo, labels: {tier: web}}\n\
                spec: {image: ghcr.io/example/solo:v1}\n";
    let solo_pods = ready_agent(&ctx, solo, "solo").await?;
    let label = json!({"metadata": {"labels": {"tier": "web"}}});
    ctx.api::<Agent>().patch("chat", &PatchParams::default(), &Patch::Merge(label)).await?;
    let out = quiet_ok(&mut logs(&ctx, &["-l", "tier=web", "--tail=1"]))?;
    let mut expected = [pods.clone(), solo_pods].concat();
    expected.sort();
    let prefixes: Vec<&str> = out.lines().filter_map(|l| split_prefix(l).map(|(p, _)| p)).collect();
    ensure!(prefixes == expected, "-l tier=web --tail=1 printed:\n{out}");
    let output = output_within(&mut logs(&ctx, &["-l", "tier=none"]))?;
    ensure!(output.status.success() && output.stdout.is_empty(), "-l tier=none: {}", output.status);
    ensure!(text(&output.stderr).contains("No resources found"), "-l tier=none: {}", text(&output.stderr));
    let output = output_within(&mut logs(&ctx, &["chat", "-l", "tier=web"]))?;
    ensure!(output.status.code() == Some(2), "a name and a selector: {}", text(&output.stderr));

    // More streams than --max-log-requests allows: an error that names the flag.
    let output = output_within(&mut logs(&ctx, &["chat", "-f", "--max-log-requests=1"]))?;
    ensure!(!output.status.success(), "-f --max-log-requests=1 with 2 pods succeeded");
    ensure!(text(&output.stderr).contains("--max-log-requests"), "the limit's error: {}", text(&output.stderr));
    Ok(())
}

async fn unknown_and_stopped_agents_are_explained(ctx: Ctx) -> anyhow::Result<()> {
    let output = output_within(&mut logs(&ctx, &["ghost"]))?;
    let stderr = text(&output.stderr);
    ensure!(!output.status.success(), "logs of an unknown agent succeeded");
    ensure!(output.stdout.is_empty(), "logs of an unknown agent printed {:?}", text(&output.stdout));
    ensure!(stderr.contains(&format!("agent \"ghost\" not found in namespace \"{}\"", ctx.ns)), "stderr: {stderr}");

    // Stopped: nothing to show, said on stderr, and that is not a failure.
    ctx.apply_yaml(&CHAT.replace("replicas: 2", "replicas: 0")).await?;
    let output = output_within(&mut logs(&ctx, &["chat"]))?;
    let stderr = text(&output.stderr);
    ensure!(output.status.success(), "logs of a stopped agent exited with {}: {stderr}", output.status);
    ensure!(output.stdout.is_empty(), "logs of a stopped agent printed {:?}", text(&output.stdout));
    ensure!(stderr.contains("no pods") && stderr.contains("stopped (replicas: 0)"), "stderr: {stderr}");
    Ok(())
}

/// `kubectl agents logs … -f`, its stdout and stderr collected line by line on threads.
struct Following {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Following {
    fn start(ctx: &Ctx, args: &[&str]) -> anyhow::Result<Self> {
        let mut child = logs(ctx, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let lines = read_lines(child.stdout.take().context("no stdout")?).0;
        let stderr = read_lines(child.stderr.take().context("no stderr")?).0;
        Ok(Following { child, lines, stderr })
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Polls the lines printed so far until `done` holds for them.
    async fn wait_until(&mut self, what: &str, done: impl Fn(&[String]) -> bool) -> anyhow::Result<()> {
        let lines = self.lines.clone();
        self.wait_for(what, move || done(&lines.lock().unwrap())).await
    }

    /// Polls the lines printed on stderr so far until `done` holds for them.
    async fn wait_until_stderr(&mut self, what: &str, done: impl Fn(&[String]) -> bool) -> anyhow::Result<()> {
        let stderr = self.stderr.clone();
        self.wait_for(what, move || done(&stderr.lock().unwrap())).await
    }

    async fn wait_for(&mut self, what: &str, done: impl Fn() -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if done() {
                return Ok(());
            }
            let exited = self.child.try_wait()?;
            if exited.is_some() || Instant::now() > deadline {
                let why = match exited {
                    Some(status) => format!("logs -f exited with {status}"),
                    None => format!("timed out after {DEADLINE:?}"),
                };
                bail!(
                    "{why} waiting for {what}\nstdout:\n{}\nstderr:\n{}",
                    self.lines().join("\n"),
                    self.stderr.lock().unwrap().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ctrl-C, and its exit status.
    async fn interrupt(&mut self) -> anyhow::Result<ExitStatus> {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT)?;
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(Instant::now() < deadline, "logs -f still runs {DEADLINE:?} after SIGINT");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn follow_tracks_a_rollout_until_ctrl_c(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let before = ready_agent(&ctx, CHAT, "chat").await?;
    ensure!(before.len() == 2, "expected 2 pods, found {before:?}");
    // -v: the plugin says on stderr when it stops following a pod, which the test waits for.
    let mut follow = Following::start(&ctx, &["chat", "-f", "-v"])?;
    follow
        .wait_until("the first line of both pods", |lines| before.iter().all(|p| count(lines, p, STARTED) > 0))
        .await?;

    // A new image rolls the Deployment: new pods join, the old ones leave.
    let image = "ghcr.io/example/chat-agent:v2";
    let agents: Api<Agent> = ctx.api();
    agents.patch("chat", &PatchParams::default(), &Patch::Merge(json!({"spec": {"image": image}}))).await?;
    let after = rolled_pods(&ctx, "chat", image, 2).await?;
    ensure!(after.iter().all(|p| !before.contains(p)), "the rollout kept a pod: {before:?} -> {after:?}");
    follow
        .wait_until("the first line of the new pods", |lines| after.iter().all(|p| count(lines, p, STARTED) > 0))
        .await?;

    // KWOK keeps serving a deleted pod's log (a kubelet would end it with the container), so the
    // plugin must have seen the old pods go before the next line is written.
    follow
        .wait_until_stderr("the old pods' streams stopped", |stderr| {
            before
                .iter()
                .all(|p| stderr.iter().any(|l| l.contains("stopped following") && l.contains(&format!("pod={p}"))))
        })
        .await?;

    // A line written now reaches us through the current pods only.
    let marker = format!("followed across the rollout in {}", ctx.ns);
    append_to_container_log(&ctx, &marker)?;
    follow
        .wait_until("the appended line from both new pods", |lines| after.iter().all(|p| count(lines, p, &marker) > 0))
        .await?;

    let status = follow.interrupt().await?;
    ensure!(status.code() == Some(0), "logs -f exited with {status} on Ctrl-C");
    let lines = follow.lines();
    let all = lines.join("\n");
    ensure!(!all.contains('\u{1b}'), "escape codes despite NO_COLOR:\n{all}");
    for line in &lines {
        let (pod, _) = split_prefix(line).with_context(|| format!("a line without a pod prefix: {line:?}"))?;
        ensure!(before.iter().chain(&after).any(|p| p == pod), "a line of an unknown pod: {line:?}\n{all}");
    }
    // Nothing twice (a resumed stream skips what it printed), nothing from the pods that left.
    for pod in before.iter().chain(&after) {
        ensure!(count(&lines, pod, STARTED) == 1, "pod {pod}: not exactly one {STARTED:?} line:\n{all}");
    }
    for pod in &after {
        ensure!(count(&lines, pod, &marker) == 1, "pod {pod}: not exactly one {marker:?} line:\n{all}");
    }
    for pod in &before {
        ensure!(count(&lines, pod, &marker) == 0, "pod {pod} was deleted, yet its stream went on:\n{all}");
    }
    Ok(())
}

/// Waits until the agent's pods are exactly `replicas` pods running `image` (the old ones gone),
/// and returns their names, sorted.
async fn rolled_pods(ctx: &Ctx, agent: &str, image: &str, replicas: usize) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let pods = pods_of(ctx, agent).await?;
        let rolled = pods.len() == replicas
            && pods.iter().all(|p| {
                let spec = p.spec.as_ref();
                p.metadata.deletion_timestamp.is_none()
                    && spec.is_some_and(|s| s.containers.iter().all(|c| c.image.as_deref() == Some(image)))
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            });
        if rolled {
            let mut names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
            names.sort();
            return Ok(names);
        }
        if Instant::now() > deadline {
            let seen: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
            bail!("agent {agent} did not roll to {replicas} pods of {image} within {DEADLINE:?}; pods: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

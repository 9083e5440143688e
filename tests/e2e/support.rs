//! What every end-to-end test gets: the shared control plane, a namespace of its own, the real
//! binaries on PATH, and waits that explain themselves when they time out.

use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agents_testenv::{Cluster, Options};
use anyhow::{Context, bail};
use k8s_openapi::api::events::v1::Event;
use kube::Resource;
use kube::api::{Api, ListParams};
use kube::runtime::wait::{Condition, await_condition};
use libtest_mimic::{Failed, Trial};
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;

/// How long a test waits for anything before it fails and dumps what it was waiting for.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How long the suite gives cargo to build the binaries it drives.
const BUILD_DEADLINE: Duration = Duration::from_secs(20 * 60);

/// The run's shared state: the tokio runtime and the control plane, started by the first test
/// that needs it and stopped by `main` when the run ends.
pub struct Env {
    runtime: Runtime,
    cluster: OnceCell<Cluster>,
    /// Turns at Tekton's own controller: it binds port 8080, so one runs at a time, scoped to
    /// the namespace of the test holding the turn (so it never touches the runs other tests
    /// drive by hand).
    pub tekton: tokio::sync::Mutex<()>,
}

impl Env {
    pub fn new() -> Arc<Self> {
        Arc::new(Env {
            runtime: Runtime::new().expect("a tokio runtime"),
            cluster: OnceCell::new(),
            tekton: tokio::sync::Mutex::new(()),
        })
    }

    async fn cluster(&self) -> anyhow::Result<&Cluster> {
        self.cluster
            .get_or_try_init(|| async {
                build_binaries()?;
                build_test_tools().await?;
                // This build's CRDs, as `kubectl agents install` would put them.
                let options = Options { extra_crds: agents_api::crd::all(), ..Default::default() };
                let cluster =
                    Cluster::start_for_this_process(&options).await.context("starting the local control plane")?;
                link_plugin(&cluster)?;
                Ok::<_, anyhow::Error>(cluster)
            })
            .await
    }

    pub fn stop(&self) {
        if let Some(cluster) = self.cluster.get() {
            cluster.stop();
        }
    }
}

/// One test's view: a fresh namespace in the shared cluster and a client.
pub struct Ctx {
    pub cluster: Cluster,
    pub client: kube::Client,
    pub ns: String,
    /// The run's shared state (e.g. Tekton's controller).
    pub env: Arc<Env>,
}

impl Ctx {
    /// An `Api` for namespaced objects in this test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// `kubectl` of the API server's minor, with `kubectl-agents` from this build on PATH (so
    /// `kubectl agents` goes through kubectl's own plugin discovery). kubectl refuses flags
    /// before a plugin's name, so callers pass `-n` themselves (`ctx.ns`).
    pub fn kubectl(&self) -> Command {
        let mut path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
        path.insert(0, plugins_dir(&self.cluster));
        path.insert(0, self.cluster.kubernetes_bin().to_path_buf());
        let mut command = Command::new(self.cluster.kubernetes_bin().join("kubectl"));
        command
            .env("PATH", std::env::join_paths(path).expect("PATH entries are valid"))
            .env("KUBECONFIG", self.cluster.kubeconfig())
            .env("NO_COLOR", "1");
        command
    }
}

/// Runs a command and returns its output, failing with both streams if it exits non-zero.
pub fn run_ok(command: &mut Command) -> anyhow::Result<Output> {
    run_ok_within(command, DEADLINE)
}

/// [`run_ok`] with a deadline of its own, for the few commands that legitimately take long.
pub fn run_ok_within(command: &mut Command, deadline: Duration) -> anyhow::Result<Output> {
    let output = output_before(command, deadline)?;
    if !output.status.success() {
        bail!(
            "{command:?} exited with {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            text(&output.stdout),
            text(&output.stderr)
        );
    }
    Ok(output)
}

/// Runs a command to its end and returns its output; one still running after [`DEADLINE`] is
/// killed and fails the test, so a hanging binary cannot hang the suite.
pub fn output_within(command: &mut Command) -> anyhow::Result<Output> {
    output_before(command, DEADLINE)
}

/// [`output_within`] with a deadline of its own.
pub fn output_before(command: &mut Command, deadline: Duration) -> anyhow::Result<Output> {
    output_of(command.stdout(Stdio::piped()), deadline)
}

/// [`output_before`] of a command whose stdout is already set.
fn output_of(command: &mut Command, deadline: Duration) -> anyhow::Result<Output> {
    let child = command.stderr(Stdio::piped()).spawn().with_context(|| format!("running {command:?}"))?;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(deadline) {
        Ok(output) => Ok(output?),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            bail!("{command:?} did not finish within {deadline:?}")
        }
    }
}

/// Runs a command whose stdout reader has already gone (`… | head` once head has read enough) and
/// checks it ends as kubectl does: at once, silently, killed by SIGPIPE.
pub fn ends_quietly_on_a_closed_stdout(command: &mut Command) -> anyhow::Result<()> {
    use std::os::unix::process::ExitStatusExt;

    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let output = output_of(command.stdout(writer), DEADLINE)
        .with_context(|| format!("{command:?} kept running after its stdout was closed"))?;
    anyhow::ensure!(output.stderr.is_empty(), "{command:?} complained: {}", text(&output.stderr));
    anyhow::ensure!(
        output.status.signal() == Some(nix::sys::signal::Signal::SIGPIPE as i32),
        "{command:?} ended with {}, not SIGPIPE",
        output.status
    );
    Ok(())
}

/// Bytes a command printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A `wait_for` condition: the Agent reports `phase`.
pub fn phase_is(phase: agents_api::AgentPhase) -> impl Fn(Option<&agents_api::Agent>) -> bool {
    move |agent| agent.and_then(|a| a.status.as_ref()).and_then(|s| s.phase) == Some(phase)
}

/// Waits until a line collected by [`read_lines`] satisfies `wanted`.
pub async fn wait_for_line(
    lines: &std::sync::Mutex<Vec<String>>,
    what: &str,
    wanted: impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        if lines.lock().expect("never poisoned").iter().any(|l| wanted(l)) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            let seen = lines.lock().expect("never poisoned").join("\n");
            bail!("no line {what} within {DEADLINE:?}; the output was:\n{seen}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Ctx {
    /// Waits until `condition` holds for the named object; on timeout the error shows the object
    /// and its recent Events, so a failing run explains itself.
    pub async fn wait_for<K>(
        &self,
        api: &Api<K>,
        name: &str,
        what: &str,
        condition: impl Condition<K>,
    ) -> anyhow::Result<K>
    where
        K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize + Send + 'static,
        K::DynamicType: Default,
    {
        match tokio::time::timeout(DEADLINE, await_condition(api.clone(), name, condition)).await {
            Ok(Ok(Some(object))) => Ok(object),
            Ok(Ok(None)) => bail!("{name} was deleted while waiting for {what}"),
            Ok(Err(e)) => Err(e).with_context(|| format!("watching {name} for {what}")),
            Err(_) => {
                let object = api.get_opt(name).await.ok().flatten();
                let dump = object
                    .as_ref()
                    .map(|o| serde_json::to_string_pretty(o).unwrap_or_default())
                    .unwrap_or_else(|| "(not found)".into());
                let events = self.recent_events(name).await;
                bail!("timed out after {DEADLINE:?} waiting for {name}: {what}\nobject:\n{dump}\nevents:\n{events}")
            }
        }
    }

    /// Polls `probe` until it finds a value (for what no single object's watch can tell).
    pub async fn wait_for_value<T, F, Fut>(&self, what: &str, mut probe: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<T>>>,
    {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(value) = probe().await? {
                return Ok(value);
            }
            if std::time::Instant::now() > deadline {
                bail!("timed out after {DEADLINE:?} waiting for {what}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Lets at most `deployments` Deployments into the test's namespace (a ResourceQuota), so that
    /// the API server refuses the next child Deployment of a valid object, as a cluster's own
    /// policy may. Returns once the quota controller has counted the namespace: before that, the
    /// API server's admission may not know the quota yet.
    pub async fn limit_deployments(&self, deployments: u32) -> anyhow::Result<()> {
        use k8s_openapi::api::core::v1::ResourceQuota;
        self.apply_yaml(&format!(
            "apiVersion: v1\nkind: ResourceQuota\nmetadata: {{name: deployments}}\n\
             spec: {{hard: {{count/deployments.apps: '{deployments}'}}}}\n"
        ))
        .await?;
        let quotas: Api<ResourceQuota> = self.api();
        self.wait_for(&quotas, "deployments", "the quota counted", |q: Option<&ResourceQuota>| {
            q.and_then(|q| q.status.as_ref()?.used.as_ref())
                .is_some_and(|used| used.contains_key("count/deployments.apps"))
        })
        .await?;
        Ok(())
    }

    /// Waits until the named object does not exist.
    pub async fn wait_gone<K>(&self, api: &Api<K>, name: &str) -> anyhow::Result<()>
    where
        K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize + Send + 'static,
        K::DynamicType: Default,
    {
        match tokio::time::timeout(DEADLINE, await_condition(api.clone(), name, |o: Option<&K>| o.is_none())).await {
            Ok(result) => result.map(|_| ()).with_context(|| format!("watching {name} go")),
            Err(_) => bail!("timed out after {DEADLINE:?} waiting for {name} to be deleted"),
        }
    }

    /// Waits until an Event about `name` contains `needle` (e.g. "Warning Failed").
    pub async fn wait_for_event(&self, name: &str, needle: &str) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            let events = self.recent_events(name).await;
            if events.contains(needle) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!("no event about {name} contains {needle:?} after {DEADLINE:?}; events:\n{events}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The last five Events about objects called `name` in this test's namespace, one per line.
    pub async fn recent_events(&self, name: &str) -> String {
        let events: Api<Event> = self.api();
        let selector = format!("regarding.name={name}");
        match events.list(&ListParams::default().fields(&selector)).await {
            Ok(mut list) => {
                list.items.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
                list.items
                    .iter()
                    .rev()
                    .take(5)
                    .map(|e| {
                        format!(
                            "  {} {}: {}",
                            e.type_.clone().unwrap_or_default(),
                            e.reason.clone().unwrap_or_default(),
                            e.note.clone().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Err(e) => format!("(could not list events: {e})"),
        }
    }
}
/// Where cargo put this build's binaries: the test executable runs from `<target>/<profile>/deps`.
/// The workspace's root (`tests/` sits in it): where the repository's files are read from.
pub fn workspace_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_path_buf()
}

pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds (once; a no-op when cached) the Go tools only some tests use: Argo's and Tekton's
/// controllers, krew, helm, promtool, the PromQL selector lister and Ollama. Built lazily by their
/// first test instead, a first build (minutes on two cores) would starve the tests running beside
/// it past their deadlines.
async fn build_test_tools() -> anyhow::Result<()> {
    use agents_testenv::tools::{
        ARGO_WORKFLOW_CONTROLLER, HELM, KREW, OLLAMA, PROMQL_SELECTORS, PROMTOOL, TEKTON_CONTROLLER,
    };
    for tool in [&ARGO_WORKFLOW_CONTROLLER, &TEKTON_CONTROLLER, &KREW, &HELM, &PROMTOOL, &PROMQL_SELECTORS, &OLLAMA] {
        tokio::task::spawn_blocking(move || agents_testenv::gobuild::ensure(tool, &agents_testenv::cache_dir()))
            .await?
            .with_context(|| format!("building {}", tool.name))?;
    }
    Ok(())
}

/// A directory holding only `kubectl-agents` (a link to this build's): cargo's target directory
/// also holds `kubectl-agents.d`, which kubectl would report as a broken plugin.
fn plugins_dir(cluster: &Cluster) -> PathBuf {
    cluster.dir().join("plugins")
}

fn link_plugin(cluster: &Cluster) -> anyhow::Result<()> {
    let dir = plugins_dir(cluster);
    std::fs::create_dir_all(&dir)?;
    let link = dir.join("kubectl-agents");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(binaries_dir().join("kubectl-agents"), &link)
        .with_context(|| format!("linking {}", link.display()))
}

/// Builds the binaries the tests drive. `cargo test` builds a package's binaries only for that
/// package's own integration tests, so the suite builds the others itself (a no-op when fresh):
/// a test never runs a stale `kubectl-agents` or operator.
fn build_binaries() -> anyhow::Result<()> {
    let mut command = agents_testenv::cargo::command();
    command.args([
        "build",
        "--bins",
        "-p",
        "kubectl-agents",
        "-p",
        "agents-operator",
        "-p",
        "agents-runtime",
        "-p",
        "agents-testenv",
    ]);
    match binaries_dir().file_name().and_then(|p| p.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
    }
    // A cold build of the four binaries takes minutes on CI's two cores; `cargo test` has
    // already built their dependencies, so this bounds a hang rather than a slow compile.
    run_ok_within(command.current_dir(env!("CARGO_MANIFEST_DIR")), BUILD_DEADLINE)
        .context("building the binaries under test")?;
    Ok(())
}

/// The trials of a module: `trials!(env, "agent", [becomes_ready, ...])` names each
/// `agent::becomes_ready` after its function.
macro_rules! trials {
    ($env:expr, $module:literal, [$($test:ident),* $(,)?]) => {
        vec![$($crate::support::trial($env, concat!($module, "::", stringify!($test)), $test)),*]
    };
}
pub(crate) use trials;

/// A test: an async function of a fresh [`Ctx`].
pub fn trial<F, Fut>(env: &Arc<Env>, name: &'static str, test: F) -> Trial
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let env = env.clone();
    Trial::test(name, move || {
        env.runtime.block_on(async {
            let cluster = env.cluster().await.map_err(failed)?.clone();
            let client = cluster.client().await.map_err(|e| failed(e.into()))?;
            let prefix = name.rsplit("::").next().unwrap_or(name).replace('_', "-");
            let prefix: String = prefix.chars().take(40).collect();
            let namespace = cluster.namespace(prefix.trim_end_matches('-')).await.map_err(|e| failed(e.into()))?;
            let ctx = Ctx { ns: namespace.name().to_string(), cluster, client, env: env.clone() };
            test(ctx).await.map_err(failed)?;
            // Only a passing test cleans up: a failing one leaves its namespace for inspection.
            namespace.delete().await.map_err(|e| failed(e.into()))
        })
    })
}

fn failed(error: anyhow::Error) -> Failed {
    format!("{error:#}").into()
}

impl Ctx {
    /// Server-side applies objects written as YAML (one or more documents), as `kubectl apply
    /// --server-side` would, into this test's namespace.
    pub async fn apply_yaml(&self, yaml: &str) -> anyhow::Result<()> {
        for document in serde_norway::Deserializer::from_str(yaml) {
            let value = <serde_json::Value as serde::Deserialize>::deserialize(document)?;
            if value.is_null() {
                continue;
            }
            let object: kube::api::DynamicObject = serde_json::from_value(value.clone())?;
            let types = object.types.clone().context("an object without apiVersion and kind")?;
            let gvk = kube::core::GroupVersionKind::try_from(&types)?;
            let (resource, capabilities) = kube::discovery::pinned_kind(&self.client, &gvk).await?;
            let api: Api<kube::api::DynamicObject> = match capabilities.scope {
                kube::discovery::Scope::Namespaced => Api::namespaced_with(self.client.clone(), &self.ns, &resource),
                kube::discovery::Scope::Cluster => Api::all_with(self.client.clone(), &resource),
            };
            let name = object.metadata.name.clone().context("an object without a name")?;
            api.patch(&name, &kube::api::PatchParams::apply("e2e").force(), &kube::api::Patch::Apply(&value))
                .await
                .with_context(|| format!("applying {} {name}", gvk.kind))?;
        }
        Ok(())
    }
}

/// Collects a child's output lines as they come, on a thread of their own.
pub fn read_lines(
    output: impl std::io::Read + Send + 'static,
) -> (Arc<std::sync::Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(output).lines().map_while(Result::ok) {
            sink.lock().expect("never poisoned").push(line);
        }
    });
    (lines, reader)
}

/// A running command (a plugin that follows something), its output collected as it comes.
pub struct Running {
    child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(mut command: Command) -> anyhow::Result<Self> {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let (stdout, out_reader) = read_lines(child.stdout.take().context("no stdout")?);
        let (stderr, err_reader) = read_lines(child.stderr.take().context("no stderr")?);
        Ok(Running { child, stdout, stderr, readers: vec![out_reader, err_reader] })
    }

    /// Waits for the command to exit (killing it after the deadline); returns its status and output.
    pub async fn finish(mut self) -> anyhow::Result<(ExitStatus, String, String)> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                // The readers end once the pipes close: every line is in.
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                let out = self.stdout.lock().unwrap().join("\n");
                let err = self.stderr.lock().unwrap().join("\n");
                return Ok((status, out, err));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!(
                    "{:?} still running after {DEADLINE:?}; stderr:\n{}",
                    self.child.id(),
                    self.stderr.lock().unwrap().join("\n")
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

//! What the benchmarks share: the release-built operator, started for one namespace with its
//! metrics on loopback, and the arithmetic of their reports.

// Each benchmark is its own crate and uses part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agents_testenv::{Cluster, http};
use anyhow::bail;

pub mod cpu;

/// Names an operator binary to measure instead of this build's, e.g. the static musl build the
/// image ships (see docs/benchmarks.md). `AGENTS_BENCH_OPERATOR_LOG` sets its `RUST_LOG` (`warn`
/// by default); its log is `bench-operator-<namespace>.log` in the cluster's directory.
const OPERATOR_ENV: &str = "AGENTS_BENCH_OPERATOR";

/// The operator in the release profile, as `cargo bench` builds; nothing when `AGENTS_BENCH_OPERATOR`
/// names one.
pub fn build_operator() -> anyhow::Result<()> {
    if let Some(binary) = std::env::var_os(OPERATOR_ENV) {
        if !PathBuf::from(&binary).is_file() {
            bail!(
                "{OPERATOR_ENV}={} is not a file: build it first, and give an absolute path",
                binary.to_string_lossy()
            );
        }
        println!("measuring the operator at {}", binary.to_string_lossy());
        return Ok(());
    }
    let status = agents_testenv::cargo::command().args(["build", "--release", "-p", "agents-operator"]).status()?;
    if !status.success() {
        bail!("building agents-operator failed");
    }
    Ok(())
}

/// Builds the release operator (see [`build_operator`]), starts the local control plane with the
/// agents.dev CRDs for this process, runs `bench` on it, and stops it whatever `bench` returned.
pub fn with_operator_on_a_cluster<T>(bench: impl AsyncFnOnce(&mut Cluster) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Runtime::new()?;
    build_operator()?;
    let mut cluster = runtime.block_on(Cluster::start_for_this_process(&agents_testenv::Options {
        extra_crds: agents_api::crd::all(),
        ..Default::default()
    }))?;
    let result = runtime.block_on(bench(&mut cluster));
    cluster.stop();
    result
}

pub fn operator_binary() -> PathBuf {
    if let Some(binary) = std::env::var_os(OPERATOR_ENV) {
        return binary.into();
    }
    let exe = std::env::current_exe().expect("the bench has a path");
    exe.parent().and_then(|d| d.parent()).expect("<target>/<profile>/deps").join("agents-operator")
}

pub struct Operator {
    child: Child,
    pub metrics: std::net::SocketAddr,
    /// What it was started with, so it can be started again the same way.
    kubeconfig: PathBuf,
    namespace: String,
    concurrency: usize,
    /// Flags beyond the common ones (leader election off when there are none).
    extra: Vec<String>,
    log: PathBuf,
}

impl Operator {
    pub fn metrics(&self) -> anyhow::Result<String> {
        Ok(http::get(self.metrics, "/metrics")?)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok()))
            .unwrap_or(0)
    }

    /// SIGKILLs the process (nothing of it runs after: as the OOM killer or a lost node ends a
    /// pod) and starts it again at once with the same flags, as a Deployment's kubelet restarts
    /// its container; returns once the new process is ready. Its metrics start again from zero,
    /// on a new port.
    pub fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        self.restart()
    }

    /// SIGKILLs the process and reaps it; nothing restarts it.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERMs the process (a graceful stop, as when Kubernetes stops the pod) and waits for it
    /// to exit.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id())?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        self.child.wait()?;
        Ok(())
    }

    /// How the process ended, if it ended by itself.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Starts the process again (after it ended) with the same flags; its log is appended to.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let log = std::fs::File::options().append(true).open(&self.log)?;
        let (child, metrics) = spawn_operator(&self.kubeconfig, &self.namespace, self.concurrency, &self.extra, log)?;
        self.child = child;
        self.metrics = metrics;
        wait_until_ready(metrics)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_operator(cluster: &Cluster, namespace: &str, concurrency: usize) -> anyhow::Result<Operator> {
    start_operator_with(cluster, namespace, concurrency, "", &[])
}

/// An operator with `extra` flags, logging to `bench-operator-<namespace><suffix>.log`.
pub fn start_operator_with(
    cluster: &Cluster,
    namespace: &str,
    concurrency: usize,
    suffix: &str,
    extra: &[&str],
) -> anyhow::Result<Operator> {
    let log = cluster.dir().join(format!("bench-operator-{namespace}{suffix}.log"));
    let kubeconfig = cluster.kubeconfig();
    let extra: Vec<String> = extra.iter().map(|f| f.to_string()).collect();
    let (child, metrics) = spawn_operator(&kubeconfig, namespace, concurrency, &extra, std::fs::File::create(&log)?)?;
    let operator = Operator { child, metrics, kubeconfig, namespace: namespace.to_string(), concurrency, extra, log };
    wait_until_ready(operator.metrics)?;
    Ok(operator)
}

fn spawn_operator(
    kubeconfig: &std::path::Path,
    namespace: &str,
    concurrency: usize,
    extra: &[String],
    log: std::fs::File,
) -> anyhow::Result<(Child, std::net::SocketAddr)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let metrics: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let election = if extra.is_empty() { vec!["--leader-elect=false".to_string()] } else { extra.to_vec() };
    let child = Command::new(operator_binary())
        .args([
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--namespace={namespace}"),
            format!("--metrics-bind-address={metrics}"),
            format!("--concurrency={concurrency}"),
        ])
        .args(election)
        .env("RUST_LOG", std::env::var("AGENTS_BENCH_OPERATOR_LOG").as_deref().unwrap_or("warn"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    Ok((child, metrics))
}

fn wait_until_ready(metrics: std::net::SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http::get(metrics, "/readyz").is_ok_and(|b| b.trim() == "ok") {
        if Instant::now() > deadline {
            bail!("the operator did not become ready");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The Agent the agents benchmark and the soak create: their figures compare because it is one shape.
pub fn agent_manifest(name: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "Agent",
        "metadata": {"name": name},
        "spec": {
            "image": "ghcr.io/example/bench-agent:v1",
            "model": {"provider": "openai", "name": "gpt-4o", "apiKeySecretRef": {"name": "openai", "key": "api-key"}},
            "instructions": "You are a benchmark agent.",
            "replicas": 1,
        },
    })
}

/// How often a benchmark reads the operator's metrics while measuring it. Each scrape counts the
/// cached objects by phase (`agents_operator_objects`, all of them every time); read every
/// 10 ms, as `poll_until` looks, the scrapes were part of what was measured. Prometheus reads
/// them every 15–60 s.
pub const SCRAPE_EVERY: Duration = Duration::from_millis(100);

/// Waits until `done`, looking every 10 ms.
pub async fn poll_until(
    what: &str,
    deadline: Duration,
    done: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    poll_every(what, Duration::from_millis(10), deadline, done).await
}

/// Waits until `done`, looking every `period`.
pub async fn poll_every(
    what: &str,
    period: Duration,
    deadline: Duration,
    mut done: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    while !done()? {
        if start.elapsed() > deadline {
            bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(period).await;
    }
    Ok(())
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

/// The operator's API writes so far (children, status, events).
pub fn family_sum(metrics: &str) -> f64 {
    agents_testenv::http::family_sum(metrics, "agents_operator_api_writes_total")
}

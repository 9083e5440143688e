//! What the benchmarks share: the release-built operator, started for one namespace with its
//! metrics on loopback, and the arithmetic of their reports.

// Each benchmark is its own crate and uses part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agents_testenv::{Cluster, http};
use anyhow::bail;

/// Names an operator binary to measure instead of this build's, e.g. the static musl build the
/// image ships (see docs/benchmarks.md).
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
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo).args(["build", "--release", "-p", "agents-operator"]).status()?;
    if !status.success() {
        bail!("building agents-operator failed");
    }
    Ok(())
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
}

impl Operator {
    pub fn metrics(&self) -> anyhow::Result<String> {
        Ok(http::get(self.metrics, "/metrics")?)
    }

    pub fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok()))
            .unwrap_or(0)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_operator(cluster: &Cluster, namespace: &str, concurrency: usize) -> anyhow::Result<Operator> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let metrics: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new(operator_binary())
        .args([
            format!("--kubeconfig={}", cluster.kubeconfig().display()),
            format!("--namespace={namespace}"),
            format!("--metrics-bind-address={metrics}"),
            format!("--agent-concurrency={concurrency}"),
            "--leader-elect=false".into(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(cluster.dir().join(format!("bench-operator-{namespace}.log")))?)
        .spawn()?;
    let operator = Operator { child, metrics };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http::get(metrics, "/readyz").is_ok_and(|b| b.trim() == "ok") {
        if Instant::now() > deadline {
            bail!("the operator did not become ready");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(operator)
}

pub async fn poll_until(
    what: &str,
    deadline: Duration,
    mut done: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    while !done()? {
        if start.elapsed() > deadline {
            bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
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

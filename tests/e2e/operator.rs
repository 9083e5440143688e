//! The real operator binary, run by a test for its own namespace (so tests never share one and
//! can kill, restart or double it), with its metrics on a free loopback port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agents_testenv::http::sample;
use anyhow::{Context, bail, ensure};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Ctx, DEADLINE, binaries_dir};

pub struct Operator {
    child: Child,
    pub metrics: SocketAddr,
    pub log: PathBuf,
}

impl Ctx {
    /// Starts `agents-operator --namespace <this test's>` with `extra` flags (leader election is
    /// off unless `extra` turns it on) and waits until it serves /readyz.
    pub fn operator(&self, extra: &[&str]) -> anyhow::Result<Operator> {
        self.operator_as(&self.cluster.kubeconfig(), extra)
    }

    /// The same, with the identity of another kubeconfig (e.g. the operator's ServiceAccount).
    pub fn operator_as(&self, kubeconfig: &std::path::Path, extra: &[&str]) -> anyhow::Result<Operator> {
        self.start_operator(kubeconfig, extra, None)
    }

    /// The same, as the pod `pod` would run it (`POD_NAME`, from the downward API in its
    /// Deployment): its Lease identity names the pod.
    pub fn operator_as_pod(&self, kubeconfig: &std::path::Path, extra: &[&str], pod: &str) -> anyhow::Result<Operator> {
        self.start_operator(kubeconfig, extra, Some(pod))
    }

    fn start_operator(
        &self,
        kubeconfig: &std::path::Path,
        extra: &[&str],
        pod: Option<&str>,
    ) -> anyhow::Result<Operator> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let metrics: SocketAddr = ([127, 0, 0, 1], port).into();
        let dir = self.cluster.dir().join("operators");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join(format!("{}-{port}.log", self.ns));
        let mut args = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--namespace={}", self.ns),
            format!("--metrics-bind-address={metrics}"),
        ];
        if !extra.iter().any(|a| a.starts_with("--leader-elect")) {
            args.push("--leader-elect=false".into());
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut command = Command::new(binaries_dir().join("agents-operator"));
        if let Some(pod) = pod {
            command.env("POD_NAME", pod);
        }
        let child = command
            .args(&args)
            .env("RUST_LOG", "info,agents_operator=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting agents-operator")?;
        let mut operator = Operator { child, metrics, log };
        operator.wait_ready()?;
        Ok(operator)
    }
}

impl Operator {
    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("agents-operator exited with {status}:\n{}", self.log_text());
            }
            if self.get("/readyz").is_ok_and(|body| body.trim() == "ok") {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("agents-operator did not become ready in {DEADLINE:?}:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `GET path` on the metrics listener.
    pub fn get(&self, path: &str) -> anyhow::Result<String> {
        Ok(agents_testenv::http::get(self.metrics, path)?)
    }

    /// The value of one sample, e.g. `agents_operator_leader` (0 when absent).
    pub fn metric(&self, sample: &str) -> anyhow::Result<f64> {
        Ok(agents_testenv::http::sample(&self.get("/metrics")?, sample))
    }

    /// Waits until each sample has its value: the operator's caches follow the API server a moment
    /// after a test's own watch does.
    pub async fn wait_for_metrics(&self, wanted: &[(&str, f64)]) -> anyhow::Result<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let text = self.get("/metrics")?;
            let wrong: Vec<String> = wanted
                .iter()
                .map(|(sample, value)| (sample, value, agents_testenv::http::sample(&text, sample)))
                .filter(|(_, wanted, found)| found != *wanted)
                .map(|(sample, wanted, found)| format!("{sample} is {found}, not {wanted}"))
                .collect();
            if wrong.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("after {DEADLINE:?}: {}\n{text}", wrong.join("; "));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The reconciles of `kind` finished so far, read once none is running: the next one to finish
    /// started after this call.
    pub async fn settled_reconciles(&self, kind: &str) -> anyhow::Result<f64> {
        let started = format!("agents_operator_reconciles_total{{kind=\"{kind}\"}}");
        let finished = format!("agents_operator_reconcile_duration_seconds_count{{kind=\"{kind}\"}}");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let text = self.get("/metrics")?;
            let (started, finished) = (sample(&text, &started), sample(&text, &finished));
            if started == finished {
                return Ok(finished);
            }
            ensure!(Instant::now() < deadline, "{kind} reconciles still running after {DEADLINE:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for a reconcile of `kind` to finish after [`Operator::settled_reconciles`] returned
    /// `before`: whatever the test changed since has been seen.
    pub async fn reconciled_since(&self, kind: &str, before: f64) -> anyhow::Result<()> {
        let finished = format!("agents_operator_reconcile_duration_seconds_count{{kind=\"{kind}\"}}");
        let deadline = Instant::now() + DEADLINE;
        while self.metric(&finished)? <= before {
            ensure!(Instant::now() < deadline, "no {kind} reconcile within {DEADLINE:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Every API write the operator made: children applied and deleted, statuses, events.
    pub fn writes(&self) -> anyhow::Result<f64> {
        Ok(agents_testenv::http::family_sum(&self.get("/metrics")?, "agents_operator_api_writes_total"))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: the process dies mid-work, as in an OOM kill or a node loss.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: a graceful stop, as when Kubernetes stops the pod.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM)?;
        let deadline = Instant::now() + DEADLINE;
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                self.kill();
                bail!("agents-operator did not stop within {DEADLINE:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

//! Benchmark: the reference agent runtime (`agents-runtime`, release build) against a scripted
//! OpenAI-compatible model on loopback. Prints figures; asserts nothing. No cluster needed.
//!
//! ```sh
//! cargo bench -p agents-e2e --bench runtime
//! # the runtime as the image ships it (static musl) instead of this build's glibc one
//! CC_x86_64_unknown_linux_musl=cc cargo build --release --target x86_64-unknown-linux-musl -p agents-runtime
//! AGENTS_BENCH_RUNTIME=$PWD/target/x86_64-unknown-linux-musl/release/agents-runtime cargo bench -p agents-e2e --bench runtime
//! ```
//!
//! - start to the first answered request (spawn → a `SendMessage` answered), median of runs;
//! - RSS idle, and while 100 streams are open at once (the model holds each turn for a while);
//! - the latency the runtime adds to one model turn: a `SendMessage` of one turn as the client
//!   sees it, minus the time the model server spent on it (p50, p99).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

mod support;

use agents_testenv::model::{Reply, ScriptedModel, last_message};
use support::percentile;

const STARTS: usize = 11;
const TURNS: usize = 2000;
const STREAMS: usize = 100;

fn main() -> anyhow::Result<()> {
    if std::env::var_os("AGENTS_BENCH_RUNTIME").is_none() {
        build_runtime()?;
    }
    // The client on one thread, each model server on a thread of its own (below): the bench's
    // own scheduling must not count as time the runtime added.
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(run())
}

/// Starts a scripted model on a thread and runtime of its own, serving until the process ends.
fn model_on_its_own_thread(
    latency: Duration,
    on_served: impl Fn(Duration) + Send + Sync + 'static,
) -> anyhow::Result<ScriptedModel> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return drop(sender.send(Err(anyhow::Error::new(e)))),
        };
        runtime.block_on(async move {
            let _ =
                sender.send(ScriptedModel::start_timed(echo, latency, on_served).await.map_err(anyhow::Error::from));
            std::future::pending::<()>().await
        })
    });
    receiver.recv().context("the model's thread ended")?
}

/// The model of every measurement: it repeats the question.
fn echo(request: &Value) -> Reply {
    Reply::Text(format!("echo: {}", last_message(request)["content"].as_str().unwrap_or_default()))
}

fn build_runtime() -> anyhow::Result<()> {
    if !agents_testenv::cargo::command().args(["build", "--release", "-p", "agents-runtime"]).status()?.success() {
        bail!("building agents-runtime failed");
    }
    Ok(())
}

/// `AGENTS_BENCH_RUNTIME`, else this build's release binary.
fn runtime_binary() -> std::path::PathBuf {
    if let Some(given) = std::env::var_os("AGENTS_BENCH_RUNTIME") {
        return given.into();
    }
    let exe = std::env::current_exe().expect("the bench has a path");
    exe.parent().and_then(|d| d.parent()).expect("<target>/<profile>/deps").join("agents-runtime")
}

struct Runtime {
    child: Child,
    address: SocketAddr,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Runtime {
    fn start(model: &ScriptedModel) -> anyhow::Result<Runtime> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(runtime_binary())
            .env_clear()
            .envs([
                ("AGENT_NAME", "bench".to_string()),
                ("AGENT_PORT", port.to_string()),
                ("AGENT_BIND_ADDRESS", "127.0.0.1".into()),
                ("MODEL_NAME", "scripted".into()),
                ("MODEL_API_URL", model.url()),
                ("RUST_LOG", "warn".into()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Runtime { child, address: ([127, 0, 0, 1], port).into() })
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

fn send_body(text: &str, stream: bool) -> String {
    let method = if stream { "SendStreamingMessage" } else { "SendMessage" };
    json!({"jsonrpc": "2.0", "id": "1", "method": method, "params": {"message": {
        "messageId": "m", "role": "ROLE_USER", "parts": [{"text": text}]}}})
    .to_string()
}

/// One `SendMessage`; its completed task's answer.
async fn send(client: &reqwest::Client, address: SocketAddr, text: &str) -> anyhow::Result<String> {
    let response = client
        .post(format!("http://{address}/"))
        .header("content-type", "application/json")
        .header("A2A-Version", "1.0")
        .body(send_body(text, false))
        .send()
        .await?;
    let body: Value = serde_json::from_slice(&response.bytes().await?)?;
    let task = &body["result"]["task"];
    if task["status"]["state"] != "TASK_STATE_COMPLETED" {
        bail!("the task did not complete: {body}");
    }
    Ok(task["artifacts"][0]["parts"][0]["text"].as_str().unwrap_or_default().to_string())
}

async fn run() -> anyhow::Result<()> {
    let client = agents_runtime::http_client()?;
    // Start to the first answer.
    let model = model_on_its_own_thread(Duration::ZERO, |_| {})?;
    let mut starts = Vec::new();
    for _ in 0..STARTS {
        let started = Instant::now();
        let runtime = Runtime::start(&model)?;
        let deadline = started + Duration::from_secs(10);
        loop {
            if send(&client, runtime.address, "hi").await.is_ok() {
                starts.push(started.elapsed());
                break;
            }
            if Instant::now() > deadline {
                bail!("the runtime did not answer within 10 s");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    starts.sort();

    // Idle memory, after one answer (the first request builds the HTTP client's pools).
    let runtime = Runtime::start(&model)?;
    wait_answering(&client, &runtime).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = runtime.rss_kib();

    // The latency added per turn: the client's round trip minus the model server's own time.
    let timings: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let served = timings.clone();
    let timed_model = model_on_its_own_thread(Duration::ZERO, move |took| served.lock().unwrap().push(took))?;
    let timed = Runtime::start(&timed_model)?;
    wait_answering(&client, &timed).await?;
    timings.lock().unwrap().clear();
    let mut added = Vec::with_capacity(TURNS);
    for i in 0..TURNS {
        let started = Instant::now();
        let answer = send(&client, timed.address, &format!("turn {i}")).await?;
        let round_trip = started.elapsed();
        let model_time = timings.lock().unwrap().pop().context("the model saw no request")?;
        if answer != format!("echo: turn {i}") {
            bail!("unexpected answer {answer:?}");
        }
        added.push(round_trip.saturating_sub(model_time));
    }
    added.sort();

    // 100 streams open at once: the model holds each turn for 3 s.
    let slow_model = model_on_its_own_thread(Duration::from_secs(3), |_| {})?;
    let busy = Runtime::start(&slow_model)?;
    wait_answering_slowly(&client, &busy).await?;
    let before = busy.rss_kib();
    let streams: Vec<_> = (0..STREAMS)
        .map(|i| {
            let client = client.clone();
            let address = busy.address;
            tokio::spawn(async move {
                let response = client
                    .post(format!("http://{address}/"))
                    .header("content-type", "application/json")
                    .header("accept", "text/event-stream")
                    .body(send_body(&format!("stream {i}"), true))
                    .send()
                    .await?;
                let body = response.text().await?;
                anyhow::ensure!(body.contains("TASK_STATE_COMPLETED"), "stream {i} did not complete: {body}");
                Ok::<_, anyhow::Error>(())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let open = slow_model.seen().len();
    let under_load = busy.rss_kib();
    for stream in streams {
        stream.await??;
    }
    let after = busy.rss_kib();

    let binary = runtime_binary();
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!("{} ({:.1} MiB), scripted model on loopback", binary.display(), size as f64 / (1024.0 * 1024.0));
    println!(
        "  start to first answered request: median {:.1} ms, p90 {:.1} ms ({STARTS} starts)",
        ms(starts[STARTS / 2]),
        ms(percentile(&starts, 0.9))
    );
    println!("  RSS idle (after one answer):     {:.1} MiB", idle as f64 / 1024.0);
    println!(
        "  RSS with {STREAMS} streams open:       {:.1} MiB ({open} model turns in flight; {:.1} MiB before, {:.1} MiB after)",
        under_load as f64 / 1024.0,
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
    println!(
        "  latency added per model turn:    p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({TURNS} turns, one at a time)",
        ms(percentile(&added, 0.5)),
        ms(percentile(&added, 0.99)),
        ms(added[TURNS - 1])
    );
    Ok(())
}

async fn wait_answering(client: &reqwest::Client, runtime: &Runtime) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while send(client, runtime.address, "warm up").await.is_err() {
        if Instant::now() > deadline {
            bail!("the runtime did not answer within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// The same for a runtime whose model takes seconds: wait for it to serve, then answer once.
async fn wait_answering_slowly(client: &reqwest::Client, runtime: &Runtime) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(format!("http://{}/health", runtime.address)).send().await.is_err() {
        if Instant::now() > deadline {
            bail!("the runtime did not serve within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    send(client, runtime.address, "warm up").await.map(|_| ())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

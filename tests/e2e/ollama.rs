//! Hosted ModelAPIs served by the real Ollama: seed 001's row "ModelAPI Hosted mode via Ollama"
//! (the models the spec names are pulled when the server starts; the pod is ready only then).
//!
//! The operator renders the ModelAPI; the test runs what its pod would run: the container's start
//! script, as rendered (`/bin/sh -c SCRIPT`), with `ollama` v0.12.6 first on `PATH`, built from the
//! Go module `github.com/ollama/ollama` (`agents_testenv::tools::OLLAMA`, the release of the image
//! the operator renders), and the rendered environment. The pod's volumes (`/models`, `/tmp`)
//! become fresh directories here, and `OLLAMA_HOST`'s wildcard address becomes the pod's loopback
//! address.
//!
//! No model can be pulled here. The ModelAPI's `env` points Ollama's registry client at a proxy
//! on loopback (`HTTPS_PROXY`, as Ollama documents for clusters behind one) that records each
//! request and closes it, so a pull fails at once and nothing leaves 127.0.0.0/8: Go's client
//! sends the registry's name in a `CONNECT` to the proxy and resolves nothing itself.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agents_api::{ModelAPI, ServerPhase};
use agents_testenv::tools::OLLAMA;
use agents_testenv::{cache_dir, gobuild};
use anyhow::{Context, bail, ensure};
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use libtest_mimic::Trial;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::in_pod;
use crate::support::{Ctx, Env, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "ollama", [ollama_runs_the_rendered_start_script_and_probes])
}

/// The model the ModelAPI names: Ollama's smallest Llama 3.2.
const MODEL: &str = "llama3.2:1b";

/// How long the script gets to serve and pull (or fail to): Ollama serves within a second, and the
/// script looks for it once a second.
const STARTUP: Duration = Duration::from_secs(60);

/// A stand-in for an HTTPS proxy on loopback: records the first line of each request (`CONNECT
/// host:port HTTP/1.1`) and closes the connection, so whatever asked fails at once.
struct ClosingProxy {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ClosingProxy {
    async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = vec![0; 4096];
                let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head)).await;
                let line = match read {
                    Ok(Ok(n)) => String::from_utf8_lossy(&head[..n]).lines().next().unwrap_or_default().to_string(),
                    _ => "(nothing read)".to_string(),
                };
                sink.lock().expect("never poisoned").push(line);
            }
        });
        Ok(ClosingProxy { address, seen, task })
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("never poisoned").clone()
    }
}

impl Drop for ClosingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The start script running here, in a process group of its own: the container's processes (the
/// shell and the `ollama serve` it starts in the background) end together when it is dropped, as
/// they do when a container stops.
struct Pod {
    child: Child,
    log: PathBuf,
}

impl Pod {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The script's exit status once it has ended, or `None` while it runs.
    fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// What the rendered container needs to run here: the container, its script, its environment
/// (resolved as the kubelet would) and the pod's address.
struct Rendered {
    container: Container,
    script: String,
    env: Vec<(String, String)>,
    address: SocketAddr,
}

impl Rendered {
    async fn read(ctx: &Ctx, name: &str) -> anyhow::Result<Self> {
        let (_, ip) = in_pod::running_pod(ctx, &format!("{}={name}", agents_render::labels::MODEL_API)).await?;
        let container = in_pod::rendered_container(ctx, name).await?;
        let script = match container.command.as_deref() {
            Some([shell, flag, script]) if shell == "/bin/sh" && flag == "-c" => script.clone(),
            other => bail!("the container does not run a script with /bin/sh -c: {other:?}"),
        };
        let env = agents_testenv::pods::resolved_env(&ctx.client, &ctx.ns, &container).await?;
        let port = named_port(&container, "http")?;
        let host = value(&env, "OLLAMA_HOST")?;
        ensure!(host == format!("0.0.0.0:{port}"), "OLLAMA_HOST {host:?} is not every address on port {port}");
        Ok(Rendered { container, script, env, address: SocketAddr::new(ip, port) })
    }

    /// A path of the container as it is here: under the directory playing the volume mounted there.
    fn here(&self, path: &str, volumes: &Path) -> String {
        for mount in self.container.volume_mounts.iter().flatten() {
            let inside = path.strip_prefix(&mount.mount_path).filter(|rest| rest.is_empty() || rest.starts_with('/'));
            if let Some(rest) = inside {
                return format!("{}{rest}", volumes.join(&mount.name).display());
            }
        }
        path.to_string()
    }

    /// Starts the script as the container would, as a fresh pod: its volumes are new directories
    /// under `dir`, its output (stdout and stderr, as `kubectl logs` shows them) goes to
    /// `dir/log`. `overrides` replace rendered variables.
    fn start(&self, ollama: &Path, dir: &Path, overrides: &[(&str, &str)]) -> anyhow::Result<Pod> {
        let volumes = dir.join("volumes");
        std::fs::create_dir_all(dir)?;
        for mount in self.container.volume_mounts.iter().flatten() {
            std::fs::create_dir_all(volumes.join(&mount.name))?;
        }
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", &self.script])
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", ollama.display()))
            .process_group(0)
            .stdin(Stdio::null());
        for (name, rendered) in &self.env {
            let value = match name.as_str() {
                "OLLAMA_HOST" => self.address.to_string(),
                _ => self.here(rendered, &volumes),
            };
            command.env(name, value);
        }
        command.envs(overrides.iter().copied());
        let log = dir.join("log");
        let file = std::fs::File::create(&log)?;
        command.stdout(file.try_clone()?).stderr(file);
        let child = command.spawn().context("starting /bin/sh")?;
        Ok(Pod { child, log })
    }
}

fn value<'a>(env: &'a [(String, String)], name: &str) -> anyhow::Result<&'a str> {
    let names = || env.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>();
    env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).with_context(|| format!("no {name} in {:?}", names()))
}

fn named_port(container: &Container, name: &str) -> anyhow::Result<u16> {
    let port = container.ports.iter().flatten().find(|p| p.name.as_deref() == Some(name));
    Ok(u16::try_from(port.with_context(|| format!("no container port named {name}"))?.container_port)?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `GET path` on `address`: the status and the body.
async fn get(address: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let response = agents_runtime::http_client()?
        .get(format!("http://{address}{path}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// The endpoint Agents are given for the ModelAPI `name`, once it is Ready, led to the address
/// here that serves it.
async fn endpoint_here(ctx: &Ctx, name: &str) -> anyhow::Result<String> {
    let ready = ctx
        .wait_for(&ctx.api::<ModelAPI>(), name, "Ready", |m: Option<&ModelAPI>| {
            m.and_then(|m| m.status.as_ref()).is_some_and(|s| s.phase == Some(ServerPhase::Ready))
        })
        .await?;
    let endpoint = ready.status.and_then(|s| s.endpoint).context("a Ready ModelAPI without an endpoint")?;
    let cluster_urls = agents_testenv::pods::cluster_urls(&ctx.client, &ctx.ns).await?;
    Ok(agents_testenv::pods::replace_urls(&endpoint, &cluster_urls))
}

/// Seed 001, "ModelAPI Hosted mode via Ollama": the rendered start script, run with the real
/// Ollama, pulls the model the spec names and fails the container when the pull fails, naming
/// the model, before the readiness marker; with nothing to pull it marks itself ready, and the
/// rendered probes, Ollama's version and the OpenAI-compatible API Agents use all answer.
async fn ollama_runs_the_rendered_start_script_and_probes(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let ollama = tokio::task::spawn_blocking(|| gobuild::ensure(&OLLAMA, &cache_dir()));
    let proxy = ClosingProxy::start().await?;
    ctx.apply_yaml(&format!(
        "apiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {{name: local}}\n\
         spec:\n  mode: Hosted\n  port: {port}\n  hosted: {{models: ['{MODEL}']}}\n\
         \x20 env: [{{name: HTTPS_PROXY, value: 'http://{proxy}'}}]\n",
        port = free_port()?,
        proxy = proxy.address,
    ))
    .await?;
    let ollama = ollama.await??;
    let rendered = Rendered::read(&ctx, "local").await?;
    let models = value(&rendered.env, "OLLAMA_PULL_MODELS")?;
    ensure!(models == MODEL, "OLLAMA_PULL_MODELS is {models:?}");
    let dir = ctx.cluster.dir().join("runtime").join(&ctx.ns);

    // As rendered: the pull reaches the proxy (and nothing else), fails, and the container fails
    // before the readiness marker, its log naming the model.
    let first = dir.join("pull");
    let mut pod = rendered.start(&ollama, &first, &[])?;
    let deadline = Instant::now() + STARTUP;
    let status = loop {
        if let Some(status) = pod.exited()? {
            break status;
        }
        ensure!(Instant::now() < deadline, "the script still runs after {STARTUP:?}:\n{}", pod.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let log = pod.log_text();
    ensure!(!status.success(), "the script succeeded although the pull cannot:\n{log}");
    ensure!(log.contains(&format!("pulling {MODEL}")), "the log does not name the model:\n{log}");
    ensure!(log.contains("Error: pull model manifest"), "the pull did not fail at the registry:\n{log}");
    let marker = rendered.here(value(&rendered.env, "MODELS_PULLED_MARKER")?, &first.join("volumes"));
    ensure!(!Path::new(&marker).exists(), "the readiness marker {marker} was written:\n{log}");
    ensure!(proxy.seen() == ["CONNECT registry.ollama.ai:443 HTTP/1.1"], "through the proxy: {:?}", proxy.seen());
    // The container's processes end with it (Ollama's server outlives the script otherwise).
    drop(pod);

    // With nothing to pull (the schema asks for a model, so only the variable is emptied): the
    // marker appears and the server answers, having asked nothing of the proxy.
    let second = dir.join("serve");
    let mut pod = rendered.start(&ollama, &second, &[("OLLAMA_PULL_MODELS", "")])?;
    let volumes = second.join("volumes");
    let readiness = rendered.container.readiness_probe.as_ref().and_then(|p| p.exec.as_ref());
    let readiness: Vec<String> = readiness
        .and_then(|e| e.command.clone())
        .context("no exec readiness probe")?
        .iter()
        .map(|word| rendered.here(word, &volumes))
        .collect();
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Some(status) = pod.exited()? {
            bail!("the script exited ({status}) before it was ready:\n{}", pod.log_text());
        }
        // The readiness probe's own command, its path where the pod's /tmp is here.
        if Command::new(&readiness[0]).args(&readiness[1..]).status()?.success() {
            break;
        }
        ensure!(Instant::now() < deadline, "not ready after {STARTUP:?}:\n{}", pod.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(pod.log_text().contains("all models pulled"), "{}", pod.log_text());

    // The liveness probe: Ollama's documented `GET /`.
    let liveness = rendered.container.liveness_probe.as_ref().and_then(|p| p.http_get.as_ref());
    let liveness = liveness.context("no HTTP liveness probe")?;
    let port = match &liveness.port {
        IntOrString::Int(number) => u16::try_from(*number)?,
        IntOrString::String(name) => named_port(&rendered.container, name)?,
    };
    let path = liveness.path.as_deref().unwrap_or("/");
    let answer = get(SocketAddr::new(rendered.address.ip(), port), path).await?;
    ensure!(answer == (200, "Ollama is running".to_string()), "GET {path}: {answer:?}");

    // The release it is, and the OpenAI-compatible API Agents call, through the ModelAPI's
    // endpoint: no models yet, and a chat with the unpulled model is refused as OpenAI's would be.
    let (status, version) = get(rendered.address, "/api/version").await?;
    ensure!(status == 200 && serde_json::from_str::<Value>(&version)? == json!({"version": "0.12.6"}), "{version}");
    let url = endpoint_here(&ctx, "local").await?;
    ensure!(url == format!("http://{}", rendered.address), "the endpoint leads to {url}");
    let models: Value = serde_json::from_str(&get(rendered.address, "/v1/models").await?.1)?;
    let listed = models["data"].as_array().map_or(0, Vec::len);
    ensure!(models["object"] == "list" && listed == 0, "GET /v1/models: {models}");
    let chat = agents_runtime::http_client()?
        .post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await?;
    let status = chat.status().as_u16();
    let refusal: Value = serde_json::from_str(&chat.text().await?)?;
    let message = refusal["error"]["message"].as_str().unwrap_or_default();
    ensure!(status == 404 && message.contains("not found"), "{status} {refusal}");

    ensure!(proxy.seen().len() == 1, "the server asked the proxy for more: {:?}", proxy.seen());
    ensure!(pod.exited()?.is_none(), "the script ended:\n{}", pod.log_text());
    Ok(())
}

//! What runs in a KWOK pod, run for real: nothing runs inside KWOK's pods, so a test starts the
//! program the pod would run as a process on this machine, bound to the pod's own address (on
//! loopback), with the environment the operator rendered, and points KWOK's port-forwarding for
//! the pod at it. `kubectl port-forward` (and `kubectl agents invoke`) then reach the program
//! through the API server and KWOK, as they reach a container in a real cluster.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::{Api, ListParams};

use crate::support::{Ctx, DEADLINE, binaries_dir};

/// A program playing a pod's container; killed when dropped.
pub struct PodProcess {
    child: Child,
    pub address: SocketAddr,
    pub log: PathBuf,
}

impl Drop for PodProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PodProcess {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `GET path` answers 200 (the program is serving), or fails with its log.
    pub fn wait_serving(&mut self, path: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited with {status}:\n{}", self.log.display(), self.log_text());
            }
            if agents_testenv::http::get(self.address, path).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("nothing served {path} on {} within {DEADLINE:?}:\n{}", self.address, self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until something accepts connections on the address.
    pub fn wait_listening(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited with {status}:\n{}", self.log.display(), self.log_text());
            }
            if std::net::TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("nothing listened on {} within {DEADLINE:?}:\n{}", self.address, self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str) -> anyhow::Result<String> {
        Ok(agents_testenv::http::get(self.address, path)?)
    }
}

/// The running pod (with an IP) of the Deployment `name`, once there is one.
pub async fn running_pod(ctx: &Ctx, selector: &str) -> anyhow::Result<(String, IpAddr)> {
    let pods: Api<Pod> = ctx.api();
    ctx.wait_for_value(&format!("a running pod with an IP ({selector})"), || async {
        let listed = pods.list(&ListParams::default().labels(selector)).await?;
        Ok(listed.items.iter().find_map(|pod| {
            let status = pod.status.as_ref()?;
            let ip = status.pod_ip.as_deref()?.parse().ok()?;
            (status.phase.as_deref() == Some("Running") && pod.metadata.deletion_timestamp.is_none())
                .then(|| (pod.metadata.name.clone().unwrap_or_default(), ip))
        }))
    })
    .await
}

/// The first container of the Deployment `name`, as the operator rendered it.
pub async fn rendered_container(ctx: &Ctx, name: &str) -> anyhow::Result<Container> {
    let deployment = ctx.api::<Deployment>().get(name).await.with_context(|| format!("reading Deployment {name}"))?;
    deployment
        .spec
        .template
        .spec
        .and_then(|p| p.containers.into_iter().next())
        .with_context(|| format!("Deployment {name} has no container"))
}

/// The container's environment as the kubelet would give it: literal values, the pod's
/// namespace, and Secret keys read from the Secret (the test may read them; the operator never does).
pub async fn resolved_env(ctx: &Ctx, container: &Container) -> anyhow::Result<Vec<(String, String)>> {
    let secrets: Api<Secret> = ctx.api();
    let mut env = Vec::new();
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(value), _) => value.clone(),
            (None, Some(from)) if from.field_ref.as_ref().is_some_and(|f| f.field_path == "metadata.namespace") => {
                ctx.ns.clone()
            }
            (None, Some(from)) if from.secret_key_ref.is_some() => {
                let key = from.secret_key_ref.as_ref().expect("checked");
                let secret = secrets.get(&key.name).await.with_context(|| format!("reading Secret {}", key.name))?;
                let bytes = secret.data.and_then(|d| d.get(&key.key).cloned()).with_context(|| {
                    format!("Secret {} has no key {} (the kubelet would not start the pod)", key.name, key.key)
                })?;
                String::from_utf8(bytes.0)?
            }
            _ => bail!("{} has a source the test cannot resolve: {:?}", var.name, var.value_from),
        };
        env.push((var.name.clone(), value));
    }
    Ok(env)
}

/// The mounted `agent.yaml` of an Agent, written where the test's process can read it.
pub async fn agent_config_file(ctx: &Ctx, agent: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let config = ctx.api::<ConfigMap>().get(agent).await.with_context(|| format!("reading ConfigMap {agent}"))?;
    let text = config.data.and_then(|d| d.get("agent.yaml").cloned()).context("the ConfigMap has no agent.yaml")?;
    let path = dir.join(format!("{agent}.yaml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Starts `agents-runtime` as the Agent `name`'s pod would run it: exactly the environment the
/// operator rendered (resolved as the kubelet would) and its `agent.yaml`, bound to the pod's
/// address and port. Two things differ, each because this machine is not the cluster:
/// `AGENT_CONFIG_FILE` names the file's copy here (the mount does not exist), and in-cluster URLs
/// (`http://peer.<ns>.svc.cluster.local`, which do not resolve here) are replaced by the address
/// that serves them, as `cluster_urls` lists.
pub async fn start_runtime(
    ctx: &Ctx,
    name: &str,
    cluster_urls: &[(String, String)],
    dir: &Path,
) -> anyhow::Result<PodProcess> {
    let (pod, ip) = running_pod(ctx, &format!("agents.dev/agent={name}")).await?;
    let container = rendered_container(ctx, name).await?;
    let port =
        container.ports.iter().flatten().next().map(|p| p.container_port).context("the container has no port")?;
    let mut env = resolved_env(ctx, &container).await?;
    let config = agent_config_file(ctx, name, dir).await?;
    for (variable, value) in &mut env {
        if variable == "AGENT_CONFIG_FILE" {
            *value = config.display().to_string();
        }
        for (cluster, here) in cluster_urls {
            *value = value.replace(cluster.as_str(), here);
        }
    }
    let address = SocketAddr::new(ip, u16::try_from(port)?);
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(binaries_dir().join("agents-runtime"))
        .env_clear()
        .envs(env)
        // The one variable the operator does not set: the pod's address, so that processes of
        // several pods share this machine's ports (in a pod, the runtime listens on every address).
        .env("AGENT_BIND_ADDRESS", ip.to_string())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("starting agents-runtime")?;
    let mut process = PodProcess { child, address, log };
    process.wait_serving("/health")?;
    agents_testenv::kwok::forward_pod(&ctx.client, &ctx.ns, &pod, address.port(), address).await?;
    Ok(process)
}

/// Starts a program for the pod of `selector` (`command` as the pod would run it), expecting it
/// to serve on the pod's address.
pub fn start_program(mut command: Command, address: SocketAddr, log: PathBuf) -> anyhow::Result<PodProcess> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    Ok(PodProcess { child, address, log })
}

/// A container's command as rendered, run here: each `uvx [--with REQ] PACKAGE[@VERSION]`
/// becomes that package's program from a cached environment (`bin`, which pins the same
/// requirements) where the image would fetch it, and the wildcard listen address becomes the pod's.
pub fn as_rendered(rendered: &[String], ip: IpAddr, bin: impl Fn(&str) -> PathBuf) -> anyhow::Result<Command> {
    let mut words = Vec::new();
    let mut iter = rendered.iter();
    while let Some(word) = iter.next() {
        match word.as_str() {
            "uvx" => {
                let mut package = iter.next().context("uvx without a package")?;
                // `--with REQUIREMENT`: what the cached environment already pins.
                while package == "--with" {
                    iter.next().context("uvx --with without a requirement")?;
                    package = iter.next().context("uvx without a package")?;
                }
                let name = package.split('@').next().unwrap_or(package);
                words.push(bin(name).display().to_string());
            }
            "0.0.0.0" => words.push(ip.to_string()),
            other => words.push(other.to_string()),
        }
    }
    let (program, args) = words.split_first().context("an empty command")?;
    let mut command = Command::new(program);
    command.args(args);
    Ok(command)
}

/// The in-cluster base URL of a Service, as the operator writes it into environments.
pub fn service_url(ctx: &Ctx, service: &str) -> String {
    format!("http://{service}.{}.svc.cluster.local", ctx.ns)
}

//! `agents-runtime` run as an Agent's pod would run it.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;

use super::{DEADLINE, PodProcess, agent_config_file, rendered_container, replace_urls, resolved_env, running_pod};
use crate::Error;

/// Starts `runtime` (an `agents-runtime` binary) as the Agent `name`'s pod would run it, for the
/// first running pod of the Agent (waiting up to [`DEADLINE`] for one): see [`start_runtime_in`].
pub async fn start_runtime(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    runtime: &Path,
    cluster_urls: &[(String, String)],
    dir: &Path,
) -> Result<PodProcess, Error> {
    let selector = format!("{}={name}", agents_render::labels::AGENT);
    let (pod, ip) = running_pod(client, namespace, &selector, DEADLINE).await?;
    start_runtime_in(client, namespace, name, (&pod, ip), runtime, cluster_urls, dir).await
}

/// Starts `runtime` for the pod `pod` (its name and IP) of the Agent `name`: exactly the
/// environment the operator rendered (resolved as the kubelet would) and its `agent.yaml`, bound
/// to the pod's address and port; once it serves `/health`, KWOK's port-forwarding for the pod
/// leads to it. Its log is `dir/<name>.log`.
///
/// Two things differ, each because this machine is not the cluster: `AGENT_CONFIG_FILE` names
/// the file's copy in `dir` (the mount does not exist), and in-cluster URLs
/// (`http://peer.<ns>.svc.cluster.local`, which do not resolve here) are replaced by the address
/// that serves them, as `cluster_urls` lists (see [`replace_urls`](super::replace_urls)).
pub async fn start_runtime_in(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    (pod, ip): (&str, IpAddr),
    runtime: &Path,
    cluster_urls: &[(String, String)],
    dir: &Path,
) -> Result<PodProcess, Error> {
    let container = rendered_container(client, namespace, name).await?;
    let object = || format!("the container of agent/{name}");
    let port = container
        .ports
        .iter()
        .flatten()
        .next()
        .map(|p| p.container_port)
        .ok_or_else(|| Error::unrunnable(object(), "it has no port"))?;
    let port =
        u16::try_from(port).map_err(|_| Error::unrunnable(object(), format!("its port {port} is not a TCP port")))?;
    let mut env = resolved_env(client, namespace, &container).await?;
    let config = agent_config_file(client, namespace, name, dir).await?;
    for (variable, value) in &mut env {
        if variable == "AGENT_CONFIG_FILE" {
            *value = config.display().to_string();
        }
        *value = replace_urls(value, cluster_urls);
    }
    let address = SocketAddr::new(ip, port);
    let mut command = Command::new(runtime);
    command
        .env_clear()
        .envs(env)
        // The one variable the operator does not set: the pod's address, so that processes of
        // several pods share this machine's ports (in a pod, the runtime listens on every address).
        .env("AGENT_BIND_ADDRESS", ip.to_string());
    let mut process = super::start_program(command, address, dir.join(format!("{name}.log")))?;
    process.serving("/health").await?;
    crate::kwok::forward_pod(client, namespace, pod, port, address).await?;
    Ok(process)
}

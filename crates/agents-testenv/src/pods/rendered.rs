//! What the operator rendered for a pod, read back as the kubelet would use it: the running pod
//! and its address, the container, its environment with every reference resolved, the mounted
//! configuration file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::{Api, ListParams};

use crate::Error;

/// How often the API server is asked again while waiting for a pod.
const API_POLL: Duration = Duration::from_millis(100);

/// The name and IP of a running pod (not being deleted) matching the label `selector`, waiting up
/// to `timeout` for one.
pub async fn running_pod(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    timeout: Duration,
) -> Result<(String, IpAddr), Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    // No deadline for a timeout too long to add to the clock.
    let deadline = Instant::now().checked_add(timeout);
    loop {
        let listed = pods
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| Error::kube(format!("list the pods {selector} in {namespace}"), e))?;
        if let Some(found) = listed.items.iter().find_map(running) {
            return Ok(found);
        }
        if deadline.is_some_and(|deadline| Instant::now() > deadline) {
            return Err(Error::Timeout {
                what: format!("a running pod with an IP ({selector}) in {namespace} within {timeout:?}"),
                hint: format!("`kubectl get pods -n {namespace} -l {selector}` and `kubectl agents describe` show why"),
            });
        }
        tokio::time::sleep(API_POLL).await;
    }
}

/// The pod's name and IP if it runs, has an IP and is not being deleted.
pub(crate) fn running(pod: &Pod) -> Option<(String, IpAddr)> {
    let status = pod.status.as_ref()?;
    let ip = status.pod_ip.as_deref()?.parse().ok()?;
    (status.phase.as_deref() == Some("Running") && pod.metadata.deletion_timestamp.is_none())
        .then(|| (pod.metadata.name.clone().unwrap_or_default(), ip))
}

/// The first container of the Deployment `name`, as the operator rendered it.
pub async fn rendered_container(client: &kube::Client, namespace: &str, name: &str) -> Result<Container, Error> {
    let deployment = Api::<Deployment>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| Error::kube(format!("read the Deployment {namespace}/{name}"), e))?;
    deployment
        .spec
        .template
        .spec
        .and_then(|pod| pod.containers.into_iter().next())
        .ok_or_else(|| Error::unrunnable(format!("Deployment {namespace}/{name}"), "it has no container"))
}

/// The container's environment as the kubelet would give it: literal values, the pod's
/// namespace, and Secret keys read from the Secret (this process may read them; the operator never does).
pub async fn resolved_env(
    client: &kube::Client,
    namespace: &str,
    container: &Container,
) -> Result<Vec<(String, String)>, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let object = || format!("the container {:?}", container.name);
    let mut env = Vec::new();
    for var in container.env.iter().flatten() {
        let from = var.value_from.as_ref();
        let value = if let Some(value) = &var.value {
            value.clone()
        } else if from.and_then(|f| f.field_ref.as_ref()).is_some_and(|f| f.field_path == "metadata.namespace") {
            namespace.to_string()
        } else if let Some(key) = from.and_then(|f| f.secret_key_ref.as_ref()) {
            let secret = secrets
                .get(&key.name)
                .await
                .map_err(|e| Error::kube(format!("read the Secret {namespace}/{} for {}", key.name, var.name), e))?;
            let bytes = secret.data.and_then(|d| d.get(&key.key).cloned()).ok_or_else(|| {
                Error::unrunnable(
                    object(),
                    format!("Secret {} has no key {} (the kubelet would not start the pod)", key.name, key.key),
                )
            })?;
            String::from_utf8(bytes.0).map_err(|_| {
                Error::unrunnable(object(), format!("the key {} of Secret {} is not UTF-8 text", key.key, key.name))
            })?
        } else {
            return Err(Error::unrunnable(
                object(),
                format!("{} has a source this process cannot resolve: {:?}", var.name, var.value_from),
            ));
        };
        env.push((var.name.clone(), value));
    }
    Ok(env)
}

/// The `agent.yaml` the Agent's pod mounts, written into `dir` where this machine's process can read it.
pub async fn agent_config_file(
    client: &kube::Client,
    namespace: &str,
    agent: &str,
    dir: &Path,
) -> Result<PathBuf, Error> {
    let config = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get(agent)
        .await
        .map_err(|e| Error::kube(format!("read the ConfigMap {namespace}/{agent}"), e))?;
    let text = config
        .data
        .and_then(|d| d.get("agent.yaml").cloned())
        .ok_or_else(|| Error::unrunnable(format!("ConfigMap {namespace}/{agent}"), "it has no agent.yaml"))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let path = dir.join(format!("{agent}.yaml"));
    std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
    Ok(path)
}

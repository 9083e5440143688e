//! Tekton Pipelines' own controller, run out of cluster against the local control plane, so
//! PipelineRuns really become TaskRuns and pods (which KWOK runs to completion).
//!
//! Its configuration comes from the pinned module (`config/100-namespace`, `config/config-*.yaml`,
//! with metrics off). knative binds `*:8080` for its health checks whatever the flags say, so only
//! one such controller can run per machine at a time. It can be limited to one namespace, so that
//! it leaves alone the PipelineRuns of tests that play Tekton's part themselves.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams};
use serde::Deserialize;

use crate::crds::FIELD_MANAGER;
use crate::tools::{TEKTON, TEKTON_CONTROLLER};
use crate::{Cluster, Error, gobuild};

/// Where Tekton's controller reads its configuration.
pub const SYSTEM_NAMESPACE: &str = "tekton-pipelines";

/// A running Tekton controller; stopped (killed) when dropped.
pub struct TektonController {
    child: Child,
    log: PathBuf,
}

impl TektonController {
    /// Builds the controller if it is not cached, installs its configuration and starts it,
    /// watching `namespace` only (all namespaces with `None`).
    pub async fn start(cluster: &Cluster, namespace: Option<&str>) -> Result<Self, Error> {
        let cache = crate::cache_dir();
        let bin = gobuild::ensure(&TEKTON_CONTROLLER, &cache)?;
        let module = gobuild::module_dir(&TEKTON, &cache)?;
        configure(cluster, &module).await?;
        let log = cluster.dir().join("tekton-controller.log");
        let file = std::fs::File::create(&log).map_err(|e| Error::io("create the log", &log, e))?;
        let stderr = file.try_clone().map_err(|e| Error::io("open the log", &log, e))?;
        let port = || std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let (probes, profiling) = (
            port().map_err(|e| Error::io("pick a port", &log, e))?,
            port().map_err(|e| Error::io("pick a port", &log, e))?,
        );
        let child = Command::new(bin.join("controller"))
            .args(namespace.map(|ns| format!("-namespace={ns}")))
            .args([
                format!("-kubeconfig={}", cluster.kubeconfig().display()),
                "-disable-ha".into(),
                // Only written into pod specs: KWOK runs no image.
                "-entrypoint-image=tekton/entrypoint:e2e".into(),
                "-nop-image=tekton/nop:e2e".into(),
                "-sidecarlogresults-image=tekton/sidecarlogresults:e2e".into(),
                "-workingdirinit-image=tekton/workingdirinit:e2e".into(),
                "-shell-image=busybox:e2e".into(),
                "-shell-image-win=mcr.microsoft.com/powershell:e2e".into(),
            ])
            .envs([
                ("SYSTEM_NAMESPACE", SYSTEM_NAMESPACE.to_string()),
                ("KUBERNETES_MIN_VERSION", "v1.28.0".into()),
                ("CONFIG_DEFAULTS_NAME", "config-defaults".into()),
                ("CONFIG_LOGGING_NAME", "config-logging".into()),
                ("CONFIG_OBSERVABILITY_NAME", "config-observability".into()),
                ("CONFIG_FEATURE_FLAGS_NAME", "feature-flags".into()),
                ("CONFIG_LEADERELECTION_NAME", "config-leader-election-controller".into()),
                ("CONFIG_SPIRE", "config-spire".into()),
                ("METRICS_DOMAIN", "tekton.dev/pipeline".into()),
                ("PROBES_PORT", probes.to_string()),
                ("PROFILING_PORT", profiling.to_string()),
            ])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::io("start Tekton's controller", &bin, e))?;
        Ok(TektonController { child, log })
    }

    /// The controller's log.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Whether it still runs (it exits at once when port 8080 is taken, for one).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TektonController {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Server-side applies Tekton's namespace and ConfigMaps from the module, metrics off.
async fn configure(cluster: &Cluster, module: &Path) -> Result<(), Error> {
    let client = cluster.client().await?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace = serde_json::from_value(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}}),
    )
    .expect("a valid Namespace");
    namespaces
        .patch(SYSTEM_NAMESPACE, &params, &Patch::Apply(&namespace))
        .await
        .map_err(|e| Error::kube("apply Tekton's namespace", e))?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client, SYSTEM_NAMESPACE);
    let dir = module.join("config");
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !(file.starts_with("config-") && file.ends_with(".yaml")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        for document in serde_norway::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(document)
                .map_err(|e| Error::Manifest { path: path.clone(), detail: e.to_string() })?;
            if value.get("kind").and_then(|k| k.as_str()) != Some("ConfigMap") {
                continue;
            }
            let mut config_map: ConfigMap = serde_json::from_value(value)
                .map_err(|e| Error::Manifest { path: path.clone(), detail: e.to_string() })?;
            let name = config_map.metadata.name.clone().unwrap_or_default();
            config_map.metadata.namespace = Some(SYSTEM_NAMESPACE.into());
            if name == "config-observability" {
                config_map.data.get_or_insert_with(Default::default).insert("metrics-protocol".into(), "none".into());
            }
            config_maps
                .patch(&name, &params, &Patch::Apply(&config_map))
                .await
                .map_err(|e| Error::kube(format!("apply Tekton's ConfigMap {name}"), e))?;
        }
    }
    Ok(())
}

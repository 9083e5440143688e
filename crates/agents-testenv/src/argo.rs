//! Argo Workflows' workflow-controller, run out of cluster against the local control plane
//! (`../shared/notes/argo-offline.md`), watching every namespace. It binds `*:6060` (health,
//! hard-coded), so at most one runs per machine: start it once and share it.
//!
//! Nothing runs inside KWOK's pods, so a test plays the executor's part: an `http` step's answer
//! is written into the `WorkflowTaskSet`'s status (see [`answer_http_node`]).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;

use crate::crds::FIELD_MANAGER;
use crate::process::Daemon;
use crate::tools::ARGO_WORKFLOW_CONTROLLER;
use crate::{Cluster, Error, cache_dir, gobuild};

/// The controller's own namespace (its ConfigMap lives there).
pub const NAMESPACE: &str = "argo";
const CONFIGMAP: &str = "workflow-controller-configmap";
const HEALTH_PORT: u16 = 6060;

/// A running workflow-controller; stopped when dropped.
#[derive(Debug)]
pub struct Controller {
    daemon: Daemon,
}

impl Controller {
    /// Builds the controller if it is not cached yet, writes its mandatory ConfigMap, starts it
    /// and waits until it answers on its health port.
    pub async fn start(cluster: &Cluster) -> Result<Controller, Error> {
        let bin = tokio::task::spawn_blocking(|| gobuild::ensure(&ARGO_WORKFLOW_CONTROLLER, &cache_dir()))
            .await
            .map_err(|e| Error::Wait(format!("building the Argo workflow-controller: {e}")))??;
        let client = cluster.client().await?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        Api::<Namespace>::all(client.clone())
            .patch(
                NAMESPACE,
                &params,
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})),
            )
            .await
            .map_err(|e| Error::kube(format!("create the namespace {NAMESPACE}"), e))?;
        // Without it the controller exits at once; metrics and telemetry would bind *:9090.
        let config = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": NAMESPACE},
            // Argo joins single-line values as `key: value` (invalid YAML for a mapping): end each with a newline.
            "data": {"metricsConfig": "enabled: false\n", "telemetryConfig": "enabled: false\n"},
        });
        Api::<ConfigMap>::namespaced(client, NAMESPACE)
            .patch(CONFIGMAP, &params, &Patch::Apply(config))
            .await
            .map_err(|e| Error::kube(format!("create the ConfigMap {CONFIGMAP}"), e))?;
        let log = cluster.dir().join("argo-workflow-controller.log");
        let args = [
            format!("--kubeconfig={}", cluster.kubeconfig().display()),
            format!("--namespace={NAMESPACE}"),
            format!("--configmap={CONFIGMAP}"),
            // Never pulled: KWOK runs no containers.
            "--executor-image=quay.io/argoproj/argoexec:v3.7.18".into(),
            "--qps=100".into(),
            "--burst=200".into(),
        ];
        // 1 s is Argo's floor; the 10 s default would make every step wait that long.
        let env = [("LEADER_ELECTION_DISABLE", "true"), ("DEFAULT_REQUEUE_TIME", "1s")];
        let daemon = Daemon::spawn("argo-workflow-controller", &bin.join("workflow-controller"), &args, &env, &log)?;
        let controller = Controller { daemon };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if !controller.daemon.is_running() {
                return Err(controller.daemon.exited());
            }
            let health = ([127, 0, 0, 1], HEALTH_PORT).into();
            if crate::http::get(health, "/healthz").is_ok() {
                return Ok(controller);
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: "the Argo workflow-controller to answer on :6060/healthz".into(),
                    hint: format!("see {}; another process may hold port 6060", log.display()),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> &std::path::Path {
        &self.daemon.log
    }

    pub fn stop(&self) {
        crate::process::stop_all(std::slice::from_ref(&self.daemon), Duration::from_secs(5));
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Argo's `WorkflowTaskSet` (one per Workflow with http steps, named after it).
pub fn task_set_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "WorkflowTaskSet"),
        "workflowtasksets",
    )
}

/// Plays Argo's agent for one `http` node: writes the response it would have received into the
/// task set's status subresource, as the agent does.
pub async fn answer_http_node(
    client: &kube::Client,
    namespace: &str,
    workflow: &str,
    node_id: &str,
    phase: &str,
    result: &str,
) -> Result<(), Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &task_set_resource());
    let patch = json!({"status": {"nodes": {node_id: {"phase": phase, "outputs": {"result": result}}}}});
    api.patch_status(workflow, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| Error::kube(format!("answer the http node {node_id} of {workflow}"), e))?;
    Ok(())
}

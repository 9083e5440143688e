//! What the two server kinds (ModelAPI, MCPServer) render alike: children's metadata, a Service
//! on the server's port, a restricted Deployment around one container, and the phase read from
//! that Deployment.

use std::collections::BTreeMap;

use agents_api::conditions::{self, Desired, reasons, types};
use agents_api::{ChildRef, ServerPhase};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, EmptyDirVolumeSource, PersistentVolumeClaim, PodSpec, PodTemplateSpec,
    Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

use crate::agent::Incomplete;
use crate::pods::PodProblem;
use crate::rollout::{self, RolloutState};
use crate::security;

/// Name of the server's container and of its port.
pub const CONTAINER: &str = "server";
const PORT_NAME: &str = "http";

/// Everything a server should own. `None` means "must not exist".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Children {
    pub config_map: Option<ConfigMap>,
    pub deployment: Option<Deployment>,
    pub service: Option<Service>,
    pub claim: Option<PersistentVolumeClaim>,
}

impl Children {
    /// What these children are, by kind and name.
    pub fn refs(&self) -> Vec<ChildRef> {
        let name = |meta: &ObjectMeta| meta.name.clone().unwrap_or_default();
        let config_map = self.config_map.iter().map(|c| ChildRef { kind: "ConfigMap".into(), name: name(&c.metadata) });
        let claim =
            self.claim.iter().map(|c| ChildRef { kind: "PersistentVolumeClaim".into(), name: name(&c.metadata) });
        let deployment =
            self.deployment.iter().map(|d| ChildRef { kind: "Deployment".into(), name: name(&d.metadata) });
        let service = self.service.iter().map(|s| ChildRef { kind: "Service".into(), name: name(&s.metadata) });
        config_map.chain(claim).chain(deployment).chain(service).collect()
    }
}

/// Name, namespace, labels and controller reference of every child of `owner`.
pub fn child_meta<K: Resource<DynamicType = ()>>(
    owner: &K,
    labels: BTreeMap<String, String>,
) -> Result<ObjectMeta, Incomplete> {
    let meta = owner.meta();
    let name = meta.name.clone().ok_or(Incomplete("name"))?;
    let namespace = meta.namespace.clone().ok_or(Incomplete("namespace"))?;
    let mut owner_ref = owner.controller_owner_ref(&()).ok_or(Incomplete("uid"))?;
    owner_ref.block_owner_deletion = Some(true);
    Ok(ObjectMeta {
        labels: Some(labels),
        name: Some(name),
        namespace: Some(namespace),
        owner_references: Some(vec![owner_ref]),
        ..Default::default()
    })
}

/// `http://NAME.NAMESPACE.svc.cluster.local:PORT`: the in-cluster URL of a server's Service.
pub fn service_url(meta: &ObjectMeta, port: i32) -> Option<String> {
    Some(format!("http://{}.{}.svc.cluster.local:{port}", meta.name.as_deref()?, meta.namespace.as_deref()?))
}

/// The server's Service: `port` to the container's named port.
pub fn service(meta: ObjectMeta, selector: BTreeMap<String, String>, port: i32) -> Service {
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.into()),
                port,
                target_port: Some(IntOrString::String(PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What differs between the servers' pods.
#[derive(Debug, Clone, Default)]
pub struct Pod {
    pub container: Container,
    pub port: i32,
    /// Volumes besides the writable `/tmp` every server gets.
    pub volumes: Vec<Volume>,
    pub replicas: Option<i32>,
    /// Pod template annotations (e.g. the config hash, so a config change rolls the pods).
    pub annotations: BTreeMap<String, String>,
}

/// A Deployment of one container that passes the `restricted` Pod Security Standard, with no
/// API token, a read-only root filesystem and a writable `/tmp`.
pub fn deployment(meta: ObjectMeta, selector: BTreeMap<String, String>, pod: Pod) -> Deployment {
    let labels = meta.labels.clone();
    let mut container = pod.container;
    container.name = CONTAINER.into();
    container.ports = Some(vec![ContainerPort {
        name: Some(PORT_NAME.into()),
        container_port: pod.port,
        protocol: Some("TCP".into()),
        ..Default::default()
    }]);
    container.security_context = Some(security::container());
    container.volume_mounts.get_or_insert_with(Vec::new).push(VolumeMount {
        name: "tmp".into(),
        mount_path: "/tmp".into(),
        ..Default::default()
    });
    let mut volumes = pod.volumes;
    volumes.push(Volume { name: "tmp".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() });
    Deployment {
        metadata: meta,
        spec: DeploymentSpec {
            replicas: Some(pod.replicas.unwrap_or(1)),
            selector: LabelSelector { match_labels: Some(selector), ..Default::default() },
            revision_history_limit: Some(3),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels,
                    annotations: (!pod.annotations.is_empty()).then_some(pod.annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(security::pod()),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

/// What the operator saw while reconciling a server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observed<'a> {
    /// The live Deployment; `None` when it does not exist yet (or the server runs nothing).
    pub deployment: Option<&'a Deployment>,
    /// Why one of its pods does not run, if one does not.
    pub pod_problem: Option<&'a PodProblem>,
    /// Whether the server runs pods at all (an External ModelAPI does not).
    pub runs_pods: bool,
    /// The children it has (see [`Children::refs`]), less any that belong to something else.
    pub children: &'a [ChildRef],
    /// Children that exist but belong to something else, one sentence each.
    pub conflicts: &'a [String],
    /// Why writing the children failed, if it did.
    pub failure: Option<&'a str>,
    /// A ConfigMap the server names that does not exist (or lacks its key), in a sentence.
    pub missing: Option<&'a str>,
    /// The phase the status holds now.
    pub previous: Option<ServerPhase>,
}

/// The phase, reason and message of a server.
pub fn assess(observed: Observed<'_>) -> (ServerPhase, &'static str, String) {
    if !observed.conflicts.is_empty() {
        return (ServerPhase::Failed, reasons::CHILD_CONFLICT, observed.conflicts.join("; "));
    }
    if let Some(failure) = observed.failure {
        return (ServerPhase::Failed, reasons::RECONCILE_FAILED, failure.to_string());
    }
    if !observed.runs_pods {
        return (ServerPhase::Ready, reasons::READY, "an external endpoint: nothing runs in the cluster".into());
    }
    if let Some(missing) = observed.missing {
        return (ServerPhase::Waiting, reasons::CONFIG_MAP_NOT_FOUND, missing.to_string());
    }
    let Some(deployment) = observed.deployment else {
        return (ServerPhase::Pending, reasons::PODS_STARTING, "creating the Deployment".into());
    };
    let rollout = rollout::assess(deployment, observed.pod_problem);
    let phase = match rollout.state {
        RolloutState::Stopped => ServerPhase::Stopped,
        RolloutState::Starting => ServerPhase::Pending,
        RolloutState::Waiting => ServerPhase::Waiting,
        RolloutState::Degraded => ServerPhase::Degraded,
        RolloutState::Failed => ServerPhase::Failed,
        RolloutState::Ready => ServerPhase::Ready,
        RolloutState::Unobserved => observed.previous.unwrap_or(ServerPhase::Pending),
    };
    (phase, rollout.reason, rollout.message)
}

/// Whether Agents may use a server in `phase`: it answers (some pods ready, or external).
pub fn serves(phase: Option<ServerPhase>) -> bool {
    matches!(phase, Some(ServerPhase::Ready | ServerPhase::Degraded))
}

/// The `Ready` condition of a server and kstatus' `Reconciling` or `Stalled` when the phase calls
/// for one, keeping their transition times when unchanged.
pub fn ready_condition(
    existing: &[Condition],
    assessment: &(ServerPhase, &'static str, String),
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let (phase, reason, message) = assessment;
    let mut desired = vec![Desired::new(types::READY, phase.ready_condition(), reason, message.clone())];
    desired.extend(phase.progress(reason).condition(reason, message));
    conditions::merge(existing, &desired, generation, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_server_is_usable_while_some_pods_serve() {
        assert!(serves(Some(ServerPhase::Ready)));
        assert!(serves(Some(ServerPhase::Degraded)));
        assert!(!serves(Some(ServerPhase::Pending)));
        assert!(!serves(Some(ServerPhase::Failed)));
        assert!(!serves(Some(ServerPhase::Stopped)));
        assert!(!serves(Some(ServerPhase::Waiting)));
        assert!(!serves(None));
    }

    #[test]
    fn the_phase_follows_conflicts_then_the_deployment() {
        let conflicts = ["Service x already exists".to_string()];
        assert_eq!(
            assess(Observed { runs_pods: true, conflicts: &conflicts, ..Default::default() }).0,
            ServerPhase::Failed
        );
        assert_eq!(assess(Observed { runs_pods: false, ..Default::default() }).0, ServerPhase::Ready);
        assert_eq!(assess(Observed { runs_pods: true, ..Default::default() }).0, ServerPhase::Pending);
        let missing = Observed { runs_pods: true, missing: Some("ConfigMap c does not exist"), ..Default::default() };
        assert_eq!(assess(missing).0, ServerPhase::Waiting);
        let ready: Deployment = serde_json::from_value(json!({
            "metadata": {"generation": 1},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1},
        }))
        .unwrap();
        assert_eq!(
            assess(Observed { runs_pods: true, deployment: Some(&ready), ..Default::default() }).0,
            ServerPhase::Ready
        );
        // Scaled up from 0, the pod on its way out still counted: no news until the Deployment
        // controller has seen the change (a ModelAPI must not flash Ready to its Agents).
        let mut scaled_up = ready.clone();
        scaled_up.metadata.generation = Some(2);
        let stopped = Observed {
            runs_pods: true,
            deployment: Some(&scaled_up),
            previous: Some(ServerPhase::Stopped),
            ..Default::default()
        };
        assert_eq!(assess(stopped).0, ServerPhase::Stopped);
    }
}

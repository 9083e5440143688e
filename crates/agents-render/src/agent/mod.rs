//! An Agent's children and status.
//!
//! | child | when |
//! | --- | --- |
//! | ServiceAccount (no API token mounted) | always |
//! | ConfigMap `agent.yaml` | always |
//! | Deployment | once its dependencies are ready |
//! | Service (port 80 → `spec.port`) | `spec.expose` (default) |
//! | HorizontalPodAutoscaler | `spec.autoscaling` |
//! | PodDisruptionBudget | `spec.disruptionBudget` |
//! | NetworkPolicy | `spec.networkPolicy` |
//! | ServiceMonitor | `spec.monitoring`, and the cluster serves the CRD |

mod config;
pub mod dependencies;
mod deployment;
pub mod drift;
mod env;
pub mod features;
mod monitoring;
mod policy;
pub mod resolve;
mod service;
pub mod status;

use agents_api::{Agent, ChildRef};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::DynamicObject;

pub use dependencies::{Dependencies, Dependency};
pub use deployment::{RESTARTED_AT_ANNOTATION, runs_the_runtime};
pub use monitoring::service_monitor_resource;

use crate::labels;

/// Where the reference runtime's release images are published.
pub const RUNTIME_REPOSITORY: &str = "ghcr.io/kubectl-agents/agents-runtime";

/// The runtime image of this release (the operator's own version): what an Agent with neither
/// `image` nor `buildRef` runs unless the operator is told another (a mirror).
pub fn release_runtime_image() -> String {
    format!("{RUNTIME_REPOSITORY}:v{}", env!("CARGO_PKG_VERSION"))
}

/// What the operator knows when it renders an Agent.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub agent: &'a Agent,
    pub dependencies: &'a Dependencies,
    /// Whether the cluster serves `monitoring.coreos.com/v1` ServiceMonitors.
    pub service_monitor_served: bool,
}

/// Everything an Agent should own. `None` means "must not exist".
#[derive(Debug, Clone, PartialEq)]
pub struct Children {
    pub service_account: ServiceAccount,
    pub config_map: ConfigMap,
    /// `None` while a dependency is not ready: an existing Deployment is then left as it is.
    pub deployment: Option<Deployment>,
    pub service: Option<Service>,
    pub autoscaler: Option<HorizontalPodAutoscaler>,
    pub disruption_budget: Option<PodDisruptionBudget>,
    pub network_policy: Option<NetworkPolicy>,
    pub service_monitor: Option<DynamicObject>,
}

impl Children {
    /// What these children are, by kind and name, in the table's order above (the soak
    /// benchmark checks the cluster against it).
    pub fn refs(&self) -> Vec<ChildRef> {
        let name = self.config_map.metadata.name.as_deref().unwrap_or_default();
        [
            ("ServiceAccount", true),
            ("ConfigMap", true),
            ("Deployment", self.deployment.is_some()),
            ("Service", self.service.is_some()),
            ("HorizontalPodAutoscaler", self.autoscaler.is_some()),
            ("PodDisruptionBudget", self.disruption_budget.is_some()),
            ("NetworkPolicy", self.network_policy.is_some()),
            ("ServiceMonitor", self.service_monitor.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(kind, _)| ChildRef::new(kind, name))
        .collect()
    }
}

/// The Agent cannot be rendered: it lacks what the API server always sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete(pub &'static str);

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the object has no {} (was it read from the API server?)", self.0)
    }
}

impl std::error::Error for Incomplete {}

/// Renders every child of the Agent.
pub fn children(inputs: Inputs<'_>) -> Result<Children, Incomplete> {
    let agent = inputs.agent;
    let meta = child_meta(agent)?;
    let config_map = config::config_map(agent, meta.clone());
    let deployment = inputs
        .dependencies
        .all_ready()
        .then(|| deployment::deployment(agent, inputs.dependencies, &config_map, meta.clone()));
    Ok(Children {
        service_account: service::service_account(meta.clone()),
        deployment,
        service: agent.spec.expose.then(|| service::service(meta.clone())),
        autoscaler: agent.spec.autoscaling.as_ref().map(|a| policy::autoscaler(a, meta.clone())),
        disruption_budget: agent.spec.disruption_budget.as_ref().map(|b| policy::disruption_budget(b, meta.clone())),
        network_policy: agent.spec.network_policy.as_ref().map(|p| policy::network_policy(p, meta.clone())),
        service_monitor: match (&agent.spec.monitoring, inputs.service_monitor_served) {
            (Some(monitoring), true) => Some(monitoring::service_monitor(monitoring, meta)),
            _ => None,
        },
        config_map,
    })
}

/// Name, namespace, labels and controller reference shared by every child.
fn child_meta(agent: &Agent) -> Result<ObjectMeta, Incomplete> {
    let name = agent.metadata.name.clone().ok_or(Incomplete("name"))?;
    let namespace = agent.metadata.namespace.clone().ok_or(Incomplete("namespace"))?;
    let mut owner = agent.controller_owner_ref(&()).ok_or(Incomplete("uid"))?;
    // Foreground deletion of the Agent waits for its children.
    owner.block_owner_deletion = Some(true);
    Ok(ObjectMeta {
        labels: Some(labels::agent_labels(&name)),
        name: Some(name),
        namespace: Some(namespace),
        owner_references: Some(vec![owner]),
        ..Default::default()
    })
}

/// In-cluster URL of an exposed Agent's Service.
pub fn endpoint(agent: &Agent) -> Option<String> {
    if !agent.spec.expose {
        return None;
    }
    let name = agent.metadata.name.as_deref()?;
    let namespace = agent.metadata.namespace.as_deref()?;
    Some(format!("http://{name}.{namespace}.svc.cluster.local"))
}

/// Where an agent publishes its A2A agent card, relative to its endpoint.
pub const AGENT_CARD_PATH: &str = "/.well-known/agent-card.json";

#[cfg(test)]
pub(crate) mod fixtures {
    use agents_api::Agent;

    /// An Agent as the API server returns it, from a spec in YAML.
    pub fn agent(spec_yaml: &str) -> Agent {
        let spec: serde_json::Value = serde_norway::from_str(spec_yaml).expect("valid YAML");
        let mut agent: Agent = serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1",
            "kind": "Agent",
            "metadata": {"name": "research", "namespace": "team-a", "uid": "1234-5678", "generation": 3},
            "spec": spec,
        }))
        .expect("a valid Agent");
        agent.metadata.generation = Some(3);
        agent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_children_are_listed_by_kind_and_name() {
        let agent = fixtures::agent("image: a:1\nautoscaling: {maxReplicas: 3, targetCPUUtilization: 70}\n");
        let names =
            |refs: Vec<ChildRef>| refs.into_iter().map(|r| format!("{} {}", r.kind, r.name)).collect::<Vec<_>>();
        let ready = Dependencies::default();
        let rendered = children(Inputs { agent: &agent, dependencies: &ready, service_monitor_served: false }).unwrap();
        assert_eq!(
            names(rendered.refs()),
            [
                "ServiceAccount research",
                "ConfigMap research",
                "Deployment research",
                "Service research",
                "HorizontalPodAutoscaler research"
            ]
        );
        // A dependency not ready: no Deployment is rendered.
        let waiting = Dependencies { model_api: Some(("m".into(), Dependency::Missing)), ..Default::default() };
        let rendered =
            children(Inputs { agent: &agent, dependencies: &waiting, service_monitor_served: false }).unwrap();
        assert!(!names(rendered.refs()).contains(&"Deployment research".to_string()));
    }
}

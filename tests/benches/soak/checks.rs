//! What the soak checks once a rollout is over: every Agent converged, and what the Agents own is
//! exactly what one Agent renders, with a live owner, and rolled out once.

use std::collections::{HashMap, HashSet};

use agents_api::{Agent, AgentPhase};
use agents_render::agent::{Dependencies, Inputs, children};
use agents_render::labels;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

/// Ready at its current generation.
pub fn converged(agent: &Agent) -> bool {
    let status = agent.status.as_ref();
    status.and_then(|s| s.phase) == Some(AgentPhase::Ready)
        && agent.metadata.generation.is_some()
        && status.and_then(|s| s.observed_generation) == agent.metadata.generation
}

/// What the soak checks once the rollout is over. Each list names what broke, one entry each.
#[derive(Debug, Default)]
pub struct Checks {
    pub agents: usize,
    /// Agents not Ready at their current generation.
    pub not_converged: Vec<String>,
    /// More than one child of a kind owned by one Agent.
    pub duplicated: Vec<String>,
    /// A child the Agent renders that it does not own.
    pub missing: Vec<String>,
    /// A child an Agent owns that it does not render (wrong name or kind).
    pub unexpected: Vec<String>,
    /// An object with the operator's managed-by label and no live controller owner.
    pub orphaned: Vec<String>,
    /// A Deployment whose pod template was written more than once.
    pub rolled_twice: Vec<String>,
}

impl Checks {
    pub fn broken(&self) -> usize {
        self.not_converged.len()
            + self.duplicated.len()
            + self.missing.len()
            + self.unexpected.len()
            + self.orphaned.len()
            + self.rolled_twice.len()
    }

    pub fn invariants(&self) -> [(&'static str, &Vec<String>); 6] {
        [
            ("not converged", &self.not_converged),
            ("duplicated", &self.duplicated),
            ("missing", &self.missing),
            ("unexpected", &self.unexpected),
            ("orphaned", &self.orphaned),
            ("rolled twice", &self.rolled_twice),
        ]
    }

    pub fn summary(&self) -> Vec<String> {
        self.invariants()
            .into_iter()
            .filter(|(_, found)| !found.is_empty())
            .map(|(what, found)| format!("{} {what}", found.len()))
            .collect()
    }
}

/// The kinds an Agent can own, as the render names them.
fn child_kinds() -> [(&'static str, ApiResource); 7] {
    [
        ("ServiceAccount", ApiResource::erase::<ServiceAccount>(&())),
        ("ConfigMap", ApiResource::erase::<ConfigMap>(&())),
        ("Deployment", ApiResource::erase::<Deployment>(&())),
        ("Service", ApiResource::erase::<Service>(&())),
        ("HorizontalPodAutoscaler", ApiResource::erase::<HorizontalPodAutoscaler>(&())),
        ("PodDisruptionBudget", ApiResource::erase::<PodDisruptionBudget>(&())),
        ("NetworkPolicy", ApiResource::erase::<NetworkPolicy>(&())),
    ]
}

/// One object's identity, as the checks need it.
struct Listed {
    kind: &'static str,
    name: String,
    uid: String,
    managed: bool,
    /// The uid of its controller owner.
    controller: Option<String>,
}

pub async fn check(client: &kube::Client, namespace: &str) -> anyhow::Result<Checks> {
    let agents = Api::<Agent>::namespaced(client.clone(), namespace).list(&ListParams::default()).await?.items;
    let mut objects = Vec::new();
    let owned_kinds = [("ReplicaSet", ApiResource::erase::<ReplicaSet>(&())), ("Pod", ApiResource::erase::<Pod>(&()))];
    for (kind, resource) in child_kinds().into_iter().chain(owned_kinds) {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        for object in api.list_metadata(&ListParams::default()).await?.items {
            let meta = object.metadata;
            let controller = meta.owner_references.unwrap_or_default().into_iter().find(|o| o.controller == Some(true));
            objects.push(Listed {
                kind,
                name: meta.name.unwrap_or_default(),
                uid: meta.uid.unwrap_or_default(),
                managed: meta.labels.unwrap_or_default().get(labels::MANAGED_BY).map(String::as_str)
                    == Some(labels::MANAGER),
                controller: controller.map(|o| o.uid),
            });
        }
    }
    let deployments =
        Api::<Deployment>::namespaced(client.clone(), namespace).list_metadata(&ListParams::default()).await?.items;

    let mut checks = Checks { agents: agents.len(), ..Checks::default() };
    let live: HashSet<&str> =
        agents.iter().filter_map(|a| a.metadata.uid.as_deref()).chain(objects.iter().map(|o| o.uid.as_str())).collect();
    let mut owned: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for object in &objects {
        if let Some(owner) = &object.controller {
            owned.entry((owner.as_str(), object.kind)).or_default().push(&object.name);
        }
        if object.managed && !object.controller.as_deref().is_some_and(|owner| live.contains(owner)) {
            checks.orphaned.push(format!("{} {}", object.kind, object.name));
        }
    }
    let dependencies = Dependencies::default();
    for agent in &agents {
        let name = agent.metadata.name.as_deref().unwrap_or_default();
        if !converged(agent) {
            let status = agent.status.as_ref();
            checks.not_converged.push(format!(
                "{name} ({:?} at observed generation {:?} of {:?})",
                status.and_then(|s| s.phase),
                status.and_then(|s| s.observed_generation),
                agent.metadata.generation
            ));
        }
        let uid = agent.metadata.uid.as_deref().unwrap_or_default();
        let rendered = children(Inputs { agent, dependencies: &dependencies, service_monitor_served: false })?;
        let expected: HashSet<(String, String)> =
            rendered.refs().into_iter().map(|r| (r.kind.to_string(), r.name.to_string())).collect();
        for (kind, _) in child_kinds() {
            let names = owned.get(&(uid, kind)).map(Vec::as_slice).unwrap_or_default();
            let renders = expected.iter().any(|(k, _)| k == kind);
            if names.len() > 1 {
                checks.duplicated.push(format!("{name}: {} {kind}s ({})", names.len(), names.join(", ")));
            }
            if names.is_empty() && renders {
                checks.missing.push(format!("{name}: no {kind}"));
            }
            for child in names.iter().filter(|child| !expected.contains(&(kind.to_string(), child.to_string()))) {
                checks.unexpected.push(format!("{name}: {kind} {child}"));
            }
        }
    }
    // A Deployment's pod template was written once when: its spec changed never after the create
    // (metadata.generation 1: an apply that changes nothing does not raise it); the deployment
    // controller rolled it out once (the revision annotation, which it raises on every new
    // template, even after old ReplicaSets are pruned); and one ReplicaSet exists for it (each
    // template it ran has its own, and revisionHistoryLimit keeps up to 3 old ones).
    for deployment in &deployments {
        let meta = &deployment.metadata;
        let name = meta.name.as_deref().unwrap_or_default();
        let revision = meta.annotations.as_ref().and_then(|a| a.get("deployment.kubernetes.io/revision"));
        let replica_sets = owned.get(&(meta.uid.as_deref().unwrap_or_default(), "ReplicaSet")).map_or(0, Vec::len);
        if meta.generation != Some(1) || revision.map(String::as_str) != Some("1") || replica_sets != 1 {
            checks.rolled_twice.push(format!(
                "Deployment {name}: generation {:?}, revision {revision:?}, {replica_sets} ReplicaSets",
                meta.generation
            ));
        }
    }
    Ok(checks)
}

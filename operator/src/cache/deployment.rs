//! What the operator keeps of a Deployment it owns: its metadata (for the plan), its replica
//! count, pod template annotations and each container's name and image (for
//! `agents_render::agent::drift`), its generation and its status (for `agents_render::rollout`).
//!
//! k8s-openapi's `Deployment` is 2.4 KiB before anything is in it and each `Container` 2.3 KiB, so
//! a cached copy cost some 7 KiB even pruned; this type is decoded straight from the watch, taking
//! only these fields, and costs a fraction of that. Reconciles read it as a `Deployment`
//! ([`CachedDeployment::to_deployment`]), so everything that assesses one stays as it is.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CachedDeployment {
    pub metadata: ObjectMeta,
    #[serde(default)]
    spec: Spec,
    #[serde(default)]
    status: Option<DeploymentStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct Spec {
    replicas: Option<i32>,
    #[serde(default)]
    template: Template,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct Template {
    #[serde(default)]
    metadata: TemplateMetadata,
    #[serde(default)]
    spec: Pod,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct TemplateMetadata {
    /// In key order, as a map would be: a one-entry `BTreeMap` costs a node of eleven (540 bytes),
    /// on every Agent's Deployment.
    #[serde(default, deserialize_with = "in_key_order")]
    annotations: Option<Annotations>,
}

type Annotations = Box<[(String, String)]>;

fn in_key_order<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Annotations>, D::Error> {
    let map = Option::<BTreeMap<String, String>>::deserialize(deserializer)?;
    Ok(map.map(|map| map.into_iter().collect()))
}

#[derive(Clone, Debug, Default, Deserialize)]
struct Pod {
    #[serde(default)]
    containers: Vec<ContainerImage>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct ContainerImage {
    name: String,
    image: Option<String>,
}

impl CachedDeployment {
    /// Drops what no plan or assessment reads: the conditions other than those that say a rollout
    /// failed (`agents_render::rollout`), whose messages churn with every pod.
    pub fn prune(&mut self) {
        if let Some(conditions) = self.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            conditions.retain(reports_failure);
        }
    }

    /// The Deployment as the cache knows it, for `agents_render`'s assessments.
    pub fn to_deployment(&self) -> Deployment {
        let containers = self
            .spec
            .template
            .spec
            .containers
            .iter()
            .map(|c| Container { name: c.name.clone(), image: c.image.clone(), ..Default::default() })
            .collect();
        Deployment {
            metadata: self.metadata.clone(),
            spec: DeploymentSpec {
                replicas: self.spec.replicas,
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        annotations: self
                            .spec
                            .template
                            .metadata
                            .annotations
                            .as_ref()
                            .map(|a| a.iter().cloned().collect()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec { containers, ..Default::default() }),
                },
                ..Default::default()
            },
            status: self.status.clone(),
        }
    }
}

/// A condition `agents_render::rollout` reads: pods that cannot be created, or a rollout that
/// ran out of time.
fn reports_failure(condition: &DeploymentCondition) -> bool {
    let status = condition.status.as_deref();
    match condition.type_.as_deref() {
        Some("ReplicaFailure") => status == Some("True"),
        Some("Progressing") => status == Some("False"),
        _ => false,
    }
}

super::decoded_as!(CachedDeployment, Deployment);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn it_reads_as_the_deployment_it_came_from_in_what_assessments_read() {
        let live = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "research", "namespace": "ns", "generation": 3, "resourceVersion": "9",
                "ownerReferences": [{"apiVersion": "agents.dev/v1alpha1", "kind": "Agent", "name": "research",
                    "uid": "u1", "controller": true}]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"agents.dev/agent": "research"}},
                "template": {
                    "metadata": {"labels": {"agents.dev/agent": "research"}, "annotations": {"agents.dev/config-hash": "c1"}},
                    "spec": {"containers": [
                        {"name": "agent", "image": "a:1", "env": [{"name": "X", "value": "y"}]},
                        {"name": "sidecar", "image": "s:1"},
                    ]},
                },
            },
            "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 1,
                "conditions": [
                    {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "stuck"},
                ]},
        });
        let full: Deployment = serde_json::from_value(live.clone()).unwrap();
        let mut cached: CachedDeployment = serde_json::from_value(live).unwrap();
        cached.prune();
        let seen = cached.to_deployment();

        assert_eq!(seen.metadata, full.metadata);
        let spec = |d: &Deployment| d.spec.clone();
        assert_eq!(spec(&seen).replicas, spec(&full).replicas);
        assert_eq!(
            spec(&seen).template.metadata.unwrap().annotations,
            spec(&full).template.metadata.unwrap().annotations
        );
        let images = |d: &Deployment| {
            spec(d).template.spec.unwrap().containers.into_iter().map(|c| (c.name, c.image)).collect::<Vec<_>>()
        };
        assert_eq!(images(&seen), images(&full));
        let status = seen.status.clone().unwrap();
        assert_eq!(status.ready_replicas, Some(1));
        let kept: Vec<_> = status.conditions.unwrap().into_iter().filter_map(|c| c.type_).collect();
        assert_eq!(kept, ["Progressing"], "only the conditions that report a failure are kept");
        assert_eq!(agents_render::rollout::assess(&seen, None), agents_render::rollout::assess(&full, None));
    }
}

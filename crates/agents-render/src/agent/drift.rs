//! Whether a live child has been changed by hand away from what the operator applied, in the
//! fields that decide what runs. The operator skips an apply when a child carries the hash of
//! what it would apply; these checks make it re-apply when someone edited the child since.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;

/// The replica count (only when the Agent owns it: otherwise an HPA or `kubectl scale` does),
/// the images of the operator's containers, and the pod template annotations it sets (the config
/// hash). Only what the operator renders is compared: a container or annotation another tool adds
/// (a sidecar injector, say) is not drift, or every reconcile would re-apply in vain.
pub fn deployment(desired: &Deployment, live: &Deployment) -> bool {
    let replicas = desired.spec.replicas.is_some_and(|r| live.spec.replicas != Some(r));
    let containers =
        |d: &Deployment| d.spec.template.spec.as_ref().map(|pod| pod.containers.clone()).unwrap_or_default();
    let live_containers = containers(live);
    let images_changed = containers(desired)
        .iter()
        .any(|ours| live_containers.iter().find(|c| c.name == ours.name).map(|c| &c.image) != Some(&ours.image));
    let annotations = |d: &Deployment| d.spec.template.metadata.as_ref().and_then(|m| m.annotations.clone());
    let live_annotations = annotations(live).unwrap_or_default();
    let annotations_changed =
        annotations(desired).unwrap_or_default().iter().any(|(k, v)| live_annotations.get(k) != Some(v));
    replicas || images_changed || annotations_changed
}

/// The keys of the mounted configuration the operator writes.
pub fn config_map(desired: &ConfigMap, live: &ConfigMap) -> bool {
    let live_data = live.data.clone().unwrap_or_default();
    desired.data.iter().flatten().any(|(key, value)| live_data.get(key) != Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fixtures::agent;
    use crate::agent::{Dependencies, Inputs, children};

    fn rendered(spec: &str) -> (Deployment, ConfigMap) {
        let agent = agent(spec);
        let c =
            children(Inputs { agent: &agent, dependencies: &Dependencies::default(), service_monitor_served: false })
                .unwrap();
        (c.deployment.unwrap(), c.config_map)
    }

    #[test]
    fn server_defaults_are_not_drift() {
        let (desired, _) = rendered("image: a:1\nreplicas: 2\n");
        let mut live = desired.clone();
        live.spec.progress_deadline_seconds = Some(600);
        live.spec.template.spec.as_mut().unwrap().dns_policy = Some("ClusterFirst".into());
        live.spec.template.metadata.as_mut().unwrap().annotations.as_mut().unwrap().insert("other".into(), "x".into());
        assert!(!deployment(&desired, &live));
    }

    #[test]
    fn hand_edits_are_drift() {
        let (desired, config) = rendered("image: a:1\nreplicas: 2\n");
        let mut scaled = desired.clone();
        scaled.spec.replicas = Some(5);
        assert!(deployment(&desired, &scaled));
        let mut swapped = desired.clone();
        swapped.spec.template.spec.as_mut().unwrap().containers[0].image = Some("evil:1".into());
        assert!(deployment(&desired, &swapped));
        let mut edited = config.clone();
        edited.data.as_mut().unwrap().insert("agent.yaml".into(), "tampered".into());
        assert!(config_map(&config, &edited));
    }

    #[test]
    fn what_other_tools_add_is_not_drift() {
        let (desired, config) = rendered("image: a:1\nreplicas: 2\n");
        let mut injected = desired.clone();
        let pod = injected.spec.template.spec.as_mut().unwrap();
        let mut sidecar = pod.containers[0].clone();
        sidecar.name = "istio-proxy".into();
        sidecar.image = Some("proxy:1".into());
        pod.containers.push(sidecar);
        assert!(!deployment(&desired, &injected));
        let mut extended = config.clone();
        extended.data.as_mut().unwrap().insert("extra".into(), "x".into());
        assert!(!config_map(&config, &extended));
    }

    #[test]
    fn scaling_is_not_drift_when_the_agent_leaves_replicas_alone() {
        let (desired, _) = rendered("image: a:1\n");
        let mut scaled = desired.clone();
        scaled.spec.replicas = Some(7);
        assert!(!deployment(&desired, &scaled));
    }
}

//! The Agent's Deployment.

use agents_api::Agent;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction, PodSpec,
    PodTemplateSpec, Probe, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Dependencies;
use super::config::MOUNT_PATH;
use crate::{hash, labels, security};

/// Annotation on an Agent that `kubectl agents restart` sets; copied onto the pod template, so
/// changing it rolls the pods (the Agent stays the one source of truth for its Deployment).
pub const RESTARTED_AT_ANNOTATION: &str = "agents.dev/restartedAt";

/// Name of the agent's container (and of its port).
pub const CONTAINER: &str = "agent";
const PORT_NAME: &str = "http";

/// The image the agent runs: its own, the one its build produced, or (with neither) the
/// reference runtime's.
pub fn image(agent: &Agent, dependencies: &Dependencies) -> Option<String> {
    if runs_the_runtime(agent) {
        return Some(dependencies.runtime_image.clone().unwrap_or_else(super::release_runtime_image));
    }
    agent.spec.image.clone().or_else(|| dependencies.built_image().map(str::to_string))
}

/// Whether the Agent brings no image of its own, so it runs the reference runtime.
pub fn runs_the_runtime(agent: &Agent) -> bool {
    agent.spec.image.is_none() && agent.spec.build_ref.is_none()
}

/// The path the reference runtime answers health checks on.
const RUNTIME_HEALTH_PATH: &str = "/health";

pub fn deployment(agent: &Agent, dependencies: &Dependencies, config: &ConfigMap, meta: ObjectMeta) -> Deployment {
    let spec = &agent.spec;
    let name = meta.name.clone().unwrap_or_default();
    let pod_labels = labels::agent_labels(&name);
    let http_get = |path: &str| {
        Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(PORT_NAME.into()),
            ..Default::default()
        })
    };
    let probe = match &spec.health_check {
        Some(check) => Some(Probe {
            http_get: http_get(&check.path),
            period_seconds: check.interval_seconds,
            timeout_seconds: check.timeout_seconds,
            initial_delay_seconds: check.initial_delay_seconds,
            failure_threshold: check.failure_threshold,
            ..Default::default()
        }),
        // The runtime is known to serve its health: a pod is ready once it answers.
        None if runs_the_runtime(agent) => {
            Some(Probe { http_get: http_get(RUNTIME_HEALTH_PATH), ..Default::default() })
        }
        None => None,
    };
    let container = Container {
        name: CONTAINER.into(),
        image: image(agent, dependencies),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.into()),
            container_port: spec.port,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        env: Some(super::env::env(agent, dependencies)),
        resources: spec.resources.as_deref().cloned(),
        readiness_probe: probe.clone(),
        liveness_probe: probe,
        security_context: Some(security::container()),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "config".into(),
                mount_path: MOUNT_PATH.into(),
                read_only: Some(true),
                ..Default::default()
            },
            // The root filesystem is read-only; agents still need somewhere to write scratch files.
            VolumeMount { name: "tmp".into(), mount_path: "/tmp".into(), ..Default::default() },
        ]),
        ..Default::default()
    };
    let pod = PodSpec {
        service_account_name: Some(name.clone()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(security::pod()),
        containers: vec![container],
        volumes: Some(vec![
            Volume {
                name: "config".into(),
                config_map: Some(ConfigMapVolumeSource { name: name.clone(), ..Default::default() }),
                ..Default::default()
            },
            Volume { name: "tmp".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() },
        ]),
        node_selector: (!spec.node_selector.is_empty()).then(|| spec.node_selector.clone()),
        tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
        ..Default::default()
    };
    Deployment {
        metadata: meta,
        spec: DeploymentSpec {
            // Left out when unset or autoscaled: whoever scales (HPA, KEDA, kubectl scale) owns the count.
            replicas: if spec.autoscaling.is_some() { None } else { spec.replicas },
            selector: LabelSelector { match_labels: Some(labels::agent_selector(&name)), ..Default::default() },
            revision_history_limit: Some(3),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(template_annotations(agent, config)),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

fn template_annotations(agent: &Agent, config: &ConfigMap) -> std::collections::BTreeMap<String, String> {
    let mut annotations: std::collections::BTreeMap<String, String> =
        [(hash::CONFIG_HASH_ANNOTATION.to_string(), hash::of(&config.data))].into();
    if let Some(at) = agent.metadata.annotations.as_ref().and_then(|a| a.get(RESTARTED_AT_ANNOTATION)) {
        annotations.insert(RESTARTED_AT_ANNOTATION.to_string(), at.clone());
    }
    annotations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fixtures::agent;
    use crate::agent::{Dependency, Inputs, children};

    fn render(spec: &str) -> Deployment {
        let agent = agent(spec);
        children(Inputs { agent: &agent, dependencies: &Dependencies::default(), service_monitor_served: false })
            .unwrap()
            .deployment
            .unwrap()
    }

    fn pod(deployment: &Deployment) -> &PodSpec {
        deployment.spec.template.spec.as_ref().unwrap()
    }

    #[test]
    fn pods_pass_the_restricted_pod_security_standard() {
        let deployment = render("image: a:1\n");
        let pod = pod(&deployment);
        let pod_security = pod.security_context.as_ref().unwrap();
        assert_eq!(pod_security.run_as_non_root, Some(true));
        assert_eq!(pod_security.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
        assert_eq!(pod.automount_service_account_token, Some(false));
        let container = pod.containers[0].security_context.as_ref().unwrap();
        assert_eq!(container.allow_privilege_escalation, Some(false));
        assert_eq!(container.read_only_root_filesystem, Some(true));
        assert_eq!(container.capabilities.as_ref().unwrap().drop.as_deref(), Some(&["ALL".to_string()][..]));
    }

    #[test]
    fn replicas_are_written_only_when_the_agent_owns_them() {
        let replicas = |spec| render(spec).spec.replicas;
        assert_eq!(replicas("image: a:1\nreplicas: 3\n"), Some(3));
        assert_eq!(replicas("image: a:1\nreplicas: 0\n"), Some(0));
        assert_eq!(replicas("image: a:1\n"), None);
        assert_eq!(replicas("image: a:1\nautoscaling: {maxReplicas: 5}\n"), None);
    }

    #[test]
    fn a_config_change_changes_the_pod_template() {
        let hash = |spec| {
            render(spec).spec.template.metadata.unwrap().annotations.unwrap()[hash::CONFIG_HASH_ANNOTATION].clone()
        };
        assert_eq!(hash("image: a:1\nconfig: {a: 1}\n"), hash("image: a:1\nconfig: {a: 1}\n"));
        assert_ne!(hash("image: a:1\nconfig: {a: 1}\n"), hash("image: a:1\nconfig: {a: 2}\n"));
    }

    #[test]
    fn a_restart_request_rolls_the_pods() {
        let mut agent = agent("image: a:1\n");
        let template = |agent: &Agent| {
            let deps = Dependencies::default();
            let c = children(Inputs { agent, dependencies: &deps, service_monitor_served: false }).unwrap();
            c.deployment.unwrap().spec.template.metadata.unwrap().annotations.unwrap()
        };
        assert!(!template(&agent).contains_key(RESTARTED_AT_ANNOTATION));
        agent.metadata.annotations =
            Some([(RESTARTED_AT_ANNOTATION.to_string(), "2026-11-23T02:00:00Z".to_string())].into());
        assert_eq!(template(&agent)[RESTARTED_AT_ANNOTATION], "2026-11-23T02:00:00Z");
    }

    #[test]
    fn health_checks_become_probes_on_the_named_port() {
        let deployment =
            render("image: a:1\nport: 9000\nhealthCheck: {path: /healthz, intervalSeconds: 30, timeoutSeconds: 10}\n");
        let container = &pod(&deployment).containers[0];
        assert_eq!(container.ports.as_ref().unwrap()[0].container_port, 9000);
        let probe = container.readiness_probe.as_ref().unwrap();
        let get = probe.http_get.as_ref().unwrap();
        assert_eq!((get.path.as_deref(), &get.port), (Some("/healthz"), &IntOrString::String("http".into())));
        assert_eq!((probe.period_seconds, probe.timeout_seconds), (Some(30), Some(10)));
        assert_eq!(container.liveness_probe, container.readiness_probe);
    }

    #[test]
    fn a_built_image_is_used_when_the_agent_has_none() {
        let agent = agent("buildRef: {name: b}\n");
        let deps = Dependencies {
            build: Some(("b".into(), Dependency::Ready("registry.local/a@sha256:abc".into()))),
            ..Default::default()
        };
        let rendered = children(Inputs { agent: &agent, dependencies: &deps, service_monitor_served: false }).unwrap();
        let deployment = rendered.deployment.unwrap();
        assert_eq!(pod(&deployment).containers[0].image.as_deref(), Some("registry.local/a@sha256:abc"));
    }

    #[test]
    fn an_agent_without_an_image_runs_the_runtime_with_its_health_probed() {
        let agent = agent("model: {name: gpt-4o, provider: openai}\n");
        let container_with = |deps: &Dependencies| {
            let rendered = children(Inputs { agent: &agent, dependencies: deps, service_monitor_served: false });
            pod(&rendered.unwrap().deployment.unwrap()).containers[0].clone()
        };
        let container = container_with(&Dependencies::default());
        assert_eq!(
            container.image,
            Some(format!("ghcr.io/kubectl-agents/agents-runtime:v{}", env!("CARGO_PKG_VERSION")))
        );
        let probe = container.readiness_probe.unwrap();
        assert_eq!(probe.http_get.unwrap().path.as_deref(), Some("/health"));
        let mirrored =
            Dependencies { runtime_image: Some("mirror.local/agents-runtime:v9".into()), ..Default::default() };
        assert_eq!(container_with(&mirrored).image.as_deref(), Some("mirror.local/agents-runtime:v9"));
        // An image of the user's own gets no probe it did not ask for.
        assert!(pod(&render("image: a:1\n")).containers[0].readiness_probe.is_none());
    }

    #[test]
    fn no_deployment_while_a_dependency_is_missing() {
        let agent = agent("image: a:1\npeers: [{name: other}]\n");
        let deps = Dependencies { peers: [("other".to_string(), Dependency::Missing)].into(), ..Default::default() };
        let rendered = children(Inputs { agent: &agent, dependencies: &deps, service_monitor_served: false }).unwrap();
        assert!(rendered.deployment.is_none());
    }
}

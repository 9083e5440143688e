//! The optional policies around an Agent's pods: autoscaler, disruption budget, network policy.

use agents_api::agent::{Autoscaling, DisruptionBudget, NetworkPolicySpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec,
    MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPort, NetworkPolicySpec as K8sNetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::labels;

/// CPU utilisation aimed at when the spec names no target, as an HPA without metrics does.
pub const DEFAULT_CPU_TARGET: i32 = 80;

/// The custom metric `targetRequestsPerSecond` scales on: the name the Prometheus Adapter rule of
/// `operator/config/monitoring/prometheus-adapter.yaml` gives the per-second rate of the runtime's
/// `a2a_requests_total` (every A2A request a pod serves), turning `X_total` into `X_per_second` as
/// seed 002's rule does.
pub const REQUESTS_PER_SECOND_METRIC: &str = "a2a_requests_per_second";

fn selector(meta: &ObjectMeta) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels::agent_selector(meta.name.as_deref().unwrap_or_default())),
        ..Default::default()
    }
}

fn utilization(resource: &str, percent: i32) -> MetricSpec {
    MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: resource.into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(percent),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

/// A per-pod custom metric, averaged over the pods: the HPA's `Pods` metric type.
fn per_pod(metric: &str, average: &Quantity) -> MetricSpec {
    MetricSpec {
        type_: "Pods".into(),
        pods: Some(PodsMetricSource {
            metric: MetricIdentifier { name: metric.into(), selector: None },
            target: MetricTarget {
                type_: "AverageValue".into(),
                average_value: Some(average.clone()),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

/// Scales the agent's Deployment; the operator then leaves the replica count alone.
pub fn autoscaler(spec: &Autoscaling, meta: ObjectMeta) -> HorizontalPodAutoscaler {
    let no_target = spec.target_cpu_utilization.is_none()
        && spec.target_memory_utilization.is_none()
        && spec.target_requests_per_second.is_none();
    let cpu = spec.target_cpu_utilization.or(no_target.then_some(DEFAULT_CPU_TARGET));
    let metrics = [
        cpu.map(|p| utilization("cpu", p)),
        spec.target_memory_utilization.map(|p| utilization("memory", p)),
        spec.target_requests_per_second.as_ref().map(|q| per_pod(REQUESTS_PER_SECOND_METRIC, q)),
    ];
    HorizontalPodAutoscaler {
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: meta.name.clone().unwrap_or_default(),
            },
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            metrics: Some(metrics.into_iter().flatten().collect()),
            behavior: spec.behavior.clone(),
        },
        metadata: meta,
        ..Default::default()
    }
}

pub fn disruption_budget(spec: &DisruptionBudget, meta: ObjectMeta) -> PodDisruptionBudget {
    PodDisruptionBudget {
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(selector(&meta)),
            min_available: spec.min_available.clone(),
            max_unavailable: spec.max_unavailable.clone(),
            ..Default::default()
        }),
        metadata: meta,
        ..Default::default()
    }
}

/// Denies what the rules do not allow. Egress, when restricted, always allows DNS: an agent that
/// cannot resolve names cannot reach anything the rules allow either.
pub fn network_policy(spec: &NetworkPolicySpec, meta: ObjectMeta) -> NetworkPolicy {
    let mut policy_types = vec!["Ingress".to_string()];
    let egress = spec.egress.as_ref().map(|rules| {
        policy_types.push("Egress".into());
        let dns = NetworkPolicyEgressRule {
            ports: Some(
                ["UDP", "TCP"]
                    .map(|protocol| NetworkPolicyPort {
                        port: Some(IntOrString::Int(53)),
                        protocol: Some(protocol.into()),
                        ..Default::default()
                    })
                    .into(),
            ),
            ..Default::default()
        };
        let mut rules = rules.clone();
        rules.push(dns);
        rules
    });
    NetworkPolicy {
        spec: Some(K8sNetworkPolicySpec {
            pod_selector: Some(selector(&meta)),
            policy_types: Some(policy_types),
            ingress: Some(spec.ingress.clone()),
            egress,
        }),
        metadata: meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fixtures::agent;
    use crate::agent::{Dependencies, Inputs, children};

    fn render(spec: &str) -> crate::agent::Children {
        children(Inputs { agent: &agent(spec), dependencies: &Dependencies::default(), service_monitor_served: false })
            .unwrap()
    }

    #[test]
    fn optional_children_exist_only_when_asked_for() {
        let plain = render("image: a:1\n");
        assert!(plain.autoscaler.is_none() && plain.disruption_budget.is_none() && plain.network_policy.is_none());
        let full = render(
            "image: a:1\nautoscaling: {minReplicas: 2, maxReplicas: 10}\ndisruptionBudget: {minAvailable: 1}\n\
             networkPolicy: {ingress: [], egress: []}\n",
        );
        let hpa = full.autoscaler.unwrap().spec;
        assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(2), 10));
        assert_eq!(hpa.scale_target_ref.name, "research");
        let metric = &hpa.metrics.unwrap()[0];
        assert_eq!(metric.resource.as_ref().unwrap().target.average_utilization, Some(DEFAULT_CPU_TARGET));
        let pdb = full.disruption_budget.unwrap().spec.unwrap();
        assert_eq!(pdb.min_available, Some(IntOrString::Int(1)));
        let policy = full.network_policy.unwrap().spec.unwrap();
        assert_eq!(policy.policy_types.unwrap(), ["Ingress", "Egress"]);
        let egress = policy.egress.unwrap();
        assert_eq!(egress.len(), 1, "only DNS is allowed out");
        assert_eq!(egress[0].ports.as_ref().unwrap()[0].port, Some(IntOrString::Int(53)));
    }

    /// Seed 002's HPA, from the Agent's `spec.autoscaling`: CPU, memory, requests per second per
    /// pod (under the name the shipped adapter rule gives the runtime's counter) and both directions'
    /// behaviour, field for field.
    #[test]
    fn seed_002s_autoscaler_is_rendered_field_for_field() {
        let behavior = "{scaleDown: {stabilizationWindowSeconds: 300, policies: [{type: Percent, value: 50, periodSeconds: 60}]}, \
             scaleUp: {stabilizationWindowSeconds: 0, selectPolicy: Max, policies: [{type: Percent, value: 100, periodSeconds: 15}, \
             {type: Pods, value: 2, periodSeconds: 15}]}}";
        let hpa = render(&format!(
            "image: a:1\nautoscaling: {{minReplicas: 2, maxReplicas: 10, targetCPUUtilization: 70, \
             targetMemoryUtilization: 80, targetRequestsPerSecond: \"100\", behavior: {behavior}}}\n"
        ))
        .autoscaler
        .unwrap();
        let expected: HorizontalPodAutoscalerSpec = serde_norway::from_str(&format!(
            "scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: research}}
minReplicas: 2
maxReplicas: 10
metrics:
- {{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}}}
- {{type: Resource, resource: {{name: memory, target: {{type: Utilization, averageUtilization: 80}}}}}}
- {{type: Pods, pods: {{metric: {{name: a2a_requests_per_second}}, target: {{type: AverageValue, averageValue: \"100\"}}}}}}
behavior: {behavior}
"
        ))
        .unwrap();
        assert_eq!(hpa.spec, expected);
        assert_eq!(hpa.metadata.name.as_deref(), Some("research"));
    }

    #[test]
    fn cpu_is_the_default_target_only_when_none_is_set() {
        let metrics = |autoscaling: &str| -> Vec<(String, String)> {
            let hpa = render(&format!("image: a:1\nautoscaling: {autoscaling}\n")).autoscaler.unwrap();
            let metrics = hpa.spec.metrics.unwrap_or_default();
            metrics
                .into_iter()
                .map(|m| match (m.resource, m.pods) {
                    (Some(r), _) => (r.name, r.target.average_utilization.unwrap_or_default().to_string()),
                    (_, Some(p)) => (p.metric.name, p.target.average_value.map(|q| q.0).unwrap_or_default()),
                    _ => (m.type_, String::new()),
                })
                .collect()
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(metrics("{maxReplicas: 3}"), [pair("cpu", "80")]);
        assert_eq!(metrics("{maxReplicas: 3, targetMemoryUtilization: 150}"), [pair("memory", "150")]);
        assert_eq!(
            metrics("{maxReplicas: 3, targetRequestsPerSecond: 500m}"),
            [pair(REQUESTS_PER_SECOND_METRIC, "500m")]
        );
        let hpa = render("image: a:1\nautoscaling: {maxReplicas: 3}\n").autoscaler.unwrap().spec;
        assert_eq!(hpa.behavior, None, "no behavior: the HPA's defaults apply");
    }

    #[test]
    fn egress_is_open_unless_listed() {
        let policy = render("image: a:1\nnetworkPolicy: {ingress: []}\n").network_policy.unwrap().spec.unwrap();
        assert_eq!(policy.policy_types.unwrap(), ["Ingress"]);
        assert!(policy.egress.is_none());
    }
}

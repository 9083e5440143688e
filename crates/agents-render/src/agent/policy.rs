//! The optional policies around an Agent's pods: autoscaler, disruption budget, network policy.

use agents_api::agent::{Autoscaling, DisruptionBudget, NetworkPolicySpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPort, NetworkPolicySpec as K8sNetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::labels;

/// CPU utilisation aimed at when the spec names no target.
pub const DEFAULT_CPU_TARGET: i32 = 80;

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

/// Scales the agent's Deployment; the operator then leaves the replica count alone.
pub fn autoscaler(spec: &Autoscaling, meta: ObjectMeta) -> HorizontalPodAutoscaler {
    let mut metrics = Vec::new();
    let cpu = match (spec.target_cpu_utilization, spec.target_memory_utilization) {
        (None, None) => Some(DEFAULT_CPU_TARGET),
        (cpu, _) => cpu,
    };
    metrics.extend(cpu.map(|p| utilization("cpu", p)));
    metrics.extend(spec.target_memory_utilization.map(|p| utilization("memory", p)));
    HorizontalPodAutoscaler {
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: meta.name.clone().unwrap_or_default(),
            },
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            metrics: Some(metrics),
            ..Default::default()
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

    #[test]
    fn egress_is_open_unless_listed() {
        let policy = render("image: a:1\nnetworkPolicy: {ingress: []}\n").network_policy.unwrap().spec.unwrap();
        assert_eq!(policy.policy_types.unwrap(), ["Ingress"]);
        assert!(policy.egress.is_none());
    }
}

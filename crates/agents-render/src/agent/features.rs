//! The `FeaturesAvailable` condition: whether what the spec asks for beside running pods (a
//! ServiceMonitor, autoscaling) works. None of it changes the phase: the pods serve either way.

use agents_api::Agent;
use agents_api::conditions::{Desired, reasons, types};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

/// The HPA's conditions that say it cannot do its work. `AbleToScale` is False also while it
/// waits out a stabilisation window (`BackoffBoth` and the like): only a failure to read or
/// write the scale counts.
const SCALING_ACTIVE: &str = "ScalingActive";
const ABLE_TO_SCALE: &str = "AbleToScale";
const SCALE_FAILURES: [&str; 2] = ["FailedGetScale", "FailedUpdateScale"];
/// `ScalingActive` is False with this when the target is scaled to zero: a choice, not a fault.
const SCALING_DISABLED: &str = "ScalingDisabled";

/// The condition, when the spec asks for a feature. `autoscaler` is the live HPA: its controller
/// is the only one that knows whether it can read the metrics it targets (a CPU target without a
/// CPU request, which a LimitRange may supply, or a cluster with no metrics API).
pub fn condition(
    agent: &Agent,
    service_monitor_served: bool,
    autoscaler: Option<&HorizontalPodAutoscaler>,
) -> Option<Desired> {
    let mut in_place = Vec::new();
    if agent.spec.monitoring.is_some() {
        if !service_monitor_served {
            return Some(Desired::new(
                types::FEATURES_AVAILABLE,
                false,
                reasons::SERVICE_MONITOR_CRD_MISSING,
                "spec.monitoring asks for a ServiceMonitor, but the cluster does not serve monitoring.coreos.com/v1 ServiceMonitor: install the Prometheus Operator's CRDs",
            ));
        }
        in_place.push("the ServiceMonitor is in place");
    }
    if agent.spec.autoscaling.is_some() {
        if let Some(problem) = autoscaler.and_then(autoscaler_problem) {
            return Some(Desired::new(types::FEATURES_AVAILABLE, false, reasons::AUTOSCALING_INACTIVE, problem));
        }
        in_place.push("the HorizontalPodAutoscaler is in place");
    }
    (!in_place.is_empty())
        .then(|| Desired::new(types::FEATURES_AVAILABLE, true, reasons::ALL_AVAILABLE, in_place.join("; ")))
}

/// Why the HPA cannot scale the Agent, in its controller's words, if it says it cannot.
pub fn autoscaler_problem(hpa: &HorizontalPodAutoscaler) -> Option<String> {
    let conditions = hpa.status.as_ref()?.conditions.as_deref()?;
    let failed = conditions.iter().find(|c| {
        c.status == "False"
            && match c.type_.as_str() {
                SCALING_ACTIVE => c.reason.as_deref() != Some(SCALING_DISABLED),
                ABLE_TO_SCALE => c.reason.as_deref().is_some_and(|r| SCALE_FAILURES.contains(&r)),
                _ => false,
            }
    })?;
    let reason = failed.reason.as_deref().unwrap_or(failed.type_.as_str());
    let message = failed.message.as_deref().unwrap_or_default();
    let hint = if message.contains("missing request for") {
        ": set spec.resources.requests for that resource, or drop its utilisation target"
    } else if message.contains("metrics API") {
        ": is the metrics API served? (metrics-server for CPU and memory, the Prometheus Adapter for requests per second)"
    } else {
        ""
    };
    Some(format!("the HorizontalPodAutoscaler cannot scale ({reason}): {message}{hint}"))
}

/// What the operator keeps of a live HPA: only the conditions [`autoscaler_problem`] reads, and
/// not their times (its controller rewrites them as it likes; they matter to no decision).
pub fn keep_problem_conditions(hpa: &mut HorizontalPodAutoscaler) {
    hpa.spec = Default::default();
    let Some(status) = hpa.status.take() else { return };
    let conditions: Vec<_> = status
        .conditions
        .into_iter()
        .flatten()
        .filter(|c| c.type_ == SCALING_ACTIVE || c.type_ == ABLE_TO_SCALE)
        .map(|mut c| {
            c.last_transition_time = None;
            c
        })
        .collect();
    hpa.status = Some(k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerStatus {
        conditions: Some(conditions),
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fixtures::agent;
    use serde_json::json;

    fn hpa(conditions: serde_json::Value) -> HorizontalPodAutoscaler {
        serde_json::from_value(json!({
            "metadata": {"name": "elastic"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "elastic"}, "maxReplicas": 3},
            "status": {"desiredReplicas": 2, "currentMetrics": [], "conditions": conditions},
        }))
        .unwrap()
    }

    const AUTOSCALED: &str = "image: a:1\nautoscaling: {maxReplicas: 3, targetCPUUtilization: 70}\n";

    #[test]
    fn a_cpu_target_without_a_request_is_reported_with_the_fix() {
        let live = hpa(json!([
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
             "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container agent of Pod elastic-1"},
        ]));
        let condition = condition(&agent(AUTOSCALED), false, Some(&live)).unwrap();
        assert!(!condition.status);
        assert_eq!(condition.reason, reasons::AUTOSCALING_INACTIVE);
        assert_eq!(
            condition.message,
            "the HorizontalPodAutoscaler cannot scale (FailedGetResourceMetric): the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container agent of Pod elastic-1: set spec.resources.requests for that resource, or drop its utilisation target"
        );
    }

    #[test]
    fn waiting_out_a_window_or_being_scaled_to_zero_is_no_problem() {
        let backing_off = hpa(json!([
            {"type": "AbleToScale", "status": "False", "reason": "BackoffBoth"},
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
        ]));
        assert_eq!(autoscaler_problem(&backing_off), None);
        let scaled_to_zero = hpa(json!([{"type": "ScalingActive", "status": "False", "reason": "ScalingDisabled"}]));
        assert_eq!(autoscaler_problem(&scaled_to_zero), None);
        let unable =
            hpa(json!([{"type": "AbleToScale", "status": "False", "reason": "FailedGetScale", "message": "no scale"}]));
        assert_eq!(
            autoscaler_problem(&unable).as_deref(),
            Some("the HorizontalPodAutoscaler cannot scale (FailedGetScale): no scale")
        );
        let fresh = hpa(json!(null));
        let ready = condition(&agent(AUTOSCALED), false, Some(&fresh)).unwrap();
        assert!(ready.status, "an HPA that has not looked yet is in place");
        assert_eq!(ready.message, "the HorizontalPodAutoscaler is in place");
    }

    #[test]
    fn only_what_the_spec_asks_for_is_reported() {
        assert_eq!(condition(&agent("image: a:1\n"), false, None), None);
        let both = agent("image: a:1\nmonitoring: {}\nautoscaling: {maxReplicas: 3}\n");
        let condition = condition(&both, true, None).unwrap();
        assert!(condition.status);
        assert_eq!(condition.message, "the ServiceMonitor is in place; the HorizontalPodAutoscaler is in place");
    }

    #[test]
    fn the_cache_keeps_the_conditions_without_their_times() {
        let mut live = hpa(json!([
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": "m",
             "lastTransitionTime": "2026-12-07T00:00:00Z"},
            {"type": "ScalingLimited", "status": "True", "reason": "TooFewReplicas"},
        ]));
        keep_problem_conditions(&mut live);
        let kept = live.status.as_ref().and_then(|s| s.conditions.clone()).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].last_transition_time, None);
        assert_eq!(live.spec.max_replicas, 0);
        assert!(autoscaler_problem(&live).is_some());
    }
}

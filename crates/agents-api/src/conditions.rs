//! Standard `metav1.Condition`s: the types and reasons this API uses, and an update that keeps
//! `lastTransitionTime` when a condition's status does not change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types.
pub mod types {
    /// The object does what its spec asks; the phase summarises the reason.
    pub const READY: &str = "Ready";
    /// An AgentWorkflow: every Agent its steps call is Ready. (An Agent says the same of its
    /// dependencies in `status.dependencies` and its `Ready` condition's reason.)
    pub const DEPENDENCIES_READY: &str = "DependenciesReady";
    /// Optional features the spec asks for work (the ServiceMonitor, the autoscaler).
    pub const FEATURES_AVAILABLE: &str = "FeaturesAvailable";
    /// An MCPServer's tools were listed by asking the running server (`status.tools`).
    pub const TOOLS_LISTED: &str = "ToolsListed";
    /// kstatus: present (True) only while the operator works toward the spec (pods starting or
    /// rolling out, a dependency awaited, a build running). See [`super::Progress`].
    pub const RECONCILING: &str = "Reconciling";
    /// kstatus: present (True) only while the object cannot reach its spec without a change
    /// (phase `Failed`). See [`super::Progress`].
    pub const STALLED: &str = "Stalled";
}

/// Condition reasons (CamelCase, stable: scripts and alerts match on them).
pub mod reasons {
    pub const READY: &str = "Ready";
    pub const PODS_NOT_READY: &str = "PodsNotReady";
    pub const PODS_STARTING: &str = "PodsStarting";
    pub const ROLLOUT_IN_PROGRESS: &str = "RolloutInProgress";
    pub const ROLLOUT_FAILED: &str = "RolloutFailed";
    pub const PODS_CANNOT_BE_CREATED: &str = "PodsCannotBeCreated";
    pub const STOPPED: &str = "Stopped";
    pub const DEPENDENCIES_NOT_READY: &str = "DependenciesNotReady";
    pub const CONFIG_MAP_NOT_FOUND: &str = "ConfigMapNotFound";
    pub const BUILD_NOT_SUCCEEDED: &str = "BuildNotSucceeded";
    pub const CHILD_CONFLICT: &str = "ChildConflict";
    pub const RECONCILE_FAILED: &str = "ReconcileFailed";
    pub const ALL_AVAILABLE: &str = "AllAvailable";
    pub const SERVICE_MONITOR_CRD_MISSING: &str = "ServiceMonitorCRDMissing";
    /// The HorizontalPodAutoscaler says it cannot scale (e.g. a CPU target without a CPU request).
    pub const AUTOSCALING_INACTIVE: &str = "AutoscalingInactive";
    pub const TOOLS_LISTED: &str = "ToolsListed";
    pub const TOOLS_NOT_LISTED: &str = "ToolsNotListed";
    // AgentBuild
    pub const SUCCEEDED: &str = "Succeeded";
    pub const RUNNING: &str = "Running";
    pub const PENDING: &str = "Pending";
    pub const TEKTON_NOT_INSTALLED: &str = "TektonNotInstalled";
    pub const NO_DIGEST: &str = "NoDigest";
    pub const RUN_FAILED: &str = "RunFailed";
}

/// A condition as computed by a controller, before timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Desired {
    pub fn new(type_: &'static str, status: bool, reason: &'static str, message: impl Into<String>) -> Self {
        Desired { type_, status, reason, message: message.into() }
    }
}

/// Where an object stands in the terms of kstatus (`sigs.k8s.io/cli-utils/pkg/kstatus`), which
/// Flux's health checks and other GitOps tools read: `Reconciling` True means in progress,
/// `Stalled` True means failed, neither means current (then kstatus reads `Ready`). Both are
/// "abnormal-true" conditions, present only while True, so a settled object carries neither and
/// computing them adds no status write: they change only when the phase or the `Ready` reason does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Current,
    Reconciling,
    Stalled,
}

impl Progress {
    /// The condition this progress calls for, with the `Ready` condition's reason and message.
    pub fn condition(self, reason: &'static str, message: &str) -> Option<Desired> {
        let type_ = match self {
            Progress::Current => return None,
            Progress::Reconciling => types::RECONCILING,
            Progress::Stalled => types::STALLED,
        };
        Some(Desired::new(type_, true, reason, message))
    }
}

/// Builds the new condition list: each desired condition keeps the `lastTransitionTime` of the
/// existing condition of its type when its status is unchanged, so an unchanged state produces
/// an identical list (and the controller writes nothing).
pub fn merge(existing: &[Condition], desired: &[Desired], generation: Option<i64>, now: &Time) -> Vec<Condition> {
    desired
        .iter()
        .map(|d| {
            let status = if d.status { "True" } else { "False" };
            let previous = existing.iter().find(|c| c.type_ == d.type_);
            let last_transition_time = match previous {
                Some(p) if p.status == status => p.last_transition_time.clone(),
                _ => now.clone(),
            };
            Condition {
                type_: d.type_.to_string(),
                status: status.to_string(),
                reason: d.reason.to_string(),
                message: d.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn an_unchanged_status_keeps_its_transition_time() {
        let first = merge(&[], &[Desired::new(types::READY, false, reasons::PODS_STARTING, "0/1")], Some(1), &at(10));
        let second =
            merge(&first, &[Desired::new(types::READY, false, reasons::PODS_NOT_READY, "1/2")], Some(2), &at(20));
        assert_eq!(second[0].last_transition_time, at(10));
        assert_eq!(second[0].reason, reasons::PODS_NOT_READY);
        assert_eq!(second[0].observed_generation, Some(2));
    }

    #[test]
    fn a_changed_status_moves_its_transition_time() {
        let first = merge(&[], &[Desired::new(types::READY, false, reasons::PODS_STARTING, "")], Some(1), &at(10));
        let second = merge(&first, &[Desired::new(types::READY, true, reasons::READY, "")], Some(1), &at(20));
        assert_eq!(second[0].status, "True");
        assert_eq!(second[0].last_transition_time, at(20));
    }

    #[test]
    fn kstatus_conditions_are_present_only_while_true() {
        assert_eq!(Progress::Current.condition(reasons::READY, "2/2"), None);
        let reconciling = Progress::Reconciling.condition(reasons::PODS_STARTING, "0/2").unwrap();
        assert_eq!((reconciling.type_, reconciling.status, reconciling.reason), ("Reconciling", true, "PodsStarting"));
        let stalled = Progress::Stalled.condition(reasons::CHILD_CONFLICT, "taken").unwrap();
        assert_eq!((stalled.type_, stalled.status, stalled.message.as_str()), ("Stalled", true, "taken"));
    }

    #[test]
    fn identical_input_gives_identical_output() {
        let desired = [Desired::new(types::READY, true, reasons::READY, "2/2 ready")];
        let first = merge(&[], &desired, Some(3), &at(10));
        assert_eq!(merge(&first, &desired, Some(3), &at(99)), first);
    }
}

//! The parts of Tekton's `tekton.dev/v1` PipelineRun and TaskRun status that a build reads.
//! Tekton is not a dependency: these views deserialize what its controller writes, and ignore
//! the rest.

use k8s_openapi::api::core::v1::ContainerState;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::core::DynamicObject;
use serde::Deserialize;

/// Tekton's knative-style condition.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
pub struct RunResult {
    pub name: String,
    /// A string result; array and object results are not used by builds.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// `PipelineRun.status` and `TaskRun.status`: the fields both have that a build reads.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub start_time: Option<Time>,
    #[serde(default)]
    pub completion_time: Option<Time>,
    /// PipelineRun results.
    #[serde(default)]
    pub results: Vec<RunResult>,
    /// TaskRun: its pod.
    #[serde(default)]
    pub pod_name: Option<String>,
    /// TaskRun: its steps, in order.
    #[serde(default)]
    pub steps: Vec<StepStatus>,
}

/// One step of a TaskRun: a container state plus the step's name.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub container: Option<String>,
    #[serde(flatten)]
    pub state: ContainerState,
    /// `Completed`, `Continued`, `Error`, `Skipped`, `TimeoutExceeded`, `Cancelled`.
    #[serde(default)]
    pub termination_reason: Option<String>,
}

/// What the `Succeeded` condition says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No condition yet, or Tekton holds the run (`PipelineRunPending`).
    NotStarted,
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    /// The status of a PipelineRun or TaskRun; an unreadable one counts as empty.
    pub fn of(run: &DynamicObject) -> RunStatus {
        run.data.get("status").and_then(|s| RunStatus::deserialize(s).ok()).unwrap_or_default()
    }

    pub fn succeeded(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == "Succeeded")
    }

    pub fn outcome(&self) -> Outcome {
        match self.succeeded() {
            None => Outcome::NotStarted,
            Some(c) if c.status == "True" => Outcome::Succeeded,
            Some(c) if c.status == "False" => Outcome::Failed,
            Some(c) if c.reason.as_deref() == Some("PipelineRunPending") => Outcome::NotStarted,
            Some(_) => Outcome::Running,
        }
    }

    /// A string result by name.
    pub fn result(&self, name: &str) -> Option<&str> {
        self.results.iter().find(|r| r.name == name)?.value.as_str().filter(|v| !v.is_empty())
    }
}

/// Whether a run (PipelineRun or TaskRun) is over.
pub fn is_finished(run: &DynamicObject) -> bool {
    matches!(RunStatus::of(run).outcome(), Outcome::Succeeded | Outcome::Failed)
}

/// `spec.status` of a PipelineRun Tekton should stop.
pub const CANCELLED: &str = "Cancelled";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_read_as_tekton_writes_them() {
        let status: RunStatus = serde_json::from_value(json!({
            "podName": "research-abc-build-pod",
            "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Running"}],
            "steps": [
                {"name": "clone", "container": "step-clone", "terminated": {"exitCode": 0, "reason": "Completed",
                 "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:02Z"}, "terminationReason": "Completed"},
                {"name": "build", "container": "step-build", "running": {"startedAt": "2026-01-01T00:00:02Z"}},
                {"name": "push", "container": "step-push", "waiting": {"reason": "PodInitializing"}},
            ],
        }))
        .unwrap();
        assert_eq!(status.outcome(), Outcome::Running);
        assert_eq!(status.steps[0].state.terminated.as_ref().unwrap().exit_code, 0);
        assert!(status.steps[1].state.running.is_some());
        assert_eq!(status.steps[2].state.waiting.as_ref().unwrap().reason.as_deref(), Some("PodInitializing"));
    }

    #[test]
    fn pending_runs_have_not_started() {
        let pending: RunStatus = serde_json::from_value(json!({
            "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "PipelineRunPending"}]
        }))
        .unwrap();
        assert_eq!(pending.outcome(), Outcome::NotStarted);
        assert_eq!(RunStatus::default().outcome(), Outcome::NotStarted);
    }
}

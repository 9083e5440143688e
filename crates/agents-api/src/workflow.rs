//! `AgentWorkflow`: steps that call agents (and steps that wait for a person), run as an Argo
//! Workflows DAG, once per run or on a cron schedule.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::refs::LocalRef;

/// Most steps in one workflow (bounds the cost of the schema's CEL rules).
pub const MAX_STEPS: usize = 64;

/// The annotation `kubectl agents workflow run` sets to ask for a run: JSON `{"id": ..,
/// "arguments": {..}}`. The operator starts the run `<workflow>-<id>` once.
pub const RUN_REQUEST_ANNOTATION: &str = "agents.dev/run-request";

/// The desired state of an AgentWorkflow.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agents.dev",
    version = "v1alpha1",
    kind = "AgentWorkflow",
    namespaced,
    status = "AgentWorkflowStatus",
    shortname = "awf",
    category = "agents",
    derive = "PartialEq",
    doc = "Agents chained into a DAG (with optional human approval steps), run by Argo Workflows once per run or on a schedule.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Steps", type_ = "integer", json_path = ".status.stepCount"),
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule.cron"),
    printcolumn(name = "Last Run", type_ = "string", json_path = ".status.lastRun.name"),
    printcolumn(name = "Next Run", type_ = "date", json_path = ".status.nextScheduledTime", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")
        .message("metadata.name: an AgentWorkflow's name prefixes its runs' names: use at most 52 lowercase letters, digits and '-', starting with a letter")
)]
#[x_kube(
    validation = Rule::new("self.steps.all(s, self.steps.exists_one(t, t.name == s.name))")
        .message("step names must be unique: rename the step that repeats another's name")
        .field_path(".steps"),
    validation = Rule::new("self.steps.all(s, !has(s.dependsOn) || s.dependsOn.all(d, self.steps.exists(t, t.name == d)))")
        .message("dependsOn must name steps of this workflow: fix the misspelt name or add the missing step")
        .field_path(".steps"),
    validation = Rule::new("!has(self.arguments) || self.arguments.all(a, self.arguments.exists_one(b, b.name == a.name))")
        .message("argument names must be unique: remove or rename the repeated argument")
        .field_path(".arguments")
)]
#[serde(rename_all = "camelCase")]
pub struct AgentWorkflowSpec {
    /// What the workflow does, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,

    /// The steps; each runs once every step it depends on has succeeded.
    #[schemars(length(min = 1, max = 64))]
    pub steps: Vec<WorkflowStep>,

    /// The workflow's arguments, referenced in inputs as `{{arguments.NAME}}`; a run may override
    /// them (`kubectl agents workflow run NAME --arg NAME=VALUE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub arguments: Vec<WorkflowArgument>,

    /// Run on a cron schedule (an Argo CronWorkflow) instead of only on request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,

    /// Finished runs kept (older ones are deleted, their outputs with them).
    #[serde(default = "default_history")]
    #[schemars(range(min = 0, max = 100))]
    pub history_limit: i32,
}

fn default_history() -> i32 {
    5
}

/// One step: a call to an agent, or a pause until someone approves.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.type == 'Approval' ? !has(self.agentRef) && !has(self.input) : has(self.agentRef) && !has(self.approval)")
        .message("an Agent step needs agentRef (and no approval); an Approval step takes no agentRef or input, only approval"),
    validation = Rule::new("!has(self.dependsOn) || !self.dependsOn.exists(d, d == self.name)")
        .message("a step cannot depend on itself: remove its own name from dependsOn"),
    validation = Rule::new("self.type == 'Agent' || !has(self.retries)")
        .message("retries apply to Agent steps only: remove it from the Approval step")
)]
pub struct WorkflowStep {
    /// The step's name, unique in the workflow; inputs refer to its answer as `{{steps.NAME.output}}`.
    #[schemars(length(min = 1, max = 40))]
    #[x_kube(validation = (
        "self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
        "must be lowercase letters, digits and '-', starting with a letter, such as research or write-summary"
    ))]
    pub name: String,

    /// `Agent` (the default) calls an agent; `Approval` waits for `kubectl agents workflow approve`.
    #[serde(default, rename = "type")]
    pub step_type: StepType,

    /// The Agent this step calls (Agent steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_ref: Option<LocalRef>,

    /// The text sent to the agent. It may use `{{arguments.NAME}}` and `{{steps.STEP.output}}`
    /// (the answer of an earlier step, which the step then depends on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384))]
    pub input: Option<String>,

    /// Steps that must succeed before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub depends_on: Vec<String>,

    /// Attempts after the first when the agent call fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub retries: Option<i32>,

    /// How long one agent call may take, such as 90s or 5m (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = ("self.matches('^[0-9]+(s|m|h)$')", "must be a duration such as 90s, 5m or 2h"))]
    pub timeout: Option<String>,

    /// What the reviewer is asked (Approval steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

/// The kind of a step.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum StepType {
    #[default]
    Agent,
    Approval,
}

/// A human decision the run waits for.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// What the reviewer should check, shown by `kubectl agents workflow status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub message: Option<String>,

    /// How long to wait for a decision, such as 30m or 24h (default: forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = ("self.matches('^[0-9]+(s|m|h)$')", "must be a duration such as 30m or 24h"))]
    pub timeout: Option<String>,

    /// What happens when the timeout expires: `Reject` (the default: the run fails) or `Approve`.
    #[serde(default)]
    pub on_timeout: TimeoutAction,
}

/// The decision taken when nobody decided in time.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum TimeoutAction {
    #[default]
    Reject,
    Approve,
}

/// A workflow argument and its default.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
pub struct WorkflowArgument {
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = (
        "self.matches('^[a-zA-Z][-_a-zA-Z0-9]*$')",
        "must be a letter followed by letters, digits, '-' or '_', such as topic"
    ))]
    pub name: String,
    /// The value used when a run does not give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384))]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
}

/// When scheduled runs start.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Five cron fields (minute hour day-of-month month day-of-week), or @hourly, @daily, ...
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = (
        "self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|([0-9*/,?LW#A-Za-z-]+[ \\\\t]+){4}[0-9*/,?LW#A-Za-z-]+)$')",
        "must be a cron expression of five fields (minute hour day-of-month month day-of-week), such as '0 */6 * * *', or @hourly, @daily, @weekly"
    ))]
    pub cron: String,

    /// IANA time zone of the schedule, such as Europe/Paris (default: UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = (
        "self.matches('^[A-Za-z][-+_/A-Za-z0-9]*$')",
        "must be an IANA time zone such as UTC or Europe/Paris"
    ))]
    pub time_zone: Option<String>,

    /// What to do when a run is due while the previous one still runs.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,

    /// Pauses the schedule without deleting the workflow.
    #[serde(default)]
    pub suspend: bool,
}

/// As a CronJob's `concurrencyPolicy`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Start it anyway.
    Allow,
    /// Skip the new run (the default).
    #[default]
    Forbid,
    /// Stop the running one and start the new one.
    Replace,
}

impl ConcurrencyPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ConcurrencyPolicy::Allow => "Allow",
            ConcurrencyPolicy::Forbid => "Forbid",
            ConcurrencyPolicy::Replace => "Replace",
        }
    }
}

/// One word summing up the workflow.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub enum WorkflowPhase {
    /// A referenced Agent is missing or not Ready; no run starts until it is.
    Waiting,
    /// Can run; no run is in progress (or the schedule is set up).
    Ready,
    /// The last run is in progress.
    Running,
    /// The last run waits for a person's decision on an approval step.
    AwaitingApproval,
    /// The last run succeeded.
    Succeeded,
    /// The last run failed, or the workflow cannot run as written (the Ready condition says why).
    Failed,
}

impl WorkflowPhase {
    pub const ALL: [WorkflowPhase; 6] = [
        WorkflowPhase::Waiting,
        WorkflowPhase::Ready,
        WorkflowPhase::Running,
        WorkflowPhase::AwaitingApproval,
        WorkflowPhase::Succeeded,
        WorkflowPhase::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowPhase::Waiting => "Waiting",
            WorkflowPhase::Ready => "Ready",
            WorkflowPhase::Running => "Running",
            WorkflowPhase::AwaitingApproval => "AwaitingApproval",
            WorkflowPhase::Succeeded => "Succeeded",
            WorkflowPhase::Failed => "Failed",
        }
    }

    /// kstatus' reading of the phase. A run is not the reconcile: the workflow is in place while
    /// a run goes on or awaits a decision (`Ready` is True then), so only waiting for its Agents
    /// is in progress, and only `Failed` (a failed run, or steps that cannot run) is stalled.
    pub fn progress(self) -> crate::conditions::Progress {
        use crate::conditions::Progress;
        match self {
            WorkflowPhase::Waiting => Progress::Reconciling,
            WorkflowPhase::Failed => Progress::Stalled,
            WorkflowPhase::Ready
            | WorkflowPhase::Running
            | WorkflowPhase::AwaitingApproval
            | WorkflowPhase::Succeeded => Progress::Current,
        }
    }
}

impl std::fmt::Display for WorkflowPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of one step in a run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum StepPhase {
    /// Not started: an earlier step has not finished.
    Pending,
    Running,
    /// An approval step waiting for a decision.
    AwaitingApproval,
    Succeeded,
    Failed,
    /// Not run because an earlier step failed or the run was stopped.
    Skipped,
}

impl StepPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            StepPhase::Pending => "Pending",
            StepPhase::Running => "Running",
            StepPhase::AwaitingApproval => "AwaitingApproval",
            StepPhase::Succeeded => "Succeeded",
            StepPhase::Failed => "Failed",
            StepPhase::Skipped => "Skipped",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, StepPhase::Succeeded | StepPhase::Failed | StepPhase::Skipped)
    }
}

impl std::fmt::Display for StepPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision on an approval step.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDecision {
    /// `Approved` or `Rejected`.
    pub decision: String,
    /// Who decided (the Kubernetes user), or `timeout` when the timeout decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
    /// Why, as the reviewer wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One step of the last run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    pub name: String,
    pub phase: StepPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The decision, for an approval step that was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalDecision>,
}

/// The last run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    /// The Argo Workflow of the run.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<WorkflowPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The observed state of an AgentWorkflow.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentWorkflowStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<WorkflowPhase>,
    /// Number of steps (a printer column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_count: Option<i32>,
    /// The most recent run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunStatus>,
    /// Each step of the most recent run, in the order of the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepStatus>,
    /// The id of the last run request handled (see `agents.dev/run-request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_request: Option<String>,
    /// When the schedule starts the next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_scheduled_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Vec<Condition>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_make_a_short_manifest_complete() {
        let workflow: AgentWorkflow = serde_json::from_value(json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "AgentWorkflow", "metadata": {"name": "w"},
            "spec": {"steps": [
                {"name": "research", "agentRef": {"name": "researcher"}},
                {"name": "review", "type": "Approval", "dependsOn": ["research"], "approval": {}},
            ], "schedule": {"cron": "0 */6 * * *"}},
        }))
        .unwrap();
        assert_eq!(workflow.spec.steps[0].step_type, StepType::Agent);
        assert_eq!(workflow.spec.steps[1].approval.as_ref().unwrap().on_timeout, TimeoutAction::Reject);
        assert_eq!(workflow.spec.history_limit, 5);
        assert_eq!(workflow.spec.schedule.unwrap().concurrency_policy, ConcurrencyPolicy::Forbid);
    }
}

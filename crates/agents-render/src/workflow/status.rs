//! An AgentWorkflow's status, from what the operator observed: the Agents its steps call, the
//! check of its steps, whether the cluster runs Argo, and its last run.

use std::collections::BTreeMap;

use agents_api::AgentWorkflow;
use agents_api::conditions::{self, Desired, types};
use agents_api::workflow::{
    AgentWorkflowStatus, ApprovalDecision, RunStatus, StepPhase, StepStatus, StepType, TimeoutAction, WorkflowPhase,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::dag::Invalid;
use super::run::Run;

/// Condition reasons of AgentWorkflows.
pub mod reasons {
    pub const READY: &str = "Ready";
    pub const AGENTS_NOT_READY: &str = "AgentsNotReady";
    pub const AGENTS_READY: &str = "AgentsReady";
    pub const ARGO_NOT_INSTALLED: &str = "ArgoNotInstalled";
    pub const RUNNING: &str = "Running";
    pub const AWAITING_APPROVAL: &str = "AwaitingApproval";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const RUN_FAILED: &str = "RunFailed";
    pub const RECONCILE_FAILED: &str = "ReconcileFailed";
}

/// What an Agent a step calls looks like to the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    Missing,
    /// Exists, but is not Ready (its phase), or has no Service.
    NotReady(String),
    /// Ready, reached at this URL.
    Ready(String),
}

impl AgentState {
    pub fn of(agent: Option<&agents_api::Agent>) -> AgentState {
        let Some(agent) = agent else { return AgentState::Missing };
        let status = agent.status.as_ref();
        let phase = status.and_then(|s| s.phase);
        match (phase, status.and_then(|s| s.endpoint.clone())) {
            (Some(agents_api::AgentPhase::Ready), Some(endpoint)) => AgentState::Ready(endpoint),
            (Some(agents_api::AgentPhase::Ready), None) => AgentState::NotReady("Ready but not exposed".into()),
            (Some(phase), _) => AgentState::NotReady(phase.to_string()),
            (None, _) => AgentState::NotReady("Pending".into()),
        }
    }
}

/// The sentence naming the Agents that hold a workflow back, if any.
pub fn agents_not_ready(agents: &BTreeMap<String, AgentState>) -> Option<String> {
    let problems: Vec<String> = agents
        .iter()
        .filter_map(|(name, state)| match state {
            AgentState::Missing => Some(format!("{name} (not found)")),
            AgentState::NotReady(why) => Some(format!("{name} ({why})")),
            AgentState::Ready(_) => None,
        })
        .collect();
    (!problems.is_empty()).then(|| format!("waiting for Agents: {}", problems.join(", ")))
}

pub struct Observed<'a> {
    pub workflow: &'a AgentWorkflow,
    /// The check of the steps (`dag::check`).
    pub invalid: Option<&'a Invalid>,
    /// Every Agent the steps reference.
    pub agents: &'a BTreeMap<String, AgentState>,
    /// Whether the cluster serves Argo's Workflow (and, with a schedule, CronWorkflow) kinds.
    pub argo_served: bool,
    /// The most recent run.
    pub last_run: Option<&'a Run>,
    /// The run request handled so far.
    pub handled_request: Option<String>,
    /// A failed look-up or write in this reconcile.
    pub failure: Option<&'a str>,
    pub next_scheduled_time: Option<Time>,
}

pub fn status(observed: Observed<'_>, now: &Time) -> AgentWorkflowStatus {
    let workflow = observed.workflow;
    let existing = workflow.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let waiting = agents_not_ready(observed.agents);
    let dependencies = match &waiting {
        Some(message) => Desired::new(types::DEPENDENCIES_READY, false, reasons::AGENTS_NOT_READY, message.clone()),
        None => {
            Desired::new(types::DEPENDENCIES_READY, true, reasons::AGENTS_READY, "every Agent the steps call is Ready")
        }
    };
    let run_phase = observed.last_run.map(Run::phase);
    let active = matches!(run_phase, Some(WorkflowPhase::Running | WorkflowPhase::AwaitingApproval));
    let (phase, ready) = if let Some(failure) = observed.failure {
        (WorkflowPhase::Failed, Desired::new(types::READY, false, reasons::RECONCILE_FAILED, failure))
    } else if let Some(invalid) = observed.invalid {
        (
            WorkflowPhase::Failed,
            Desired::new(types::READY, false, invalid.reason(), format!("{invalid}; nothing is run")),
        )
    } else if !observed.argo_served {
        let message = "the cluster does not serve argoproj.io/v1alpha1 Workflows: install Argo Workflows (`kubectl agents check` tells what is missing)";
        (WorkflowPhase::Waiting, Desired::new(types::READY, false, reasons::ARGO_NOT_INSTALLED, message))
    } else if active {
        let phase = run_phase.unwrap_or(WorkflowPhase::Running);
        let run = observed.last_run.map(Run::name).unwrap_or_default();
        let ready = if phase == WorkflowPhase::AwaitingApproval {
            let steps: Vec<String> = observed
                .last_run
                .into_iter()
                .flat_map(|r| r.waiting_approvals())
                .map(|n| n.display_name.clone())
                .collect();
            Desired::new(
                types::READY,
                true,
                reasons::AWAITING_APPROVAL,
                format!(
                    "run {run} waits for a decision on {}: `kubectl agents workflow approve` or `reject`",
                    steps.join(", ")
                ),
            )
        } else {
            Desired::new(types::READY, true, reasons::RUNNING, format!("run {run} is running"))
        };
        (phase, ready)
    } else if let Some(message) = waiting {
        (WorkflowPhase::Waiting, Desired::new(types::READY, false, reasons::AGENTS_NOT_READY, message))
    } else {
        match (run_phase, observed.last_run) {
            (Some(WorkflowPhase::Succeeded), Some(run)) => (
                WorkflowPhase::Succeeded,
                Desired::new(types::READY, true, reasons::SUCCEEDED, format!("run {} succeeded", run.name())),
            ),
            (Some(WorkflowPhase::Failed), Some(run)) => {
                let why =
                    run.status.message.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| "a step failed".into());
                (
                    WorkflowPhase::Failed,
                    Desired::new(types::READY, false, reasons::RUN_FAILED, format!("run {} failed: {why}", run.name())),
                )
            }
            _ => {
                let message = if workflow.spec.schedule.is_some() {
                    "scheduled; `kubectl agents workflow run` starts a run now"
                } else {
                    "ready to run: `kubectl agents workflow run`"
                };
                (WorkflowPhase::Ready, Desired::new(types::READY, true, reasons::READY, message))
            }
        }
    };
    let progress = phase.progress().condition(ready.reason, &ready.message);
    let generation = workflow.metadata.generation;
    let last_run = observed.last_run.map(|run| RunStatus {
        name: run.name().to_string(),
        phase: Some(run.phase()),
        started_at: run.status.started_at.clone(),
        finished_at: run.status.finished_at.clone(),
        message: run.status.message.clone().filter(|m| !m.is_empty()),
    });
    let steps = observed.last_run.map(|run| steps(workflow, run)).unwrap_or_default();
    AgentWorkflowStatus {
        phase: Some(phase),
        step_count: Some(workflow.spec.steps.len() as i32),
        last_run,
        steps,
        last_run_request: observed.handled_request,
        next_scheduled_time: observed.next_scheduled_time,
        observed_generation: generation,
        conditions: conditions::merge(
            existing,
            &[ready, dependencies].into_iter().chain(progress).collect::<Vec<_>>(),
            generation,
            now,
        ),
    }
}

/// Each step of a run, in the spec's order.
fn steps(workflow: &AgentWorkflow, run: &Run) -> Vec<StepStatus> {
    workflow
        .spec
        .steps
        .iter()
        .map(|step| {
            let node = run.node(&step.name);
            let phase = run.step_phase(&step.name);
            let approval = (step.step_type == StepType::Approval)
                .then(|| {
                    run.decision(&step.name).or_else(|| {
                        // Decided without `kubectl agents workflow approve|reject`: by the
                        // timeout (Argo resumed it) or by Argo's own CLI (its message says who).
                        let node = node?;
                        let approve_on_timeout = step
                            .approval
                            .as_ref()
                            .is_some_and(|a| a.timeout.is_some() && a.on_timeout == TimeoutAction::Approve);
                        let message = node.message.clone().filter(|m| !m.is_empty());
                        let decision = match phase {
                            StepPhase::Succeeded => "Approved",
                            StepPhase::Failed => "Rejected",
                            _ => return None,
                        };
                        let by = match &message {
                            Some(m) => m.split("User:").nth(1).map(|u| u.trim_end_matches(']').to_string()),
                            None if approve_on_timeout => Some("timeout".into()),
                            None => None,
                        };
                        Some(ApprovalDecision { decision: decision.into(), by, at: node.finished_at.clone(), message })
                    })
                })
                .flatten();
            StepStatus {
                name: step.name.clone(),
                phase,
                started_at: node.and_then(|n| n.started_at.clone()),
                finished_at: node.and_then(|n| n.finished_at.clone()).filter(|_| phase.is_finished()),
                message: node.and_then(|n| n.message.clone()).filter(|m| !m.is_empty()),
                approval,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::fixtures::workflow;
    use serde_json::json;

    const SPEC: &str = r#"
steps:
- {name: research, agentRef: {name: researcher}}
- {name: review, type: Approval, dependsOn: [research]}
- {name: write, agentRef: {name: writer}, dependsOn: [review]}
"#;

    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
    }

    fn ready_agents() -> BTreeMap<String, AgentState> {
        [("researcher", AgentState::Ready("http://r".into())), ("writer", AgentState::Ready("http://w".into()))]
            .map(|(k, v)| (k.to_string(), v))
            .into()
    }

    fn observed<'a>(
        workflow: &'a AgentWorkflow,
        agents: &'a BTreeMap<String, AgentState>,
        run: Option<&'a Run>,
    ) -> Observed<'a> {
        Observed {
            workflow,
            invalid: None,
            agents,
            argo_served: true,
            last_run: run,
            handled_request: None,
            failure: None,
            next_scheduled_time: None,
        }
    }

    fn run(status: serde_json::Value, annotations: serde_json::Value) -> Run {
        serde_json::from_value(
            json!({"metadata": {"name": "pipeline-a1", "annotations": annotations}, "status": status}),
        )
        .unwrap()
    }

    #[test]
    fn missing_or_unready_agents_are_named() {
        let w = workflow(SPEC);
        let agents: BTreeMap<String, AgentState> =
            [("researcher", AgentState::Missing), ("writer", AgentState::NotReady("Degraded".into()))]
                .map(|(k, v)| (k.to_string(), v))
                .into();
        let status = status(observed(&w, &agents, None), &at(1));
        assert_eq!(status.phase, Some(WorkflowPhase::Waiting));
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.reason, reasons::AGENTS_NOT_READY);
        assert_eq!(ready.message, "waiting for Agents: researcher (not found), writer (Degraded)");
        let ok = super::status(observed(&w, &ready_agents(), None), &at(1));
        assert_eq!(ok.phase, Some(WorkflowPhase::Ready));
        assert_eq!(ok.step_count, Some(3));
    }

    #[test]
    fn without_argo_it_waits_and_says_what_to_install() {
        let w = workflow(SPEC);
        let agents = ready_agents();
        let mut o = observed(&w, &agents, None);
        o.argo_served = false;
        let status = status(o, &at(1));
        assert_eq!(status.phase, Some(WorkflowPhase::Waiting));
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.reason, reasons::ARGO_NOT_INSTALLED);
        assert!(ready.message.contains("install Argo Workflows"), "{}", ready.message);
    }

    #[test]
    fn a_run_waiting_on_a_person_awaits_approval_step_by_step() {
        let w = workflow(SPEC);
        let r = run(
            json!({"phase": "Running", "startedAt": "2026-01-01T10:00:00Z", "nodes": {
                "pipeline-a1": {"id": "pipeline-a1", "displayName": "pipeline-a1", "type": "DAG", "phase": "Running"},
                "n1": {"id": "n1", "displayName": "research", "type": "HTTP", "phase": "Succeeded",
                       "startedAt": "2026-01-01T10:00:00Z", "finishedAt": "2026-01-01T10:00:05Z"},
                "n2": {"id": "n2", "displayName": "review", "type": "Suspend", "phase": "Running",
                       "startedAt": "2026-01-01T10:00:06Z"},
            }}),
            json!({}),
        );
        let agents = ready_agents();
        let status = status(observed(&w, &agents, Some(&r)), &at(1));
        assert_eq!(status.phase, Some(WorkflowPhase::AwaitingApproval));
        let phases: Vec<StepPhase> = status.steps.iter().map(|s| s.phase).collect();
        assert_eq!(phases, [StepPhase::Succeeded, StepPhase::AwaitingApproval, StepPhase::Pending]);
        assert_eq!(status.steps[0].finished_at, Some(Time("2026-01-01T10:00:05Z".parse().unwrap())));
        assert_eq!(status.last_run.as_ref().unwrap().name, "pipeline-a1");
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert!(ready.message.contains("waits for a decision on review"), "{}", ready.message);
    }

    #[test]
    fn decisions_and_failures_are_reported() {
        let w = workflow(SPEC);
        let decision =
            json!({"decision": "Rejected", "by": "alice", "at": "2026-01-01T10:01:00Z", "message": "too vague"});
        let r = run(
            json!({"phase": "Failed", "message": "child 'n2' failed", "nodes": {
                "n1": {"id": "n1", "displayName": "research", "type": "HTTP", "phase": "Succeeded"},
                "n2": {"id": "n2", "displayName": "review", "type": "Suspend", "phase": "Failed", "message": "too vague"},
            }}),
            json!({"agents.dev/approval.review": decision.to_string()}),
        );
        let agents = ready_agents();
        let status = status(observed(&w, &agents, Some(&r)), &at(1));
        assert_eq!(status.phase, Some(WorkflowPhase::Failed));
        assert_eq!(status.steps[2].phase, StepPhase::Skipped);
        let approval = status.steps[1].approval.as_ref().unwrap();
        assert_eq!((approval.decision.as_str(), approval.by.as_deref()), ("Rejected", Some("alice")));
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.message, "run pipeline-a1 failed: child 'n2' failed");
    }

    #[test]
    fn a_cycle_fails_the_workflow_and_the_same_world_gives_the_same_status() {
        let w = workflow(SPEC);
        let invalid = Invalid::Cycle(vec!["a".into(), "b".into(), "a".into()]);
        let agents = ready_agents();
        let mut o = observed(&w, &agents, None);
        o.invalid = Some(&invalid);
        let first = status(o, &at(1));
        assert_eq!(first.phase, Some(WorkflowPhase::Failed));
        let ready = conditions::find(&first.conditions, types::READY).unwrap();
        assert_eq!(ready.reason, "DependencyCycle");
        assert!(ready.message.contains("a → b → a") && ready.message.ends_with("nothing is run"));
        let mut again = w.clone();
        again.status = Some(first.clone());
        let mut o = observed(&again, &agents, None);
        o.invalid = Some(&invalid);
        assert_eq!(status(o, &at(99)), first);
    }
}

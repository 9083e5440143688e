//! Deciding an approval step, written to change exactly what Argo's own `argo resume` and
//! `argo stop` change when they target one node (argo-workflows v3.7.18,
//! `workflow/util/util.go`: `ResumeWorkflow` and `StopWorkflow` with a node field selector both
//! call `updateSuspendedNode`; `workflow/creator/creator.go`: `LabelActor`):
//!
//! - the active suspend node (type `Suspend`, phase `Running`) matching `displayName=<step>` gets
//!   `phase: Succeeded` (approve) or `Failed` (reject) and `finishedAt: now`;
//! - its `message` becomes `Resumed by: map[User:<subject>]` (approve) or the reviewer's message
//!   (reject, when one is given);
//! - the Workflow is labelled `workflows.argoproj.io/actor=<subject>` and
//!   `workflows.argoproj.io/action=Resume|Stop`;
//! - the Workflow is written back with the `resourceVersion` it was read with (the caller retries
//!   on a conflict).
//!
//! One thing is added: the decision (who, when, why) as the annotation
//! `agents.dev/approval.<step>`, which the AgentWorkflow's status reports.

use agents_api::workflow::ApprovalDecision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::argo::{ACTION_LABEL, ACTOR_LABEL, DECISION_ANNOTATION_PREFIX};

/// A decision to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub approve: bool,
    /// The Kubernetes user deciding, or `None` (the operator, on a timeout).
    pub by: Option<String>,
    pub message: Option<String>,
    pub at: Time,
}

/// Why a decision could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No approval step waits in this run (the step named, if one was).
    NothingWaiting(Option<String>),
    /// Several wait: the caller must name one.
    Ambiguous(Vec<String>),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NothingWaiting(Some(step)) => write!(f, "step {step} is not waiting for a decision"),
            Refused::NothingWaiting(None) => write!(f, "no approval step is waiting for a decision"),
            Refused::Ambiguous(steps) => {
                write!(f, "several approval steps are waiting ({}): name one with --step", steps.join(", "))
            }
        }
    }
}

impl std::error::Error for Refused {}

/// The approval steps waiting in a Workflow (as JSON), by display name.
pub fn waiting(workflow: &Value) -> Vec<String> {
    let mut steps: Vec<String> = workflow["status"]["nodes"]
        .as_object()
        .into_iter()
        .flat_map(|nodes| nodes.values())
        .filter(|n| n["type"] == "Suspend" && n["phase"] == "Running")
        .filter_map(|n| n["displayName"].as_str().map(str::to_string))
        .collect();
    steps.sort();
    steps
}

/// Applies the decision to the Workflow read from the API server; returns the step decided.
pub fn decide(workflow: &mut Value, step: Option<&str>, decision: &Decision) -> Result<String, Refused> {
    let waiting = waiting(workflow);
    let step = match step {
        Some(step) if waiting.iter().any(|w| w == step) => step.to_string(),
        Some(step) => return Err(Refused::NothingWaiting(Some(step.to_string()))),
        None if waiting.len() == 1 => waiting[0].clone(),
        None if waiting.is_empty() => return Err(Refused::NothingWaiting(None)),
        None => return Err(Refused::Ambiguous(waiting)),
    };
    let at = serde_json::to_value(&decision.at).expect("a time serialises");
    let node_message = if decision.approve {
        decision.by.as_ref().map(|by| format!("Resumed by: map[User:{by}]"))
    } else {
        decision.message.clone().filter(|m| !m.is_empty())
    };
    if let Some(nodes) = workflow["status"]["nodes"].as_object_mut() {
        for node in nodes.values_mut() {
            if node["type"] == "Suspend" && node["phase"] == "Running" && node["displayName"] == step.as_str() {
                node["phase"] = json!(if decision.approve { "Succeeded" } else { "Failed" });
                node["finishedAt"] = at.clone();
                if let Some(message) = &node_message {
                    node["message"] = json!(message);
                }
            }
        }
    }
    let metadata = &mut workflow["metadata"];
    if !metadata["labels"].is_object() {
        metadata["labels"] = json!({});
    }
    let labels = metadata["labels"].as_object_mut().expect("an object");
    match &decision.by {
        Some(by) => labels.insert(ACTOR_LABEL.into(), json!(dns_friendly(by))),
        None => labels.remove(ACTOR_LABEL),
    };
    labels.insert(ACTION_LABEL.into(), json!(if decision.approve { "Resume" } else { "Stop" }));
    if !metadata["annotations"].is_object() {
        metadata["annotations"] = json!({});
    }
    let record = ApprovalDecision {
        decision: if decision.approve { "Approved" } else { "Rejected" }.into(),
        by: Some(decision.by.clone().unwrap_or_else(|| "timeout".into())),
        at: Some(decision.at.clone()),
        message: decision.message.clone().filter(|m| !m.is_empty()),
    };
    metadata["annotations"][format!("{DECISION_ANNOTATION_PREFIX}{step}")] =
        json!(serde_json::to_string(&record).expect("a decision serialises"));
    Ok(step)
}

/// Argo's `dnsFriendly`: a label value from a user name.
pub fn dns_friendly(text: &str) -> String {
    let replaced: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
    let tail: String = if replaced.len() > 63 { replaced[replaced.len() - 63..].to_string() } else { replaced };
    tail.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Time {
        Time("2026-01-01T10:00:00Z".parse().unwrap())
    }

    fn workflow() -> Value {
        json!({
            "metadata": {"name": "p-a1", "resourceVersion": "7", "labels": {"agents.dev/workflow": "p"}},
            "status": {"phase": "Running", "nodes": {
                "p-a1-1": {"displayName": "research", "type": "HTTP", "phase": "Succeeded"},
                "p-a1-2": {"displayName": "review", "type": "Suspend", "phase": "Running"},
            }},
        })
    }

    #[test]
    fn approving_changes_what_argo_resume_changes() {
        let mut w = workflow();
        let decision =
            Decision { approve: true, by: Some("system:admin".into()), message: Some("fine".into()), at: at() };
        assert_eq!(decide(&mut w, None, &decision).unwrap(), "review");
        let node = &w["status"]["nodes"]["p-a1-2"];
        assert_eq!(node["phase"], "Succeeded");
        assert_eq!(node["finishedAt"], "2026-01-01T10:00:00Z");
        assert_eq!(node["message"], "Resumed by: map[User:system:admin]");
        assert_eq!(w["metadata"]["labels"][ACTOR_LABEL], "system-admin");
        assert_eq!(w["metadata"]["labels"][ACTION_LABEL], "Resume");
        assert_eq!(w["metadata"]["resourceVersion"], "7");
        let record: ApprovalDecision =
            serde_json::from_str(w["metadata"]["annotations"]["agents.dev/approval.review"].as_str().unwrap()).unwrap();
        assert_eq!((record.decision.as_str(), record.message.as_deref()), ("Approved", Some("fine")));
        // The other node is untouched.
        assert_eq!(w["status"]["nodes"]["p-a1-1"], workflow()["status"]["nodes"]["p-a1-1"]);
    }

    #[test]
    fn rejecting_changes_what_argo_stop_changes() {
        let mut w = workflow();
        let decision =
            Decision { approve: false, by: Some("alice".into()), message: Some("too vague".into()), at: at() };
        decide(&mut w, Some("review"), &decision).unwrap();
        assert_eq!(w["status"]["nodes"]["p-a1-2"]["phase"], "Failed");
        assert_eq!(w["status"]["nodes"]["p-a1-2"]["message"], "too vague");
        assert_eq!(w["metadata"]["labels"][ACTION_LABEL], "Stop");
    }

    #[test]
    fn only_a_waiting_step_can_be_decided() {
        let decision = Decision { approve: true, by: None, message: None, at: at() };
        let mut w = workflow();
        assert_eq!(decide(&mut w, Some("research"), &decision), Err(Refused::NothingWaiting(Some("research".into()))));
        w["status"]["nodes"]["p-a1-3"] = json!({"displayName": "sign-off", "type": "Suspend", "phase": "Running"});
        assert_eq!(decide(&mut w, None, &decision), Err(Refused::Ambiguous(vec!["review".into(), "sign-off".into()])));
        decide(&mut w, Some("review"), &decision).unwrap();
        decide(&mut w, None, &decision).unwrap();
        assert_eq!(decide(&mut w, None, &decision), Err(Refused::NothingWaiting(None)));
    }
}

//! An Argo Workflow as this project reads it: its phase, its nodes (one per step), the approval
//! nodes that wait for a decision, and the decisions recorded on it.

use std::collections::BTreeMap;

use agents_api::workflow::{ApprovalDecision, StepPhase, WorkflowPhase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::core::DynamicObject;
use serde::Deserialize;

use super::argo::DECISION_ANNOTATION_PREFIX;

/// The parts of an `argoproj.io/v1alpha1` Workflow this project reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Run {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: RunStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub started_at: Option<Time>,
    #[serde(default)]
    pub finished_at: Option<Time>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub nodes: BTreeMap<String, Node>,
}

/// One node of Argo's status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub started_at: Option<Time>,
    #[serde(default)]
    pub finished_at: Option<Time>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub outputs: Option<Outputs>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Outputs {
    #[serde(default)]
    pub result: Option<String>,
}

impl Run {
    pub fn from_dynamic(object: &DynamicObject) -> Run {
        let status =
            object.data.get("status").cloned().and_then(|s| serde_json::from_value(s).ok()).unwrap_or_default();
        Run { metadata: object.metadata.clone(), status }
    }

    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// The node of a step: the task node named after it (the Retry node when the step retries),
    /// not the attempts under it.
    pub fn node(&self, step: &str) -> Option<&Node> {
        let mut candidates = self.status.nodes.values().filter(|n| n.display_name == step && n.type_ != "DAG");
        let first = candidates.next()?;
        Some(candidates.fold(first, |best, n| if n.type_ == "Retry" { n } else { best }))
    }

    /// Approval (suspend) nodes waiting for a decision, as Argo defines it (`IsActiveSuspendNode`).
    pub fn waiting_approvals(&self) -> Vec<&Node> {
        self.status.nodes.values().filter(|n| n.type_ == "Suspend" && n.phase.as_deref() == Some("Running")).collect()
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status.phase.as_deref(), Some("Succeeded" | "Failed" | "Error"))
    }

    /// The run's phase in this project's words.
    pub fn phase(&self) -> WorkflowPhase {
        match self.status.phase.as_deref() {
            Some("Succeeded") => WorkflowPhase::Succeeded,
            Some("Failed" | "Error") => WorkflowPhase::Failed,
            _ if !self.waiting_approvals().is_empty() => WorkflowPhase::AwaitingApproval,
            _ => WorkflowPhase::Running,
        }
    }

    /// The decision recorded on an approval step, if any.
    pub fn decision(&self, step: &str) -> Option<ApprovalDecision> {
        let annotations = self.metadata.annotations.as_ref()?;
        serde_json::from_str(annotations.get(&format!("{DECISION_ANNOTATION_PREFIX}{step}"))?).ok()
    }

    /// A step's state: `Pending` until Argo has a node for it.
    pub fn step_phase(&self, step: &str) -> StepPhase {
        let Some(node) = self.node(step) else {
            return if self.is_finished() { StepPhase::Skipped } else { StepPhase::Pending };
        };
        match (node.type_.as_str(), node.phase.as_deref()) {
            ("Suspend", Some("Running")) => StepPhase::AwaitingApproval,
            (_, Some("Succeeded")) => StepPhase::Succeeded,
            (_, Some("Failed" | "Error")) => StepPhase::Failed,
            (_, Some("Skipped" | "Omitted")) => StepPhase::Skipped,
            // An http node stays Pending while Argo's agent waits for the answer: to the user
            // the step is running.
            _ if self.is_finished() => StepPhase::Skipped,
            _ => StepPhase::Running,
        }
    }

    /// A step's answer: the text of the agent's reply (`result.parts[0].text` of the JSON-RPC
    /// response), or the raw response when it is not one.
    pub fn answer(&self, step: &str) -> Option<String> {
        let raw = self.node(step)?.outputs.as_ref()?.result.clone()?;
        Some(answer_text(&raw).unwrap_or(raw))
    }
}

/// The text an A2A `message/send` response carries.
pub fn answer_text(response: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(response).ok()?;
    value.pointer("/result/parts/0/text")?.as_str().map(str::to_string)
}

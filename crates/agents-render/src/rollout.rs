//! How a Deployment's rollout stands, in the terms every kind's status uses: shared by the
//! Agent and by the servers (ModelAPI, MCPServer), each mapping it onto its own phases.

use agents_api::conditions::reasons;
use k8s_openapi::api::apps::v1::Deployment;

/// Where a Deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    /// Scaled to zero.
    Stopped,
    /// No pod is ready yet.
    Starting,
    /// Some pods are ready, fewer than desired (or a rollout is stuck with some ready).
    Degraded,
    /// Pods cannot be created, or the rollout is stuck with none ready.
    Failed,
    /// Every desired pod is ready (possibly while an update rolls out).
    Ready,
    /// The Deployment controller has not acted on the latest spec yet, and the ready pods it
    /// counts were counted for the previous one (after scaling up from 0, pods on their way out):
    /// nothing new is known, so the owner stays in the phase it was in.
    Unobserved,
}

/// The state, its condition reason and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub state: RolloutState,
    pub reason: &'static str,
    pub message: String,
}

impl Rollout {
    fn new(state: RolloutState, reason: &'static str, message: impl Into<String>) -> Self {
        Rollout { state, reason, message: message.into() }
    }
}

pub fn assess(deployment: &Deployment) -> Rollout {
    let desired = deployment.spec.replicas.unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let current = status.replicas.unwrap_or(0);
    let generation_seen = status.observed_generation >= deployment.metadata.generation;
    let condition = |type_: &str| status.conditions.iter().flatten().find(|c| c.type_.as_deref() == Some(type_));
    let counts = format!("{ready}/{desired} pods ready");

    if desired == 0 {
        return if current == 0 {
            Rollout::new(RolloutState::Stopped, reasons::STOPPED, "scaled to 0 replicas")
        } else {
            Rollout::new(RolloutState::Stopped, reasons::STOPPED, format!("scaling to 0: {current} pods still running"))
        };
    }
    if let Some(failure) = condition("ReplicaFailure").filter(|c| c.status.as_deref() == Some("True")) {
        let why = failure.message.clone().unwrap_or_default();
        let state = if ready == 0 { RolloutState::Failed } else { RolloutState::Degraded };
        return Rollout::new(state, reasons::PODS_CANNOT_BE_CREATED, format!("{counts}: {why}"));
    }
    if let Some(stuck) = condition("Progressing")
        .filter(|c| c.status.as_deref() == Some("False") && c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
    {
        let why = stuck.message.clone().unwrap_or_default();
        let state = if ready == 0 { RolloutState::Failed } else { RolloutState::Degraded };
        return Rollout::new(state, reasons::ROLLOUT_FAILED, format!("{counts}: {why}"));
    }
    if ready == 0 {
        return Rollout::new(RolloutState::Starting, reasons::PODS_STARTING, counts);
    }
    if !generation_seen {
        return Rollout::new(
            RolloutState::Unobserved,
            reasons::ROLLOUT_IN_PROGRESS,
            "the Deployment controller has not acted on the latest change yet",
        );
    }
    if ready < desired {
        return Rollout::new(RolloutState::Degraded, reasons::PODS_NOT_READY, counts);
    }
    if updated < desired || current > desired {
        return Rollout::new(
            RolloutState::Ready,
            reasons::ROLLOUT_IN_PROGRESS,
            format!("{counts}, rolling out an update"),
        );
    }
    Rollout::new(RolloutState::Ready, reasons::READY, counts)
}

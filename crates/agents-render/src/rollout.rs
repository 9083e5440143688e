//! How a Deployment's rollout stands, in the terms every kind's status uses: shared by the
//! Agent and by the servers (ModelAPI, MCPServer), each mapping it onto its own phases.

use agents_api::conditions::reasons;
use k8s_openapi::api::apps::v1::Deployment;

use crate::pods::PodProblem;

/// Where a Deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    /// Scaled to zero.
    Stopped,
    /// No pod is ready yet.
    Starting,
    /// Some pods are ready, fewer than desired (or a rollout is stuck with some ready).
    Degraded,
    /// Pods cannot be created or cannot run, or the rollout is stuck with none ready.
    Failed,
    /// No pod is ready, and one waits for a Secret, ConfigMap or key that does not exist: it
    /// starts once that exists.
    Waiting,
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

/// Where `deployment` stands; `pod_problem` is why one of its pods does not run, if one does not
/// (`crate::pods`): the answer to "why are fewer pods ready than desired".
pub fn assess(deployment: &Deployment, pod_problem: Option<&PodProblem>) -> Rollout {
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
    if let Some(problem) = pod_problem {
        let message = format!("{counts}: {}", problem.message);
        if ready == 0 {
            let state = if problem.awaits_reference { RolloutState::Waiting } else { RolloutState::Failed };
            return Rollout::new(state, problem.reason, message);
        }
        if ready < desired {
            return Rollout::new(RolloutState::Degraded, problem.reason, message);
        }
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
        // The pods of the previous version serve; a new one that cannot run holds the update.
        let held = pod_problem.map(|p| format!(", held by {}", p.message)).unwrap_or_default();
        return Rollout::new(
            RolloutState::Ready,
            reasons::ROLLOUT_IN_PROGRESS,
            format!("{counts}, rolling out an update{held}"),
        );
    }
    Rollout::new(RolloutState::Ready, reasons::READY, counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(ready: i32, updated: i32) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": updated, "readyReplicas": ready},
        }))
        .unwrap()
    }

    fn problem(awaits_reference: bool) -> PodProblem {
        PodProblem {
            reason: "CrashLoopBackOff",
            message: "pod p: container agent keeps exiting".into(),
            awaits_reference,
        }
    }

    #[test]
    fn a_pod_that_cannot_run_explains_the_pods_that_are_not_ready() {
        let none_ready = assess(&deployment(0, 2), Some(&problem(false)));
        assert_eq!((none_ready.state, none_ready.reason), (RolloutState::Failed, "CrashLoopBackOff"));
        assert_eq!(none_ready.message, "0/2 pods ready: pod p: container agent keeps exiting");
        assert_eq!(assess(&deployment(1, 2), Some(&problem(false))).state, RolloutState::Degraded);
        assert_eq!(assess(&deployment(0, 2), Some(&problem(true))).state, RolloutState::Waiting);
        assert_eq!(assess(&deployment(0, 2), None).state, RolloutState::Starting);
    }

    #[test]
    fn a_held_update_stays_ready_and_says_what_holds_it() {
        let held = assess(&deployment(2, 1), Some(&problem(false)));
        assert_eq!((held.state, held.reason), (RolloutState::Ready, reasons::ROLLOUT_IN_PROGRESS));
        assert!(held.message.ends_with("held by pod p: container agent keeps exiting"), "{}", held.message);
        assert_eq!(assess(&deployment(2, 2), Some(&problem(false))).reason, reasons::READY);
    }
}

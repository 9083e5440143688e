//! The phase of the kinds that run a server for Agents (ModelAPI, MCPServer).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::Progress;

/// One word summing up a server's state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub enum ServerPhase {
    /// Accepted; its pods are starting.
    Pending,
    /// Something it needs does not exist (a ConfigMap it names, or a Secret its pods wait for): it
    /// starts once that exists. The Ready condition names it.
    Waiting,
    /// It serves: every desired pod is ready (or, for an external endpoint, its fields are valid).
    Ready,
    /// Some pods are ready, fewer than desired.
    Degraded,
    /// It cannot run as specified; the Ready condition says why.
    Failed,
    /// Scaled to zero on purpose.
    Stopped,
}

impl ServerPhase {
    pub const ALL: [ServerPhase; 6] = [
        ServerPhase::Pending,
        ServerPhase::Waiting,
        ServerPhase::Ready,
        ServerPhase::Degraded,
        ServerPhase::Failed,
        ServerPhase::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServerPhase::Pending => "Pending",
            ServerPhase::Waiting => "Waiting",
            ServerPhase::Ready => "Ready",
            ServerPhase::Degraded => "Degraded",
            ServerPhase::Failed => "Failed",
            ServerPhase::Stopped => "Stopped",
        }
    }

    /// The status of the `Ready` condition: the server is what its spec asks, serving or scaled
    /// to zero on purpose (so kstatus reads a Stopped server as current).
    pub fn ready_condition(self) -> bool {
        matches!(self, ServerPhase::Ready | ServerPhase::Stopped)
    }

    /// kstatus' reading of the phase, as [`crate::AgentPhase::progress`].
    pub fn progress(self, reason: &str) -> Progress {
        use crate::conditions::reasons::ROLLOUT_FAILED;
        match self {
            ServerPhase::Failed => Progress::Stalled,
            ServerPhase::Degraded if reason == ROLLOUT_FAILED => Progress::Stalled,
            ServerPhase::Pending | ServerPhase::Waiting | ServerPhase::Degraded => Progress::Reconciling,
            ServerPhase::Ready if reason == crate::conditions::reasons::ROLLOUT_IN_PROGRESS => Progress::Reconciling,
            ServerPhase::Ready | ServerPhase::Stopped => Progress::Current,
        }
    }
}

impl std::fmt::Display for ServerPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AgentPhase;
    use crate::conditions::reasons;

    /// Agents and servers read alike: kstatus' `Stalled` exactly where the Argo CD health check
    /// says Degraded (docs/gitops), `Reconciling` where it says Progressing.
    #[test]
    fn kstatus_progress_follows_the_phase_and_the_deployment() {
        for (phase, reason, progress) in [
            (ServerPhase::Ready, reasons::READY, Progress::Current),
            (ServerPhase::Ready, reasons::ROLLOUT_IN_PROGRESS, Progress::Reconciling),
            (ServerPhase::Pending, reasons::PODS_STARTING, Progress::Reconciling),
            (ServerPhase::Waiting, reasons::CONFIG_MAP_NOT_FOUND, Progress::Reconciling),
            (ServerPhase::Degraded, reasons::PODS_NOT_READY, Progress::Reconciling),
            (ServerPhase::Degraded, "CrashLoopBackOff", Progress::Reconciling),
            (ServerPhase::Degraded, reasons::PODS_CANNOT_BE_CREATED, Progress::Reconciling),
            (ServerPhase::Degraded, reasons::ROLLOUT_FAILED, Progress::Stalled),
            (ServerPhase::Failed, "CrashLoopBackOff", Progress::Stalled),
            (ServerPhase::Stopped, reasons::STOPPED, Progress::Current),
        ] {
            assert_eq!(phase.progress(reason), progress, "{phase} {reason}");
            let agent = AgentPhase::ALL.into_iter().find(|a| a.as_str() == phase.as_str()).unwrap();
            assert_eq!(agent.progress(reason), progress, "Agent {phase} {reason}");
        }
        let ready: Vec<&str> =
            ServerPhase::ALL.into_iter().filter(|p| p.ready_condition()).map(|p| p.as_str()).collect();
        assert_eq!(ready, ["Ready", "Stopped"]);
    }
}

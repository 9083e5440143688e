//! The phase of the kinds that run a server for Agents (ModelAPI, MCPServer).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
}

impl std::fmt::Display for ServerPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

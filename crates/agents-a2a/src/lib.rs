//! The A2A (Agent2Agent) wire format: what `agents-runtime` serves, what it sends its peers, and
//! what `kubectl agents invoke` sends an agent. No I/O.
//!
//! Two protocol versions are spoken, chosen by the JSON-RPC method name: 1.0 (`SendMessage`,
//! `SendStreamingMessage`, `GetTask`, `CancelTask`; enums such as `TASK_STATE_COMPLETED`, results
//! wrapped as `{"task": …}`) and 0.3 (`message/send`, `message/stream`, `tasks/get`,
//! `tasks/cancel`; `kind` discriminators, lower-case enums), which AgentWorkflow steps send.
//! Decoding accepts either form; encoding writes the form of the version asked for.

pub mod card;
pub mod jsonrpc;
pub mod sse;
mod types;
mod version;

pub use types::{
    Artifact, ArtifactUpdate, Event, Message, Part, Role, SendParams, StatusUpdate, Task, TaskState, TaskStatus,
};
pub use version::{Operation, Version};

/// Where an agent serves its card, relative to its base URL.
pub const AGENT_CARD_PATH: &str = "/.well-known/agent-card.json";

/// The header a 1.0 client names its version in (a request without it is 0.3).
pub const VERSION_HEADER: &str = "A2A-Version";

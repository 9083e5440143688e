//! The model: a conversation in OpenAI's Chat Completions shape, and the one call the agentic
//! loop makes. [`chat::ChatClient`] makes it over HTTP; tests script it.

pub mod chat;

use std::future::Future;

use serde::Serialize;
use serde_json::Value;

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    System {
        content: String,
    },
    User {
        content: String,
    },
    Assistant {
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

/// A function the model asked to call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: JSON text, not yet checked.
    pub arguments: String,
}

impl Serialize for ToolCall {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        })
        .serialize(serializer)
    }
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The function name the model calls (`^[a-zA-Z0-9_-]{1,64}$`).
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

/// What the model answered in one turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Turn {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Why a model call failed. Messages never hold the API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the model endpoint {url} could not be reached: {why}")]
    Unreachable { url: String, why: String },
    #[error("the model endpoint answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the model's answer could not be read: {0}")]
    Malformed(String),
    #[error("the model did not answer within {0} seconds")]
    Timeout(u64),
}

/// One model call: the conversation and the tools on offer in, the turn out. Text is passed to
/// `on_text` as it arrives.
pub trait Model: Send + Sync {
    fn complete(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> impl Future<Output = Result<Turn, ModelError>> + Send;
}

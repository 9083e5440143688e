//! Peer agents as tools: the model asks a peer by calling `ask_<peer>`, which sends the peer an
//! A2A message (the version its card prefers) and returns its answer.

use std::time::Duration;

use agents_a2a::card::AgentCard;
use agents_a2a::{Event, Message, Operation, Role, TaskState, jsonrpc};
use serde_json::json;
use tokio::sync::Mutex;

use super::{ToolError, function_name};
use crate::model::ToolSpec;

/// How long a peer may take to answer (it runs its own loop, with its own model).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Peer {
    pub name: String,
    card_url: String,
    http: reqwest::Client,
    /// Read on first use and kept: where to send messages.
    card: Mutex<Option<AgentCard>>,
}

impl Peer {
    pub fn new(name: String, card_url: String, http: reqwest::Client) -> Self {
        Peer { name, card_url, http, card: Mutex::new(None) }
    }

    pub fn tool_name(&self) -> String {
        function_name(&format!("ask_{}", self.name))
    }

    pub fn spec(&self) -> ToolSpec {
        let described = self.card.try_lock().ok().and_then(|c| c.as_ref().map(|c| c.description.clone()));
        let about = described.filter(|d| !d.is_empty()).map(|d| format!(" It says of itself: {d}")).unwrap_or_default();
        ToolSpec {
            name: self.tool_name(),
            description: format!(
                "Delegate to the peer agent {}: send it a message and get its answer.{about}",
                self.name
            ),
            parameters: json!({
                "type": "object",
                "properties": {"message": {"type": "string", "description": "What to ask the peer, with all the context it needs"}},
                "required": ["message"],
            }),
        }
    }

    /// Sends `message` and waits for the answer.
    pub async fn ask(&self, message: &str) -> Result<String, ToolError> {
        let failed = |why: String| ToolError::Peer { peer: self.name.clone(), why };
        let card = self.card().await.map_err(failed)?;
        let (url, version) = card.endpoint().ok_or_else(|| {
            failed(format!("its card at {} names no JSON-RPC interface of A2A 1.0 or 0.3", self.card_url))
        })?;
        let id = uuid::Uuid::new_v4().to_string();
        let question = Message::new(Role::User, uuid::Uuid::new_v4().to_string(), message);
        let body = jsonrpc::call(&id, Operation::Send.method(version), json!({"message": question.encode(version)}));
        let response = self
            .http
            .post(url)
            .header(agents_a2a::VERSION_HEADER, version.as_str())
            .header("content-type", "application/json")
            .body(body.to_string())
            .timeout(ANSWER_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(format!("could not reach {url}: {}", error_chain(&e))))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| failed(format!("the answer broke off: {e}")))?;
        if !status.is_success() {
            return Err(failed(format!("{url} answered HTTP {status}")));
        }
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| failed(format!("the answer is not JSON: {e}")))?;
        let result = jsonrpc::read_response(value).map_err(|e| failed(e.to_string()))?;
        match Event::decode(result).map_err(|e| failed(e.to_string()))? {
            Event::Message(message) => Ok(message.text()),
            Event::Task(task) if task.status.state == TaskState::Completed => Ok(task.answer()),
            Event::Task(task) => {
                Err(failed(format!("its task ended {}: {}", task.status.state.short_name(), task.answer())))
            }
            Event::Status(_) | Event::Artifact(_) => Err(failed("it answered with a stream event, not a task".into())),
        }
    }

    async fn card(&self) -> Result<AgentCard, String> {
        let mut cached = self.card.lock().await;
        if let Some(card) = cached.as_ref() {
            return Ok(card.clone());
        }
        let response = self
            .http
            .get(&self.card_url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("could not read its agent card at {}: {}", self.card_url, error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("its agent card at {} answered HTTP {}", self.card_url, response.status()));
        }
        let bytes =
            response.bytes().await.map_err(|e| format!("its agent card at {} broke off: {e}", self.card_url))?;
        let card: AgentCard = serde_json::from_slice(&bytes)
            .map_err(|e| format!("its agent card at {} is not an A2A agent card: {e}", self.card_url))?;
        *cached = Some(card.clone());
        Ok(card)
    }
}

/// An error with its causes, which is where reqwest says what went wrong ("connection refused").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

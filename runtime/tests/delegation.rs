//! Delegation through the real toolbox: the model calls `ask_writer`, the runtime reads the
//! peer's card and sends it an A2A message over HTTP, and the peer's answer goes back to the
//! model. The peer is a small A2A server on loopback.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use agents_a2a::card::AgentCard;
use agents_runtime::agentic_loop::{self, Failure};
use agents_runtime::metrics::Metrics;
use agents_runtime::model::{ChatMessage, Model, ModelError, ToolCall, ToolSpec, Turn};
use agents_runtime::tools::peers::Peer;
use agents_runtime::tools::{ToolError, Toolbox};
use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

/// A peer that answers every message with `writer: <text>`, or fails when told to.
async fn start_peer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let card = AgentCard::served("writer", "Writes things nicely", "1", &base, vec![]);
    let app = Router::new().route("/.well-known/agent-card.json", get(move || async move { axum::Json(card) })).route(
        "/",
        post(|body: String| async move {
            let request: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(request["method"], "SendMessage", "the card prefers 1.0");
            let text = request["params"]["message"]["parts"][0]["text"].as_str().unwrap().to_string();
            let (state, artifacts, status_message) = if text.contains("fail") {
                (
                    "TASK_STATE_FAILED",
                    json!([]),
                    json!({"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "out of ink"}]}),
                )
            } else {
                (
                    "TASK_STATE_COMPLETED",
                    json!([{"artifactId": "a", "parts": [{"text": format!("writer: {text}")}]}]),
                    Value::Null,
                )
            };
            let mut status = json!({"state": state});
            if !status_message.is_null() {
                status["message"] = status_message;
            }
            axum::Json(json!({"jsonrpc": "2.0", "id": request["id"], "result": {"task": {
                    "id": "t", "contextId": "c", "status": status, "artifacts": artifacts}}}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("{base}.well-known/agent-card.json")
}

/// Calls `ask_writer` once with `message`, then answers with what the tool returned.
struct Delegating {
    message: &'static str,
    turns: Mutex<VecDeque<()>>,
}

impl Model for Delegating {
    async fn complete(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        _on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Turn, ModelError> {
        if self.turns.lock().unwrap().pop_front().is_some() {
            assert!(tools.iter().any(|t| t.name == "ask_writer"), "the peer is offered as a tool: {tools:?}");
            let arguments = json!({"message": self.message}).to_string();
            let call = ToolCall { id: "c1".into(), name: "ask_writer".into(), arguments };
            return Ok(Turn { tool_calls: vec![call], ..Default::default() });
        }
        let Some(ChatMessage::Tool { content, .. }) = messages.last() else { panic!("no tool result: {messages:?}") };
        Ok(Turn { content: Some(format!("The writer said: {content}")), ..Default::default() })
    }
}

fn toolbox(card_url: String, metrics: &Metrics) -> Toolbox {
    let http = agents_runtime::http_client().unwrap();
    Toolbox {
        servers: vec![],
        peers: vec![Arc::new(Peer::new("writer".into(), card_url, http))],
        metrics: metrics.clone(),
    }
}

#[tokio::test]
async fn a_delegation_brings_the_peers_answer_back_to_the_model() {
    let metrics = Metrics::new();
    let tools = toolbox(start_peer().await, &metrics);
    let model = Delegating { message: "say hi", turns: Mutex::new([()].into()) };
    let outcome = agentic_loop::run(&model, &tools, None, &[], "Greet", 3, &mut |_| {}).await.unwrap();
    assert_eq!(outcome.answer, "The writer said: writer: say hi");
    assert!(metrics.render().contains(r#"agent_delegations_total{peer="writer",status="success"} 1"#));
}

#[tokio::test]
async fn a_peer_that_fails_fails_the_task_with_its_reason() {
    let metrics = Metrics::new();
    let tools = toolbox(start_peer().await, &metrics);
    let model = Delegating { message: "please fail", turns: Mutex::new([()].into()) };
    let failure = agentic_loop::run(&model, &tools, None, &[], "Greet", 3, &mut |_| {}).await.unwrap_err();
    let Failure::Tool(ToolError::Peer { peer, why }) = &failure else { panic!("{failure:?}") };
    assert_eq!(peer, "writer");
    assert!(why.contains("its task ended failed: out of ink"), "{why}");
    assert!(metrics.render().contains(r#"agent_delegations_total{peer="writer",status="error"} 1"#));
}

#[tokio::test]
async fn a_peer_that_cannot_be_reached_says_where_it_was_looked_for() {
    let metrics = Metrics::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tools = toolbox(format!("http://127.0.0.1:{port}/.well-known/agent-card.json"), &metrics);
    let model = Delegating { message: "hi", turns: Mutex::new([()].into()) };
    let failure = agentic_loop::run(&model, &tools, None, &[], "Greet", 3, &mut |_| {}).await.unwrap_err();
    let message = failure.to_string();
    assert!(
        message.starts_with("peer agent writer could not answer: could not read its agent card at http://127.0.0.1:"),
        "{message}"
    );
}

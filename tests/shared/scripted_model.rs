//! A scripted OpenAI-compatible Chat Completions server on loopback, for the runtime's tests and
//! benchmark: a script decides each turn from the request (answer text, or tool calls), answers
//! streamed (`stream: true`: chunks, the usage, `[DONE]`) or whole, and every request is kept
//! for the test to check what the agent sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What the model says in one turn.
#[derive(Debug, Clone)]
pub enum Reply {
    Text(String),
    /// Tool calls: (function name, JSON arguments).
    Calls(Vec<(String, Value)>),
    /// An error answer: HTTP status and message.
    Error(u16, String),
}

/// Tokens every turn reports (prompt, completion).
pub const USAGE: (u64, u64) = (21, 8);

type Script = dyn Fn(&Value) -> Reply + Send + Sync;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
    latency: Duration,
    /// Told how long each request took the server, from its arrival to its answer.
    on_served: Arc<dyn Fn(Duration) + Send + Sync>,
}

pub struct ScriptedModel {
    pub address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedModel {
    /// Serves on `127.0.0.1` (a free port). `latency` is waited before each answer, as a real
    /// model takes time (the benchmark subtracts it).
    pub async fn start(
        script: impl Fn(&Value) -> Reply + Send + Sync + 'static,
        latency: Duration,
    ) -> anyhow::Result<ScriptedModel> {
        Self::start_timed(script, latency, |_| {}).await
    }

    /// [`start`](Self::start), telling `on_served` the time the server spent on each request.
    pub async fn start_timed(
        script: impl Fn(&Value) -> Reply + Send + Sync + 'static,
        latency: Duration,
        on_served: impl Fn(Duration) + Send + Sync + 'static,
    ) -> anyhow::Result<ScriptedModel> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared { script: Arc::new(script), seen: seen.clone(), latency, on_served: Arc::new(on_served) };
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/chat/completions", post(complete))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ScriptedModel { address, seen, task })
    }

    /// The base URL an Agent's ModelAPI (or `MODEL_API_URL`) names.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ScriptedModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The last message of a request (what the script usually decides on).
pub fn last_message(request: &Value) -> &Value {
    request["messages"].as_array().and_then(|m| m.last()).unwrap_or(&Value::Null)
}

/// The names of the tools a request offers.
pub fn tool_names(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .map(|tools| tools.iter().filter_map(|t| t["function"]["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

async fn complete(State(shared): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let started = std::time::Instant::now();
    let response = answer(&shared, headers, body).await;
    (shared.on_served)(started.elapsed());
    response
}

async fn answer(shared: &Shared, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    shared.seen.lock().unwrap().push(Seen { authorization, body: request.clone() });
    let reply = (shared.script)(&request);
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let model = request["model"].as_str().unwrap_or("scripted").to_string();
    let usage = json!({"prompt_tokens": USAGE.0, "completion_tokens": USAGE.1, "total_tokens": USAGE.0 + USAGE.1});
    let message = match &reply {
        Reply::Error(status, message) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, json!({"error": {"message": message, "type": "scripted"}}).to_string()).into_response();
        }
        Reply::Text(text) => json!({"role": "assistant", "content": text}),
        Reply::Calls(calls) => {
            json!({"role": "assistant", "content": null, "tool_calls": calls.iter().enumerate().map(|(i, (name, args))| json!({
            "index": i, "id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": args.to_string()},
        })).collect::<Vec<_>>()})
        }
    };
    if request["stream"] != json!(true) {
        let body = json!({"id": "chatcmpl-1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage});
        return ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    }
    let chunk = |delta: Value| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": delta}]});
    let mut events = vec![chunk(json!({"role": "assistant"}))];
    match &reply {
        Reply::Text(text) => {
            // A few characters a chunk, as models stream.
            let characters: Vec<char> = text.chars().collect();
            events
                .extend(characters.chunks(6).map(|piece| chunk(json!({"content": piece.iter().collect::<String>()}))));
        }
        Reply::Calls(calls) => {
            for (i, (name, args)) in calls.iter().enumerate() {
                let args = args.to_string();
                let (first, rest) = args.split_at(args.len() / 2);
                events.push(chunk(json!({"tool_calls": [{"index": i, "id": format!("call_{i}"), "type": "function",
                    "function": {"name": name, "arguments": first}}]})));
                events.push(chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": rest}}]})));
            }
        }
        Reply::Error(..) => unreachable!("answered above"),
    }
    events.push(
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage}),
    );
    let mut stream: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    stream.push_str("data: [DONE]\n\n");
    ([(header::CONTENT_TYPE, "text/event-stream")], stream).into_response()
}

//! A scripted OpenAI-compatible Chat Completions server on loopback, standing in for a model so
//! the runtime's tests, its benchmark and the demo need no provider and no network: a script
//! decides each turn from the request (answer text, or tool calls), the answer is streamed
//! (`stream: true`: chunks, the usage, `[DONE]`) or whole, and every request is kept for a test
//! to check what the agent sent.

mod demo;
mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;

use crate::Error;

pub use demo::{DEMO_ADDRESS, demo_reply};

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

/// The running server; it stops when dropped.
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
    ) -> Result<ScriptedModel, Error> {
        Self::start_timed(script, latency, |_| {}).await
    }

    /// [`start`](Self::start), telling `on_served` the time the server spent on each request.
    pub async fn start_timed(
        script: impl Fn(&Value) -> Reply + Send + Sync + 'static,
        latency: Duration,
        on_served: impl Fn(Duration) + Send + Sync + 'static,
    ) -> Result<ScriptedModel, Error> {
        Self::serve(([127, 0, 0, 1], 0).into(), script, latency, on_served).await
    }

    /// [`start`](Self::start) on a given address: the demo's model must be where the applied
    /// ModelAPI says it is. Like every scripted model it keeps each request it is sent (see
    /// [`seen`](Self::seen)): it is made for tests and demos, not to run for weeks.
    pub async fn start_on(
        address: SocketAddr,
        script: impl Fn(&Value) -> Reply + Send + Sync + 'static,
        latency: Duration,
    ) -> Result<ScriptedModel, Error> {
        Self::serve(address, script, latency, |_| {}).await
    }

    async fn serve(
        address: SocketAddr,
        script: impl Fn(&Value) -> Reply + Send + Sync + 'static,
        latency: Duration,
        on_served: impl Fn(Duration) + Send + Sync + 'static,
    ) -> Result<ScriptedModel, Error> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared { script: Arc::new(script), seen: seen.clone(), latency, on_served: Arc::new(on_served) };
        // Both forms a client may build from the base URL: `…/v1` + `/chat/completions`, or a bare host.
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/chat/completions", post(complete))
            .with_state(shared);
        let listen = |source| Error::Listen { address: address.to_string(), source };
        let listener = tokio::net::TcpListener::bind(address).await.map_err(listen)?;
        let address = listener.local_addr().map_err(listen)?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ScriptedModel { address, seen, task })
    }

    /// The base URL an Agent's ModelAPI (or `MODEL_API_URL`) names.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for ScriptedModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The last message of a request (what a script usually decides on).
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
    let started = Instant::now();
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    shared.seen.lock().unwrap_or_else(PoisonError::into_inner).push(Seen { authorization, body: request.clone() });
    let reply = (shared.script)(&request);
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let response = wire::response(&request, &reply);
    (shared.on_served)(started.elapsed());
    response
}

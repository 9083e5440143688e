//! The HTTP surface on `AGENT_PORT`: the agent card, A2A JSON-RPC (1.0 and 0.3, chosen by the
//! method name), `/health`, `/metrics`, and the conversations read-only when asked for.

use std::sync::Arc;

use agents_a2a::card::{self, AgentCard};
use agents_a2a::jsonrpc::{self, Request, RpcError};
use agents_a2a::{AGENT_CARD_PATH, Event, Message, Operation, Role, SendParams, TaskState, VERSION_HEADER, Version};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio_util::task::TaskTracker;

use crate::agent::Agent;
use crate::metrics::Metrics;
use crate::model::Model;
use crate::tools::Tools;

pub struct App<M, T> {
    pub agent: Agent<M, T>,
    pub metrics: Metrics,
    /// Tasks that outlive their request (a stream whose client went away): shutdown waits for them.
    pub tracker: TaskTracker,
}

pub fn router<M: Model + 'static, T: Tools + 'static>(app: Arc<App<M, T>>) -> Router {
    let mut router = Router::new()
        .route("/", post(rpc::<M, T>))
        .route(AGENT_CARD_PATH, get(agent_card::<M, T>))
        // The path of A2A 0.2, which some clients still read.
        .route("/.well-known/agent.json", get(agent_card::<M, T>))
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics::<M, T>));
    if app.agent.config.memory.debug_endpoints {
        router = router.route("/memory", get(contexts::<M, T>)).route("/memory/{context}", get(conversation::<M, T>));
    }
    router.with_state(app)
}

/// The card, naming the URL the caller reached it at (through a Service, a port-forward or an
/// ingress alike), else the agent's in-cluster Service.
async fn agent_card<M: Model, T: Tools>(State(app): State<Arc<App<M, T>>>, headers: HeaderMap) -> Response {
    let config = &app.agent.config;
    let text = |name: &header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
    let scheme = text(&header::HeaderName::from_static("x-forwarded-proto")).unwrap_or("http");
    let url = match text(&header::HOST) {
        Some(host) => format!("{scheme}://{host}/"),
        None => {
            format!("http://{}.{}.svc.cluster.local/", config.name, config.namespace.as_deref().unwrap_or("default"))
        }
    };
    let description = config.description.clone().unwrap_or_else(|| format!("The agent {}", config.name));
    let card = AgentCard::served(&config.name, &description, env!("CARGO_PKG_VERSION"), &url, config.skills.clone());
    axum::Json(card).into_response()
}

async fn metrics<M: Model, T: Tools>(State(app): State<Arc<App<M, T>>>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], app.metrics.render())
        .into_response()
}

async fn contexts<M: Model, T: Tools>(State(app): State<Arc<App<M, T>>>) -> Response {
    let contexts: Vec<Value> =
        app.agent.contexts().into_iter().map(|(id, messages)| json!({"contextId": id, "messages": messages})).collect();
    axum::Json(json!({"contexts": contexts})).into_response()
}

async fn conversation<M: Model, T: Tools>(State(app): State<Arc<App<M, T>>>, Path(context): Path<String>) -> Response {
    let messages = app.agent.conversation(&context);
    if messages.is_empty() {
        return (StatusCode::NOT_FOUND, format!("no conversation has contextId {context:?}\n")).into_response();
    }
    axum::Json(json!({"contextId": context, "messages": messages})).into_response()
}

/// One JSON-RPC call. Errors are JSON-RPC errors with HTTP 200, as A2A's SDKs send them.
async fn rpc<M: Model + 'static, T: Tools + 'static>(
    State(app): State<Arc<App<M, T>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match Request::parse(&body) {
        Ok(request) => request,
        Err((id, error)) => {
            app.metrics.a2a_request("invalid", false);
            return json_response(jsonrpc::error(&id, &error, Version::V1_0));
        }
    };
    let Some((operation, version)) = Operation::from_method(&request.method) else {
        app.metrics.a2a_request("unknown", false);
        let error = RpcError::new(
            jsonrpc::METHOD_NOT_FOUND,
            format!(
                "method {:?} is not served: this agent serves SendMessage, SendStreamingMessage, GetTask, CancelTask (A2A 1.0) \
                 and message/send, message/stream, tasks/get, tasks/cancel (A2A 0.3)",
                request.method
            ),
        );
        return json_response(jsonrpc::error(&request.id, &error, Version::V1_0));
    };
    let asked = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty());
    if let Some(asked) = asked.filter(|v| card::parse_version(v).is_none()) {
        app.metrics.a2a_request(operation.name(), false);
        let error = RpcError::new(
            jsonrpc::VERSION_NOT_SUPPORTED,
            format!("A2A version {asked:?} is not supported: this agent serves 1.0 and 0.3"),
        );
        return json_response(jsonrpc::error(&request.id, &error, version));
    }
    let response = match operation {
        Operation::Stream => match send_params(&request) {
            Ok(params) => {
                app.metrics.a2a_request(operation.name(), true);
                return stream(app, request.id, version, params.message);
            }
            Err(error) => Err(error),
        },
        Operation::Send => match send_params(&request) {
            Ok(params) => Ok(send(&app, version, params).await),
            Err(error) => Err(error),
        },
        Operation::GetTask => get_task(&app, &request, version),
        Operation::CancelTask => cancel_task(&app, &request),
    };
    app.metrics.a2a_request(operation.name(), response.is_ok());
    json_response(match response {
        Ok(result) => jsonrpc::result(&request.id, result),
        Err(error) => jsonrpc::error(&request.id, &error, version),
    })
}

/// A send's params, with a message that says something: this agent reads text (and data parts).
fn send_params(request: &Request) -> Result<SendParams, RpcError> {
    let params: SendParams = params(request)?;
    if params.message.text().trim().is_empty() {
        return Err(RpcError::new(
            jsonrpc::INVALID_PARAMS,
            "the message has no text: this agent reads text and data parts, and these are empty or of another kind",
        ));
    }
    Ok(params)
}

fn params<P: serde::de::DeserializeOwned>(request: &Request) -> Result<P, RpcError> {
    serde_json::from_value(request.params.clone()).map_err(|e| {
        RpcError::new(jsonrpc::INVALID_PARAMS, format!("the params of {} cannot be read: {e}", request.method))
    })
}

/// A send waits for the task to finish. 1.0 returns the task; 0.3 returns the answer as a
/// Message (what AgentWorkflow steps read: `result.parts[0].text`), or the task if it failed.
async fn send<M: Model, T: Tools>(app: &App<M, T>, version: Version, params: SendParams) -> Value {
    let started = std::time::Instant::now();
    let task = app.agent.answer(params.message, &mut |_| {}).await;
    app.metrics.task(task.status.state == TaskState::Completed, started.elapsed());
    if version == Version::V0_3 && task.status.state == TaskState::Completed {
        let mut answer = Message::new(Role::Agent, crate::agent::new_id(), task.answer());
        answer.context_id = Some(task.context_id.clone());
        answer.task_id = Some(task.id.clone());
        return Event::Message(answer).encode(version);
    }
    match version {
        Version::V1_0 => json!({"task": task.encode(version, params.configuration.history_length)}),
        Version::V0_3 => task.encode(version, params.configuration.history_length),
    }
}

/// The task's events as server-sent events, the task first, until it ends. The task runs on
/// its own: a client that goes away does not stop it, and `GetTask` shows how it ended.
fn stream<M: Model + 'static, T: Tools + 'static>(
    app: Arc<App<M, T>>,
    id: Value,
    version: Version,
    message: Message,
) -> Response {
    // Unbounded: the events of one task are bounded by what its model writes.
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let tracker = app.tracker.clone();
    tracker.spawn(async move {
        let started = std::time::Instant::now();
        let task = app
            .agent
            .answer(message, &mut |event| {
                let frame = agents_a2a::sse::frame(&jsonrpc::result(&id, event.encode(version)).to_string());
                // A closed channel means the client left; the task still finishes.
                let _ = sender.send(Bytes::from(frame));
            })
            .await;
        app.metrics.task(task.status.state == TaskState::Completed, started.elapsed());
    });
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|frame| (Ok::<_, std::convert::Infallible>(frame), receiver))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(frames))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn task_id(request: &Request) -> Result<String, RpcError> {
    request.params.get("id").and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
        RpcError::new(jsonrpc::INVALID_PARAMS, format!("{} needs params.id, the id of the task", request.method))
    })
}

fn get_task<M: Model, T: Tools>(app: &App<M, T>, request: &Request, version: Version) -> Result<Value, RpcError> {
    let id = task_id(request)?;
    let history_length = request.params.get("historyLength").and_then(Value::as_u64).map(|n| n as usize);
    let task = app.agent.task(&id).ok_or_else(|| not_found(&id))?;
    Ok(task.encode(version, history_length))
}

/// Tasks run to their end: a finished one cannot be canceled, a running one is not either.
fn cancel_task<M: Model, T: Tools>(app: &App<M, T>, request: &Request) -> Result<Value, RpcError> {
    let id = task_id(request)?;
    let task = app.agent.task(&id).ok_or_else(|| not_found(&id))?;
    let why = if task.status.state.is_terminal() {
        format!("task {id} has already ended ({})", task.status.state.short_name())
    } else {
        format!("task {id} is running, and this agent's tasks run to their end")
    };
    Err(RpcError::new(jsonrpc::TASK_NOT_CANCELABLE, why))
}

fn not_found(id: &str) -> RpcError {
    RpcError::new(
        jsonrpc::TASK_NOT_FOUND,
        format!("no task {id:?}: it never existed here, ran on another replica, or is older than the tasks kept"),
    )
}

fn json_response(body: Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

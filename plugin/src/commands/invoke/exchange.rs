//! One A2A exchange over a [`Channel`]: the agent card, then a message sent (streamed when the
//! agent streams) and its events read until the task ends. The version spoken is the one the
//! card prefers: 1.0, else 0.3.

use agents_a2a::card::AgentCard;
use agents_a2a::{AGENT_CARD_PATH, Event, Message, Operation, Role, TaskState, VERSION_HEADER, Version, jsonrpc, sse};
use futures::StreamExt;
use http::Method;
use serde_json::{Value, json};

use super::channel::Channel;
use crate::error::Explained;

/// Reads the agent's card; an agent without one does not speak A2A.
pub async fn card(channel: &mut Channel, agent: &str) -> anyhow::Result<AgentCard> {
    let response = channel.request(Method::GET, AGENT_CARD_PATH, &[("accept", "application/json")], vec![]).await?;
    let status = response.status;
    let body = response.bytes().await?;
    let not_a2a = |why: String| {
        Explained(format!(
            "agent/{agent} does not speak A2A: {why}. Its image must serve the agent contract (docs/agent-contract.md); agents without an image run the reference runtime, which does"
        ))
    };
    if !status.is_success() {
        // Through the service proxy, the API server answers for itself when it cannot reach
        // the agent (no endpoints, refused addresses): its Status says why.
        if let Some(refusal) = api_server_status(&body) {
            return Err(Explained(format!(
                "the API server could not reach agent/{agent} through {}: {refusal}",
                channel.target
            ))
            .into());
        }
        return Err(not_a2a(format!("{} answered HTTP {status} for {AGENT_CARD_PATH}", channel.target)).into());
    }
    serde_json::from_slice(&body).map_err(|e| {
        not_a2a(format!("what {} serves at {AGENT_CARD_PATH} is not an agent card ({e})", channel.target)).into()
    })
}

/// The message of a Kubernetes `Status` object, if `body` is one.
fn api_server_status(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    (value["kind"] == "Status").then(|| value["message"].as_str().unwrap_or("no message").to_string())
}

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub state: TaskState,
    pub context_id: Option<String>,
    pub task_id: Option<String>,
    /// The answer's text.
    pub answer: String,
    /// What the agent said of its state (why it failed, what input it needs).
    pub note: Option<String>,
    /// The last result as the agent sent it (for `-o json|yaml`).
    pub result: Value,
}

/// Follows a task through its events.
#[derive(Debug, Default)]
pub struct Tracker {
    state: Option<TaskState>,
    context_id: Option<String>,
    task_id: Option<String>,
    answer: String,
    note: Option<String>,
    result: Value,
}

impl Tracker {
    pub fn see(&mut self, event: &Event, result: &Value) {
        self.result = result.clone();
        match event {
            Event::Task(task) => {
                self.task_id = Some(task.id.clone());
                self.context_id = Some(task.context_id.clone()).filter(|c| !c.is_empty());
                self.state = Some(task.status.state);
                self.note = task.status.message.as_ref().map(Message::text);
                if !task.artifacts.is_empty() {
                    self.answer = task.answer();
                }
            }
            Event::Message(message) => {
                self.state = Some(TaskState::Completed);
                self.context_id = message.context_id.clone().or(self.context_id.take());
                self.task_id = message.task_id.clone().or(self.task_id.take());
                self.answer = message.text();
            }
            Event::Status(update) => {
                self.task_id = Some(update.task_id.clone());
                self.context_id = Some(update.context_id.clone());
                self.state = Some(update.status.state);
                self.note = update.status.message.as_ref().map(Message::text);
            }
            Event::Artifact(update) => {
                if !update.append {
                    self.answer.clear();
                }
                self.answer.push_str(&update.artifact.text());
            }
        }
    }

    fn finish(self) -> Finished {
        Finished {
            // A stream that ended without a final state ended early.
            state: self
                .state
                .filter(|s| s.is_terminal() || matches!(s, TaskState::InputRequired | TaskState::AuthRequired))
                .unwrap_or(TaskState::Unspecified),
            context_id: self.context_id,
            task_id: self.task_id,
            answer: self.answer,
            note: self.note,
            result: self.result,
        }
    }
}

/// Sends `text` (in the conversation `context_id`, if given) and follows the answer; each event
/// is handed to `on_event` as it arrives.
pub async fn send(
    channel: &mut Channel,
    card: &AgentCard,
    text: &str,
    context_id: Option<&str>,
    stream: bool,
    on_event: &mut dyn FnMut(&Event),
) -> anyhow::Result<Finished> {
    let (url, version) = card.endpoint().ok_or_else(|| {
        Explained(format!("agent {:?} names no JSON-RPC interface of A2A 1.0 or 0.3 in its card", card.name))
    })?;
    let stream = stream && card.capabilities.streaming;
    let path = path_of(url);
    let mut message = Message::new(Role::User, uuid(), text);
    message.context_id = context_id.map(str::to_string);
    let operation = if stream { Operation::Stream } else { Operation::Send };
    let body = jsonrpc::call(&uuid(), operation.method(version), json!({"message": message.encode(version)}));
    let accept = if stream { "text/event-stream" } else { "application/json" };
    let headers = [("content-type", "application/json"), ("accept", accept), (VERSION_HEADER, version.as_str())];
    let response = channel.request(Method::POST, &path, &headers, body.to_string().into_bytes()).await?;
    if !response.status.is_success() {
        let status = response.status;
        let body = response.bytes().await.unwrap_or_default();
        return Err(Explained(format!(
            "the agent answered HTTP {status}: {}",
            String::from_utf8_lossy(&body).trim().chars().take(300).collect::<String>()
        ))
        .into());
    }
    let mut tracker = Tracker::default();
    if response.is_event_stream() {
        let mut decoder = sse::Decoder::default();
        let mut body = response.body;
        while let Some(chunk) = body.next().await {
            for event in decoder.push(&chunk?) {
                read_result(&event.data, version, &mut tracker, on_event)?;
            }
        }
        if let Some(event) = decoder.finish() {
            read_result(&event.data, version, &mut tracker, on_event)?;
        }
    } else {
        let body = response.bytes().await?;
        read_result(&String::from_utf8_lossy(&body), version, &mut tracker, on_event)?;
    }
    Ok(tracker.finish())
}

fn read_result(
    data: &str,
    version: Version,
    tracker: &mut Tracker,
    on_event: &mut dyn FnMut(&Event),
) -> anyhow::Result<()> {
    let value: Value = serde_json::from_str(data).map_err(|e| {
        Explained(format!("the agent's answer is not JSON ({e}): {}", data.chars().take(200).collect::<String>()))
    })?;
    let result = jsonrpc::read_response(value).map_err(|e| Explained(format!("{e} (A2A {version})")))?;
    let event = Event::decode(result.clone()).map_err(|e| Explained(format!("the agent's answer is not A2A: {e}")))?;
    on_event(&event);
    tracker.see(&event, &result);
    Ok(())
}

/// The path of an interface URL (`http://host:8000/a2a` → `/a2a`); the request goes through our
/// channel, not to the host the card names.
fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..].to_string(),
        None => "/".into(),
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use agents_a2a::{Task, TaskStatus};

    use super::super::events::{chunk, status};
    use super::*;

    #[test]
    fn the_api_servers_own_refusals_are_told_apart() {
        let refusal = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"http:a:http\"","code":503}"#;
        assert_eq!(api_server_status(refusal).as_deref(), Some(r#"no endpoints available for service "http:a:http""#));
        assert_eq!(api_server_status(b"404 page not found"), None);
        assert_eq!(api_server_status(br#"{"error":"x"}"#), None);
    }

    #[test]
    fn interface_urls_give_their_path() {
        assert_eq!(path_of("http://research.team-a.svc.cluster.local/"), "/");
        assert_eq!(path_of("http://127.0.0.1:8000/a2a/v1"), "/a2a/v1");
        assert_eq!(path_of("http://host"), "/");
    }

    #[test]
    fn a_stream_is_followed_to_its_answer() {
        let mut tracker = Tracker::default();
        let task = Task {
            id: "t".into(),
            context_id: "c".into(),
            status: TaskStatus { state: TaskState::Submitted, message: None, timestamp: None },
            artifacts: vec![],
            history: vec![],
        };
        for event in [
            Event::Task(task),
            status(TaskState::Working, None),
            chunk("Let me check.", false),
            status(TaskState::Working, Some("calling lookup")),
            chunk("X is 42.", false),
            chunk("", true),
            status(TaskState::Completed, None),
        ] {
            tracker.see(&event, &Value::Null);
        }
        let finished = tracker.finish();
        assert_eq!(finished.state, TaskState::Completed);
        assert_eq!(finished.answer, "X is 42.");
        assert_eq!((finished.context_id.as_deref(), finished.task_id.as_deref()), (Some("c"), Some("t")));
    }

    #[test]
    fn a_failure_keeps_its_reason_and_an_unfinished_stream_has_no_state() {
        let mut tracker = Tracker::default();
        tracker.see(&status(TaskState::Failed, Some("the model endpoint answered 401")), &Value::Null);
        let finished = tracker.finish();
        assert_eq!(
            (finished.state, finished.note.as_deref()),
            (TaskState::Failed, Some("the model endpoint answered 401"))
        );
        let mut cut = Tracker::default();
        cut.see(&status(TaskState::Working, None), &Value::Null);
        assert_eq!(cut.finish().state, TaskState::Unspecified);
    }

    #[test]
    fn a_message_answer_completes_the_exchange() {
        let mut tracker = Tracker::default();
        let mut answer = Message::new(Role::Agent, "m", "done");
        answer.context_id = Some("c".into());
        tracker.see(&Event::Message(answer), &json!({"kind": "message"}));
        let finished = tracker.finish();
        assert_eq!((finished.state, finished.answer.as_str()), (TaskState::Completed, "done"));
        assert_eq!(finished.result["kind"], "message");
    }
}

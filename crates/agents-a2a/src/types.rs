//! Messages, tasks and stream events. Decoding accepts the 1.0 and the 0.3 form alike (the
//! enum spellings of both, `kind` ignored); [`encode`](Message::encode) writes one version's form.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Role {
    #[serde(rename = "ROLE_USER", alias = "user")]
    User,
    #[serde(rename = "ROLE_AGENT", alias = "agent")]
    Agent,
}

impl Role {
    fn encode(self, version: Version) -> &'static str {
        match (self, version) {
            (Role::User, Version::V1_0) => "ROLE_USER",
            (Role::Agent, Version::V1_0) => "ROLE_AGENT",
            (Role::User, Version::V0_3) => "user",
            (Role::Agent, Version::V0_3) => "agent",
        }
    }
}

/// A part of a message or an artifact: text, or structured data. Parts of other kinds (files)
/// are read as empty parts: this format carries conversations of text.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Part {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

impl Part {
    pub fn text(text: impl Into<String>) -> Self {
        Part { text: Some(text.into()), data: None }
    }

    fn encode(&self, version: Version) -> Value {
        let mut part = Map::new();
        let kind = match (&self.text, &self.data) {
            (Some(text), _) => {
                part.insert("text".into(), text.clone().into());
                "text"
            }
            (None, Some(data)) => {
                part.insert("data".into(), data.clone());
                "data"
            }
            (None, None) => {
                part.insert("text".into(), "".into());
                "text"
            }
        };
        if version == Version::V0_3 {
            part.insert("kind".into(), kind.into());
        }
        Value::Object(part)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub message_id: String,
    #[serde(default)]
    pub context_id: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Message {
    pub fn new(role: Role, message_id: impl Into<String>, text: impl Into<String>) -> Self {
        Message { message_id: message_id.into(), context_id: None, task_id: None, role, parts: vec![Part::text(text)] }
    }

    /// The text of every text part, joined by newlines; data parts as compact JSON.
    pub fn text(&self) -> String {
        parts_text(&self.parts)
    }

    pub fn encode(&self, version: Version) -> Value {
        let mut message = Map::new();
        if version == Version::V0_3 {
            message.insert("kind".into(), "message".into());
        }
        message.insert("messageId".into(), self.message_id.clone().into());
        insert_some(&mut message, "contextId", &self.context_id);
        insert_some(&mut message, "taskId", &self.task_id);
        message.insert("role".into(), self.role.encode(version).into());
        message.insert("parts".into(), self.parts.iter().map(|p| p.encode(version)).collect());
        Value::Object(message)
    }
}

fn parts_text(parts: &[Part]) -> String {
    let texts: Vec<String> =
        parts.iter().filter_map(|p| p.text.clone().or_else(|| p.data.as_ref().map(Value::to_string))).collect();
    texts.join("\n")
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(value) = value {
        map.insert(key.into(), value.clone().into());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TaskState {
    #[serde(rename = "TASK_STATE_SUBMITTED", alias = "submitted")]
    Submitted,
    #[serde(rename = "TASK_STATE_WORKING", alias = "working")]
    Working,
    #[serde(rename = "TASK_STATE_COMPLETED", alias = "completed")]
    Completed,
    #[serde(rename = "TASK_STATE_FAILED", alias = "failed")]
    Failed,
    #[serde(rename = "TASK_STATE_CANCELED", alias = "canceled")]
    Canceled,
    #[serde(rename = "TASK_STATE_REJECTED", alias = "rejected")]
    Rejected,
    #[serde(rename = "TASK_STATE_INPUT_REQUIRED", alias = "input-required")]
    InputRequired,
    #[serde(rename = "TASK_STATE_AUTH_REQUIRED", alias = "auth-required")]
    AuthRequired,
    #[serde(rename = "TASK_STATE_UNSPECIFIED", alias = "unknown")]
    Unspecified,
}

impl TaskState {
    /// Completed, failed, canceled or rejected: nothing more will happen to the task.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskState::Completed | TaskState::Failed | TaskState::Canceled | TaskState::Rejected)
    }

    /// The state's 0.3 name, which reads well in messages: `completed`, `input-required`.
    pub fn short_name(self) -> &'static str {
        match self {
            TaskState::Submitted => "submitted",
            TaskState::Working => "working",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
            TaskState::Rejected => "rejected",
            TaskState::InputRequired => "input-required",
            TaskState::AuthRequired => "auth-required",
            TaskState::Unspecified => "unknown",
        }
    }

    fn encode(self, version: Version) -> String {
        match version {
            Version::V0_3 => self.short_name().into(),
            Version::V1_0 => format!("TASK_STATE_{}", self.short_name().replace('-', "_").to_uppercase())
                .replace("TASK_STATE_UNKNOWN", "TASK_STATE_UNSPECIFIED"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TaskStatus {
    pub state: TaskState,
    #[serde(default)]
    pub message: Option<Message>,
    /// ISO 8601 in UTC, e.g. `2026-12-06T09:45:07.447Z`.
    #[serde(default)]
    pub timestamp: Option<String>,
}

impl TaskStatus {
    fn encode(&self, version: Version) -> Value {
        let mut status = Map::new();
        status.insert("state".into(), self.state.encode(version).into());
        if let Some(message) = &self.message {
            status.insert("message".into(), message.encode(version));
        }
        insert_some(&mut status, "timestamp", &self.timestamp);
        Value::Object(status)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub artifact_id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub parts: Vec<Part>,
}

impl Artifact {
    pub fn text(&self) -> String {
        parts_text(&self.parts)
    }

    fn encode(&self, version: Version) -> Value {
        let mut artifact = Map::new();
        artifact.insert("artifactId".into(), self.artifact_id.clone().into());
        insert_some(&mut artifact, "name", &self.name);
        artifact.insert("parts".into(), self.parts.iter().map(|p| p.encode(version)).collect());
        Value::Object(artifact)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    #[serde(default)]
    pub context_id: String,
    pub status: TaskStatus,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default)]
    pub history: Vec<Message>,
}

impl Task {
    /// The task's answer: the text of its artifacts, else of its status message.
    pub fn answer(&self) -> String {
        if self.artifacts.is_empty() {
            self.status.message.as_ref().map(Message::text).unwrap_or_default()
        } else {
            self.artifacts.iter().map(Artifact::text).collect::<Vec<_>>().join("\n")
        }
    }

    /// The task as `version` writes it, with at most `history_length` messages of its history
    /// (the most recent ones; all of them when `None`).
    pub fn encode(&self, version: Version, history_length: Option<usize>) -> Value {
        let mut task = Map::new();
        if version == Version::V0_3 {
            task.insert("kind".into(), "task".into());
        }
        task.insert("id".into(), self.id.clone().into());
        task.insert("contextId".into(), self.context_id.clone().into());
        task.insert("status".into(), self.status.encode(version));
        if !self.artifacts.is_empty() {
            task.insert("artifacts".into(), self.artifacts.iter().map(|a| a.encode(version)).collect());
        }
        let keep = history_length.unwrap_or(self.history.len()).min(self.history.len());
        if keep > 0 {
            let recent = &self.history[self.history.len() - keep..];
            task.insert("history".into(), recent.iter().map(|m| m.encode(version)).collect());
        }
        Value::Object(task)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusUpdate {
    pub task_id: String,
    pub context_id: String,
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactUpdate {
    pub task_id: String,
    pub context_id: String,
    pub artifact: Artifact,
    /// The parts extend the artifact of this id sent earlier (streamed text).
    #[serde(default)]
    pub append: bool,
    #[serde(default)]
    pub last_chunk: bool,
}

/// What a send returns or a stream carries: a task, a message, or an update of a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Task(Task),
    Message(Message),
    Status(StatusUpdate),
    Artifact(ArtifactUpdate),
}

/// A result or stream event that is none of the four kinds.
#[derive(Debug, thiserror::Error)]
#[error("not an A2A task, message or task update: {0}")]
pub struct UnknownEvent(String);

impl Event {
    /// Reads a `SendMessage` result or a stream event: 1.0's `{"task": …}` (and `message`,
    /// `statusUpdate`, `artifactUpdate`), or 0.3's bare object with its `kind`.
    pub fn decode(result: Value) -> Result<Event, UnknownEvent> {
        let Value::Object(mut object) = result else {
            return Err(UnknownEvent("the result is not a JSON object".into()));
        };
        for key in ["task", "message", "statusUpdate", "artifactUpdate"] {
            if let Some(inner) = object.remove(key).filter(Value::is_object) {
                return Event::decode_kind(key, inner);
            }
        }
        let kind = match object.get("kind").and_then(Value::as_str) {
            Some("task") => "task",
            Some("message") => "message",
            Some("status-update") => "statusUpdate",
            Some("artifact-update") => "artifactUpdate",
            Some(other) => return Err(UnknownEvent(format!("unknown kind {other:?}"))),
            None => return Err(UnknownEvent("no task, message, statusUpdate or artifactUpdate in it".into())),
        };
        Event::decode_kind(kind, Value::Object(object))
    }

    fn decode_kind(kind: &str, value: Value) -> Result<Event, UnknownEvent> {
        let parsed = match kind {
            "task" => serde_json::from_value(value).map(Event::Task),
            "message" => serde_json::from_value(value).map(Event::Message),
            "statusUpdate" => serde_json::from_value(value).map(Event::Status),
            _ => serde_json::from_value(value).map(Event::Artifact),
        };
        parsed.map_err(|e| UnknownEvent(format!("{kind}: {e}")))
    }

    /// The event as `version` writes it in a stream (or as a send's result).
    pub fn encode(&self, version: Version) -> Value {
        match (self, version) {
            (Event::Task(task), Version::V1_0) => json!({"task": task.encode(version, None)}),
            (Event::Message(message), Version::V1_0) => json!({"message": message.encode(version)}),
            (Event::Status(update), Version::V1_0) => json!({"statusUpdate": {
                "taskId": update.task_id, "contextId": update.context_id, "status": update.status.encode(version),
            }}),
            (Event::Artifact(update), Version::V1_0) => json!({"artifactUpdate": {
                "taskId": update.task_id, "contextId": update.context_id, "artifact": update.artifact.encode(version),
                "append": update.append, "lastChunk": update.last_chunk,
            }}),
            (Event::Task(task), Version::V0_3) => task.encode(version, None),
            (Event::Message(message), Version::V0_3) => message.encode(version),
            (Event::Status(update), Version::V0_3) => json!({
                "kind": "status-update", "taskId": update.task_id, "contextId": update.context_id,
                "status": update.status.encode(version), "final": update.status.state.is_terminal(),
            }),
            (Event::Artifact(update), Version::V0_3) => json!({
                "kind": "artifact-update", "taskId": update.task_id, "contextId": update.context_id,
                "artifact": update.artifact.encode(version), "append": update.append, "lastChunk": update.last_chunk,
            }),
        }
    }
}

/// The parameters of a send (either version): the message, and how much history to return.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SendParams {
    pub message: Message,
    #[serde(default)]
    pub configuration: SendConfiguration,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendConfiguration {
    #[serde(default)]
    pub history_length: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        let mut question = Message::new(Role::User, "m1", "hi");
        question.context_id = Some("c1".into());
        Task {
            id: "t1".into(),
            context_id: "c1".into(),
            status: TaskStatus {
                state: TaskState::Completed,
                message: None,
                timestamp: Some("2026-12-06T09:45:07.447Z".into()),
            },
            artifacts: vec![Artifact {
                artifact_id: "a1".into(),
                name: Some("answer".into()),
                parts: vec![Part::text("hello")],
            }],
            history: vec![question],
        }
    }

    #[test]
    fn a_task_is_written_in_the_form_of_each_version() {
        let current = Event::Task(task()).encode(Version::V1_0);
        assert_eq!(current["task"]["status"]["state"], "TASK_STATE_COMPLETED");
        assert_eq!(current["task"]["history"][0]["role"], "ROLE_USER");
        assert_eq!(current["task"]["artifacts"][0]["parts"][0], json!({"text": "hello"}));
        assert!(current["task"].get("kind").is_none());
        let legacy = Event::Task(task()).encode(Version::V0_3);
        assert_eq!(legacy["kind"], "task");
        assert_eq!(legacy["status"]["state"], "completed");
        assert_eq!(legacy["history"][0]["role"], "user");
        assert_eq!(legacy["artifacts"][0]["parts"][0], json!({"kind": "text", "text": "hello"}));
    }

    #[test]
    fn either_form_reads_back_to_the_same_event() {
        for version in [Version::V0_3, Version::V1_0] {
            let event = Event::Task(task());
            assert_eq!(Event::decode(event.encode(version)).unwrap(), event, "{version}");
            let update = Event::Status(StatusUpdate {
                task_id: "t1".into(),
                context_id: "c1".into(),
                status: TaskStatus { state: TaskState::InputRequired, message: None, timestamp: None },
            });
            assert_eq!(Event::decode(update.encode(version)).unwrap(), update, "{version}");
            let chunk = Event::Artifact(ArtifactUpdate {
                task_id: "t1".into(),
                context_id: "c1".into(),
                artifact: Artifact { artifact_id: "a".into(), name: None, parts: vec![Part::text("he")] },
                append: true,
                last_chunk: false,
            });
            assert_eq!(Event::decode(chunk.encode(version)).unwrap(), chunk, "{version}");
        }
    }

    #[test]
    fn a_terminal_status_is_final_in_0_3() {
        let update = |state| {
            Event::Status(StatusUpdate {
                task_id: "t".into(),
                context_id: "c".into(),
                status: TaskStatus { state, message: None, timestamp: None },
            })
            .encode(Version::V0_3)
        };
        assert_eq!(update(TaskState::Working)["final"], false);
        assert_eq!(update(TaskState::Failed)["final"], true);
    }

    #[test]
    fn state_names_follow_each_version() {
        assert_eq!(TaskState::InputRequired.encode(Version::V1_0), "TASK_STATE_INPUT_REQUIRED");
        assert_eq!(TaskState::Unspecified.encode(Version::V1_0), "TASK_STATE_UNSPECIFIED");
        assert_eq!(TaskState::InputRequired.encode(Version::V0_3), "input-required");
    }

    #[test]
    fn results_that_are_not_events_are_refused() {
        assert!(Event::decode(json!("text")).is_err());
        assert!(Event::decode(json!({"kind": "file"})).unwrap_err().to_string().contains("unknown kind"));
        assert!(Event::decode(json!({"id": "t"})).is_err());
        assert!(Event::decode(json!({"task": {"id": "t"}})).unwrap_err().to_string().contains("status"));
    }

    #[test]
    fn the_answer_is_the_artifacts_text_else_the_status_message() {
        assert_eq!(task().answer(), "hello");
        let mut failed = task();
        failed.artifacts.clear();
        failed.status.message = Some(Message::new(Role::Agent, "m2", "the model failed"));
        assert_eq!(failed.answer(), "the model failed");
    }

    #[test]
    fn history_is_cut_to_the_most_recent_messages() {
        let mut long = task();
        long.history.push(Message::new(Role::Agent, "m2", "hello"));
        let encoded = long.encode(Version::V1_0, Some(1));
        assert_eq!(encoded["history"].as_array().unwrap().len(), 1);
        assert_eq!(encoded["history"][0]["messageId"], "m2");
        assert!(long.encode(Version::V1_0, Some(0)).get("history").is_none());
    }

    #[test]
    fn send_params_of_either_version_are_read() {
        let current: SendParams = serde_json::from_value(json!({
            "message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}, "configuration": {}
        }))
        .unwrap();
        let legacy: SendParams = serde_json::from_value(json!({
            "message": {"kind": "message", "messageId": "m", "role": "user", "parts": [{"kind": "text", "text": "hi"}]},
            "configuration": {"blocking": true, "historyLength": 2}
        }))
        .unwrap();
        assert_eq!(current.message, legacy.message);
        assert_eq!(legacy.configuration.history_length, Some(2));
    }
}

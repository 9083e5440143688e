//! One agent: a message in, a task out. Each message becomes an A2A task that runs the agentic
//! loop over the conversation of its `contextId` and reports what happens as A2A events.

use std::sync::Mutex;
use std::time::Instant;

use agents_a2a::{Artifact, ArtifactUpdate, Event, Message, Part, Role, StatusUpdate, Task, TaskState, TaskStatus};

use crate::agentic_loop::{self, Progress};
use crate::config::Config;
use crate::memory::Conversations;
use crate::model::{ChatMessage, Model};
use crate::tasks::Tasks;
use crate::tools::Tools;

/// Finished tasks kept for `GetTask`.
const TASKS_KEPT: usize = 1000;

pub struct Agent<M, T> {
    pub config: Config,
    model: M,
    tools: T,
    memory: Mutex<Conversations>,
    tasks: Mutex<Tasks>,
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Now, as A2A writes timestamps: RFC 3339 in UTC with milliseconds.
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn status(state: TaskState, message: Option<Message>) -> TaskStatus {
    TaskStatus { state, message, timestamp: Some(now()) }
}

impl<M: Model, T: Tools> Agent<M, T> {
    pub fn new(config: Config, model: M, tools: T) -> Self {
        let memory = Mutex::new(Conversations::new(config.memory));
        Agent { config, model, tools, memory, tasks: Mutex::new(Tasks::new(TASKS_KEPT)) }
    }

    pub fn task(&self, id: &str) -> Option<Task> {
        lock(&self.tasks).get(id).cloned()
    }

    pub fn contexts(&self) -> Vec<(String, usize)> {
        lock(&self.memory).contexts()
    }

    pub fn conversation(&self, context: &str) -> Vec<ChatMessage> {
        lock(&self.memory).history(context)
    }

    pub fn tools(&self) -> &T {
        &self.tools
    }

    /// Answers `message` (continuing the conversation of its `contextId`, or starting one) and
    /// returns the finished task. `events` receives the task first, then each update, the final
    /// status last.
    pub async fn answer(&self, mut question: Message, events: &mut (dyn FnMut(Event) + Send)) -> Task {
        let started = Instant::now();
        let context_id = question.context_id.clone().unwrap_or_else(new_id);
        let task_id = new_id();
        question.context_id = Some(context_id.clone());
        question.task_id = Some(task_id.clone());
        let mut task = Task {
            id: task_id.clone(),
            context_id: context_id.clone(),
            status: status(TaskState::Submitted, None),
            artifacts: vec![],
            history: vec![question.clone()],
        };
        lock(&self.tasks).put(task.clone());
        events(Event::Task(task.clone()));
        let update = |state: TaskState, note: Option<String>| {
            let message = note.map(|text| {
                let mut message = Message::new(Role::Agent, new_id(), text);
                message.context_id = Some(context_id.clone());
                message.task_id = Some(task_id.clone());
                message
            });
            StatusUpdate { task_id: task_id.clone(), context_id: context_id.clone(), status: status(state, message) }
        };
        task.status = update(TaskState::Working, None).status;
        lock(&self.tasks).put(task.clone());
        events(Event::Status(update(TaskState::Working, None)));

        let artifact_id = new_id();
        let chunk = |text: String, append: bool, last_chunk: bool| {
            Event::Artifact(ArtifactUpdate {
                task_id: task_id.clone(),
                context_id: context_id.clone(),
                artifact: Artifact {
                    artifact_id: artifact_id.clone(),
                    name: Some("answer".into()),
                    parts: vec![Part::text(text)],
                },
                append,
                last_chunk,
            })
        };
        // The text of the current model turn: a turn's first chunk replaces what the turns
        // before it streamed (text written before calling tools), so the artifact ends as the answer.
        let mut turn_text = String::new();
        let history = lock(&self.memory).history(&context_id);
        let text = question.text();
        let result = agentic_loop::run(
            &self.model,
            &self.tools,
            self.config.instructions.as_deref(),
            &history,
            &text,
            self.config.agentic_loop.max_steps,
            &mut |progress| match progress {
                Progress::Text(text) => {
                    events(chunk(text.clone(), !turn_text.is_empty(), false));
                    turn_text.push_str(&text);
                }
                Progress::ToolCall { tool } => {
                    turn_text.clear();
                    events(Event::Status(update(TaskState::Working, Some(format!("calling {tool}")))));
                }
            },
        )
        .await;

        match result {
            Ok(outcome) => {
                let streamed_the_answer = turn_text == outcome.answer;
                let last = if streamed_the_answer { String::new() } else { outcome.answer.clone() };
                events(chunk(last, streamed_the_answer, true));
                let mut answer = Message::new(Role::Agent, new_id(), outcome.answer.clone());
                answer.context_id = Some(context_id.clone());
                answer.task_id = Some(task_id.clone());
                task.history.push(answer);
                task.artifacts = vec![Artifact {
                    artifact_id: artifact_id.clone(),
                    name: Some("answer".into()),
                    parts: vec![Part::text(outcome.answer.clone())],
                }];
                task.status = status(TaskState::Completed, None);
                let mut exchange = vec![ChatMessage::User { content: text }];
                exchange.extend(outcome.added);
                lock(&self.memory).record(&context_id, exchange);
                tracing::info!(task = %task_id, context = %context_id, steps = outcome.steps,
                    took_ms = started.elapsed().as_millis() as u64, "task completed");
            }
            Err(failure) => {
                task.status = update(TaskState::Failed, Some(failure.to_string())).status;
                tracing::warn!(task = %task_id, context = %context_id,
                    took_ms = started.elapsed().as_millis() as u64, "task failed: {failure}");
            }
        }
        lock(&self.tasks).put(task.clone());
        events(Event::Status(StatusUpdate { task_id, context_id, status: task.status.clone() }));
        task
    }
}

/// A poisoned lock means a panic elsewhere already; the data (a cache) is still usable.
fn lock<V>(mutex: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

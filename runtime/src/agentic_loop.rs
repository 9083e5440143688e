//! The agentic loop: ask the model, run the tools it asks for, give it their results, until it
//! answers or the step limit is reached. Pure over its [`Model`] and [`Tools`], so every path is
//! tested with scripted answers.

use crate::model::{ChatMessage, Model, ModelError, Usage};
use crate::tools::{ToolError, Tools};

/// What happens while the loop runs, for a stream to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Text of the answer as the model writes it.
    Text(String),
    /// A tool is being called.
    ToolCall { tool: String },
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The model's last text: the answer.
    pub answer: String,
    /// What the run added to the conversation after the question: the model's turns and the
    /// tools' results, the answer last.
    pub added: Vec<ChatMessage>,
    /// Model turns taken.
    pub steps: u32,
    pub usage: Usage,
}

/// Why a run ended without an answer. The message is what the caller sees.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Model(#[from] ModelError),
    #[error("{0}")]
    Tool(#[from] ToolError),
    #[error(
        "no answer after {0} model turns (the agent's agenticLoop.maxSteps): the model kept calling tools; raise maxSteps or narrow the question"
    )]
    StepLimit(u32),
}

/// Runs the loop for `question`, after `history` (earlier turns of the conversation), with
/// `instructions` as the system prompt and at most `max_steps` model turns.
pub async fn run(
    model: &impl Model,
    tools: &impl Tools,
    instructions: Option<&str>,
    history: &[ChatMessage],
    question: &str,
    max_steps: u32,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Outcome, Failure> {
    let specs = tools.specs().await;
    let mut messages: Vec<ChatMessage> =
        instructions.map(|i| ChatMessage::System { content: i.to_string() }).into_iter().collect();
    messages.extend(history.iter().cloned());
    messages.push(ChatMessage::User { content: question.to_string() });
    let first_added = messages.len();
    let mut usage = Usage::default();
    for step in 1..=max_steps {
        let turn = model.complete(&messages, &specs, &mut |text| progress(Progress::Text(text.to_string()))).await?;
        if let Some(used) = turn.usage {
            usage.prompt_tokens += used.prompt_tokens;
            usage.completion_tokens += used.completion_tokens;
        }
        let calls = turn.tool_calls.clone();
        messages.push(ChatMessage::Assistant { content: turn.content.clone(), tool_calls: turn.tool_calls });
        if calls.is_empty() {
            return Ok(Outcome {
                answer: turn.content.unwrap_or_default(),
                added: messages.split_off(first_added),
                steps: step,
                usage,
            });
        }
        for call in calls {
            progress(Progress::ToolCall { tool: call.name.clone() });
            let output = tools.call(&call.name, &call.arguments).await?;
            messages.push(ChatMessage::Tool { tool_call_id: call.id, content: output.text });
        }
    }
    Err(Failure::StepLimit(max_steps))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::model::{ToolCall, ToolSpec, Turn};
    use crate::tools::ToolOutput;

    /// Answers with the turns it was given, in order, and records what it was sent.
    struct Scripted {
        turns: Mutex<VecDeque<Result<Turn, ModelError>>>,
        seen: Mutex<Vec<Vec<ChatMessage>>>,
    }

    impl Scripted {
        fn new(turns: Vec<Result<Turn, ModelError>>) -> Self {
            Scripted { turns: Mutex::new(turns.into()), seen: Mutex::default() }
        }
    }

    impl Model for Scripted {
        async fn complete(
            &self,
            messages: &[ChatMessage],
            _tools: &[ToolSpec],
            on_text: &mut (dyn FnMut(&str) + Send),
        ) -> Result<Turn, ModelError> {
            self.seen.lock().unwrap().push(messages.to_vec());
            let turn =
                self.turns.lock().unwrap().pop_front().expect("the model was called more often than scripted")?;
            if let Some(text) = &turn.content {
                on_text(text);
            }
            Ok(turn)
        }
    }

    /// One tool, `lookup`, answering `found: <arguments>`; `broken` fails.
    struct Lookup;

    impl Tools for Lookup {
        async fn specs(&self) -> Vec<ToolSpec> {
            vec![ToolSpec {
                name: "lookup".into(),
                description: "Looks up".into(),
                parameters: json!({"type": "object"}),
            }]
        }

        async fn call(&self, name: &str, arguments: &str) -> Result<ToolOutput, ToolError> {
            match name {
                "lookup" => Ok(ToolOutput { text: format!("found: {arguments}"), is_error: false }),
                _ => Err(ToolError::Unknown(name.to_string())),
            }
        }
    }

    fn answer(text: &str) -> Result<Turn, ModelError> {
        Ok(Turn {
            content: Some(text.into()),
            tool_calls: vec![],
            usage: Some(Usage { prompt_tokens: 10, completion_tokens: 2 }),
        })
    }

    fn call(tool: &str, arguments: &str) -> Result<Turn, ModelError> {
        Ok(Turn {
            content: None,
            tool_calls: vec![ToolCall { id: format!("call-{tool}"), name: tool.into(), arguments: arguments.into() }],
            usage: Some(Usage { prompt_tokens: 5, completion_tokens: 1 }),
        })
    }

    async fn run_with(model: &Scripted, max_steps: u32) -> (Result<Outcome, Failure>, Vec<Progress>) {
        let mut seen = Vec::new();
        let result = run(model, &Lookup, Some("Be brief."), &[], "What is X?", max_steps, &mut |p| seen.push(p)).await;
        (result, seen)
    }

    #[tokio::test]
    async fn a_plain_answer_takes_one_turn() {
        let model = Scripted::new(vec![answer("X is 42.")]);
        let (outcome, progress) = run_with(&model, 5).await;
        let outcome = outcome.unwrap();
        assert_eq!((outcome.answer.as_str(), outcome.steps), ("X is 42.", 1));
        assert_eq!(outcome.usage, Usage { prompt_tokens: 10, completion_tokens: 2 });
        assert_eq!(progress, vec![Progress::Text("X is 42.".into())]);
        let sent = &model.seen.lock().unwrap()[0];
        assert_eq!(sent[0], ChatMessage::System { content: "Be brief.".into() });
        assert_eq!(sent[1], ChatMessage::User { content: "What is X?".into() });
    }

    #[tokio::test]
    async fn a_tool_call_then_an_answer() {
        let model = Scripted::new(vec![call("lookup", r#"{"q":"X"}"#), answer("X is 42.")]);
        let (outcome, progress) = run_with(&model, 5).await;
        let outcome = outcome.unwrap();
        assert_eq!((outcome.answer.as_str(), outcome.steps), ("X is 42.", 2));
        assert_eq!(outcome.usage, Usage { prompt_tokens: 15, completion_tokens: 3 });
        assert_eq!(progress[0], Progress::ToolCall { tool: "lookup".into() });
        // The model's second turn saw its call and the tool's result.
        let second = &model.seen.lock().unwrap()[1];
        assert_eq!(
            second[3],
            ChatMessage::Tool { tool_call_id: "call-lookup".into(), content: r#"found: {"q":"X"}"#.into() }
        );
        assert_eq!(outcome.added.len(), 3, "the call, its result, the answer: {:?}", outcome.added);
    }

    #[tokio::test]
    async fn the_step_limit_ends_a_model_that_keeps_calling_tools() {
        let model = Scripted::new(vec![call("lookup", "{}"), call("lookup", "{}")]);
        let (outcome, _) = run_with(&model, 2).await;
        let failure = outcome.unwrap_err();
        assert_eq!(failure, Failure::StepLimit(2));
        assert!(failure.to_string().contains("no answer after 2 model turns"));
    }

    #[tokio::test]
    async fn a_model_error_ends_the_run_with_it() {
        let model = Scripted::new(vec![Err(ModelError::Status { status: 429, message: "rate limited".into() })]);
        let (outcome, _) = run_with(&model, 5).await;
        assert_eq!(outcome.unwrap_err().to_string(), "the model endpoint answered 429: rate limited");
    }

    #[tokio::test]
    async fn a_tool_that_cannot_be_called_ends_the_run() {
        let model = Scripted::new(vec![call("missing", "{}")]);
        let (outcome, _) = run_with(&model, 5).await;
        assert_eq!(outcome.unwrap_err(), Failure::Tool(ToolError::Unknown("missing".into())));
    }

    #[tokio::test]
    async fn earlier_turns_of_the_conversation_come_before_the_question() {
        let model = Scripted::new(vec![answer("Still 42.")]);
        let history = [
            ChatMessage::User { content: "What is X?".into() },
            ChatMessage::Assistant { content: Some("42".into()), tool_calls: vec![] },
        ];
        run(&model, &Lookup, None, &history, "Sure?", 5, &mut |_| {}).await.unwrap();
        let sent = &model.seen.lock().unwrap()[0];
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[2], ChatMessage::User { content: "Sure?".into() });
    }
}

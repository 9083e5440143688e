//! The Chat Completions client: one streamed request per model turn (`stream: true`, usage in
//! the last chunk), read as it arrives. A server that answers with one JSON body instead is read
//! too. Works with OpenAI, LiteLLM, Ollama and any gateway that speaks the same API.

use std::time::{Duration, Instant};

use agents_a2a::sse;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ChatMessage, Model, ModelError, ToolCall, ToolSpec, Turn, Usage};
use crate::config::ModelConfig;
use crate::metrics::Metrics;

/// How long one model turn may take, from the request to the last chunk.
const TURN_TIMEOUT: Duration = Duration::from_secs(300);

pub struct ChatClient {
    config: ModelConfig,
    http: reqwest::Client,
    metrics: Metrics,
}

impl ChatClient {
    pub fn new(config: ModelConfig, http: reqwest::Client, metrics: Metrics) -> Self {
        ChatClient { config, http, metrics }
    }

    /// The request body of one turn.
    pub fn request(&self, messages: &[ChatMessage], tools: &[ToolSpec]) -> Value {
        let mut body = json!({
            "model": self.config.name,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !tools.is_empty() {
            body["tools"] = tools
                .iter()
                .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
                .collect();
        }
        if let Some(max_tokens) = self.config.max_tokens {
            body["max_tokens"] = max_tokens.into();
        }
        if let Some(temperature) = self.config.temperature {
            body["temperature"] = temperature.into();
        }
        body
    }

    async fn turn(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Turn, ModelError> {
        let url = &self.config.chat_url;
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream, application/json")
            .timeout(TURN_TIMEOUT)
            .body(self.request(messages, tools).to_string());
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let unreachable = |e: reqwest::Error| {
            if e.is_timeout() {
                ModelError::Timeout(TURN_TIMEOUT.as_secs())
            } else {
                ModelError::Unreachable { url: url.clone(), why: self.redact(&crate::tools::peers::error_chain(&e)) }
            }
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let streamed = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(ModelError::Status { status: status.as_u16(), message: self.redact(&error_message(&body)) });
        }
        if !streamed {
            let body = response.bytes().await.map_err(unreachable)?;
            let turn = whole_answer(&body)?;
            if let Some(text) = &turn.content {
                on_text(text);
            }
            return Ok(turn);
        }
        let mut chunks = response.bytes_stream();
        let mut decoder = sse::Decoder::default();
        let mut answer = Streamed::default();
        while let Some(chunk) = chunks.next().await {
            for event in decoder.push(&chunk.map_err(unreachable)?) {
                if answer.read(&event.data, on_text)? {
                    return Ok(answer.into_turn());
                }
            }
        }
        if let Some(event) = decoder.finish() {
            answer.read(&event.data, on_text)?;
        }
        Ok(answer.into_turn())
    }

    /// `text` with the API key cut out, should a server echo it back.
    fn redact(&self, text: &str) -> String {
        match &self.config.api_key {
            Some(key) if key.len() >= 4 => text.replace(key.as_str(), "<MODEL_API_KEY>"),
            _ => text.to_string(),
        }
    }
}

impl Model for ChatClient {
    async fn complete(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Turn, ModelError> {
        let started = Instant::now();
        let result = self.turn(messages, tools, on_text).await;
        self.metrics.model_request(&self.config.name, result.as_ref().ok(), started.elapsed());
        result
    }
}

/// The message of an error answer: OpenAI's `{"error": {"message": …}}`, else the body's start.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        let error = v.get("error")?;
        error.get("message").and_then(Value::as_str).or(error.as_str()).map(str::to_string)
    });
    let text = message.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let mut text: String = text.chars().take(500).collect();
    if text.is_empty() {
        text = "no message".into();
    }
    text
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens }
    }
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

/// A message (whole answers) or a delta (stream chunks): the same fields.
#[derive(Deserialize, Default)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default, alias = "delta")]
    message: Option<WireMessage>,
}

#[derive(Deserialize)]
struct WireAnswer {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

fn parse_answer(data: &[u8]) -> Result<WireAnswer, ModelError> {
    serde_json::from_slice(data).map_err(|e| ModelError::Malformed(format!("{e} in {}", String::from_utf8_lossy(data))))
}

/// A non-streamed answer.
fn whole_answer(body: &[u8]) -> Result<Turn, ModelError> {
    let answer = parse_answer(body)?;
    let message = answer
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message)
        .ok_or_else(|| ModelError::Malformed("the answer has no choices".into()))?;
    let mut streamed = Streamed::default();
    streamed.add(message);
    let mut turn = streamed.into_turn();
    turn.usage = answer.usage.map(Usage::from);
    Ok(turn)
}

/// A streamed answer being put together from its chunks.
#[derive(Default)]
struct Streamed {
    content: String,
    /// By the index the chunks give: id, name, arguments so far.
    calls: Vec<(String, String, String)>,
    usage: Option<Usage>,
}

impl Streamed {
    /// Reads one event's data; `true` once the stream says it is done.
    fn read(&mut self, data: &str, on_text: &mut (dyn FnMut(&str) + Send)) -> Result<bool, ModelError> {
        if data.trim() == "[DONE]" {
            return Ok(true);
        }
        let chunk = parse_answer(data.as_bytes())?;
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        for choice in chunk.choices {
            let Some(delta) = choice.message else { continue };
            if let Some(text) = delta.content.as_deref().filter(|t| !t.is_empty()) {
                on_text(text);
            }
            self.add(delta);
        }
        Ok(false)
    }

    fn add(&mut self, delta: WireMessage) {
        if let Some(text) = delta.content {
            self.content.push_str(&text);
        }
        for (position, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
            let index = call.index.unwrap_or(position);
            if self.calls.len() <= index {
                self.calls.resize(index + 1, Default::default());
            }
            let slot = &mut self.calls[index];
            if let Some(id) = call.id {
                slot.0 = id;
            }
            if let Some(function) = call.function {
                slot.1.push_str(&function.name.unwrap_or_default());
                slot.2.push_str(&function.arguments.unwrap_or_default());
            }
        }
    }

    fn into_turn(self) -> Turn {
        Turn {
            content: (!self.content.is_empty()).then_some(self.content),
            tool_calls: self
                .calls
                .into_iter()
                .enumerate()
                .filter(|(_, (_, name, _))| !name.is_empty())
                .map(|(i, (id, name, arguments))| ToolCall {
                    id: if id.is_empty() { format!("call_{i}") } else { id },
                    name,
                    arguments,
                })
                .collect(),
            usage: self.usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_chunks_make_up_the_text_and_the_tool_calls() {
        let chunks = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Let me "}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"check."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"lookup","arguments":"{\"q\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"X\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}"#,
            "[DONE]",
        ];
        let mut streamed = Streamed::default();
        let mut texts = Vec::new();
        let mut done = false;
        for chunk in chunks {
            done = streamed.read(chunk, &mut |t| texts.push(t.to_string())).unwrap();
        }
        assert!(done);
        assert_eq!(texts, ["Let me ", "check."]);
        let turn = streamed.into_turn();
        assert_eq!(turn.content.as_deref(), Some("Let me check."));
        assert_eq!(
            turn.tool_calls,
            vec![ToolCall { id: "call_a".into(), name: "lookup".into(), arguments: r#"{"q":"X"}"#.into() }]
        );
        assert_eq!(turn.usage, Some(Usage { prompt_tokens: 12, completion_tokens: 7 }));
    }

    #[test]
    fn a_whole_answer_is_read_too() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"t","arguments":"{}"}}]}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let turn = whole_answer(body).unwrap();
        assert_eq!(turn.tool_calls[0].name, "t");
        assert_eq!(turn.content, None);
        assert!(whole_answer(br#"{"choices":[]}"#).is_err());
    }

    #[test]
    fn error_answers_give_their_message() {
        assert_eq!(error_message(br#"{"error":{"message":"Invalid model","type":"x"}}"#), "Invalid model");
        assert_eq!(error_message(br#"{"error":"overloaded"}"#), "overloaded");
        assert_eq!(error_message(b"Bad Gateway"), "Bad Gateway");
        assert_eq!(error_message(b""), "no message");
    }

    #[test]
    fn the_request_carries_the_agents_settings_and_tools() {
        let client = ChatClient::new(
            ModelConfig {
                name: "gpt-4o".into(),
                chat_url: "http://m/v1/chat/completions".into(),
                api_key: Some("sk-1234".into()),
                max_tokens: Some(100),
                temperature: Some(0.2),
            },
            crate::http_client().unwrap(),
            Metrics::new(),
        );
        let tools = [ToolSpec { name: "t".into(), description: "d".into(), parameters: json!({"type": "object"}) }];
        let body = client.request(&[ChatMessage::User { content: "hi".into() }], &tools);
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(body["messages"], json!([{"role": "user", "content": "hi"}]));
        assert_eq!((body["max_tokens"].as_u64(), body["temperature"].as_f64()), (Some(100), Some(0.2)));
        assert_eq!(body["tools"][0]["function"]["name"], "t");
        assert_eq!(client.redact("bad key sk-1234"), "bad key <MODEL_API_KEY>");
    }

    #[test]
    fn tool_calls_and_results_are_sent_in_the_chat_shape() {
        let call = ChatMessage::Assistant {
            content: None,
            tool_calls: vec![ToolCall { id: "c1".into(), name: "t".into(), arguments: "{}".into() }],
        };
        assert_eq!(
            serde_json::to_value(&call).unwrap(),
            json!({"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}]})
        );
        let result = ChatMessage::Tool { tool_call_id: "c1".into(), content: "42".into() };
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"role": "tool", "tool_call_id": "c1", "content": "42"})
        );
    }
}

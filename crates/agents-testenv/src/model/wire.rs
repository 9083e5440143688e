//! Chat Completions responses as OpenAI's API sends them: one JSON body, or (for `stream: true`)
//! server-sent chunks a few characters long, tool-call arguments split across two chunks, the
//! usage in a last chunk without choices, then `[DONE]`, so clients meet the shapes they must
//! reassemble in production.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Reply, USAGE};

/// Characters per streamed content chunk.
const CHUNK: usize = 6;

/// The HTTP response of one turn to `request`.
pub fn response(request: &Value, reply: &Reply) -> Response {
    let model = request["model"].as_str().unwrap_or("scripted");
    let calls = match reply {
        Reply::Error(status, message) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, json!({"error": {"message": message, "type": "scripted"}}).to_string()).into_response();
        }
        Reply::Text(_) => &[][..],
        Reply::Calls(calls) => calls.as_slice(),
    };
    let text = match reply {
        Reply::Text(text) => Some(text.as_str()),
        _ => None,
    };
    if request["stream"] == json!(true) {
        let body = stream(model, text, calls);
        ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
    } else {
        let body = whole(model, text, calls);
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

fn usage() -> Value {
    json!({"prompt_tokens": USAGE.0, "completion_tokens": USAGE.1, "total_tokens": USAGE.0 + USAGE.1})
}

/// A `chat.completion` body.
fn whole(model: &str, text: Option<&str>, calls: &[(String, Value)]) -> String {
    let message = match text {
        Some(text) => json!({"role": "assistant", "content": text}),
        None => {
            json!({"role": "assistant", "content": null, "tool_calls": calls.iter().enumerate().map(|(i, (name, args))| json!({
            "index": i, "id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": args.to_string()},
        })).collect::<Vec<_>>()})
        }
    };
    json!({"id": "chatcmpl-1", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage()})
    .to_string()
}

/// The server-sent events of a streamed turn.
fn stream(model: &str, text: Option<&str>, calls: &[(String, Value)]) -> String {
    let chunk = |delta: Value| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": delta}]});
    let mut events = vec![chunk(json!({"role": "assistant"}))];
    if let Some(text) = text {
        let characters: Vec<char> = text.chars().collect();
        events
            .extend(characters.chunks(CHUNK).map(|piece| chunk(json!({"content": piece.iter().collect::<String>()}))));
    }
    for (i, (name, args)) in calls.iter().enumerate() {
        let args = args.to_string();
        let (first, rest) = args.split_at(args.len() / 2);
        events.push(chunk(json!({"tool_calls": [{"index": i, "id": format!("call_{i}"), "type": "function",
            "function": {"name": name, "arguments": first}}]})));
        events.push(chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": rest}}]})));
    }
    events.push(
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage()}),
    );
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_answer_is_chunks_then_usage_then_done() {
        let body = stream("m", Some("Hello, world"), &[]);
        let events: Vec<&str> = body.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.last(), Some(&"data: [DONE]"));
        let chunks: Vec<Value> =
            events[..events.len() - 1].iter().map(|e| serde_json::from_str(&e["data: ".len()..]).unwrap()).collect();
        let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "Hello, world");
        assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], USAGE.0 + USAGE.1);
    }

    #[test]
    fn tool_call_arguments_are_split_across_chunks() {
        let body = stream("m", None, &[("get_time".into(), json!({"timezone": "UTC"}))]);
        let arguments: String = body
            .split("\n\n")
            .filter_map(|e| serde_json::from_str::<Value>(e.strip_prefix("data: ")?).ok())
            .filter_map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().map(str::to_string)
            })
            .collect();
        assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), json!({"timezone": "UTC"}));
    }
}

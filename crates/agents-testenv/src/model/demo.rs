//! The demo's model: it answers every question plainly and says what it is, so the demo shows an
//! agent really answering (the runtime's agentic loop, its memory, the tools it was given) without
//! pretending to be a language model.

use serde_json::Value;

use super::{Reply, tool_names};

/// Where the demo's model listens, fixed because `docs/examples/hello-agent.yaml` names it in a
/// ModelAPI applied as written. The port is below Linux's ephemeral range (32768 and up), from
/// which the control plane's components take their random ports, so none of them can hold it.
pub const DEMO_ADDRESS: &str = "127.0.0.1:28080";

/// One turn of the demo model: it repeats the question, tells how much of the conversation it was
/// sent (so a continued conversation visibly remembers) and names the tools it was offered. It
/// never calls a tool: it cannot decide when one would help.
pub fn demo_reply(request: &Value) -> Reply {
    let model = request["model"].as_str().unwrap_or("a model");
    let messages: Vec<&Value> = request["messages"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["role"] != "system").collect())
        .unwrap_or_default();
    let Some(asked) = messages.iter().rposition(|m| m["role"] == "user") else {
        return Reply::Text(format!("(demo model, standing in for {model}) I was sent no question."));
    };
    let earlier = &messages[..asked];
    let history = match earlier.iter().find(|m| m["role"] == "user") {
        None => "This is the start of our conversation.".to_string(),
        Some(first) => format!(
            "Before this, our conversation had {} messages, starting with \"{}\".",
            earlier.len(),
            text_of(first)
        ),
    };
    let tools = tool_names(request);
    let tools = match tools.as_slice() {
        [] => "I have no tools.".to_string(),
        [one] => format!("I have 1 tool: {one}."),
        many => format!("I have {} tools: {}.", many.len(), many.join(", ")),
    };
    Reply::Text(format!(
        "(demo model, standing in for {model}) You said: \"{}\". {history} {tools}",
        text_of(messages[asked])
    ))
}

/// A message's text: its `content` string, or the text parts of a content array.
fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.trim().to_string(),
        Value::Array(parts) => {
            parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(" ").trim().to_string()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(reply: Reply) -> String {
        match reply {
            Reply::Text(text) => text,
            other => panic!("not text: {other:?}"),
        }
    }

    #[test]
    fn a_first_question_is_repeated_with_the_tools_offered() {
        let request = json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there?"},
        ], "tools": [{"type": "function", "function": {"name": "get_time"}}, {"type": "function", "function": {"name": "ask_writer"}}]});
        assert_eq!(
            text(demo_reply(&request)),
            "(demo model, standing in for gpt-4o) You said: \"Hello there?\". This is the start of our conversation. \
             I have 2 tools: get_time, ask_writer."
        );
    }

    #[test]
    fn a_continued_conversation_counts_what_came_before() {
        let request = json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "Again"}]},
        ]});
        assert_eq!(
            text(demo_reply(&request)),
            "(demo model, standing in for gpt-4o) You said: \"Again\". Before this, our conversation had 2 messages, \
             starting with \"Hello\". I have no tools."
        );
    }

    #[test]
    fn one_tool_is_not_plural_and_no_question_is_said() {
        let request = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"function": {"name": "t"}}]});
        assert!(text(demo_reply(&request)).ends_with("I have 1 tool: t."));
        assert!(text(demo_reply(&json!({"model": "m", "messages": []}))).contains("I was sent no question"));
    }
}

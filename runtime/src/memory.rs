//! Conversations by A2A `contextId`, in bounded memory: at most `contexts` conversations (the
//! least recently used is dropped first) of at most `messages` messages (the oldest first).

use indexmap::IndexMap;

use crate::config::MemoryConfig;
use crate::model::ChatMessage;

pub struct Conversations {
    limits: MemoryConfig,
    /// Least recently used first.
    by_context: IndexMap<String, Vec<ChatMessage>>,
}

impl Conversations {
    pub fn new(limits: MemoryConfig) -> Self {
        Conversations { limits, by_context: IndexMap::new() }
    }

    /// The conversation so far (empty for a new context).
    pub fn history(&self, context: &str) -> Vec<ChatMessage> {
        self.by_context.get(context).cloned().unwrap_or_default()
    }

    /// Adds a finished exchange to the conversation, which becomes the most recently used.
    pub fn record(&mut self, context: &str, exchange: impl IntoIterator<Item = ChatMessage>) {
        let mut messages = self.by_context.shift_remove(context).unwrap_or_default();
        messages.extend(exchange);
        if messages.len() > self.limits.messages {
            messages.drain(..messages.len() - self.limits.messages);
            // A conversation starts with a question: never with a tool's result or the model's
            // call whose results were dropped.
            let first_question = messages.iter().position(|m| matches!(m, ChatMessage::User { .. }));
            messages.drain(..first_question.unwrap_or(messages.len()));
        }
        self.by_context.insert(context.to_string(), messages);
        while self.by_context.len() > self.limits.contexts {
            self.by_context.shift_remove_index(0);
        }
    }

    /// Every context and its number of messages, most recent last.
    pub fn contexts(&self) -> Vec<(String, usize)> {
        self.by_context.iter().map(|(id, messages)| (id.clone(), messages.len())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> ChatMessage {
        ChatMessage::User { content: text.into() }
    }

    fn agent(text: &str) -> ChatMessage {
        ChatMessage::Assistant { content: Some(text.into()), tool_calls: vec![] }
    }

    fn limits(contexts: usize, messages: usize) -> MemoryConfig {
        MemoryConfig { contexts, messages, debug_endpoints: false }
    }

    #[test]
    fn a_conversation_keeps_its_turns_in_order() {
        let mut memory = Conversations::new(limits(10, 10));
        memory.record("c", [user("a"), agent("1")]);
        memory.record("c", [user("b"), agent("2")]);
        assert_eq!(memory.history("c"), vec![user("a"), agent("1"), user("b"), agent("2")]);
        assert!(memory.history("other").is_empty());
    }

    #[test]
    fn the_oldest_messages_go_first_and_a_conversation_starts_with_a_question() {
        let mut memory = Conversations::new(limits(10, 3));
        memory.record("c", [user("a"), agent("1")]);
        memory
            .record("c", [user("b"), ChatMessage::Tool { tool_call_id: "x".into(), content: "r".into() }, agent("2")]);
        // Cut to 3 messages, the first of which would be the "1" answer: it starts at "b".
        assert_eq!(memory.history("c")[0], user("b"));
        assert!(memory.history("c").len() <= 3);
    }

    #[test]
    fn the_least_recently_used_conversation_goes_first() {
        let mut memory = Conversations::new(limits(2, 10));
        memory.record("a", [user("a")]);
        memory.record("b", [user("b")]);
        memory.record("a", [user("a2")]);
        memory.record("c", [user("c")]);
        let kept: Vec<String> = memory.contexts().into_iter().map(|(id, _)| id).collect();
        assert_eq!(kept, ["a", "c"]);
    }
}

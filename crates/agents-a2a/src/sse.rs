//! Server-sent events: how a stream of JSON-RPC responses (A2A) or of completion chunks (the
//! OpenAI-compatible chat API) is framed.

/// One event's frame. `data` must be a single line (compact JSON is).
pub fn frame(data: &str) -> String {
    format!("data: {data}\n\n")
}

/// One event read from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the server named the event.
    pub event: Option<String>,
    pub data: String,
}

/// Reads events from a stream's bytes as they arrive, in chunks of any size.
#[derive(Debug, Default)]
pub struct Decoder {
    line: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl Decoder {
    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in chunk {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
            events.extend(self.line_done(&line));
        }
        events
    }

    /// Ends the stream: an event not followed by a blank line still counts.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.line.is_empty() {
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
            if let Some(event) = self.line_done(&line) {
                return Some(event);
            }
        }
        self.line_done("")
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take()?;
            return Some(SseEvent { event: self.event.take(), data });
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "event" => self.event = Some(value.to_string()),
            _ => {} // comments (`: keep-alive`), `id:` and `retry:`
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_put_back_together() {
        let stream = "data: {\"a\":1}\n\n: keep-alive\n\nevent: error\r\ndata: x\r\ndata: y\r\n\r\ndata: [DONE]\n\n";
        let mut decoder = Decoder::default();
        let mut events = Vec::new();
        for chunk in stream.as_bytes().chunks(3) {
            events.extend(decoder.push(chunk));
        }
        assert_eq!(
            events,
            vec![
                SseEvent { event: None, data: "{\"a\":1}".into() },
                SseEvent { event: Some("error".into()), data: "x\ny".into() },
                SseEvent { event: None, data: "[DONE]".into() },
            ]
        );
        assert_eq!(decoder.finish(), None);
    }

    #[test]
    fn a_last_event_without_a_blank_line_is_kept() {
        let mut decoder = Decoder::default();
        assert!(decoder.push(b"data: last").is_empty());
        assert_eq!(decoder.finish(), Some(SseEvent { event: None, data: "last".into() }));
    }

    #[test]
    fn frames_are_read_back() {
        let mut decoder = Decoder::default();
        assert_eq!(decoder.push(frame("{}").as_bytes()), vec![SseEvent { event: None, data: "{}".into() }]);
    }
}

//! How an exchange reads on a terminal or in a pipe: the answer on stdout as it arrives, what
//! the agent is doing (`… calling get_current_time`) on stderr, between lines of the answer.

use std::io::Write;

use agents_a2a::{Event, TaskState};

pub struct Printer<O: Write, E: Write> {
    out: O,
    err: E,
    colour: bool,
    /// Whether stdout is at the start of a line (nothing printed, or a newline last).
    at_line_start: bool,
    /// Answer text printed so far.
    printed: String,
}

impl<O: Write, E: Write> Printer<O, E> {
    pub fn new(out: O, err: E, colour: bool) -> Self {
        Printer { out, err, colour, at_line_start: true, printed: String::new() }
    }

    pub fn event(&mut self, event: &Event) -> std::io::Result<()> {
        match event {
            Event::Artifact(update) => {
                let text = update.artifact.text();
                if !update.append && !self.printed.is_empty() {
                    // The agent replaced what it had streamed (its final answer after a tool call).
                    if text == self.printed {
                        return Ok(());
                    }
                    self.end_line()?;
                    self.printed.clear();
                }
                self.answer(&text)
            }
            Event::Status(update) if update.status.state == TaskState::Working => {
                match update.status.message.as_ref().map(|m| m.text()).filter(|t| !t.is_empty()) {
                    Some(note) => self.note(&note),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// The whole answer, when it came in one piece (not streamed).
    pub fn whole_answer(&mut self, answer: &str) -> std::io::Result<()> {
        if self.printed.is_empty() {
            self.answer(answer)?;
        }
        self.end_line()
    }

    fn answer(&mut self, text: &str) -> std::io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        self.printed.push_str(text);
        self.at_line_start = text.ends_with('\n');
        Ok(())
    }

    pub fn note(&mut self, note: &str) -> std::io::Result<()> {
        self.end_line()?;
        let line = format!("… {note}");
        let line = if self.colour { crossterm::style::Stylize::dim(line).to_string() } else { line };
        writeln!(self.err, "{line}")
    }

    pub fn end_line(&mut self) -> std::io::Result<()> {
        if !self.at_line_start {
            self.out.write_all(b"\n")?;
            self.out.flush()?;
            self.at_line_start = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::{chunk, status};
    use super::*;

    fn working(note: &str) -> Event {
        status(TaskState::Working, Some(note))
    }

    fn printed(events: &[Event]) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut printer = Printer::new(&mut out, &mut err, false);
        for event in events {
            printer.event(event).unwrap();
        }
        printer.end_line().unwrap();
        drop(printer);
        (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[test]
    fn the_answer_streams_to_stdout_and_progress_to_stderr() {
        let (out, err) = printed(&[chunk("X is", false), chunk(" 42.", true), chunk("", true)]);
        assert_eq!((out.as_str(), err.as_str()), ("X is 42.\n", ""));
        let (out, err) = printed(&[chunk("Let me check.", false), working("calling lookup"), chunk("X is 42.", false)]);
        assert_eq!(out, "Let me check.\nX is 42.\n");
        assert_eq!(err, "… calling lookup\n");
    }

    #[test]
    fn a_replacement_equal_to_what_was_streamed_prints_nothing_more() {
        let (out, _) = printed(&[chunk("X is 42.", false), chunk("X is 42.", false)]);
        assert_eq!(out, "X is 42.\n");
    }
}

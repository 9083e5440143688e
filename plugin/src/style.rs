//! Colour only on a terminal, never with NO_COLOR (https://no-color.org).

use std::io::IsTerminal;

use agents_api::AgentPhase;
use crossterm::style::{Color, Stylize};

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

pub fn colour_enabled_on_stdout() -> bool {
    !no_color() && std::io::stdout().is_terminal()
}

pub fn colour_enabled_on_stderr() -> bool {
    !no_color() && std::io::stderr().is_terminal()
}

pub fn error_label() -> String {
    if colour_enabled_on_stderr() { "error:".red().bold().to_string() } else { "error:".into() }
}

/// A phase, coloured by how good it is.
pub fn phase(phase: Option<AgentPhase>, colour: bool) -> String {
    let text = phase.map(|p| p.to_string()).unwrap_or_else(|| "Unknown".into());
    if !colour {
        return text;
    }
    let colour = match phase {
        Some(AgentPhase::Ready) => Color::Green,
        Some(AgentPhase::Degraded | AgentPhase::Waiting | AgentPhase::Pending) => Color::Yellow,
        Some(AgentPhase::Failed) => Color::Red,
        Some(AgentPhase::Stopped) | None => Color::DarkGrey,
    };
    text.with(colour).to_string()
}

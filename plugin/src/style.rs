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

pub fn warning_label() -> String {
    if colour_enabled_on_stderr() { "warning:".yellow().bold().to_string() } else { "warning:".into() }
}

/// A phase, coloured by how good it is.
pub fn phase(phase: Option<AgentPhase>, colour: bool) -> String {
    phase_word(phase.map(|p| p.as_str()), colour)
}

/// Any kind's phase, coloured by what the word means: green when it serves or succeeded, yellow
/// while on its way, red when failed, grey when stopped or unknown.
pub fn phase_word(phase: Option<&str>, colour: bool) -> String {
    let text = phase.unwrap_or("Unknown").to_string();
    if !colour {
        return text;
    }
    let colour = match phase {
        Some("Ready" | "Succeeded") => Color::Green,
        Some("Degraded" | "Waiting" | "Pending" | "Running" | "AwaitingApproval") => Color::Yellow,
        Some("Failed") => Color::Red,
        _ => Color::DarkGrey,
    };
    text.with(colour).to_string()
}

/// The colours of log prefixes: readable on dark and light backgrounds, and none of them red,
/// which means an error.
const KEYED_PALETTE: [Color; 6] =
    [Color::Cyan, Color::Green, Color::Magenta, Color::Yellow, Color::Blue, Color::DarkCyan];

/// A stable colour for `key` (e.g. a pod name): the same key gets the same colour in every run.
pub fn colour_of(key: &str) -> Color {
    // FNV-1a: stable across builds and Rust versions, unlike the standard library's hasher.
    let hash = key
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
    KEYED_PALETTE[(hash % KEYED_PALETTE.len() as u64) as usize]
}

/// `text` in the colour of `key` when `colour` is on (see [`colour_enabled_on_stdout`]).
pub fn keyed(text: &str, key: &str, colour: bool) -> String {
    if colour { text.with(colour_of(key)).to_string() } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_keeps_its_colour_and_keys_spread_over_the_palette() {
        assert_eq!(colour_of("research-7d9f8-abcde"), colour_of("research-7d9f8-abcde"));
        let pods = ["research-7d9f8-abcde", "research-7d9f8-fghij", "research-7d9f8-klmno", "research-5c6b7-pqrst"];
        let colours: std::collections::BTreeSet<String> = pods.iter().map(|p| format!("{:?}", colour_of(p))).collect();
        assert!(colours.len() > 1, "every pod got the same colour: {colours:?}");
        assert!(!KEYED_PALETTE.contains(&Color::Red) && !KEYED_PALETTE.contains(&Color::DarkRed));
    }

    #[test]
    fn keyed_text_is_plain_without_colour() {
        assert_eq!(keyed("[research-abc]", "research-abc", false), "[research-abc]");
        let coloured = keyed("[research-abc]", "research-abc", true);
        assert!(coloured.starts_with("\u{1b}[") && coloured.contains("[research-abc]"), "{coloured:?}");
    }
}

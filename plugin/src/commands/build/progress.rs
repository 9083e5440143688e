//! A build's progress on stderr: one spinner per step on a terminal (indicatif), otherwise one
//! plain line per change, so logs and CI output stay readable. Step logs go through the same
//! printer, above the spinners.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use agents_api::BuildPhase;
use agents_api::build::{BuildStep, StepState};
use crossterm::style::{Color, Stylize};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// What changed between two views of a run's steps, one line per step whose state changed.
pub fn changes(before: &[BuildStep], after: &[BuildStep]) -> Vec<(String, String)> {
    after
        .iter()
        .filter(|step| before.iter().find(|b| b.name == step.name).map(|b| b.state) != Some(step.state))
        .filter(|step| step.state != StepState::Pending || before.iter().any(|b| b.name == step.name))
        .map(|step| (step.name.clone(), describe(step)))
        .collect()
}

/// `Succeeded in 3s`, `Failed: Error (exit code 128)`, `Running`.
pub fn describe(step: &BuildStep) -> String {
    let took = match (&step.start_time, &step.completion_time) {
        (Some(start), Some(end)) => {
            let seconds = end.0.duration_since(start.0).as_secs().max(0);
            format!(" in {seconds}s")
        }
        _ => String::new(),
    };
    match (&step.state, &step.reason) {
        (StepState::Failed, Some(reason)) => format!("Failed{took}: {reason}"),
        (StepState::Pending, Some(reason)) => format!("Pending: {reason}"),
        (state, _) => format!("{state}{took}"),
    }
}

/// A build phase, coloured by how good it is.
pub fn phase(phase: Option<BuildPhase>, colour: bool) -> String {
    let text = phase.map(|p| p.to_string()).unwrap_or_else(|| "Unknown".into());
    if !colour {
        return text;
    }
    let colour = match phase {
        Some(BuildPhase::Succeeded) => Color::Green,
        Some(BuildPhase::Running | BuildPhase::Pending) => Color::Yellow,
        Some(BuildPhase::Failed) => Color::Red,
        None => Color::DarkGrey,
    };
    text.with(colour).to_string()
}

/// Where progress and logs are printed.
pub struct Display {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    prefix: String,
}

impl Display {
    /// Spinners on a terminal; `prefix` (the build's name) starts plain lines.
    pub fn new(terminal: bool, prefix: &str) -> Self {
        Display { multi: terminal.then(MultiProgress::new), bars: Mutex::default(), prefix: prefix.to_string() }
    }

    /// A line above the spinners (or on stderr).
    pub fn println(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Shows one step's new state.
    pub fn step(&self, name: &str, state: StepState, text: &str) {
        let Some(multi) = &self.multi else {
            eprintln!("{}: {name}: {text}", self.prefix);
            return;
        };
        let mut bars = self.bars.lock().expect("never poisoned");
        let bar = bars.entry(name.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(ProgressStyle::with_template("{spinner} {prefix:6} {msg}").expect("a valid template"));
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if state.is_finished() {
            let mark = if state == StepState::Succeeded {
                "✓"
            } else if state == StepState::Failed {
                "✗"
            } else {
                "-"
            };
            bar.set_style(ProgressStyle::with_template("{prefix:6} {msg}").expect("a valid template"));
            bar.finish_with_message(format!("{mark} {text}"));
        } else {
            bar.set_message(text.to_string());
        }
    }

    /// Stops the spinners that are left (the run ended without telling about them).
    pub fn finish(&self) {
        for bar in self.bars.lock().expect("never poisoned").values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn step(name: &str, state: StepState) -> BuildStep {
        BuildStep { name: name.into(), state, start_time: None, completion_time: None, reason: None }
    }

    #[test]
    fn only_steps_whose_state_changed_are_printed() {
        let before = [step("clone", StepState::Running), step("build", StepState::Pending)];
        let mut done = step("clone", StepState::Succeeded);
        done.start_time = Some(Time(Timestamp::from_second(100).unwrap()));
        done.completion_time = Some(Time(Timestamp::from_second(103).unwrap()));
        let after = [done, step("build", StepState::Running), step("push", StepState::Pending)];
        assert_eq!(
            changes(&before, &after),
            [("clone".to_string(), "Succeeded in 3s".to_string()), ("build".to_string(), "Running".to_string())]
        );
        assert!(changes(&after, &after).is_empty());
    }

    #[test]
    fn a_failure_says_why() {
        let mut failed = step("clone", StepState::Failed);
        failed.reason = Some("Error (exit code 128)".into());
        assert_eq!(describe(&failed), "Failed: Error (exit code 128)");
    }
}

//! The README's tour holds to what the commands print: its first block (apply `--wait`, get,
//! describe, logs of docs/examples/research-agent.yaml) is run command by command, as a reader
//! would, and each output must read as the README shows it. What changes from run to run is
//! read as a placeholder on both sides (ages, timestamps, a pod's hash, the namespace, the column
//! widths these change). The progress lines of `apply --wait` (on stderr) are held to the README
//! by their last line only, since which come before it depends on timing; `...` in the README
//! stands for lines it leaves out.

use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, ensure};
use libtest_mimic::Trial;

use crate::support::{Ctx, Env, output_within, text, trials, workspace_root};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "readme", [the_tour_prints_what_the_readme_shows])
}

const README: &str = include_str!("../../README.md");
/// The first command of the block the test runs.
const TOUR_START: &str = "$ kubectl agents apply -f docs/examples/research-agent.yaml --wait";

async fn the_tour_prints_what_the_readme_shows(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let steps = tour(README).context("the README's tour block")?;
    ensure!(steps.len() >= 4, "the tour block has {} commands, expected apply, get, describe and logs", steps.len());
    for step in &steps {
        let mut command = command_of(&ctx, &step.command)?;
        let output = output_within(&mut command)?;
        let printed = text(&output.stdout);
        ensure!(
            output.status.success(),
            "`{}` exited with {}:\n{printed}{}",
            step.command,
            output.status,
            text(&output.stderr)
        );
        let mut expected: Vec<String> = step.output.iter().map(|l| normalize(l, "default")).collect();
        let mut actual: Vec<String> = printed.lines().map(|l| normalize(l, &ctx.ns)).collect();
        if step.command.starts_with("kubectl agents logs") {
            // Every KWOK container logs one shared file, which other tests append to: `--tail 1`
            // shows whatever they wrote last. What is compared is a line per pod with its prefix;
            // the README's text must be in the pods' whole log.
            let whole = text(&output_within(&mut ctx.agents(&["logs", "research"]))?.stdout);
            for line in &step.output {
                let said = line.split_once("] ").map_or(line.as_str(), |(_, said)| said);
                ensure!(whole.contains(said), "the pods' log has no line {said:?}:\n{whole}");
            }
            expected = expected.iter().map(|l| without_log_text(l)).collect();
            actual = actual.iter().map(|l| without_log_text(l)).collect();
        }
        if let Some(last) = expected.iter().rfind(|l| is_progress(l)) {
            let progress = text(&output.stderr);
            ensure!(
                progress.lines().any(|l| normalize(l, &ctx.ns) == *last),
                "`{}` no longer reports {last:?} on stderr as the README shows; it printed:\n{progress}",
                step.command
            );
        }
        reads_as(&expected, &actual).with_context(|| {
            format!(
                "`{}` no longer prints what the README shows: update the README's tour (or the command)\n\
                 README:\n{}\nprinted:\n{printed}",
                step.command,
                step.output.join("\n")
            )
        })?;
    }
    Ok(())
}

/// One `$ command` of the README and the lines it shows under it.
#[derive(Debug, PartialEq)]
struct Step {
    command: String,
    output: Vec<String>,
}

/// The commands and outputs of the fenced block that starts with [`TOUR_START`].
fn tour(readme: &str) -> anyhow::Result<Vec<Step>> {
    let start = readme.find(TOUR_START).context("no block starts with the research agent's apply")?;
    let block = &readme[start..readme[start..].find("```").map(|end| start + end).context("the block never ends")?];
    let mut steps: Vec<Step> = Vec::new();
    for line in block.lines() {
        match (line.strip_prefix("$ "), steps.last_mut()) {
            (Some(command), _) => steps.push(Step { command: command.to_string(), output: Vec::new() }),
            (None, Some(step)) => step.output.push(line.to_string()),
            (None, None) => {}
        }
    }
    for step in &mut steps {
        while step.output.last().is_some_and(|l| l.trim().is_empty()) {
            step.output.pop();
        }
    }
    Ok(steps)
}

/// `kubectl agents …` of a README line, in the test's namespace, from the workspace (the README's
/// paths are relative to it).
fn command_of(ctx: &Ctx, line: &str) -> anyhow::Result<Command> {
    let args: Vec<&str> = line.split_whitespace().collect();
    ensure!(args.starts_with(&["kubectl", "agents"]), "not a kubectl agents command: {line}");
    let mut command = ctx.agents(&args[2..]);
    command.current_dir(workspace_root());
    Ok(command)
}

/// A line with what varies from run to run replaced: the namespace, ages (`34s`, `(1s ago)`,
/// `5m2s`), timestamps and the hashes of pod names; runs of spaces (table columns) become one.
fn normalize(line: &str, namespace: &str) -> String {
    line.replace(namespace, "<namespace>")
        .split_whitespace()
        .map(|token| {
            let (open, rest) = token.split_at(token.len() - token.trim_start_matches(['(', '[']).len());
            let core = rest.trim_end_matches([')', ']', ',']);
            let close = &rest[core.len()..];
            let core = if is_age(core) {
                "<age>".to_string()
            } else if is_timestamp(core) {
                "<time>".to_string()
            } else {
                without_pod_hash(core)
            };
            format!("{open}{core}{close}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `[pod] text` → `[pod] <log line>`.
fn without_log_text(line: &str) -> String {
    match line.split_once("] ") {
        Some((prefix, _)) if prefix.starts_with('[') => format!("{prefix}] <log line>"),
        _ => line.to_string(),
    }
}

/// kubectl's ages: `45s`, `8m21s`, `3d4h`.
fn is_age(token: &str) -> bool {
    let mut digits = 0;
    let mut units = 0;
    for c in token.chars() {
        match c {
            '0'..='9' => digits += 1,
            's' | 'm' | 'h' | 'd' | 'y' if digits > 0 => {
                digits = 0;
                units += 1;
            }
            _ => return false,
        }
    }
    units > 0 && digits == 0
}

/// `2026-12-06T11:43:11Z`.
fn is_timestamp(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.len() == 20 && bytes[10] == b'T' && bytes[19] == b'Z' && bytes[..4].iter().all(u8::is_ascii_digit)
}

/// `research-596465574d-gppls` → `research-<hash>-<pod>` (a ReplicaSet's hash, a pod's suffix).
fn without_pod_hash(token: &str) -> String {
    let parts: Vec<&str> = token.split('-').collect();
    let alnum = |s: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&s.len()) && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    match parts.as_slice() {
        [name @ .., hash, pod] if !name.is_empty() && alnum(hash, 6..=10) && alnum(pod, 5..=5) => {
            format!("{}-<hash>-<pod>", name.join("-"))
        }
        _ => token.to_string(),
    }
}

/// A line `apply --wait` reports progress with (`agent/research: Pending: …`), on stderr.
fn is_progress(line: &str) -> bool {
    line.strip_prefix("agent/").and_then(|rest| rest.split_once(": ")).is_some_and(|(name, _)| !name.contains(' '))
}

/// Whether `actual` (stdout) reads as `expected`: the same lines in the same order, but for the
/// progress lines (stderr's), and where the README writes `...` (any lines, there).
fn reads_as(expected: &[String], actual: &[String]) -> anyhow::Result<()> {
    let actual: Vec<&String> = actual.iter().filter(|l| !is_progress(l)).collect();
    let expected: Vec<&String> = expected.iter().filter(|l| !is_progress(l)).collect();
    let segments: Vec<&[&String]> = expected.split(|l| l.as_str() == "...").collect();
    let mut at = 0;
    for (i, segment) in segments.iter().enumerate() {
        let (first, last) = (i == 0, i + 1 == segments.len());
        let found = if first {
            actual.starts_with(segment).then_some(0)
        } else {
            (at..=actual.len().saturating_sub(segment.len())).find(|&from| actual[from..].starts_with(segment))
        };
        let from = found.with_context(|| format!("these lines are not printed in this order: {segment:#?}"))?;
        at = from + segment.len();
        // A README block that ends with `...` may be followed by anything.
        if last && !segment.is_empty() && at != actual.len() {
            anyhow::bail!("printed more than the README shows, from: {:?}", actual[at]);
        }
    }
    Ok(())
}

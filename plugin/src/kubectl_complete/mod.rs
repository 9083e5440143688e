//! `kubectl-agents __complete ARGS… WORD`: completion for kubectl, in cobra's protocol.
//!
//! kubectl (1.26+) completes `kubectl agents …<TAB>` by running `kubectl_complete-agents` from
//! PATH (shipped beside the plugin: `exec kubectl-agents __complete "$@"`) with the plugin's
//! arguments so far and the word being completed last. It reads one completion a line
//! (`value\tdescription`) and a last line `:<directive>` (4: no file completion, 0: the shell's
//! default, files).
//!
//! The plan comes from clap's own command tree, so it never drifts from the CLI; only names of
//! live objects (across namespaces with `-A`), an object's runs or containers, namespaces and
//! contexts are looked up, within [`LOOKUP_DEADLINE`]. It always
//! exits 0 and prints nothing but completions: an error is no names, never a message.

mod lookup;
mod plan;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::CommandFactory;

use crate::cli::Cli;

/// The hidden first argument that selects completion, read before clap parses anything.
pub const ENTRY: &str = "__complete";

/// How long a look-up may take: a completion that hangs is worse than none.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(2);

/// Prints the completions of the last of `args` to `out`.
pub fn run(args: &[String], out: &mut impl Write) -> ExitCode {
    let mut root = Cli::command();
    root.build();
    let mut plan = plan::plan(&root, args);
    plan.global.request_timeout = Some(LOOKUP_DEADLINE);
    let found = match plan.lookup.take() {
        Some(lookup) => look_up(lookup, &plan.global),
        None => Vec::new(),
    };
    let _ = write_lines(&plan.lines(&found), out);
    ExitCode::SUCCESS
}

/// The names the look-up finds within the deadline; none if it fails or takes longer.
fn look_up(lookup: plan::Lookup, global: &crate::flags::Global) -> Vec<String> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return Vec::new();
    };
    let found = runtime.block_on(async { tokio::time::timeout(LOOKUP_DEADLINE, lookup::find(lookup, global)).await });
    match found {
        Ok(Ok(names)) => names,
        Ok(Err(error)) => {
            tracing::debug!("no completions from the cluster: {error:#}");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}

fn write_lines(lines: &[String], out: &mut impl Write) -> std::io::Result<()> {
    for line in lines {
        writeln!(out, "{line}")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests;

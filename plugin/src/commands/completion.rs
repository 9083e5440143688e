//! `kubectl agents completion bash|zsh|fish|powershell|elvish`.

use std::process::ExitCode;

use clap_complete::Shell;

#[derive(clap::Args, Debug)]
#[command(after_help = "Load it in the current shell, e.g.:\n  source <(kubectl agents completion bash)\n\
kubectl completes plugin commands through an executable named kubectl_complete-agents on PATH;\n\
the completion script here completes `kubectl-agents` itself.")]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the script that completes `command`, the whole command tree.
pub fn run(args: Args, command: &mut clap::Command) -> anyhow::Result<ExitCode> {
    clap_complete::generate(args.shell, command, "kubectl-agents", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

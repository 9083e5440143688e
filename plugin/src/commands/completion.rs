//! `kubectl agents completion bash|zsh|fish|powershell|elvish`.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

#[derive(clap::Args, Debug)]
#[command(after_help = "Load it in the current shell, e.g.:\n  source <(kubectl agents completion bash)\n\
kubectl completes plugin commands through an executable named kubectl_complete-agents on PATH;\n\
the completion script here completes `kubectl-agents` itself.")]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "kubectl-agents", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kubectl-agents", &mut script);
            let script = String::from_utf8(script).unwrap();
            assert!(script.contains("kubectl-agents"), "{shell:?}");
            assert!(script.contains("describe") && script.contains("logs"), "{shell:?}");
        }
    }
}

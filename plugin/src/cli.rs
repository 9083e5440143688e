//! The command tree: each command's flags (its clap `Args`, in its module under `commands/`) and
//! the flags every command shares (`flags::Global`), assembled into one `Cli`; and which
//! command runs.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::commands::{
    apply, build, check, completion, create, delete, describe, get, install, invoke, logs, render, restart, scale,
    status, version, workflow,
};
use crate::flags::Global;
use crate::session::Session;

/// Run AI agents on Kubernetes: scaffold, apply, inspect, build and tail them.
#[derive(Parser, Debug)]
#[command(name = "kubectl agents", bin_name = "kubectl agents", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scaffold a resource: a wizard on a terminal, flags otherwise.
    Create(Box<create::Args>),
    /// Apply manifests with server-side apply, optionally waiting until they are Ready.
    Apply(apply::Args),
    /// Print every object the operator would write for the manifests' resources (no cluster needed).
    Render(render::Args),
    /// List resources, or show one.
    #[command(visible_alias = "list", visible_alias = "ls")]
    Get(get::Args),
    /// Show a resource in detail: spec, conditions, children, dependencies, events.
    Describe(describe::Args),
    /// Send an agent a message over A2A and stream its answer (a chat without a message).
    Invoke(invoke::Args),
    /// Print the logs of every replica of an agent.
    Logs(logs::Args),
    /// Build an agent's image in the cluster (Tekton): create or re-run an AgentBuild and follow it.
    Build(Box<build::Args>),
    /// Delete resources (their children go with them).
    Delete(delete::Args),
    /// Set an agent's number of replicas.
    Scale(scale::Args),
    /// Restart an agent's pods with a rolling update.
    Restart(restart::Args),
    /// Run AgentWorkflows and follow, approve or reject their runs.
    #[command(visible_alias = "wf")]
    Workflow(workflow::Args),
    /// Install the CRDs and the operator into the cluster.
    Install(install::InstallArgs),
    /// Remove the operator (and, if asked, the CRDs with every resource of the API).
    Uninstall(install::UninstallArgs),
    /// Check that the cluster is ready: CRDs, operator, Tekton, Argo.
    Check(check::Args),
    /// One screen for a namespace: every object's phase and what needs attention, the operator, what the cluster lacks.
    Status(status::Args),
    /// Print the plugin's version and the operator's and CRDs' found in the cluster.
    Version(version::Args),
    /// Print a shell completion script.
    Completion(completion::Args),
}

/// Runs the command `cli` names: with no cluster where none is needed, else connected to the one
/// the global flags name.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    // These work without a cluster.
    match cli.command {
        Command::Completion(args) => return completion::run(args, &mut Cli::command()),
        Command::Version(args) if args.client => return version::run(None, args).await,
        Command::Install(args) if args.dry_run => return install::dry_run(&args),
        Command::Create(args) if args.client_dry_run() => return create::run(create::Destination::Print, *args).await,
        Command::Render(args) if !args.cluster => return render::run(&global, None, args).await,
        _ => {}
    }
    let session = Session::connect(&global).await?;
    match cli.command {
        Command::Create(args) => create::run(create::Destination::Cluster(&session), *args).await,
        Command::Apply(args) => apply::run(&session, args).await,
        Command::Render(args) => render::run(&global, Some(&session), args).await,
        Command::Get(args) => get::run(&session, args).await,
        Command::Describe(args) => describe::run(&session, args).await,
        Command::Invoke(args) => invoke::run(&session, args).await,
        Command::Logs(args) => logs::run(&session, args).await,
        Command::Build(args) => build::run(&session, *args).await,
        Command::Delete(args) => delete::run(&session, args).await,
        Command::Scale(args) => scale::run(&session, args).await,
        Command::Restart(args) => restart::run(&session, args).await,
        Command::Install(args) => install::install(&session, args).await,
        Command::Uninstall(args) => install::uninstall(&session, args).await,
        Command::Check(args) => check::run(&session, args).await,
        Command::Status(args) => status::run(&session, args).await,
        Command::Version(args) => version::run(Some(&session), args).await,
        Command::Workflow(args) => workflow::run(&session, args).await,
        Command::Completion(_) => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use clap_complete::Shell;

    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

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

//! The command tree and the flags every command shares (kubectl's own).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::commands;

/// Run AI agents on Kubernetes: scaffold, apply, inspect, build and tail them.
#[derive(Parser, Debug)]
#[command(name = "kubectl agents", bin_name = "kubectl agents", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's connection flags. kubectl refuses flags before a plugin's name, so they go after
/// the command: `kubectl agents get -n team-a`.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's, then "default").
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// How long to wait for one request to the API server, e.g. 30s or 1m (0 waits forever).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Debug logs on stderr (-vv: the Kubernetes client's too).
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scaffold a resource: a wizard on a terminal, flags otherwise.
    Create(Box<commands::create::Args>),
    /// Apply manifests with server-side apply, optionally waiting until they are Ready.
    Apply(commands::apply::Args),
    /// List resources, or show one.
    #[command(visible_alias = "list", visible_alias = "ls")]
    Get(commands::get::Args),
    /// Show a resource in detail: spec, conditions, children, dependencies, events.
    Describe(commands::describe::Args),
    /// Send an agent a message over A2A and stream its answer (a chat without a message).
    Invoke(commands::invoke::Args),
    /// Print the logs of every replica of an agent.
    Logs(commands::logs::Args),
    /// Build an agent's image in the cluster (Tekton): create or re-run an AgentBuild and follow it.
    Build(Box<commands::build::Args>),
    /// Delete resources (their children go with them).
    Delete(commands::delete::Args),
    /// Set an agent's number of replicas.
    Scale(commands::scale::Args),
    /// Restart an agent's pods with a rolling update.
    Restart(commands::restart::Args),
    /// Run AgentWorkflows and follow, approve or reject their runs.
    #[command(visible_alias = "wf")]
    Workflow(commands::workflow::Args),
    /// Install the CRDs and the operator into the cluster.
    Install(commands::install::InstallArgs),
    /// Remove the operator (and, if asked, the CRDs with every resource of the API).
    Uninstall(commands::install::UninstallArgs),
    /// Check that the cluster is ready: CRDs, operator, Tekton, Argo.
    Check(commands::check::Args),
    /// Print the plugin's version and the operator's and CRDs' found in the cluster.
    Version(commands::version::Args),
    /// Print a shell completion script.
    Completion(commands::completion::Args),
}

/// `30s`, `1m`, `2h`, `500ms` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) =
        text.find(|c: char| !c.is_ascii_digit() && c != '.').map(|i| text.split_at(i)).unwrap_or((text, "s"));
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30s, 1m or 2h"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?} has an unknown unit {unit:?}: use ms, s, m or h")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_read_like_kubectl_flags() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
        assert!(parse_duration("3d").unwrap_err().contains("unknown unit"));
    }
}

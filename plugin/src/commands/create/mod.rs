//! `kubectl agents create KIND NAME [flags]`: a short wizard on a terminal when the flags do not
//! say enough, flags otherwise. `--dry-run=client -o yaml` prints the manifest; `--dry-run=server`
//! has the API server validate it; otherwise it is created.

mod agent;
mod mcp_server;
mod model_api;
mod workflow;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use kube::api::{Api, PostParams};
use serde_json::Value;

use super::get::Listed;
use crate::error::Explained;
use crate::output::{self, Format};
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub kind: Kind,
}

#[derive(Subcommand, Debug)]
pub enum Kind {
    /// An Agent: a Deployment running an image, a Service reaching it.
    #[command(visible_alias = "ag")]
    Agent(agent::AgentArgs),
    /// A ModelAPI: a LiteLLM proxy, an Ollama server, or an external model endpoint for Agents.
    #[command(name = "modelapi", visible_alias = "mapi")]
    ModelAPI(model_api::ModelApiArgs),
    /// An MCPServer: a tool server from a PyPI or npm package, or from an image.
    #[command(name = "mcpserver", visible_alias = "mcp")]
    MCPServer(mcp_server::McpServerArgs),
    /// An AgentWorkflow: steps that call agents (and approval steps), run as an Argo DAG.
    #[command(visible_alias = "awf")]
    Workflow(workflow::WorkflowArgs),
}

impl Args {
    /// `--dry-run=client`: the manifest is printed and no cluster is needed, as with kubectl.
    pub fn client_dry_run(&self) -> bool {
        let common = match &self.kind {
            Kind::Agent(args) => &args.common,
            Kind::ModelAPI(args) => &args.common,
            Kind::MCPServer(args) => &args.common,
            Kind::Workflow(args) => &args.common,
        };
        common.dry_run == DryRun::Client
    }
}

/// Where the object goes: printed (a client dry run, no cluster needed) or sent to the cluster.
#[derive(Clone, Copy)]
pub enum Destination<'a> {
    Print,
    Cluster(&'a Session),
}

pub async fn run(destination: Destination<'_>, args: Args) -> anyhow::Result<ExitCode> {
    match args.kind {
        Kind::Agent(args) => agent::run(destination, args).await,
        Kind::ModelAPI(args) => model_api::run(destination, args).await,
        Kind::MCPServer(args) => mcp_server::run(destination, args).await,
        Kind::Workflow(args) => workflow::run(destination, args).await,
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    #[default]
    None,
    /// Print what would be sent; contact nothing.
    Client,
    /// Ask the API server to validate it without storing it.
    Server,
}

/// Flags every `create` takes.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct Common {
    /// client: print without sending; server: validate on the API server without storing.
    #[arg(long, value_enum, default_value_t, num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: DryRun,
    /// Print the created object instead of a one-line summary.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Format>,
}

/// Whether a wizard may ask questions: only with a person at a terminal.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Prints (client dry run) or creates the object `manifest` describes, and reports it as kubectl
/// does. Returns the created object (`None` for a client dry run).
async fn submit<K: Listed>(
    destination: Destination<'_>,
    manifest: Value,
    common: &Common,
) -> anyhow::Result<(ExitCode, Option<K>)> {
    let session = match destination {
        Destination::Print => {
            return Ok((print::<K>(&manifest, common.output.unwrap_or(Format::Yaml), " (dry run)")?, None));
        }
        Destination::Cluster(session) => session,
    };
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let object: K = serde_json::from_value(manifest).with_context(|| format!("building the {}", K::SINGULAR))?;
    let api: Api<K> = Api::namespaced(session.client.clone(), &session.namespace);
    let params = PostParams { dry_run: common.dry_run == DryRun::Server, field_manager: Some("kubectl-agents".into()) };
    let created = match api.create(&params, &object).await {
        Err(kube::Error::Api(status)) if status.code == 409 => {
            return Err(Explained(format!(
                "{} {name:?} already exists in namespace {:?}: change it with `kubectl agents apply -f`, or pick another name",
                K::SINGULAR,
                session.namespace
            ))
            .into());
        }
        other => other?,
    };
    let mut shown = serde_json::to_value(&created)?;
    if let Some(meta) = shown.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let suffix = if common.dry_run == DryRun::Server { " (server dry run)" } else { "" };
    Ok((print::<K>(&shown, common.output.unwrap_or(Format::Table), suffix)?, Some(created)))
}

fn print<K: Listed>(object: &Value, format: Format, suffix: &str) -> anyhow::Result<ExitCode> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match format {
        Format::Json | Format::Yaml => output::print_value(object, format)?,
        Format::Name => println!("{}.agents.dev/{name}", K::SINGULAR),
        Format::Table | Format::Wide => println!("{}.agents.dev/{name} created{suffix}", K::SINGULAR),
    }
    Ok(ExitCode::SUCCESS)
}

/// `SECRET:KEY`.
pub fn parse_secret_key(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((secret, key)) if !secret.is_empty() && !key.is_empty() => Ok((secret.into(), key.into())),
        _ => Err(format!("{text:?} is not SECRET:KEY, e.g. openai:api-key")),
    }
}

/// `NAME=VALUE`.
pub fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.into(), value.into())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// `{"name": ..., "value": ...}` env entries.
fn env_entries(env: &[(String, String)]) -> Value {
    env.iter().map(|(name, value)| serde_json::json!({"name": name, "value": value})).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_and_env_pairs_are_checked() {
        assert_eq!(parse_secret_key("openai:api-key"), Ok(("openai".into(), "api-key".into())));
        assert!(parse_secret_key("openai").unwrap_err().contains("SECRET:KEY"));
        assert!(parse_env("=x").is_err());
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
    }
}

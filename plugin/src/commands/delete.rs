//! `kubectl agents delete [KIND] NAME…|-l SELECTOR [--yes] [--wait]`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use agents_api::{Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use kube::runtime::wait::{await_condition, conditions};

use super::get::Listed;
use crate::error::Explained;
use crate::kinds::{Kind, split_kind};
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `[KIND] NAME…`: what to delete.
    #[arg(value_name = "KIND|NAME", required_unless_present = "selector")]
    pub names: Vec<String>,
    /// Delete every resource of the kind whose labels match, e.g. team=research (instead of names).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Do not ask for confirmation (it is only asked on a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Wait until each resource and its children are gone.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "60s", value_parser = crate::flags::parse_duration)]
    pub timeout: Duration,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let (kind, names) = split_kind(&args.names);
    match (names.is_empty(), &args.selector) {
        (true, None) => {
            return Err(Explained(format!(
                "name the {} to delete: kubectl agents delete NAME, or select them with -l KEY=VALUE",
                kind.kind()
            ))
            .into());
        }
        (false, Some(_)) => {
            return Err(Explained("give names or a selector (-l), not both: a selector picks the names".into()).into());
        }
        _ => {}
    }
    match kind {
        Kind::Agent => delete::<Agent>(session, &args, names).await,
        Kind::AgentBuild => delete::<AgentBuild>(session, &args, names).await,
        Kind::ModelAPI => delete::<ModelAPI>(session, &args, names).await,
        Kind::MCPServer => delete::<MCPServer>(session, &args, names).await,
        Kind::AgentWorkflow => delete::<AgentWorkflow>(session, &args, names).await,
    }
}

async fn delete<K: Listed>(session: &Session, args: &Args, names: &[String]) -> anyhow::Result<ExitCode> {
    let api: Api<K> = Api::namespaced(session.client.clone(), &session.namespace);
    let found = match &args.selector {
        Some(selector) => api.list(&ListParams::default().labels(selector)).await?.items,
        None => {
            // Check them all first, so a typo deletes nothing.
            let mut found = Vec::new();
            for name in names {
                match api.get_opt(name).await? {
                    Some(object) => found.push(object),
                    None => return Err(super::get::not_found_kind(session, K::SINGULAR, name).into()),
                }
            }
            found
        }
    };
    if found.is_empty() {
        // As kubectl: nothing matched is not an error.
        eprintln!("No resources found");
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> = found.iter().map(|object| object.name_any()).collect();
    if !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let prompt = format!(
            "Delete {} {} in namespace {} (with their Deployments, Services and ConfigMaps)?",
            if names.len() == 1 { K::SINGULAR } else { K::PLURAL },
            names.join(", "),
            session.namespace
        );
        if !dialoguer::Confirm::new().with_prompt(prompt).default(false).interact()? {
            eprintln!("Nothing deleted.");
            return Ok(ExitCode::FAILURE);
        }
    }
    // Foreground: the Agent goes once its children are gone, so waiting on it waits on them.
    let params = if args.wait { DeleteParams::foreground() } else { DeleteParams::background() };
    for object in &found {
        let name = object.name_any();
        api.delete(&name, &params).await?;
        println!("{}.agents.dev/{name} deleted", K::SINGULAR);
    }
    if args.wait {
        for object in &found {
            let name = object.name_any();
            let uid = object.uid().unwrap_or_default();
            let gone = await_condition(api.clone(), &name, conditions::is_deleted(&uid));
            tokio::time::timeout(args.timeout, gone).await.map_err(|_| {
                Explained(format!(
                    "{} {name:?} is still being deleted after {:?}: its children may be held by finalizers; see `kubectl agents describe {} {name}`",
                    K::SINGULAR,
                    args.timeout,
                    K::SINGULAR
                ))
            })??;
        }
    }
    Ok(ExitCode::SUCCESS)
}

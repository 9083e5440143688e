//! `kubectl agents delete [KIND] NAME… [--yes] [--wait]`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use agents_api::Agent;
use kube::api::{Api, DeleteParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::error::Explained;
use crate::kinds::{Kind, split_kind};
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `[KIND] NAME…`: what to delete.
    #[arg(value_name = "KIND|NAME", required = true)]
    pub names: Vec<String>,
    /// Do not ask for confirmation (it is only asked on a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Wait until each resource and its children are gone.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "60s", value_parser = crate::cli::parse_duration)]
    pub timeout: Duration,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let (kind, names) = split_kind(&args.names);
    if names.is_empty() {
        return Err(Explained(format!("name the {} to delete: kubectl agents delete NAME", kind.kind())).into());
    }
    if kind == Kind::AgentWorkflow {
        return super::workflow::kind::delete(session, names).await;
    }
    let api: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
    // Check them all first, so a typo deletes nothing.
    let mut agents = Vec::new();
    for name in names {
        match api.get_opt(name).await? {
            Some(agent) => agents.push(agent),
            None => return Err(super::get::not_found(session, name).into()),
        }
    }
    if !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let prompt = format!(
            "Delete {} {} in namespace {} (with their Deployments, Services and ConfigMaps)?",
            if names.len() == 1 { "agent" } else { "agents" },
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
    for agent in &agents {
        let name = agent.metadata.name.clone().unwrap_or_default();
        api.delete(&name, &params).await?;
        println!("agent.agents.dev/{name} deleted");
    }
    if args.wait {
        for agent in &agents {
            let name = agent.metadata.name.clone().unwrap_or_default();
            let uid = agent.metadata.uid.clone().unwrap_or_default();
            let gone = await_condition(api.clone(), &name, conditions::is_deleted(&uid));
            tokio::time::timeout(args.timeout, gone).await.map_err(|_| {
                Explained(format!(
                    "agent {name:?} is still being deleted after {:?}: its children may be held by finalizers; see `kubectl agents describe {name}`",
                    args.timeout
                ))
            })??;
        }
    }
    Ok(ExitCode::SUCCESS)
}

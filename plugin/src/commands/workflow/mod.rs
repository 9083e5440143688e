//! `kubectl agents workflow run|status|approve|reject|logs`: AgentWorkflows and their runs (Argo
//! Workflows the operator starts).

mod decide;
mod logs;
mod run;
pub mod status;
mod tree;

use std::process::ExitCode;

use agents_api::AgentWorkflow;
use agents_render::workflow::Run;
use agents_render::workflow::argo::workflow_resource;
use clap::Subcommand;
use kube::api::{Api, DynamicObject};

use crate::error::Explained;
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a run; on a terminal, follow its steps until it ends.
    Run(run::Args),
    /// Draw the DAG of a run with each step's state (the last run by default).
    Status(status::Args),
    /// Approve the approval step a run waits on, so the run goes on.
    Approve(decide::Args),
    /// Reject the approval step a run waits on: the run fails.
    Reject(decide::Args),
    /// Print each step's answer, in the order the steps ran.
    Logs(logs::Args),
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Run(args) => run::run(session, args).await,
        Command::Status(args) => status::run(session, args).await,
        Command::Approve(args) => decide::run(session, args, true).await,
        Command::Reject(args) => decide::run(session, args, false).await,
        Command::Logs(args) => logs::run(session, args).await,
    }
}

/// The AgentWorkflow `name`, or an error that says where to look.
pub async fn get(session: &Session, name: &str) -> anyhow::Result<AgentWorkflow> {
    let api: Api<AgentWorkflow> = Api::namespaced(session.client.clone(), &session.namespace);
    api.get_opt(name).await?.ok_or_else(|| {
        Explained(format!(
            "agentworkflow {name:?} not found in namespace {:?}: list them with `kubectl get agentworkflows -A`, or pass -n NAMESPACE",
            session.namespace
        ))
        .into()
    })
}

/// The Argo Workflows API of the session's namespace.
pub fn runs_api(session: &Session) -> Api<DynamicObject> {
    Api::namespaced_with(session.client.clone(), &session.namespace, &workflow_resource())
}

/// The run `run`, or the workflow's last one.
pub async fn get_run(session: &Session, workflow: &AgentWorkflow, run: Option<&str>) -> anyhow::Result<Run> {
    let name = match run {
        Some(run) => run.to_string(),
        None => {
            workflow.status.as_ref().and_then(|s| s.last_run.as_ref()).map(|r| r.name.clone()).ok_or_else(|| {
                Explained(format!(
                    "agentworkflow {:?} has not run yet: start a run with `kubectl agents workflow run {0}`",
                    workflow.metadata.name.as_deref().unwrap_or_default()
                ))
            })?
        }
    };
    let object = runs_api(session).get_opt(&name).await?.ok_or_else(|| {
        Explained(format!(
            "run {name:?} not found in namespace {:?} (finished runs beyond the history limit are deleted)",
            session.namespace
        ))
    })?;
    Ok(Run::from_dynamic(&object))
}

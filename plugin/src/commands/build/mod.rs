//! `kubectl agents build`: create or re-run an AgentBuild and follow it (`run.rs`), list builds
//! and their runs (`list.rs`), print a run's logs (`logs.rs`).

pub mod describe;
pub mod list;
pub mod logs;
pub mod progress;
pub mod run;

use std::process::ExitCode;

use agents_api::AgentBuild;
use kube::api::{Api, DynamicObject, ListParams};

use crate::error::Explained;
use crate::session::Session;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    #[command(flatten)]
    pub run: run::Args,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// List AgentBuilds, or the runs of one.
    #[command(visible_alias = "ls")]
    List(list::Args),
    /// Print the logs of a build's run (the current one by default), step by step.
    Logs(logs::Args),
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Some(Action::List(list)) => list::run(session, list).await,
        Some(Action::Logs(logs)) => logs::run(session, logs).await,
        None => run::run(session, args.run).await,
    }
}

pub fn not_found(session: &Session, name: &str) -> Explained {
    Explained(format!(
        "agentbuild {name:?} not found in namespace {:?}: create it with `kubectl agents build {name} --repo URL --image REGISTRY/REPOSITORY`, or pass -n NAMESPACE",
        session.namespace
    ))
}

/// The build `name`, or an error saying how to create it.
pub async fn get(session: &Session, name: &str) -> anyhow::Result<AgentBuild> {
    let api: Api<AgentBuild> = Api::namespaced(session.client.clone(), &session.namespace);
    api.get_opt(name).await?.ok_or_else(|| not_found(session, name).into())
}

/// The runs (PipelineRuns) of the build `name`, oldest first.
pub async fn runs_of(session: &Session, name: &str) -> anyhow::Result<Vec<DynamicObject>> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        session.client.clone(),
        &session.namespace,
        &agents_render::build::pipeline_run_resource(),
    );
    let selector = format!("{}={name}", agents_render::labels::BUILD);
    let mut runs = match api.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 404 => return Err(tekton_missing().into()),
        Err(e) => return Err(e.into()),
    };
    agents_render::build::sort_runs(&mut runs);
    Ok(runs)
}

/// The TaskRun of the run `run`, if Tekton created it.
pub async fn task_run_of(session: &Session, run: &str) -> anyhow::Result<Option<DynamicObject>> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(session.client.clone(), &session.namespace, &agents_render::build::task_run_resource());
    let list = api.list(&ListParams::default().labels(&format!("tekton.dev/pipelineRun={run}"))).await?;
    Ok(list.items.into_iter().next())
}

pub fn tekton_missing() -> Explained {
    Explained(
        "the cluster does not serve tekton.dev/v1 PipelineRuns: install Tekton Pipelines \
         (https://tekton.dev/docs/installation/pipelines/); `kubectl agents check` shows what is missing"
            .into(),
    )
}

//! `kubectl agents workflow status NAME [RUN]`: the DAG of a run as a tree with each step's state.

use std::fmt::Write as _;
use std::process::ExitCode;

use agents_api::AgentWorkflow;
use agents_render::workflow::run::Run;
use k8s_openapi::jiff::Timestamp;

use crate::output::{self, Format, RowOptions};
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The AgentWorkflow.
    pub name: String,
    /// The run (an Argo Workflow name; default: the last run).
    pub run: Option<String>,
    /// table (the tree), json or yaml (the AgentWorkflow's status).
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let workflow = super::get(session, &args.name).await?;
    let status = workflow.status.clone().unwrap_or_default();
    if matches!(args.output, Format::Json | Format::Yaml) {
        output::print_value(&serde_json::to_value(&status)?, args.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    let has_run = args.run.is_some() || status.last_run.is_some();
    let run = if has_run { Some(super::get_run(session, &workflow, args.run.as_deref()).await?) } else { None };
    let options = RowOptions { wide: false, colour: style::colour_enabled_on_stdout(), now: Timestamp::now() };
    print!("{}", page(&workflow, run.as_ref(), &options));
    Ok(ExitCode::SUCCESS)
}

/// The page: the workflow's phase and schedule, then its run (`None`: it has not run) as a tree.
pub fn page(workflow: &AgentWorkflow, run: Option<&Run>, options: &RowOptions) -> String {
    let status = workflow.status.clone().unwrap_or_default();
    let name = workflow.metadata.name.as_deref().unwrap_or_default();
    let mut page = String::new();
    let phase = status.phase.map(|p| p.to_string()).unwrap_or_else(|| "Unknown".into());
    let _ = writeln!(page, "AgentWorkflow {name}   {phase}");
    let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY);
    if let Some(ready) = ready {
        let _ = writeln!(page, "  {}: {}", ready.reason, ready.message);
    }
    if let Some(schedule) = &workflow.spec.schedule {
        let next = status.next_scheduled_time.as_ref().map(|t| format!(", next {}", t.0)).unwrap_or_default();
        let paused = if schedule.suspend { " (suspended)" } else { "" };
        let _ = writeln!(page, "  schedule {}{paused}{next}", schedule.cron);
    }
    match run {
        Some(run) => {
            let started = output::age(run.status.started_at.as_ref(), options.now);
            let _ = writeln!(page, "Run {}   {}   started {started} ago", run.name(), run.phase());
        }
        None => {
            let _ = writeln!(page, "No run yet: start one with `kubectl agents workflow run {name}`");
        }
    }
    for line in super::tree::lines(workflow, run, options.colour) {
        let _ = writeln!(page, "  {line}");
    }
    page
}

//! `kubectl agents workflow status NAME [RUN]`: the DAG of a run as a tree with each step's state.

use std::process::ExitCode;

use crate::output::{self, Format};
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
    let colour = style::colour_enabled_on_stdout();
    let phase = status.phase.map(|p| p.to_string()).unwrap_or_else(|| "Unknown".into());
    println!("AgentWorkflow {}   {phase}", args.name);
    let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY);
    if let Some(ready) = ready {
        println!("  {}: {}", ready.reason, ready.message);
    }
    if let Some(schedule) = &workflow.spec.schedule {
        let next = status.next_scheduled_time.as_ref().map(|t| format!(", next {}", t.0)).unwrap_or_default();
        let paused = if schedule.suspend { " (suspended)" } else { "" };
        println!("  schedule {}{paused}{next}", schedule.cron);
    }
    let has_run = args.run.is_some() || status.last_run.is_some();
    let run = if has_run { Some(super::get_run(session, &workflow, args.run.as_deref()).await?) } else { None };
    match &run {
        Some(run) => {
            let started = output::age(run.status.started_at.as_ref());
            println!("Run {}   {}   started {started} ago", run.name(), run.phase());
        }
        None => println!("No run yet: start one with `kubectl agents workflow run {}`", args.name),
    }
    for line in super::tree::lines(&workflow, run.as_ref(), colour) {
        println!("  {line}");
    }
    Ok(ExitCode::SUCCESS)
}

//! `kubectl agents build list [NAME]`: the AgentBuilds (also `kubectl agents get agentbuilds`),
//! or the runs of one, newest last.

use std::io::Write;
use std::process::ExitCode;

use agents_api::AgentBuild;
use agents_render::build::tekton::{Outcome, RunStatus};
use agents_render::build::{REQUEST_ANNOTATION, RESULT_DIGEST};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::DynamicObject;

use crate::commands::get;
use crate::output::{self, PrintFlags, Printer, RowOptions};
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A build whose runs to list; all builds when omitted.
    pub name: Option<String>,
    /// List builds across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[command(flatten)]
    pub print: PrintFlags,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    match &args.name {
        None => {
            let listing = get::Args {
                names: Vec::new(),
                all_namespaces: args.all_namespaces,
                selector: None,
                print: args.print,
                watch: false,
            };
            get::list::<AgentBuild>(session, &listing, &[]).await
        }
        Some(name) => runs(session, name, &args.print).await,
    }
}

/// The runs of one build, oldest first (or by `--sort-by`); `*` marks the current one.
async fn runs(session: &Session, name: &str, print: &PrintFlags) -> anyhow::Result<ExitCode> {
    let printer = print.printer()?;
    let sort_by = print.sort_by()?;
    let build = super::get(session, name).await?;
    let mut runs = super::runs_of(session, name).await?;
    runs.iter_mut().for_each(|r| r.metadata.managed_fields = None);
    if let Some(sort_by) = &sort_by {
        sort_by.sort(&mut runs)?;
    }
    let mut out = std::io::stdout().lock();
    match printer {
        Printer::Generic(generic) => {
            generic.print(&runs, false, &mut out)?;
        }
        Printer::Table { .. } if runs.is_empty() => eprintln!("agentbuild {name} has no runs."),
        Printer::Table { wide, headers } => {
            let options = RowOptions { wide, colour: style::colour_enabled_on_stdout(), now: Timestamp::now() };
            output::write_table(&mut out, &runs_table(&build, &runs, &options), headers)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The runs' table; `*` marks the build's current run.
pub fn runs_table(build: &AgentBuild, runs: &[DynamicObject], options: &RowOptions) -> comfy_table::Table {
    let current = build.status.as_ref().and_then(|s| s.run_name.clone());
    let mut header = vec!["RUN", "PHASE", "STARTED", "DURATION", "DIGEST"];
    if options.wide {
        header.push("REQUEST");
    }
    let mut table = output::table(header);
    for run in runs {
        let mut row = run_row(run, current.as_deref(), options);
        if options.wide {
            row.push(output::or_none(run.annotations().get(REQUEST_ANNOTATION).cloned()));
        }
        table.add_row(row);
    }
    table
}

fn run_row(run: &DynamicObject, current: Option<&str>, options: &RowOptions) -> Vec<String> {
    let colour = options.colour;
    let status = RunStatus::of(run);
    let name = run.name_any();
    let marked = if current == Some(name.as_str()) { format!("{name} *") } else { name };
    let phase = match status.outcome() {
        Outcome::NotStarted => "Pending",
        Outcome::Running => "Running",
        Outcome::Succeeded => "Succeeded",
        Outcome::Failed => {
            if status.succeeded().and_then(|c| c.reason.as_deref()).is_some_and(|r| r.contains("Cancelled")) {
                "Cancelled"
            } else {
                "Failed"
            }
        }
    };
    let phase =
        if colour && phase == "Failed" { style::error_label().replace("error:", phase) } else { phase.to_string() };
    let duration = match (&status.start_time, &status.completion_time) {
        (Some(start), Some(end)) => format!("{}s", end.0.duration_since(start.0).as_secs().max(0)),
        (Some(_), None) => "running".into(),
        _ => "<none>".into(),
    };
    vec![
        marked,
        phase,
        status
            .start_time
            .as_ref()
            .map(|t| output::age(Some(t), options.now) + " ago")
            .unwrap_or_else(|| "<none>".into()),
        duration,
        output::or_none(status.result(RESULT_DIGEST)),
    ]
}

//! `kubectl agents workflow run NAME [--arg K=V]… [--no-wait]`: asks the operator for a run (the
//! `agents.dev/run-request` annotation), then follows the run's steps until it ends.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use agents_api::AgentWorkflow;
use agents_api::workflow::{RUN_REQUEST_ANNOTATION, StepPhase, WorkflowPhase};
use agents_render::workflow::{Run, RunRequest};
use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::json;

use crate::error::Explained;
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The AgentWorkflow to run.
    pub name: String,
    /// An argument of the run, overriding the workflow's default (repeatable).
    #[arg(long = "arg", value_name = "NAME=VALUE", value_parser = parse_arg)]
    pub arguments: Vec<(String, String)>,
    /// Print the run's name and return at once instead of following it.
    #[arg(long)]
    pub no_wait: bool,
    /// Give up following after this long, e.g. 10m (the run goes on).
    #[arg(long, value_name = "DURATION", value_parser = crate::flags::parse_duration)]
    pub timeout: Option<Duration>,
}

fn parse_arg(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.into(), value.into())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// A new run id: 5 characters of [a-z0-9] from the clock (runs are seconds apart at least).
fn new_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut n = (nanos / 1000) as u64;
    let mut id = String::new();
    for _ in 0..5 {
        id.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
    }
    id
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let workflow = super::get(session, &args.name).await?;
    let known: Vec<&str> = workflow.spec.arguments.iter().map(|a| a.name.as_str()).collect();
    for (name, _) in &args.arguments {
        if !known.contains(&name.as_str()) {
            let known =
                if known.is_empty() { "it takes none".to_string() } else { format!("it takes {}", known.join(", ")) };
            return Err(Explained(format!("agentworkflow {:?} has no argument {name:?}: {known}", args.name)).into());
        }
    }
    let request = RunRequest { id: new_id(), arguments: args.arguments.iter().cloned().collect::<BTreeMap<_, _>>() };
    let run_name = request.run_name(&args.name);
    let api: Api<AgentWorkflow> = Api::namespaced(session.client.clone(), &session.namespace);
    let patch = json!({"metadata": {"annotations": {RUN_REQUEST_ANNOTATION: serde_json::to_string(&request)?}}});
    api.patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    if args.no_wait {
        println!("{run_name}");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("requested run {run_name}");
    let follow = follow(session, &api, &args.name, &run_name);
    match args.timeout {
        Some(limit) => match tokio::time::timeout(limit, follow).await {
            Ok(result) => result,
            Err(_) => Err(Explained(format!(
                "run {run_name} did not end within {limit:?}; it goes on: `kubectl agents workflow status {}`",
                args.name
            ))
            .into()),
        },
        None => follow.await,
    }
}

/// Prints each step's state as it changes until the run ends; exits 0 if it succeeded.
async fn follow(session: &Session, api: &Api<AgentWorkflow>, name: &str, run_name: &str) -> anyhow::Result<ExitCode> {
    let colour = style::colour_enabled_on_stdout();
    // Until the operator starts the run, say what holds it back (an Agent not Ready, ...).
    let mut said = None;
    let mut workflows = std::pin::pin!(watcher::watch_object(api.clone(), name));
    while let Some(workflow) = workflows.next().await {
        let Some(workflow) = workflow? else {
            return Err(Explained(format!("agentworkflow {name:?} was deleted")).into());
        };
        let status = workflow.status.clone().unwrap_or_default();
        if status.last_run.as_ref().is_some_and(|r| r.name == run_name) {
            break;
        }
        let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY);
        if let (Some(phase), Some(ready)) = (status.phase, ready)
            && matches!(phase, WorkflowPhase::Waiting | WorkflowPhase::Failed)
            && said.as_ref() != Some(&ready.message)
        {
            eprintln!("{phase}: {}", ready.message);
            said = Some(ready.message.clone());
        }
    }
    let workflow = super::get(session, name).await?;
    let mut shown: BTreeMap<String, StepPhase> = BTreeMap::new();
    let mut runs = std::pin::pin!(watcher::watch_object(super::runs_api(session), run_name));
    while let Some(object) = runs.next().await {
        let Some(object) = object? else {
            return Err(Explained(format!("run {run_name} was deleted")).into());
        };
        let run = Run::from_dynamic(&object);
        for step in &workflow.spec.steps {
            let phase = run.step_phase(&step.name);
            if phase == StepPhase::Pending || shown.get(&step.name) == Some(&phase) {
                continue;
            }
            shown.insert(step.name.clone(), phase);
            let mut line = format!("{:<24} {}", step.name, super::tree::phase_text(Some(phase), colour));
            if phase == StepPhase::AwaitingApproval {
                line.push_str(&format!(
                    "   approve: kubectl agents workflow approve {name} --step {0} | reject: kubectl agents workflow reject {name} --step {0}",
                    step.name
                ));
            }
            println!("{line}");
        }
        if run.is_finished() {
            let phase = run.phase();
            let message = run.status.message.clone().filter(|m| !m.is_empty());
            println!("run {run_name} {phase}{}", message.map(|m| format!(": {m}")).unwrap_or_default());
            return Ok(if phase == WorkflowPhase::Succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
    }
    Err(Explained(format!("lost the watch on run {run_name}: `kubectl agents workflow status {name}`")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_run_request_ids() {
        let id = new_id();
        assert_eq!(id.len(), 5);
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{id}");
        assert!(parse_arg("topic=a=b").unwrap() == ("topic".into(), "a=b".into()));
        assert!(parse_arg("=x").is_err());
    }
}

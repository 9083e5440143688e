//! `kubectl agents workflow logs NAME [RUN]`: each step's answer, in the order the steps ran.

use std::process::ExitCode;

use agents_api::workflow::{StepPhase, StepType};
use agents_render::workflow::{check, dag};

use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The AgentWorkflow.
    pub name: String,
    /// The run (default: the last run).
    pub run: Option<String>,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let workflow = super::get(session, &args.name).await?;
    let run = super::get_run(session, &workflow, args.run.as_deref()).await?;
    let order = match check(&workflow.spec) {
        Ok(checked) => dag::run_order(&workflow.spec, &checked),
        Err(_) => workflow.spec.steps.iter().map(|s| s.name.clone()).collect(),
    };
    // Started steps in the order they started; the rest after them, in dependency order.
    let mut steps: Vec<(Option<k8s_openapi::jiff::Timestamp>, usize, String)> = order
        .into_iter()
        .enumerate()
        .map(|(i, step)| (run.node(&step).and_then(|n| n.started_at.as_ref()).map(|t| t.0), i, step))
        .collect();
    steps.sort_by_key(|(started, i, _)| (started.is_none(), *started, *i));
    for (_, _, step) in steps {
        let phase = run.step_phase(&step);
        if phase == StepPhase::Pending {
            continue;
        }
        println!("==> {step} ({phase})");
        let spec = workflow.spec.steps.iter().find(|s| s.name == step);
        if spec.is_some_and(|s| s.step_type == StepType::Approval) {
            if let Some(d) = run.decision(&step) {
                let why = d.message.map(|m| format!(": {m}")).unwrap_or_default();
                println!("{} by {}{why}", d.decision, d.by.unwrap_or_default());
            }
        } else if let Some(answer) = run.answer(&step) {
            println!("{answer}");
        } else if let Some(message) = run.node(&step).and_then(|n| n.message.clone()).filter(|m| !m.is_empty()) {
            println!("{message}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

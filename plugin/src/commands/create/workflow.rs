//! `kubectl agents create workflow NAME --step NAME=AGENT[:DEPS]… [--approval NAME[:DEPS]]…`.

use std::process::ExitCode;

use agents_api::AgentWorkflow;
use serde_json::{Value, json};

use super::{Common, Destination, parse_env, submit};
use crate::error::Explained;

#[derive(clap::Args, Debug, Default)]
pub struct WorkflowArgs {
    /// The AgentWorkflow's name.
    pub name: String,
    /// A step calling an agent, after the steps it depends on: NAME=AGENT[:DEP1,DEP2] (repeatable, in order).
    #[arg(long = "step", value_name = "NAME=AGENT[:DEPS]", value_parser = parse_step)]
    pub steps: Vec<StepFlag>,
    /// An approval step: NAME[:DEP1,DEP2] (repeatable).
    #[arg(long = "approval", value_name = "NAME[:DEPS]", value_parser = parse_approval)]
    pub approvals: Vec<StepFlag>,
    /// An argument and its default, NAME=VALUE (repeatable).
    #[arg(long = "arg", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub arguments: Vec<(String, String)>,
    /// Run on this cron schedule, e.g. "0 */6 * * *".
    #[arg(long)]
    pub schedule: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

/// One `--step` or `--approval` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFlag {
    pub name: String,
    /// `None` for an approval step.
    pub agent: Option<String>,
    pub depends_on: Vec<String>,
}

fn split_deps(text: &str) -> (&str, Vec<String>) {
    match text.split_once(':') {
        Some((head, deps)) => (head, deps.split(',').filter(|d| !d.is_empty()).map(str::to_string).collect()),
        None => (text, Vec::new()),
    }
}

fn parse_step(text: &str) -> Result<StepFlag, String> {
    let (head, depends_on) = split_deps(text);
    match head.split_once('=') {
        Some((name, agent)) if !name.is_empty() && !agent.is_empty() => {
            Ok(StepFlag { name: name.into(), agent: Some(agent.into()), depends_on })
        }
        _ => Err(format!("{text:?} is not NAME=AGENT[:DEP1,DEP2], e.g. summarize=writer:research")),
    }
}

fn parse_approval(text: &str) -> Result<StepFlag, String> {
    let (name, depends_on) = split_deps(text);
    if name.is_empty() || name.contains('=') {
        return Err(format!("{text:?} is not NAME[:DEP1,DEP2], e.g. review:summarize"));
    }
    Ok(StepFlag { name: name.into(), agent: None, depends_on })
}

/// The AgentWorkflow manifest: the steps in the order given (approvals after agent steps).
pub fn workflow_manifest(args: &WorkflowArgs) -> Value {
    let steps: Vec<Value> = args
        .steps
        .iter()
        .chain(&args.approvals)
        .map(|step| {
            let mut value = json!({"name": step.name});
            match &step.agent {
                Some(agent) => value["agentRef"] = json!({"name": agent}),
                None => value["type"] = json!("Approval"),
            }
            if !step.depends_on.is_empty() {
                value["dependsOn"] = json!(step.depends_on);
            }
            value
        })
        .collect();
    let mut spec = json!({"steps": steps});
    if !args.arguments.is_empty() {
        spec["arguments"] = args.arguments.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
    }
    if let Some(cron) = &args.schedule {
        spec["schedule"] = json!({"cron": cron});
    }
    json!({
        "apiVersion": agents_api::API_VERSION,
        "kind": "AgentWorkflow",
        "metadata": {"name": args.name},
        "spec": spec,
    })
}

pub async fn run(destination: Destination<'_>, args: WorkflowArgs) -> anyhow::Result<ExitCode> {
    if args.steps.is_empty() && args.approvals.is_empty() {
        return Err(Explained(
            "give the workflow its steps: --step NAME=AGENT[:DEPS] (repeatable), --approval NAME[:DEPS]".into(),
        )
        .into());
    }
    Ok(submit::<AgentWorkflow>(destination, workflow_manifest(&args), &args.common).await?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_is_scaffolded_from_step_flags() {
        let args = WorkflowArgs {
            name: "pipeline".into(),
            steps: vec![parse_step("research=researcher").unwrap(), parse_step("write=writer:research").unwrap()],
            approvals: vec![parse_approval("review:write").unwrap()],
            arguments: vec![("topic".into(), "k8s".into())],
            schedule: Some("0 */6 * * *".into()),
            ..Default::default()
        };
        let manifest = workflow_manifest(&args);
        assert_eq!(
            manifest["spec"]["steps"],
            json!([
                {"name": "research", "agentRef": {"name": "researcher"}},
                {"name": "write", "agentRef": {"name": "writer"}, "dependsOn": ["research"]},
                {"name": "review", "type": "Approval", "dependsOn": ["write"]},
            ])
        );
        assert_eq!(manifest["spec"]["schedule"]["cron"], "0 */6 * * *");
        assert_eq!(manifest["spec"]["arguments"], json!([{"name": "topic", "value": "k8s"}]));
        let _: AgentWorkflow = serde_json::from_value(manifest).expect("a valid AgentWorkflow");
        assert!(parse_step("research").unwrap_err().contains("NAME=AGENT"));
        assert_eq!(parse_step("a=b:c,d").unwrap().depends_on, ["c", "d"]);
        assert!(parse_approval("x=y").is_err());
    }
}

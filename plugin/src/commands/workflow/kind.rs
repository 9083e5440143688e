//! AgentWorkflows in the generic commands: `kubectl agents get|describe|delete workflow …`.

use std::process::ExitCode;

use agents_api::AgentWorkflow;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Resource, ResourceExt};

use crate::commands::get;
use crate::output::{self, Format};
use crate::session::Session;

/// `kubectl agents get workflows [NAME…]`.
pub async fn get(session: &Session, args: &get::Args, names: &[String]) -> anyhow::Result<ExitCode> {
    let api: Api<AgentWorkflow> = if args.all_namespaces {
        Api::all(session.client.clone())
    } else {
        Api::namespaced(session.client.clone(), &session.namespace)
    };
    let mut workflows = if names.is_empty() {
        let mut params = ListParams::default();
        if let Some(selector) = &args.selector {
            params = params.labels(selector);
        }
        api.list(&params).await?.items
    } else {
        let mut found = Vec::new();
        for name in names {
            found.push(super::get(session, name).await?);
        }
        found
    };
    workflows.iter_mut().for_each(|w| w.metadata.managed_fields = None);
    match args.output {
        Format::Json | Format::Yaml => output::print_objects(&workflows, !names.is_empty(), args.output)?,
        Format::Name => workflows.iter().for_each(|w| println!("agentworkflow.agents.dev/{}", w.name_any())),
        Format::Table | Format::Wide => {
            if workflows.is_empty() {
                eprintln!("No agentworkflows found in namespace {}.", session.namespace);
                return Ok(ExitCode::SUCCESS);
            }
            let mut header = if args.all_namespaces { vec!["NAMESPACE"] } else { vec![] };
            header.extend(["NAME", "PHASE", "STEPS", "SCHEDULE", "LAST RUN", "AGE"]);
            let mut table = output::table(header);
            for w in &workflows {
                let status = w.status.clone().unwrap_or_default();
                let mut row = if args.all_namespaces { vec![w.namespace().unwrap_or_default()] } else { vec![] };
                row.extend([
                    w.name_any(),
                    output::or_none(status.phase),
                    w.spec.steps.len().to_string(),
                    output::or_none(w.spec.schedule.as_ref().map(|s| s.cron.clone())),
                    output::or_none(status.last_run.map(|r| r.name)),
                    output::age(w.meta().creation_timestamp.as_ref()),
                ]);
                table.add_row(row);
            }
            output::print_table(&table, true)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kubectl agents describe workflow NAME`: the status with the DAG of the last run.
pub async fn describe(session: &Session, name: &str) -> anyhow::Result<ExitCode> {
    super::status::run(session, super::status::Args { name: name.to_string(), run: None, output: Format::Table }).await
}

/// `kubectl agents delete workflow NAME…`: its runs and CronWorkflow go with it.
pub async fn delete(session: &Session, names: &[String]) -> anyhow::Result<ExitCode> {
    for name in names {
        super::get(session, name).await?;
    }
    let api: Api<AgentWorkflow> = Api::namespaced(session.client.clone(), &session.namespace);
    for name in names {
        api.delete(name, &DeleteParams::background()).await?;
        println!("agentworkflow.agents.dev/{name} deleted");
    }
    Ok(ExitCode::SUCCESS)
}

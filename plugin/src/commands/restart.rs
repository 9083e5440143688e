//! `kubectl agents restart NAME…`: a rolling restart, asked of the operator through an
//! annotation on the Agent (which it copies onto the pod template), so the Agent stays the one
//! source of truth for its Deployment.

use std::process::ExitCode;

use agents_api::Agent;
use agents_render::agent::RESTARTED_AT_ANNOTATION;
use kube::api::{Api, Patch, PatchParams};

use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The agents to restart.
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let api: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
    for name in &args.names {
        if api.get_opt(name).await?.is_none() {
            return Err(super::get::not_found(session, name).into());
        }
    }
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    for name in &args.names {
        let patch = serde_json::json!({"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: now}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        println!("agent.agents.dev/{name} restarted");
    }
    Ok(ExitCode::SUCCESS)
}

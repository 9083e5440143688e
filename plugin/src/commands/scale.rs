//! `kubectl agents scale NAME --replicas N`, through the Agent's scale subresource.

use std::process::ExitCode;

use agents_api::Agent;
use kube::api::{Api, Patch, PatchParams};

use crate::error::Explained;
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The agent to scale.
    pub name: String,
    /// The number of pods (0 stops the agent).
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..=1000))]
    pub replicas: i32,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let api: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
    let agent = api.get_opt(&args.name).await?.ok_or_else(|| super::get::not_found(session, &args.name))?;
    if let Some(autoscaling) = &agent.spec.autoscaling {
        return Err(Explained(format!(
            "agent {:?} is autoscaled (spec.autoscaling, {} to {} replicas): change its autoscaling bounds, or remove spec.autoscaling to set replicas",
            args.name,
            autoscaling.min_replicas.unwrap_or(1),
            autoscaling.max_replicas
        ))
        .into());
    }
    let patch = serde_json::json!({"spec": {"replicas": args.replicas}});
    api.patch_scale(&args.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    println!("agent.agents.dev/{} scaled to {}", args.name, args.replicas);
    Ok(ExitCode::SUCCESS)
}

//! `kubectl agents workflow approve|reject NAME [--step S] [--message M] [--run RUN]`: decides the
//! approval step a run waits on, changing exactly what `argo resume` / `argo stop` change with a
//! node field selector (see `agents_render::workflow::decide`), plus the recorded decision.

use std::process::ExitCode;

use agents_render::workflow::decide::{self, Decision};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DynamicObject, PostParams};

use crate::error::Explained;
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The AgentWorkflow.
    pub name: String,
    /// The approval step (needed only when several wait).
    #[arg(long)]
    pub step: Option<String>,
    /// Why: recorded with the decision (and, on a rejection, the step's message).
    #[arg(long, short = 'm')]
    pub message: Option<String>,
    /// The run (default: the last run).
    #[arg(long)]
    pub run: Option<String>,
}

pub async fn run(session: &Session, args: Args, approve: bool) -> anyhow::Result<ExitCode> {
    let workflow = super::get(session, &args.name).await?;
    let run = super::get_run(session, &workflow, args.run.as_deref()).await?;
    let run_name = run.name().to_string();
    let decision = Decision {
        approve,
        by: Some(whoami(&session.client).await),
        message: args.message.clone(),
        at: Time(k8s_openapi::jiff::Timestamp::now()),
    };
    let api = super::runs_api(session);
    // Read, change, write back with the read resourceVersion; a conflicting write means Argo
    // moved the run meanwhile: read again (as Argo's own retry does).
    for _ in 0..10 {
        let live = api.get(&run_name).await?;
        let mut value = serde_json::to_value(&live)?;
        let step = decide::decide(&mut value, args.step.as_deref(), &decision).map_err(|refused| {
            Explained(format!("run {run_name}: {refused}; see `kubectl agents workflow status {}`", args.name))
        })?;
        let updated: DynamicObject = serde_json::from_value(value)?;
        match api.replace(&run_name, &PostParams::default(), &updated).await {
            Ok(_) => {
                let verb = if approve { "approved" } else { "rejected" };
                println!("{verb} step {step} of run {run_name}");
                return Ok(ExitCode::SUCCESS);
            }
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Explained(format!("run {run_name} kept changing while deciding: try again")).into())
}

/// The user the API server knows us as (a SelfSubjectReview), as Argo's actor label records it.
async fn whoami(client: &kube::Client) -> String {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    match api.create(&PostParams::default(), &SelfSubjectReview::default()).await {
        Ok(review) => {
            review.status.and_then(|s| s.user_info).and_then(|u| u.username).unwrap_or_else(|| "unknown".into())
        }
        Err(e) => {
            tracing::debug!("could not tell who we are: {e}");
            "unknown".into()
        }
    }
}

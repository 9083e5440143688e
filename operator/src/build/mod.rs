//! The AgentBuild controller: starts one Tekton PipelineRun per build request, mirrors its
//! progress into the AgentBuild's status, cancels runs a newer request superseded, and keeps
//! `historyLimit` finished runs.

mod reconcile;
#[cfg(test)]
mod scenarios;
pub mod tekton;

use std::future::Future;
use std::sync::Arc;

use agents_api::AgentBuild;
use futures::StreamExt;
use kube::runtime::{Controller, controller};

use crate::cache;
use crate::context::Context;
use crate::watches::Watches;
use crate::written::Written;

/// What the AgentBuild reconciler reads besides the AgentBuild itself.
pub struct State {
    pub ctx: Arc<Context>,
    pub tekton: tekton::Tekton,
    /// Status writes the AgentBuild cache has not shown yet.
    pub written: Arc<Written<AgentBuild>>,
}

/// Sets the controller up (following AgentBuilds in `watches`); the future runs it.
pub fn run<S>(ctx: Arc<Context>, watches: &Watches, shutdown: S) -> impl Future<Output = ()> + use<S>
where
    S: Future<Output = ()> + Send + Sync + 'static,
{
    let (tekton, tekton_came_or_went, run_changes) = tekton::follow(ctx.client.clone(), ctx.namespace.clone());
    // A new rebuild annotation is a change; the operator's own status writes are not.
    let mut reads = watches.reads::<AgentBuild>();
    let (builds, build_changes) = watches.builds.read(&mut reads);
    let gate = reads.gate();
    let written = Arc::new(Written::new(builds.clone()));
    let build_changes = cache::not_status_only(written.follow(build_changes));
    let state = Arc::new(State { ctx: ctx.clone(), tekton, written });
    tracing::info!(concurrency = ctx.build_concurrency, "starting the AgentBuild controller");
    let (sweep, pace) = gate.sweep(builds.clone(), ctx.build_concurrency);
    let controller = Controller::for_stream(gate.discard_until_open(build_changes), builds)
        .reconcile_on(sweep)
        .reconcile_all_on(gate.discard_until_open(tekton_came_or_went))
        .reconcile_on(gate.discard_until_open(run_changes))
        .with_config(controller::Config::default().concurrency(ctx.build_concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, state);
    controller.for_each(move |result| {
        pace.ended();
        async move {
            if let Err(e) = result {
                tracing::debug!("agentbuild controller: {e}");
            }
        }
    })
}

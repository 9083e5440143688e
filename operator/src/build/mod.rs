//! The AgentBuild controller: starts one Tekton PipelineRun per build request, mirrors its
//! progress into the AgentBuild's status, cancels runs a newer request superseded, and keeps
//! `historyLimit` finished runs.

mod reconcile;
pub mod tekton;

use std::future::Future;
use std::sync::Arc;

use agents_api::AgentBuild;
use futures::StreamExt;
use kube::runtime::{Controller, Predicate, WatchStreamExt, controller, predicates, reflector, watcher};

use crate::children;
use crate::context::Context;

/// What the AgentBuild reconciler reads besides the AgentBuild itself.
pub struct State {
    pub ctx: Arc<Context>,
    pub tekton: tekton::Tekton,
}

pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let (tekton, tekton_came_or_went, run_changes) = tekton::follow(ctx.client.clone(), ctx.namespace.clone());
    let (builds, writer) = reflector::store();
    // Status-only changes are the operator's own writes: they trigger nothing. A new rebuild
    // annotation does.
    let build_changes = watcher(ctx.api::<AgentBuild>(), watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(children::prune_metadata)
        .reflect(writer)
        .touched_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::labels).combine(predicates::annotations),
            Default::default(),
        );
    let state = Arc::new(State { ctx: ctx.clone(), tekton });
    tracing::info!(concurrency = ctx.build_concurrency, "starting the AgentBuild controller");
    Controller::for_stream(build_changes, builds)
        .reconcile_all_on(tekton_came_or_went)
        .reconcile_on(run_changes)
        .with_config(controller::Config::default().concurrency(ctx.build_concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, state)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("agentbuild controller: {e}");
            }
        })
        .await;
}

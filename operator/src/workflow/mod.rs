//! The AgentWorkflow controller: watches AgentWorkflows, the Agents their steps call, and (while
//! Argo is installed) the Argo Workflows and CronWorkflows it created; starts runs on request,
//! keeps the CronWorkflow as rendered, and mirrors the last run into the status.

mod reconcile;
#[cfg(test)]
mod scenarios;

use std::future::Future;
use std::sync::Arc;

use agents_api::{Agent, AgentWorkflow};
use futures::StreamExt;
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, controller};

use crate::argo::{self, Argo};
use crate::cache::{self, Readers};
use crate::context::Context;
use crate::watches::Watches;
use crate::written::Written;

/// What the AgentWorkflow reconciler reads besides the AgentWorkflow itself.
pub struct State {
    pub ctx: Arc<Context>,
    pub agents: Store<Agent>,
    /// Which AgentWorkflows call which Agents (by name): an Agent's change reconciles those.
    pub callers: Readers<String>,
    pub argo: Argo,
    /// Status writes the AgentWorkflow cache has not shown yet.
    pub written: Arc<Written<AgentWorkflow>>,
}

/// Sets the controller up (following AgentWorkflows and Agents in `watches`); the future runs it.
pub fn run<S>(ctx: Arc<Context>, watches: &Watches, shutdown: S) -> impl Future<Output = ()> + use<S>
where
    S: Future<Output = ()> + Send + Sync + 'static,
{
    let (argo, argo_came_or_went, run_changes) = argo::follow(ctx.client.clone(), ctx.namespace.clone());

    // A run request (an annotation) is a change; the operator's own status writes are not.
    let mut reads = watches.reads::<AgentWorkflow>();
    let (workflows, workflow_changes) = watches.workflows.read(&mut reads);
    let written = Arc::new(Written::new(workflows.clone()));
    let workflow_changes = cache::not_status_only(written.follow(workflow_changes));

    // The Agents the steps call: a change of one (it became Ready, its endpoint moved) maps to
    // the AgentWorkflows of its namespace that call it.
    let (agents, agent_changes) = watches.agents.read(&mut reads);
    let gate = reads.gate();
    let callers = Readers::<String>::default();
    let agent_changes = callers.to_reconcile_changed(agent_changes, workflows.clone());

    let state = Arc::new(State { ctx: ctx.clone(), agents: agents.clone(), callers, argo, written });
    tracing::info!("starting the AgentWorkflow controller");
    let (sweep, pace) = gate.sweep(workflows.clone(), ctx.concurrency);
    let controller = Controller::for_stream(gate.discard_until_open(workflow_changes), workflows)
        .reconcile_on(sweep)
        .reconcile_on(gate.discard_until_open(agent_changes))
        .reconcile_all_on(gate.discard_until_open(argo_came_or_went))
        .reconcile_on(gate.discard_until_open(run_changes))
        .with_config(controller::Config::default().concurrency(ctx.concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, state);
    controller.for_each(move |result| {
        pace.ended();
        async move {
            if let Err(e) = result {
                tracing::debug!("agentworkflow controller: {e}");
            }
        }
    })
}

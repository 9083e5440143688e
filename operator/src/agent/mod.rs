//! The Agent controller: watches Agents, their children (by label) and their peers, and keeps
//! each Agent's children and status as `agents_render` computes them.

mod dependencies;
mod reconcile;
#[cfg(test)]
mod scenarios;

use std::future::Future;
use std::sync::Arc;

use agents_api::{Agent, AgentBuild, MCPServer, ModelAPI};
use futures::StreamExt;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, controller};

use agents_render::labels::AGENT;

use crate::cache::Readers;
use crate::cache::inputs::Digests;
use crate::cache::pods::PodProblems;
use crate::cache::{self, CachedConfigMap, CachedDeployment, Stamped};
use crate::context::Context;
use crate::service_monitor::{self, ServiceMonitors};
use crate::watches::Watches;
use crate::written::Written;

/// Caches of everything an Agent owns.
pub struct ChildStores {
    pub service_accounts: Store<Stamped<PartialObjectMeta<ServiceAccount>>>,
    /// Metadata and digests of the data (see `CachedConfigMap`).
    pub config_maps: Store<Stamped<CachedConfigMap>>,
    pub services: Store<Stamped<PartialObjectMeta<Service>>>,
    pub deployments: Store<Stamped<CachedDeployment>>,
    /// Only what says whether they can scale (see `agents_render::agent::features`).
    pub autoscalers: Store<Stamped<HorizontalPodAutoscaler>>,
    pub disruption_budgets: Store<Stamped<PartialObjectMeta<PodDisruptionBudget>>>,
    pub network_policies: Store<Stamped<PartialObjectMeta<NetworkPolicy>>>,
    pub service_monitors: ServiceMonitors,
    /// Why a pod does not run, for the pods that do not.
    pub pod_problems: PodProblems,
    /// The ConfigMaps and Secrets the pods read, and which Agents read which.
    pub inputs: Digests,
    pub readers: Readers,
}

/// What the Agent reconciler reads besides the Agent itself.
pub struct State {
    pub ctx: Arc<Context>,
    /// Agents, AgentBuilds, ModelAPIs and MCPServers, to resolve references.
    pub referenced: dependencies::Referenced,
    /// Which Agents list which peers (by name): a peer's change reconciles those Agents.
    pub peers: Readers<String>,
    pub children: ChildStores,
    /// Status writes the Agent cache has not shown yet.
    pub written: Arc<Written<Agent>>,
}

/// Sets the controller up (following what it reads in `watches`); the future runs it.
pub fn run<S>(ctx: Arc<Context>, watches: &Watches, shutdown: S) -> impl Future<Output = ()> + use<S>
where
    S: Future<Output = ()> + Send + Sync + 'static,
{
    let mut reads = watches.reads::<Agent>();
    let (service_accounts, service_account_changes) = reads.children(ctx.api(), AGENT, cache::prune_metadata);
    let (config_maps, config_map_changes) = reads.children(ctx.api::<CachedConfigMap>(), AGENT, cache::prune_metadata);
    let (services, service_changes) = reads.children(ctx.api(), AGENT, cache::prune_metadata);
    let (deployments, deployment_changes) =
        reads.children(ctx.api::<CachedDeployment>(), AGENT, cache::prune_deployment);
    let (autoscalers, autoscaler_changes) = reads.children(ctx.api(), AGENT, cache::prune_autoscaler);
    let (disruption_budgets, disruption_budget_changes) = reads.children(ctx.api(), AGENT, cache::prune_metadata);
    let (network_policies, network_policy_changes) = reads.children(ctx.api(), AGENT, cache::prune_metadata);
    let (pod_problems, pod_problem_changes) = cache::pods::follow::<Agent>(&mut reads, ctx.api(), AGENT);
    let (service_monitors, monitors_came_or_went, monitor_changes) =
        service_monitor::follow(&mut reads, ctx.client.clone(), ctx.namespace.clone());

    // One watch on Agents feeds the cache and triggers reconciles, but not for status-only changes
    // (the operator's own writes).
    let (agents, agent_changes) = watches.agents.read(&mut reads);
    // Every change of an Agent, status too (a peer turning Ready), reconciles the Agents that list
    // it as a peer. A second follower of the same watch: bounded as every follower is (`Fanout`),
    // and that bound cannot deadlock: this controller drains all its trigger streams whenever it
    // runs (kube's scheduler takes every pending trigger even with every reconcile slot busy), so
    // a full follower waits only for reconciles to end, and no reconcile waits for the watch.
    // Those Agents are looked up, not searched for: searching every Agent at every change of
    // every Agent costs the square of their number.
    let (_, peer_changes) = watches.agents.read(&mut reads);
    let peers = Readers::<String>::default();
    let peer_changes = peers.to_reconcile_changed(peer_changes, agents.clone());
    let (inputs, input_changes) = watches.inputs.read(&mut reads);
    let readers = Readers::default();
    let input_changes = readers.to_reconcile(input_changes, agents.clone());
    let written = Arc::new(Written::new(agents.clone()));
    let agent_changes = cache::not_status_only(written.follow(agent_changes));
    // What Agents reference: a change to one reconciles the Agents that name it (no polling).
    let (builds, build_changes) = watches.builds.read(&mut reads);
    let (model_apis, model_api_changes) = watches.model_apis.read(&mut reads);
    let (mcp_servers, mcp_server_changes) = watches.mcp_servers.read(&mut reads);
    let gate = reads.gate();
    let users_of_build = {
        let agents = agents.clone();
        move |changed: AgentBuild| dependencies::users_of_build(&changed, &agents)
    };
    let users_of_model_api = {
        let agents = agents.clone();
        move |changed: ModelAPI| dependencies::users_of_model_api(&changed, &agents)
    };
    let users_of_mcp_server = {
        let agents = agents.clone();
        move |changed: MCPServer| dependencies::users_of_mcp_server(&changed, &agents)
    };
    let state = Arc::new(State {
        ctx: ctx.clone(),
        referenced: dependencies::Referenced {
            agents: agents.clone(),
            builds,
            model_apis,
            mcp_servers,
            runtime_image: ctx.runtime_image.clone(),
        },
        peers,
        children: ChildStores {
            service_accounts,
            config_maps,
            services,
            deployments,
            autoscalers,
            disruption_budgets,
            network_policies,
            service_monitors,
            pod_problems,
            inputs,
            readers,
        },
        written,
    });
    tracing::info!(concurrency = ctx.concurrency, "starting the Agent controller");
    let (sweep, pace) = gate.sweep(agents.clone(), ctx.concurrency);
    let controller = Controller::for_stream(gate.discard_until_open(agent_changes), agents)
        .reconcile_on(sweep)
        .owns_stream(gate.discard_until_open(service_account_changes))
        .owns_stream(gate.discard_until_open(config_map_changes))
        .owns_stream(gate.discard_until_open(service_changes))
        .owns_stream(gate.discard_until_open(deployment_changes))
        .owns_stream(gate.discard_until_open(autoscaler_changes))
        .owns_stream(gate.discard_until_open(disruption_budget_changes))
        .owns_stream(gate.discard_until_open(network_policy_changes))
        .reconcile_on(gate.discard_until_open(pod_problem_changes))
        .reconcile_on(gate.discard_until_open(input_changes))
        .reconcile_on(gate.discard_until_open(peer_changes))
        .watches_stream(gate.discard_until_open(build_changes), users_of_build)
        .watches_stream(gate.discard_until_open(model_api_changes), users_of_model_api)
        .watches_stream(gate.discard_until_open(mcp_server_changes), users_of_mcp_server)
        .reconcile_all_on(gate.discard_until_open(monitors_came_or_went))
        .reconcile_on(gate.discard_until_open(monitor_changes))
        .with_config(controller::Config::default().concurrency(ctx.concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, state);
    controller.for_each(move |result| {
        pace.ended();
        async move {
            if let Err(e) = result {
                tracing::debug!("agent controller: {e}");
            }
        }
    })
}

//! The Agent controller: watches Agents, their children (by label) and their peers, and keeps
//! each Agent's children and status as `agents_render` computes them.

mod dependencies;
mod reconcile;

use std::future::Future;
use std::sync::Arc;

use agents_api::{Agent, AgentBuild};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector;
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, Predicate, WatchStreamExt, controller, predicates, watcher};

use crate::children;
use crate::context::Context;
use crate::service_monitor::{self, ServiceMonitors};

/// Caches of everything an Agent owns.
pub struct ChildStores {
    pub service_accounts: Store<PartialObjectMeta<ServiceAccount>>,
    pub config_maps: Store<ConfigMap>,
    pub services: Store<PartialObjectMeta<Service>>,
    pub deployments: Store<Deployment>,
    pub autoscalers: Store<PartialObjectMeta<HorizontalPodAutoscaler>>,
    pub disruption_budgets: Store<PartialObjectMeta<PodDisruptionBudget>>,
    pub network_policies: Store<PartialObjectMeta<NetworkPolicy>>,
    pub service_monitors: ServiceMonitors,
}

/// What the Agent reconciler reads besides the Agent itself.
pub struct State {
    pub ctx: Arc<Context>,
    pub agents: Store<Agent>,
    pub builds: Store<AgentBuild>,
    pub children: ChildStores,
}

pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let (service_accounts, service_account_changes) = children::reflector(ctx.api(), children::prune_metadata);
    let (config_maps, config_map_changes) = children::reflector(ctx.api::<ConfigMap>(), children::prune_metadata);
    let (services, service_changes) = children::reflector(ctx.api(), children::prune_metadata);
    let (deployments, deployment_changes) = children::reflector(ctx.api(), children::prune_deployment);
    let (autoscalers, autoscaler_changes) = children::reflector(ctx.api(), children::prune_metadata);
    let (disruption_budgets, disruption_budget_changes) = children::reflector(ctx.api(), children::prune_metadata);
    let (network_policies, network_policy_changes) = children::reflector(ctx.api(), children::prune_metadata);
    let (service_monitors, monitors_came_or_went, monitor_changes) =
        service_monitor::follow(ctx.client.clone(), ctx.namespace.clone());

    // One watch on Agents feeds the cache, re-resolves the Agents that list a changed one as a
    // peer, and triggers reconciles, but not for status-only changes (the operator's own writes).
    let (agents, writer) = reflector::store();
    ctx.metrics.observe_agents(agents.clone());
    let (dependents_tx, dependents_rx) = futures::channel::mpsc::unbounded();
    let peers_of = agents.clone();
    let agent_changes = watcher(ctx.api::<Agent>(), watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(children::prune_metadata)
        .reflect(writer)
        .touched_objects()
        .inspect(move |changed| {
            if let Ok(changed) = changed {
                for dependent in dependencies::dependents_of(changed, &peers_of) {
                    let _ = dependents_tx.unbounded_send(dependent);
                }
            }
        })
        .predicate_filter(
            predicates::generation.combine(predicates::labels).combine(predicates::annotations),
            Default::default(),
        );
    // AgentBuilds, for `buildRef`: a change (its status names a new image) re-resolves the
    // Agents that name it.
    let (builds, build_writer) = reflector::store();
    let builders_of = agents.clone();
    let build_changes = watcher(ctx.api::<AgentBuild>(), watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(children::prune_metadata)
        .reflect(build_writer)
        .touched_objects()
        .filter_map(|b| async move { b.ok() })
        .flat_map(move |b| futures::stream::iter(dependencies::builders_of(&b, &builders_of)));
    let state = Arc::new(State {
        ctx: ctx.clone(),
        agents: agents.clone(),
        builds,
        children: ChildStores {
            service_accounts,
            config_maps,
            services,
            deployments,
            autoscalers,
            disruption_budgets,
            network_policies,
            service_monitors,
        },
    });
    tracing::info!(concurrency = ctx.agent_concurrency, "starting the Agent controller");
    Controller::for_stream(agent_changes, agents)
        .owns_stream(service_account_changes)
        .owns_stream(config_map_changes)
        .owns_stream(service_changes)
        .owns_stream(deployment_changes)
        .owns_stream(autoscaler_changes)
        .owns_stream(disruption_budget_changes)
        .owns_stream(network_policy_changes)
        .reconcile_on(dependents_rx)
        .reconcile_on(build_changes)
        .reconcile_all_on(monitors_came_or_went)
        .reconcile_on(monitor_changes)
        .with_config(controller::Config::default().concurrency(ctx.agent_concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, state)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("agent controller: {e}");
            }
        })
        .await;
}

//! The Agent controller: watches Agents, their children (by label) and their peers, and keeps
//! each Agent's children and status as `agents_render` computes them.

mod dependencies;
mod reconcile;

use std::future::Future;
use std::sync::Arc;

use agents_api::Agent;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, controller, watcher};

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
    pub children: ChildStores,
}

pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let (service_accounts, service_account_changes) = children::reflector(ctx.api());
    let (config_maps, config_map_changes) = children::reflector(ctx.api::<ConfigMap>());
    let (services, service_changes) = children::reflector(ctx.api());
    let (deployments, deployment_changes) = children::reflector(ctx.api::<Deployment>());
    let (autoscalers, autoscaler_changes) = children::reflector(ctx.api());
    let (disruption_budgets, disruption_budget_changes) = children::reflector(ctx.api());
    let (network_policies, network_policy_changes) = children::reflector(ctx.api());
    let (service_monitors, monitors_came_or_went, monitor_changes) =
        service_monitor::follow(ctx.client.clone(), ctx.namespace.clone());

    let agent_watch = watcher::Config::default().any_semantic();
    let controller = Controller::new(ctx.api::<Agent>(), agent_watch.clone());
    let agents = controller.store();
    ctx.metrics.observe_agents(agents.clone());
    let peers_of = agents.clone();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        agents,
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
    controller
        .owns_stream(service_account_changes)
        .owns_stream(config_map_changes)
        .owns_stream(service_changes)
        .owns_stream(deployment_changes)
        .owns_stream(autoscaler_changes)
        .owns_stream(disruption_budget_changes)
        .owns_stream(network_policy_changes)
        // A peer appearing, changing or going re-resolves the Agents that list it.
        .watches(ctx.api::<Agent>(), agent_watch, move |changed| dependencies::dependents_of(&changed, &peers_of))
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

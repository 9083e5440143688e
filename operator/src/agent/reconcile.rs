//! One reconcile of one Agent: resolve dependencies, render, apply what changed, delete what is
//! no longer wanted, and write the status if it changed.

use std::sync::Arc;
use std::time::Duration;

use agents_api::{Agent, AgentPhase, AgentStatus};
use agents_render::agent::status::{self, Observed};
use agents_render::agent::{self as render, Inputs, drift};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::ResourceExt;
use kube::api::DynamicObject;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;

use super::{State, dependencies};
use crate::children::{self, Live, Outcome, Plan, cached, cached_live, execute, plan};
use crate::error::Error;
use crate::report::{self, Reported};

/// Agents are reconciled again this often even when nothing happens: a safety net, which
/// writes nothing when everything is as rendered.
pub(super) const RESYNC: Duration = Duration::from_secs(30 * 60);
/// How soon an Agent blocked by an object it does not own looks again.
pub(super) const CONFLICT_RECHECK: Duration = Duration::from_secs(15);

pub async fn reconcile(agent: Arc<Agent>, state: Arc<State>) -> Result<Action, Error> {
    let ctx = &state.ctx;
    let _timer = ctx.metrics.reconcile("Agent");
    let agent = state.written.latest(agent);
    if agent.metadata.deletion_timestamp.is_some() {
        // The garbage collector removes the children through their owner references.
        return Ok(Action::await_change());
    }
    let namespace = agent.namespace().unwrap_or_default();
    let name = agent.name_any();
    let uid = agent.uid().unwrap_or_default();
    // Recorded before the peers are read (see `cache::Readers`).
    state.peers.record(&namespace, &name, agent.spec.peers.iter().map(|peer| peer.name.clone()).collect());
    let dependencies = dependencies::resolve(&agent, &state.referenced);
    let monitors = &state.children.service_monitors;
    let served = monitors.served();
    let mut desired =
        render::children(Inputs { agent: &agent, dependencies: &dependencies, service_monitor_served: served })?;
    let stores = &state.children;
    if let Some(deployment) = desired.deployment.as_mut() {
        stores.inputs.stamp(&stores.readers, &namespace, &name, deployment, Some(&desired.config_map));
    }

    let live = |meta: Option<ObjectMeta>| meta.map(Live::new);
    let deployment_live = cached(&stores.deployments, &namespace, &name).map(|live| {
        let drifted = desired.deployment.as_ref().is_some_and(|d| drift::deployment(d, &live.object.to_deployment()));
        Live::cached(&live, drifted)
    });
    let config_live = cached(&stores.config_maps, &namespace, &name)
        .map(|live| Live::cached(&live, live.object.drifted_from(&desired.config_map)));
    let resource = render::service_monitor_resource();
    let synced: Result<Vec<Outcome>, Error> = async {
        // Decide for every child at once (a child missing from the caches is looked up).
        let (account, config, service, deployment, autoscaler, budget, policy, monitor) = tokio::try_join!(
            plan(
                ctx,
                Some(desired.service_account),
                cached_live(&stores.service_accounts, &namespace, &name),
                &uid,
                &()
            ),
            plan(ctx, Some(desired.config_map), config_live, &uid, &()),
            plan(ctx, desired.service, cached_live(&stores.services, &namespace, &name), &uid, &()),
            async {
                // Without it (a dependency is not ready), a running Deployment is left as it is.
                match desired.deployment {
                    Some(d) => plan(ctx, Some(d), deployment_live, &uid, &()).await,
                    None => Ok(Plan::Keep),
                }
            },
            plan::<HorizontalPodAutoscaler>(
                ctx,
                desired.autoscaler,
                cached_live(&stores.autoscalers, &namespace, &name),
                &uid,
                &()
            ),
            plan::<PodDisruptionBudget>(
                ctx,
                desired.disruption_budget,
                cached_live(&stores.disruption_budgets, &namespace, &name),
                &uid,
                &()
            ),
            plan::<NetworkPolicy>(
                ctx,
                desired.network_policy,
                cached_live(&stores.network_policies, &namespace, &name),
                &uid,
                &()
            ),
            async {
                if served {
                    plan::<DynamicObject>(
                        ctx,
                        desired.service_monitor,
                        live(monitors.cached(&namespace, &name)),
                        &uid,
                        &resource,
                    )
                    .await
                } else {
                    Ok(Plan::Keep)
                }
            },
        )?;
        // What the pods run as and mount comes first; if either belongs to someone else, nothing
        // else is written: pods must never run with a foreign identity or configuration.
        let (account, config) = tokio::try_join!(execute(ctx, account, &()), execute(ctx, config, &()))?;
        let prerequisites_ours = !matches!(account, Outcome::Conflict(_)) && !matches!(config, Outcome::Conflict(_));
        let mut outcomes = vec![account, config];
        if prerequisites_ours {
            let rest = tokio::try_join!(
                execute(ctx, service, &()),
                execute(ctx, deployment, &()),
                execute(ctx, autoscaler, &()),
                execute(ctx, budget, &()),
                execute(ctx, policy, &()),
                execute(ctx, monitor, &resource),
            )?;
            outcomes.extend([rest.0, rest.1, rest.2, rest.3, rest.4, rest.5]);
        } else {
            outcomes.extend([
                children::conflict_only(service),
                children::conflict_only(deployment),
                children::conflict_only(autoscaler),
                children::conflict_only(budget),
                children::conflict_only(policy),
                children::conflict_only(monitor),
            ]);
        }
        Ok(outcomes)
    }
    .await;

    let (conflicts, failure) = children::conflicts_and_failure(&synced);
    let conflicts = children::sentences(&conflicts);
    let live_deployment = cached(&stores.deployments, &namespace, &name).map(|live| live.object.to_deployment());
    let pod_problem = stores.pod_problems.of(&namespace, &name);
    let autoscaler = cached(&stores.autoscalers, &namespace, &name);
    let observed = Observed {
        agent: &agent,
        dependencies: &dependencies,
        deployment: live_deployment.as_ref(),
        pod_problem: pod_problem.as_ref(),
        conflicts: &conflicts,
        failure: failure.as_deref(),
        service_monitor_served: served,
        autoscaler: autoscaler.as_ref().map(|a| &a.object),
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let new_status = status::status(observed, &now);
    report::status(ctx, &state.written, &agent, &new_status).await?;
    synced?;
    ctx.succeeded(ObjectRef::from_obj(agent.as_ref()));
    if !conflicts.is_empty() {
        // The conflicting object is not ours, so its removal triggers nothing: look again soon.
        return Ok(Action::requeue(CONFLICT_RECHECK));
    }
    Ok(Action::requeue(RESYNC))
}

impl Reported for Agent {
    const KIND: &'static str = "Agent";
    type Status = AgentStatus;
    type Phase = AgentPhase;

    fn current_status(&self) -> Option<&AgentStatus> {
        self.status.as_ref()
    }

    fn phase(status: &AgentStatus) -> Option<AgentPhase> {
        status.phase
    }

    fn observed_generation(status: &AgentStatus) -> Option<i64> {
        status.observed_generation
    }

    /// A new Agent's first Pending, and passing through Degraded while pods start one by one, are
    /// not news; losing pods after being Ready is a warning, and so is failing.
    fn news(before: Option<AgentPhase>, next: AgentPhase) -> Option<EventType> {
        match (before, next) {
            (None, AgentPhase::Pending) => None,
            (Some(AgentPhase::Ready), AgentPhase::Degraded) => Some(EventType::Warning),
            (_, AgentPhase::Degraded) => None,
            (_, AgentPhase::Failed) => Some(EventType::Warning),
            _ => Some(EventType::Normal),
        }
    }

    fn why(status: &AgentStatus) -> Option<String> {
        report::ready_condition(&status.conditions)
    }
}

pub fn error_policy(agent: Arc<Agent>, error: &Error, state: Arc<State>) -> Action {
    state.ctx.retry_after_failure("Agent", agent.as_ref(), error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentPhase::*;

    #[test]
    fn only_news_makes_an_event() {
        assert_eq!(Agent::news(None, Pending), None);
        assert_eq!(Agent::news(Some(Pending), Degraded), None);
        assert_eq!(Agent::news(Some(Pending), Ready), Some(EventType::Normal));
        assert_eq!(Agent::news(Some(Ready), Degraded), Some(EventType::Warning));
        assert_eq!(Agent::news(Some(Degraded), Failed), Some(EventType::Warning));
        assert_eq!(Agent::news(None, Failed), Some(EventType::Warning));
        assert_eq!(Agent::news(Some(Ready), Stopped), Some(EventType::Normal));
        assert_eq!(Agent::news(Some(Pending), Waiting), Some(EventType::Normal));
    }
}

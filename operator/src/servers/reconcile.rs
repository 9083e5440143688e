//! One reconcile of one server: render, apply what changed, delete what is no longer wanted, and
//! write the status if it changed.

use std::sync::Arc;
use std::time::Duration;

use agents_render::agent::drift;
use agents_render::server::Observed;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::{ServerKind, State};
use crate::children::{self, Live, Outcome, cached, cached_live, execute, plan};
use crate::context::Context;
use crate::error::Error;
use crate::report;

/// A safety net: reconciled this often even when nothing happens (writing nothing then).
pub(super) const RESYNC: Duration = Duration::from_secs(30 * 60);
/// How soon a server blocked by an object it does not own, or whose tools could not be listed,
/// is looked at again.
pub(super) const RECHECK: Duration = Duration::from_secs(15);

pub async fn reconcile<K: ServerKind>(server: Arc<K>, state: Arc<State<K>>) -> Result<Action, Error> {
    let ctx = &state.ctx;
    let _timer = ctx.metrics.reconcile(K::KIND);
    let server = state.written.latest(server);
    if server.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = server.namespace().unwrap_or_default();
    let name = server.name_any();
    let uid = server.uid().unwrap_or_default();
    let mut desired = server.children()?;
    let stores = &state.children;
    if let Some(deployment) = desired.deployment.as_mut() {
        stores.inputs.stamp(&stores.readers, &namespace, &name, deployment, desired.config_map.as_ref());
    }
    let claim_name = desired.claim.as_ref().map(|c| c.name_any()).unwrap_or_else(|| format!("{name}-models"));
    let deployment_live = cached(&stores.deployments, &namespace, &name).map(|live| {
        let drifted = desired.deployment.as_ref().is_some_and(|d| drift::deployment(d, &live.object.to_deployment()));
        Live::cached(&live, drifted)
    });
    let wanted = desired.refs();
    let synced: Result<Vec<Outcome>, Error> = async {
        let (config, service, claim, deployment) = tokio::try_join!(
            plan::<ConfigMap>(ctx, desired.config_map, cached_live(&stores.config_maps, &namespace, &name), &uid, &()),
            plan::<Service>(ctx, desired.service, cached_live(&stores.services, &namespace, &name), &uid, &()),
            plan::<PersistentVolumeClaim>(
                ctx,
                desired.claim,
                cached_live(&stores.claims, &namespace, &claim_name),
                &uid,
                &()
            ),
            plan::<Deployment>(ctx, desired.deployment, deployment_live, &uid, &()),
        )?;
        // What the pods mount comes first; if either belongs to someone else, nothing else is
        // written: pods must never run with a foreign configuration (a proxy's routes, an
        // MCPServer's inline code) or volume.
        let (config, claim) = tokio::try_join!(execute(ctx, config, &()), execute(ctx, claim, &()))?;
        let mounts_ours = !matches!(config, Outcome::Conflict(_)) && !matches!(claim, Outcome::Conflict(_));
        let (service, deployment) = if mounts_ours {
            tokio::try_join!(execute(ctx, service, &()), execute(ctx, deployment, &()))?
        } else {
            (children::conflict_only(service), children::conflict_only(deployment))
        };
        Ok(vec![config, claim, service, deployment])
    }
    .await;
    let missing = missing_config(ctx, server.as_ref(), &namespace).await?;
    let (conflicts, failure) = children::conflicts_and_failure(&synced);
    let held = children::held(wanted, &conflicts);
    let conflicts = children::sentences(&conflicts);
    let live_deployment = cached(&stores.deployments, &namespace, &name).map(|live| live.object.to_deployment());
    let pod_problem = stores.pod_problems.of(&namespace, &name);
    let observed = Observed {
        deployment: live_deployment.as_ref(),
        pod_problem: pod_problem.as_ref(),
        runs_pods: server.runs_pods(),
        children: &held,
        conflicts: &conflicts,
        failure: failure.as_deref(),
        missing: missing.as_deref(),
        previous: server.current_status().and_then(K::phase),
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let phase = agents_render::server::assess(observed).0;
    let answer = if synced.is_ok() { server.ask(ctx, phase).await } else { None };
    let status = server.status(observed, answer.as_ref(), &now);
    report::status(ctx, &state.written, server.as_ref(), &status).await?;
    synced?;
    ctx.succeeded(ObjectRef::from_obj(server.as_ref()));
    // A conflict's owner, a ConfigMap of the user's, or a server that did not answer changes
    // without telling the operator.
    let recheck = !conflicts.is_empty() || missing.is_some() || matches!(answer, Some(Err(_)));
    Ok(Action::requeue(if recheck { RECHECK } else { RESYNC }))
}

/// Why the user's ConfigMap the server names cannot serve, read from the API server (the
/// operator caches only its own ConfigMaps); `None` when it names none or it is in place.
async fn missing_config<K: ServerKind>(ctx: &Context, server: &K, namespace: &str) -> Result<Option<String>, Error> {
    let Some(reference) = server.config_map_ref() else {
        return Ok(None);
    };
    let found = Api::<ConfigMap>::namespaced(ctx.client.clone(), namespace).get_opt(&reference.name).await.map_err(
        |source| Error::Apply { action: "look up", kind: "ConfigMap", name: reference.name.clone(), source },
    )?;
    Ok(agents_render::model_api::missing_config(reference, found.as_ref()))
}

pub fn error_policy<K: ServerKind>(server: Arc<K>, error: &Error, state: Arc<State<K>>) -> Action {
    state.ctx.retry_after_failure(K::KIND, server.as_ref(), error)
}

//! The controller of the kinds that run a server for Agents: ModelAPI and MCPServer. Both own
//! the same kinds of children (Deployment, Service, a ConfigMap for a Proxy ModelAPI or an
//! MCPServer's inline tools, a claim for a Hosted ModelAPI) and report the same kind of status,
//! so one generic controller serves both; `kinds.rs` says what differs.

mod kinds;
mod reconcile;
#[cfg(test)]
mod scenarios;

use std::future::Future;
use std::sync::Arc;

use agents_api::ServerPhase;
use agents_render::server::{Children, Observed};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, controller};
use serde::Serialize;

use crate::cache::Readers;
use crate::cache::inputs::Digests;
use crate::cache::pods::PodProblems;
use crate::cache::{self, CachedDeployment, Stamped};
use crate::context::Context;
use crate::report::Reported;
use crate::watches::{Shared, Watches};
use crate::written::Written;

/// What differs between the server kinds.
pub trait ServerKind: Reported<Phase = ServerPhase> + Serialize + crate::metrics::Phased {
    /// The label that selects this kind's children (e.g. `agents.dev/modelapi`).
    const OWNER_LABEL: &'static str;

    /// The shared watch of this kind.
    fn watch(watches: &Watches) -> &Shared<Self>;

    fn children(&self) -> Result<Children, agents_render::agent::Incomplete>;
    /// Whether it runs pods at all (an External ModelAPI does not).
    fn runs_pods(&self) -> bool;
    /// A ConfigMap of the user's that its pods mount (a Proxy ModelAPI's own LiteLLM config).
    fn config_map_ref(&self) -> Option<&agents_api::model_api::ConfigMapKeyRef> {
        None
    }
    /// What only the running server can tell, asked once it is in `phase` (an MCPServer's
    /// tools); `None` when there is nothing to ask now.
    fn ask(&self, _ctx: &Context, _phase: ServerPhase) -> impl Future<Output = Option<Answer>> + Send {
        std::future::ready(None)
    }
    fn status(&self, observed: Observed<'_>, answer: Option<&Answer>, now: &Time) -> Self::Status;
}

/// What a running server answered (its tools), or why it could not be asked.
pub type Answer = agents_render::mcp_server::ToolsAnswer;

/// Caches of everything a server owns.
pub struct ChildStores {
    pub config_maps: Store<Stamped<PartialObjectMeta<ConfigMap>>>,
    pub deployments: Store<Stamped<CachedDeployment>>,
    pub services: Store<Stamped<PartialObjectMeta<Service>>>,
    pub claims: Store<Stamped<PartialObjectMeta<PersistentVolumeClaim>>>,
    /// Why a pod does not run, for the pods that do not.
    pub pod_problems: PodProblems,
    /// The ConfigMaps and Secrets the pods read, and which servers read which.
    pub inputs: Digests,
    pub readers: Readers,
}

pub struct State<K: ServerKind> {
    pub ctx: Arc<Context>,
    pub children: ChildStores,
    /// Status writes the cache of `K` has not shown yet.
    pub written: Arc<Written<K>>,
}

/// Sets the controller of `K` up (following `K` and the pods' inputs in `watches`); the future
/// runs it.
pub fn run<K: ServerKind, S>(ctx: Arc<Context>, watches: &Watches, shutdown: S) -> impl Future<Output = ()> + use<K, S>
where
    S: Future<Output = ()> + Send + Sync + 'static,
{
    let label = K::OWNER_LABEL;
    let mut reads = watches.reads::<K>();
    let (config_maps, config_map_changes) = reads.children(ctx.api(), label, cache::prune_metadata);
    let (deployments, deployment_changes) =
        reads.children(ctx.api::<CachedDeployment>(), label, cache::prune_deployment);
    let (services, service_changes) = reads.children(ctx.api(), label, cache::prune_metadata);
    let (claims, claim_changes) = reads.children(ctx.api(), label, cache::prune_metadata);
    let (pod_problems, pod_problem_changes) = cache::pods::follow::<K>(&mut reads, ctx.api(), label);
    let (servers, changes) = K::watch(watches).read(&mut reads);
    let (inputs, input_changes) = watches.inputs.read(&mut reads);
    let readers = Readers::default();
    let input_changes = readers.to_reconcile(input_changes, servers.clone());
    let gate = reads.gate();
    let written = Arc::new(Written::new(servers.clone()));
    let changes = cache::not_status_only(written.follow(changes));
    let children = ChildStores { config_maps, deployments, services, claims, pod_problems, inputs, readers };
    let state = Arc::new(State { ctx: ctx.clone(), children, written });
    tracing::info!(kind = K::KIND, concurrency = ctx.concurrency, "starting the controller");
    let (sweep, pace) = gate.sweep(servers.clone(), ctx.concurrency);
    let controller = Controller::for_stream(gate.discard_until_open(changes), servers)
        .reconcile_on(sweep)
        .owns_stream(gate.discard_until_open(config_map_changes))
        .owns_stream(gate.discard_until_open(deployment_changes))
        .owns_stream(gate.discard_until_open(service_changes))
        .owns_stream(gate.discard_until_open(claim_changes))
        .reconcile_on(gate.discard_until_open(pod_problem_changes))
        .reconcile_on(gate.discard_until_open(input_changes))
        .with_config(controller::Config::default().concurrency(ctx.concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile::<K>, reconcile::error_policy::<K>, state);
    controller.for_each(move |result| {
        pace.ended();
        async move {
            if let Err(e) = result {
                tracing::debug!(kind = K::KIND, "controller: {e}");
            }
        }
    })
}

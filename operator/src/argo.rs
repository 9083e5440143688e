//! Argo Workflows may not be installed. This follows the `workflows.argoproj.io` CRD: while it is
//! served, the operator caches the Workflows and CronWorkflows it created (by label) and maps
//! their changes to the AgentWorkflow they belong to; when it appears or goes, every
//! AgentWorkflow is reconciled again. (Argo installs both CRDs together.)

use std::sync::{Arc, RwLock};

use agents_api::AgentWorkflow;
use agents_render::workflow::argo::{WORKFLOW_LABEL, cron_workflow_resource, workflow_resource};
use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

use crate::children;

pub const CRD_NAME: &str = "workflows.argoproj.io";

/// The caches of the operator's Argo objects, while the cluster serves them.
#[derive(Clone)]
pub struct Caches {
    pub workflows: Store<DynamicObject>,
    pub cron_workflows: Store<DynamicObject>,
}

/// Shared view of Argo in the cluster.
#[derive(Clone)]
pub struct Argo {
    caches: Arc<RwLock<Option<Caches>>>,
    /// Becomes true once the CRD watch has answered (served or not).
    known: tokio::sync::watch::Receiver<bool>,
}

impl Argo {
    /// The caches, if the cluster serves Argo's kinds.
    pub fn caches(&self) -> Option<Caches> {
        self.caches.read().expect("never poisoned").clone()
    }

    pub fn served(&self) -> bool {
        self.caches.read().expect("never poisoned").is_some()
    }

    /// Waits (at most `limit`) until the operator knows whether Argo is installed, so that the
    /// first reconciles do not report it missing while the watch starts.
    pub async fn known(&self, limit: std::time::Duration) {
        let mut known = self.known.clone();
        let _ = tokio::time::timeout(limit, known.wait_for(|k| *k)).await;
    }
}

/// Follows the CRD until the operator stops. Returns the shared view, a stream that fires when
/// every AgentWorkflow must be reconciled (Argo came or went), and one of AgentWorkflows whose
/// runs or CronWorkflow changed.
pub fn follow(
    client: kube::Client,
    namespace: Option<String>,
) -> (Argo, impl Stream<Item = ()> + Send + 'static, impl Stream<Item = ObjectRef<AgentWorkflow>> + Send + 'static) {
    let (known_tx, known) = tokio::sync::watch::channel(false);
    let argo = Argo { caches: Arc::default(), known };
    let (all_tx, all_rx) = mpsc::unbounded_channel();
    let (one_tx, one_rx) = mpsc::unbounded_channel();
    let shared = argo.clone();
    tokio::spawn(async move {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut crd_events = std::pin::pin!(watcher::watch_object(crds, CRD_NAME));
        let mut tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        while let Some(event) = crd_events.next().await {
            let served = match event {
                Ok(crd) => crd.as_ref().is_some_and(is_established),
                Err(e) => {
                    tracing::warn!("watching the Argo Workflow CRD: {e}");
                    continue;
                }
            };
            if served == shared.served() {
                let _ = known_tx.send(true);
                continue;
            }
            tasks.drain(..).for_each(|t| t.abort());
            if served {
                let mut stores = Vec::new();
                for resource in [workflow_resource(), cron_workflow_resource()] {
                    let api: Api<DynamicObject> = match &namespace {
                        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                        None => Api::all_with(client.clone(), &resource),
                    };
                    let (store, changes) = cache(api, resource);
                    stores.push(store);
                    let one_tx = one_tx.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut changes = std::pin::pin!(changes);
                        while let Some(owner) = changes.next().await {
                            let _ = one_tx.send(owner);
                        }
                    }));
                }
                let cron_workflows = stores.pop().expect("two stores");
                let workflows = stores.pop().expect("two stores");
                *shared.caches.write().expect("never poisoned") = Some(Caches { workflows, cron_workflows });
                tracing::info!("the cluster serves Argo Workflows: AgentWorkflows can run");
            } else {
                *shared.caches.write().expect("never poisoned") = None;
                tracing::info!("the cluster no longer serves Argo Workflows");
            }
            let _ = known_tx.send(true);
            let _ = all_tx.send(());
        }
    });
    (argo, stream_from(all_rx), stream_from(one_rx))
}

/// A cache of the operator's objects of one Argo kind, and the AgentWorkflows they belong to as
/// they change (by the `agents.dev/workflow` label, so runs a CronWorkflow starts count too).
fn cache(
    api: Api<DynamicObject>,
    resource: ApiResource,
) -> (Store<DynamicObject>, impl Stream<Item = ObjectRef<AgentWorkflow>> + Send + 'static) {
    let writer = Writer::new(resource);
    let store = writer.as_reader();
    let changes = watcher(api, children::watch_config(WORKFLOW_LABEL))
        .default_backoff()
        .modify(children::prune_metadata)
        .reflect(writer)
        .touched_objects()
        .filter_map(|object| async move {
            let object = object.ok()?;
            let owner = object.metadata.labels.as_ref()?.get(WORKFLOW_LABEL)?;
            Some(ObjectRef::new(owner).within(object.metadata.namespace.as_deref()?))
        });
    (store, changes)
}

fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

fn stream_from<T: Send + 'static>(mut rx: mpsc::UnboundedReceiver<T>) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

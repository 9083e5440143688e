//! ServiceMonitors exist only in clusters running the Prometheus Operator. This follows the
//! `servicemonitors.monitoring.coreos.com` CRD: while it is served, the operator caches the
//! ServiceMonitors it created and renders them for Agents that ask; when it appears or goes,
//! every Agent is reconciled again.

use std::sync::{Arc, RwLock};

use agents_api::Agent;
use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

use crate::children;

const CRD_NAME: &str = "servicemonitors.monitoring.coreos.com";

/// Shared view of the ServiceMonitor CRD and of the ServiceMonitors the operator owns.
#[derive(Clone, Default)]
pub struct ServiceMonitors {
    store: Arc<RwLock<Option<Store<PartialObjectMeta<DynamicObject>>>>>,
}

impl ServiceMonitors {
    /// Whether the cluster serves ServiceMonitors (and the cache of ours is running).
    pub fn served(&self) -> bool {
        self.store.read().expect("never poisoned").is_some()
    }

    pub fn cached(&self, namespace: &str, name: &str) -> Option<ObjectMeta> {
        let guard = self.store.read().expect("never poisoned");
        let store = guard.as_ref()?;
        let resource = agents_render::agent::service_monitor_resource();
        store.get(&ObjectRef::new_with(name, resource).within(namespace)).map(|m| m.metadata.clone())
    }
}

/// Follows the CRD until the operator stops. Returns the shared view, a stream that fires when
/// every Agent must be reconciled (the CRD came or went), and one of Agents whose ServiceMonitor changed.
pub fn follow(
    client: kube::Client,
    namespace: Option<String>,
) -> (ServiceMonitors, impl Stream<Item = ()> + Send + 'static, impl Stream<Item = ObjectRef<Agent>> + Send + 'static) {
    let monitors = ServiceMonitors::default();
    let (all_tx, all_rx) = mpsc::unbounded_channel();
    let (one_tx, one_rx) = mpsc::unbounded_channel();
    let shared = monitors.clone();
    tokio::spawn(async move {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut crd_events = std::pin::pin!(watcher::watch_object(crds, CRD_NAME));
        let mut cache_task: Option<tokio::task::JoinHandle<()>> = None;
        while let Some(event) = crd_events.next().await {
            let served = match event {
                Ok(crd) => crd.as_ref().is_some_and(is_established),
                Err(e) => {
                    tracing::warn!("watching the ServiceMonitor CRD: {e}");
                    continue;
                }
            };
            if served == shared.served() {
                continue;
            }
            if let Some(task) = cache_task.take() {
                task.abort();
            }
            if served {
                let resource = agents_render::agent::service_monitor_resource();
                let api: Api<PartialObjectMeta<DynamicObject>> = match &namespace {
                    Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                    None => Api::all_with(client.clone(), &resource),
                };
                let (store, changes) = cache(api, Writer::new(resource));
                *shared.store.write().expect("never poisoned") = Some(store);
                let one_tx = one_tx.clone();
                cache_task = Some(tokio::spawn(async move {
                    let mut changes = std::pin::pin!(changes);
                    while let Some(owner) = changes.next().await {
                        let _ = one_tx.send(owner);
                    }
                }));
                tracing::info!("the cluster serves ServiceMonitors: Agents with spec.monitoring get one");
            } else {
                *shared.store.write().expect("never poisoned") = None;
                tracing::info!("the cluster no longer serves ServiceMonitors");
            }
            let _ = all_tx.send(());
        }
    });
    let all = tokio_stream_from(all_rx);
    let one = tokio_stream_from(one_rx);
    (monitors, all, one)
}

fn cache(
    api: Api<PartialObjectMeta<DynamicObject>>,
    writer: Writer<PartialObjectMeta<DynamicObject>>,
) -> (Store<PartialObjectMeta<DynamicObject>>, impl Stream<Item = ObjectRef<Agent>> + Send + 'static) {
    let store = writer.as_reader();
    let changes = watcher(api, children::watch_config(agents_render::labels::AGENT))
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .filter_map(|object| async move {
            let object = object.ok()?;
            let owner = object
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|r| r.controller == Some(true) && r.kind == "Agent")?;
            Some(ObjectRef::new(&owner.name).within(object.metadata.namespace.as_deref()?))
        });
    (store, changes)
}

fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

fn tokio_stream_from<T: Send + 'static>(mut rx: mpsc::UnboundedReceiver<T>) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

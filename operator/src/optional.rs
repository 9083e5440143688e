//! Kinds the cluster may not serve: Tekton's, Argo's, the Prometheus Operator's. One follower
//! watches such a kind's CRD. While the CRD is established, it caches the objects of that kind
//! the operator created (by label) and maps their changes to their owners; when the CRD appears
//! or goes, every owner is reconciled again.

use std::fmt::Debug;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource};
use kube::core::DynamicResourceScope;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::utils::StreamBackoff;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

use crate::cache;

/// How long the first reconciles wait to learn whether an optional kind is served.
pub const KNOWN_LIMIT: Duration = Duration::from_secs(10);
/// Owners to reconcile that may wait for the controller before the watch waits too.
const OWNERS_BUFFER: usize = 1024;

/// A CRD to follow, and what the operator logs as it comes and goes.
pub struct Crd {
    pub name: &'static str,
    pub served: &'static str,
    pub not_served: &'static str,
}

/// Shared view of an optional kind: its caches while the cluster serves it.
pub struct Optional<C> {
    caches: Arc<RwLock<Option<C>>>,
    /// True once the operator knows whether the kind is served, and if it is, its caches are filled.
    known: watch::Receiver<bool>,
}

impl<C> Clone for Optional<C> {
    fn clone(&self) -> Self {
        Optional { caches: self.caches.clone(), known: self.known.clone() }
    }
}

impl<C: Clone> Optional<C> {
    /// A kind the cluster is known not to serve.
    #[cfg(test)]
    pub fn not_served() -> Self {
        Optional { caches: Arc::default(), known: watch::channel(true).1 }
    }

    /// A kind the cluster serves, its caches filled.
    #[cfg(test)]
    pub fn served_with(caches: C) -> Self {
        Optional { caches: Arc::new(RwLock::new(Some(caches))), known: watch::channel(true).1 }
    }

    /// The caches, if the cluster serves the kind.
    pub fn caches(&self) -> Option<C> {
        self.caches.read().expect("never poisoned").clone()
    }

    pub fn served(&self) -> bool {
        self.caches.read().expect("never poisoned").is_some()
    }

    /// Waits (at most `limit`) until the operator knows whether the kind is served and has filled
    /// its caches, so an owner is never reported as waiting for a kind only because the operator
    /// has just started (or just seen the CRD appear).
    pub async fn known(&self, limit: Duration) {
        let mut known = self.known.clone();
        let _ = tokio::time::timeout(limit, known.wait_for(|k| *k)).await;
    }
}

/// One cache a follower starts: resolves once it holds its first full list, and streams the
/// owners of the objects that change.
pub struct Cached<O: Resource> {
    filled: BoxFuture<'static, ()>,
    owners: BoxStream<'static, ObjectRef<O>>,
}

/// A cache of the objects of `resource` that carry `owner_label` (the operator's), pruned by
/// `prune`; `owner` names the object a change reconciles.
pub fn cache<K, O>(
    client: &kube::Client,
    namespace: Option<&str>,
    resource: ApiResource,
    owner_label: &str,
    prune: fn(&mut K),
    owner: fn(&K) -> Option<ObjectRef<O>>,
) -> (Store<K>, Cached<O>)
where
    K: Resource<DynamicType = ApiResource, Scope = DynamicResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
    O: Resource + 'static,
    O::DynamicType: Send,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let kind = resource.kind.clone();
    let writer = Writer::new(resource);
    let store = writer.as_reader();
    let events = watcher(api, cache::watch_config(owner_label)).default_backoff().modify(prune).reflect(writer);
    let (filled, changes) = cache::after_lists(store.clone(), kind, events);
    let owners = changes.filter_map(move |object| std::future::ready(owner(&object))).boxed();
    (store, Cached { filled: filled.wait(), owners })
}

/// The owner named by the object's `label`, in the object's namespace.
pub fn owner_by_label<K: Resource, O: Resource<DynamicType = ()>>(object: &K, label: &str) -> Option<ObjectRef<O>> {
    let owner = object.labels().get(label)?;
    Some(ObjectRef::new(owner).within(object.meta().namespace.as_deref()?))
}

/// Follows `crd` until the operator stops. `start` begins the caches while it is served.
/// Returns the shared view, a stream that fires when every owner must be reconciled (the kind
/// came or went), and one of owners whose objects changed.
pub fn follow<C, O>(
    client: kube::Client,
    crd: Crd,
    start: impl Fn(&kube::Client) -> (C, Vec<Cached<O>>) + Send + 'static,
) -> (Optional<C>, impl Stream<Item = ()> + Send + 'static, impl Stream<Item = ObjectRef<O>> + Send + 'static)
where
    C: Clone + Send + Sync + 'static,
    O: Resource + Send + 'static,
    O::DynamicType: Send,
{
    let (known_tx, known) = watch::channel(false);
    let known_tx = Arc::new(known_tx);
    let optional = Optional { caches: Arc::default(), known };
    // One "reconcile every owner" pending is enough: a second, while the first waits, would
    // reconcile the same owners again, so it is dropped (`try_send`).
    let (all_tx, all_rx) = mpsc::channel(1);
    // The owners of changed objects, held back (not queued without end) while the controller
    // lags: it polls this stream all along, so the wait ends as its reconciles do.
    let (one_tx, one_rx) = mpsc::channel(OWNERS_BUFFER);
    let shared = optional.caches.clone();
    tokio::spawn(async move {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        // kube's watcher retries a failed request at once: backed off, a watch RBAC refuses
        // costs a request (and a warning) every 30 s, not a busy loop.
        let crd_events = watcher::watch_object(crds, crd.name);
        let mut crd_events = std::pin::pin!(StreamBackoff::new(crd_events, watcher::DefaultBackoff::default()));
        let mut serving: Option<bool> = None;
        let mut caching: Option<tokio::task::JoinHandle<()>> = None;
        while let Some(event) = crd_events.next().await {
            let served = match event {
                Ok(object) => object.as_ref().is_some_and(is_established),
                // What was last seen holds while the watch retries.
                Err(e) if serving.is_some() => {
                    tracing::warn!(crd = crd.name, "watching the CRD: {e}; retrying");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(
                        crd = crd.name,
                        "cannot read the CRD ({e}): treating its kind as not served until it can; check that the \
                         operator may get, list and watch customresourcedefinitions (its ClusterRole)"
                    );
                    // Owners need not wait for an answer that may never come.
                    known_tx.send_replace(true);
                    continue;
                }
            };
            if serving == Some(served) {
                continue;
            }
            serving = Some(served);
            if let Some(task) = caching.take() {
                task.abort();
            }
            *shared.write().expect("never poisoned") = None;
            if !served {
                tracing::info!("{}", crd.not_served);
                known_tx.send_replace(true);
                let _ = all_tx.try_send(());
                continue;
            }
            // Published only once filled: a reconcile that read a half-filled cache would miss
            // (and create again) what exists.
            known_tx.send_replace(false);
            let (caches, started) = start(&client);
            let (filled, owners): (Vec<_>, Vec<_>) = started.into_iter().map(|c| (c.filled, c.owners)).unzip();
            let filled = futures::future::join_all(filled);
            let mut owners = futures::stream::select_all(owners);
            let (shared, known_tx, all_tx, one_tx) = (shared.clone(), known_tx.clone(), all_tx.clone(), one_tx.clone());
            let served_message = crd.served;
            caching = Some(tokio::spawn(async move {
                let publish = filled.map(move |_| {
                    *shared.write().expect("never poisoned") = Some(caches);
                    tracing::info!("{served_message}");
                    known_tx.send_replace(true);
                    let _ = all_tx.try_send(());
                });
                let forward = async move {
                    while let Some(owner) = owners.next().await {
                        if one_tx.send(owner).await.is_err() {
                            break;
                        }
                    }
                };
                futures::join!(publish, forward);
            }));
        }
    });
    (optional, stream_from(all_rx), stream_from(one_rx))
}

fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

fn stream_from<T: Send + 'static>(mut rx: mpsc::Receiver<T>) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

//! The operator's caches: watches that keep a pruned copy of what the controllers read (their
//! own kinds, what those reference, and the children they created, by label), and the streams of
//! changes that trigger reconciles.
//!
//! Two rules keep a reconcile from reading a cache that is not yet (or no longer) right:
//! - a (re)list's objects are announced only once the list is complete ([`after_lists`]), when
//!   the cache holds them;
//! - a controller's streams pass nothing on until the caches its reconciles read are filled
//!   (the gate of [`Reads::gate`]); a controller reaches each cache through its [`Reads`], which
//!   builds the gate, so it cannot read one it does not wait for.

use std::fmt::Debug;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt, TryStreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use serde::de::DeserializeOwned;

/// `impl Resource for $decoded` as the Kubernetes type `$kind` it is decoded from: a watch of
/// the compact type asks the API server for `$kind`'s objects.
macro_rules! decoded_as {
    ($decoded:ty, $kind:ty) => {
        impl kube::Resource for $decoded {
            type DynamicType = ();
            type Scope = k8s_openapi::NamespaceResourceScope;

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                <$kind as kube::Resource>::kind(&())
            }

            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                <$kind as kube::Resource>::group(&())
            }

            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                <$kind as kube::Resource>::version(&())
            }

            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                <$kind as kube::Resource>::plural(&())
            }

            fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }

            fn meta_mut(&mut self) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
use decoded_as;

mod config_map;
mod deployment;
pub mod fanout;
pub mod inputs;
pub mod pods;
mod readers;
mod reads;
pub mod reduced;
mod stamped;
pub mod sweep;

pub use config_map::CachedConfigMap;
pub use deployment::CachedDeployment;
pub use readers::Readers;
pub use reads::Reads;
pub use stamped::Stamped;

/// Watches only what the operator created for one kind of owner (by label, e.g.
/// `agents.dev/agent`): a cluster's other ConfigMaps or Deployments never reach its memory, and
/// each controller caches only its own children.
pub fn watch_config(owner_label: &str) -> watcher::Config {
    let selector = format!("{},{owner_label}", agents_render::labels::managed_selector());
    watcher::Config::default().labels(&selector).any_semantic()
}

/// A cache of the children of one kind of owner and the stream of their changes (for
/// `Controller::owns_stream`); controllers reach it through [`Reads::children`]. `prune` drops
/// what the operator never reads before an object is cached; its labels, uid and resource version
/// go too ([`drop_identity`]), and its annotations, but for the content hash ([`Stamped`]).
fn children<K>(
    api: Api<K>,
    owner_label: &str,
    prune: fn(&mut K),
) -> (Store<Stamped<K>>, Filled, impl Stream<Item = Result<Stamped<K>, watcher::Error>> + Send + 'static)
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store();
    let events = watcher(api, watch_config(owner_label))
        .default_backoff()
        .modify(move |child| {
            prune(child);
            drop_identity(child);
        })
        .map_ok(stamped::event)
        .reflect(writer);
    let kind = K::kind(&Default::default()).into_owned();
    let (filled, changes) = after_lists(store.clone(), kind, events);
    (store, filled, changes.map(Ok))
}

/// A cache of every object of one of our kinds (in the operator's namespaces) and the stream of
/// those that change.
pub fn all_of<K>(api: Api<K>) -> (Store<K>, Filled, impl Stream<Item = K> + Send + 'static)
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let events = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(prune_metadata)
        .reflect(writer);
    let (filled, changes) = after_lists(store.clone(), K::kind(&()).into_owned(), events);
    (store, filled, changes)
}

/// Only the changes someone else made: to the spec (its generation), labels or annotations (a
/// run or rebuild request is one). Status-only changes are the operator's own writes.
pub fn not_status_only<K>(
    changes: impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource + Send + 'static,
{
    changes.predicate_filter(
        predicates::generation.combine(predicates::labels).combine(predicates::annotations),
        Default::default(),
    )
}

/// The objects that changed, from a watch reflected into `store`. The objects of a (re)list come
/// out only once the list is complete: kube's cache swaps a list in at its end, so a reconcile
/// triggered by one of its objects earlier would read the cache from before the list (empty at
/// start-up, stale after a reconnect), and nothing would trigger it again. A relist carries no
/// deletions, so the objects the cache held before it and the new list lacks (deleted while the
/// watch was down) come out too, as deletions would. The first complete list fills the cache
/// ([`Filled`], for the cache of a `kind`).
///
/// A watch error goes to the log, not downstream: the watcher retries on its own, with backoff,
/// while a Controller pauses all of its triggers after an error from any one of them, with a
/// backoff of its own that grows to minutes. After an API server restart (each watch's resource
/// version expired), Deployment changes went unseen for four minutes.
pub fn after_lists<K>(
    store: Store<K>,
    kind: String,
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
) -> (Filled, impl Stream<Item = K> + Send + 'static)
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (listed, filled) = tokio::sync::watch::channel(false);
    let filled = Filled { kind, filled };
    let failed = filled.kind.clone();
    let changes = events
        .scan(Relist::default(), move |relist, event| {
            let ready: Vec<K> = match event {
                Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object)) => vec![object],
                // The cache still holds the previous list: it is swapped at `InitDone`.
                Ok(watcher::Event::Init) => {
                    *relist = Relist { before: store.state(), listed: Vec::new() };
                    Vec::new()
                }
                Ok(watcher::Event::InitApply(object)) => {
                    relist.listed.push(object);
                    Vec::new()
                }
                Ok(watcher::Event::InitDone) => {
                    listed.send_replace(true);
                    std::mem::take(relist).changes()
                }
                Err(e) => {
                    tracing::warn!(kind = %failed, "watch failed, retrying: {e}");
                    Vec::new()
                }
            };
            std::future::ready(Some(futures::stream::iter(ready)))
        })
        .flatten();
    (filled, changes)
}

/// A list in progress, and what the cache held before it.
struct Relist<K> {
    before: Vec<std::sync::Arc<K>>,
    listed: Vec<K>,
}

impl<K> Default for Relist<K> {
    fn default() -> Self {
        Self { before: Vec::new(), listed: Vec::new() }
    }
}

impl<K: Resource + Clone> Relist<K> {
    /// Every listed object, then those the list no longer has.
    fn changes(self) -> Vec<K> {
        let key = |object: &K| (object.meta().namespace.clone(), object.meta().name.clone());
        let listed: std::collections::HashSet<_> = self.listed.iter().map(key).collect();
        let gone = self.before.iter().filter(|object| !listed.contains(&key(object)));
        let gone: Vec<K> = gone.map(|object| object.as_ref().clone()).collect();
        self.listed.into_iter().chain(gone).collect()
    }
}

/// How long a controller waits for one of its caches before it starts without it.
const FILL_LIMIT: Duration = Duration::from_secs(60);

/// Whether a cache holds the first full list of its kind. Any number of controllers may wait on
/// it: kube's `Store::wait_until_ready` wakes only the last of several waiters, so that one is
/// left to a controller's own wait on its own cache.
#[derive(Clone)]
pub struct Filled {
    kind: String,
    filled: tokio::sync::watch::Receiver<bool>,
}

impl Filled {
    /// Resolves once the cache is filled, or after [`FILL_LIMIT`] with a warning: a watch the API
    /// server keeps refusing (RBAC) must not hold a controller silently.
    pub fn wait(&self) -> BoxFuture<'static, ()> {
        let Filled { kind, mut filled } = self.clone();
        async move {
            match tokio::time::timeout(FILL_LIMIT, filled.wait_for(|filled| *filled)).await {
                Ok(_) => {}
                Err(_) => tracing::warn!(
                    "the {kind} cache is still not filled after {FILL_LIMIT:?}: reconciling without it; check that the \
                     operator may list and watch {kind} objects (its RBAC)"
                ),
            }
        }
        .boxed()
    }
}

/// What no plan reads of a cached child: its labels (the watch selected by them, on the API
/// server; at 5,000 Agents some 35,000 small maps in memory), and its uid and resource version
/// (a child is planned, deleted and traced to its owner by name and owner reference). kube's cache
/// keeps a second copy of both in each key, so they cost some 200 bytes a child.
fn drop_identity<K: Resource>(child: &mut K) {
    let meta = child.meta_mut();
    meta.labels = None;
    meta.uid = None;
    meta.resource_version = None;
}

/// What no cache needs: field ownership and client-side apply's copy of the object.
pub fn prune_metadata<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        // An emptied map keeps its node (540 bytes).
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

/// An HPA as the Agent controller reads it: whether it can scale, nothing else.
pub fn prune_autoscaler(autoscaler: &mut k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler) {
    prune_metadata(autoscaler);
    agents_render::agent::features::keep_problem_conditions(autoscaler);
}

/// A Deployment as the controllers read it (see [`CachedDeployment`]).
pub fn prune_deployment(deployment: &mut CachedDeployment) {
    prune_metadata(deployment);
    deployment.prune();
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector::ObjectRef;
    use kube::runtime::watcher::Event;

    use super::*;

    fn config_map(name: &str, version: &str) -> ConfigMap {
        let mut object = ConfigMap::default();
        object.metadata.name = Some(name.into());
        object.metadata.namespace = Some("ns".into());
        object.metadata.resource_version = Some(version.into());
        object
    }

    #[tokio::test]
    async fn listed_objects_come_out_once_cached_and_a_relist_reports_what_went() {
        let (store, writer) = reflector::store();
        let events = futures::stream::iter(vec![
            Ok(Event::Init),
            Ok(Event::InitApply(config_map("a", "1"))),
            Ok(Event::InitApply(config_map("b", "1"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(config_map("c", "2"))),
            // A reconnect: the cache keeps the old list until the new one is complete.
            Ok(Event::Init),
            Ok(Event::InitApply(config_map("a", "3"))),
            Ok(Event::InitDone),
        ]);
        let (filled, changes) = after_lists(store.clone(), "ConfigMap".into(), events.reflect(writer));
        let mut changes = std::pin::pin!(changes);
        // Every waiter hears that the cache is filled (kube's own readiness wakes only the last).
        let waiters: Vec<_> = (0..3).map(|_| tokio::spawn(filled.wait())).collect();
        let mut seen = Vec::new();
        while let Some(changed) = changes.next().await {
            let name = changed.metadata.name.clone().unwrap();
            let version = changed.metadata.resource_version.clone().unwrap();
            match store.get(&ObjectRef::new(&name).within("ns")) {
                Some(cached) => {
                    assert_eq!(cached.metadata.resource_version.as_deref(), Some(version.as_str()), "{name} is stale");
                    seen.push(format!("{name}@{version}"));
                }
                None => seen.push(format!("{name}@{version} gone")),
            }
        }
        // What went comes out after the list, in the cache's (hash) order.
        let (listed, gone) = seen.split_at(4);
        assert_eq!(listed, ["a@1", "b@1", "c@2", "a@3"]);
        let mut gone = gone.to_vec();
        gone.sort();
        assert_eq!(gone, ["b@1 gone", "c@2 gone"]);
        for waiter in waiters {
            tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
                .await
                .expect("a waiter was never told the cache is filled")
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_cached_child_keeps_what_plans_read() {
        let mut child = config_map("a", "7");
        let meta = &mut child.metadata;
        meta.uid = Some("u".into());
        meta.labels = Some([("agents.dev/agent".to_string(), "a".to_string())].into());
        meta.annotations = Some(
            [
                (agents_render::hash::SPEC_HASH_ANNOTATION.to_string(), "h".to_string()),
                ("kubectl.kubernetes.io/last-applied-configuration".to_string(), "{}".to_string()),
            ]
            .into(),
        );
        meta.owner_references = Some(vec![Default::default()]);
        let (store, writer) = reflector::store::<Stamped<ConfigMap>>();
        let events = futures::stream::iter(vec![Ok(Event::Init), Ok(Event::InitApply(child)), Ok(Event::InitDone)]);
        let prune = |child: &mut ConfigMap| {
            prune_metadata(child);
            drop_identity(child);
        };
        let cached: Vec<_> = events.modify(prune).map_ok(stamped::event).reflect(writer).collect().await;
        assert_eq!(cached.len(), 3);
        let child = store.get(&ObjectRef::new("a").within("ns")).expect("cached");
        let meta = child.meta();
        assert_eq!((&meta.labels, &meta.annotations), (&None, &None));
        assert_eq!((&meta.uid, &meta.resource_version), (&None, &None));
        assert_eq!(child.hash.as_deref(), Some("h"));
        assert!(meta.owner_references.is_some() && meta.name.as_deref() == Some("a"));
    }

    #[test]
    fn pruning_an_objects_last_annotation_drops_the_map() {
        let mut object = config_map("a", "1");
        let applied = ("kubectl.kubernetes.io/last-applied-configuration".to_string(), "{}".to_string());
        object.metadata.annotations = Some([applied].into());
        prune_metadata(&mut object);
        assert_eq!(object.metadata.annotations, None);
    }
}

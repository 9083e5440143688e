//! The children the operator owns: label-filtered watches that keep a cache of them (metadata
//! only, except Deployments, whose status the Agent reports, and ConfigMaps, checked for hand
//! edits), and the plan and execution that keep them as rendered, writing only what changed.

use std::fmt::Debug;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PersistentVolumeClaim, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GetParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::Error;

/// Watches only what the operator created for one kind of owner (by label, e.g.
/// `agents.dev/agent`): a cluster's other ConfigMaps or Deployments never reach its memory, and
/// each controller caches only its own children.
pub fn watch_config(owner_label: &str) -> watcher::Config {
    let selector = format!("{},{owner_label}", agents_render::labels::managed_selector());
    watcher::Config::default().labels(&selector).any_semantic()
}

/// A cache of the children of one kind of owner and the stream of their changes (for
/// `Controller::owns_stream`). `prune` drops what the operator never reads before an object is cached.
pub fn reflector<K>(
    api: Api<K>,
    owner_label: &str,
    prune: fn(&mut K),
) -> (Store<K>, impl Stream<Item = Result<K, watcher::Error>> + Send + 'static)
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store();
    let stream =
        watcher(api, watch_config(owner_label)).default_backoff().modify(prune).reflect(writer).touched_objects();
    (store, stream)
}

/// Resolves once `store` holds the first full list of its kind (or its watch has stopped).
pub fn filled<K>(store: &Store<K>) -> BoxFuture<'static, ()>
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    let store = store.clone();
    async move {
        let _ = store.wait_until_ready().await;
    }
    .boxed()
}

/// Holds a controller's own stream back until every cache in `filled` holds its first full list.
/// kube's Controller holds reconciles until its own kind's cache is filled, but not the caches
/// of children and references: a reconcile that read one still empty would report a child as
/// missing ("creating the Deployment"), and nothing would change afterwards to correct it. Held
/// back, the controller's own cache fills last, and reconciles start after it.
pub fn once_filled<S>(filled: Vec<BoxFuture<'static, ()>>, stream: S) -> impl Stream<Item = S::Item> + Send + 'static
where
    S: Stream + Send + 'static,
{
    futures::stream::once(async move {
        futures::future::join_all(filled).await;
        stream
    })
    .flatten()
}

/// What no cache needs: field ownership and client-side apply's copy of the object.
pub fn prune_metadata<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// A Deployment as the Agent controller reads it: its status, its replica count and template
/// annotations, and each container's name and image (for `agents_render::agent::drift`).
pub fn prune_deployment(deployment: &mut Deployment) {
    prune_metadata(deployment);
    if let Some(pod) = deployment.spec.template.spec.as_mut() {
        let containers = pod
            .containers
            .iter()
            .map(|c| Container { name: c.name.clone(), image: c.image.clone(), ..Default::default() })
            .collect();
        *pod = PodSpec { containers, ..Default::default() };
    }
}

/// The cached child `namespace/name`, if the operator has seen it.
pub fn cached<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<std::sync::Arc<K>>
where
    K: Resource + Clone,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    store.get(&ObjectRef::new(name).within(namespace))
}

/// A kind of child: how to reach it in a namespace, and its name for metrics and messages.
pub trait Child: Resource + Clone + Debug + Serialize + DeserializeOwned {
    const KIND: &'static str;
    fn api(client: kube::Client, namespace: &str, dyntype: &Self::DynamicType) -> Api<Self>;
}

macro_rules! typed_children {
    ($($kind:ty),* $(,)?) => {$(
        impl Child for $kind {
            const KIND: &'static str = stringify!($kind);
            fn api(client: kube::Client, namespace: &str, _: &()) -> Api<Self> {
                Api::namespaced(client, namespace)
            }
        }
    )*};
}

typed_children!(
    PersistentVolumeClaim,
    ServiceAccount,
    ConfigMap,
    Service,
    Deployment,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    NetworkPolicy,
);

/// ServiceMonitors: prometheus-operator's kind, reached dynamically.
impl Child for DynamicObject {
    const KIND: &'static str = "ServiceMonitor";
    fn api(client: kube::Client, namespace: &str, resource: &ApiResource) -> Api<Self> {
        Api::namespaced_with(client, namespace, resource)
    }
}

/// The cached child's metadata, for kinds whose content the operator does not check for drift.
pub fn cached_live<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<Live>
where
    K: Resource + Clone,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    cached(store, namespace, name).map(|object| Live::new(object.meta().clone()))
}

/// What the operator knows of a live child: its metadata, and whether it was edited by hand
/// away from what the operator applied (see `agents_render::agent::drift`).
#[derive(Debug, Clone)]
pub struct Live {
    pub meta: ObjectMeta,
    pub drifted: bool,
}

impl Live {
    pub fn new(meta: ObjectMeta) -> Self {
        Live { meta, drifted: false }
    }
}

/// What to do with one child.
#[derive(Debug)]
pub enum Plan<K> {
    /// It is as rendered (or must be left as it is).
    Keep,
    /// An object of that name exists and belongs to something else: it is never taken over.
    Conflict(String),
    Apply(K),
    /// The spec no longer asks for it.
    Delete(Box<ObjectMeta>),
}

/// What carrying out a plan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Applied,
    Deleted,
    Conflict(String),
}

fn controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.owner_references.iter().flatten().any(|r| r.controller == Some(true) && r.uid == owner_uid)
}

/// Decides what to do with a child. `desired: None` means the spec does not ask for it. A child
/// the cache does not hold is looked up (from the API server's cache), so that an object of that
/// name which is not ours is reported, not overwritten. Nothing is written here.
pub async fn plan<K: Child>(
    ctx: &Context,
    desired: Option<K>,
    live: Option<Live>,
    owner_uid: &str,
    dyntype: &K::DynamicType,
) -> Result<Plan<K>, Error> {
    let Some(desired) = desired else {
        return Ok(match live {
            Some(live) if controlled_by(&live.meta, owner_uid) => Plan::Delete(Box::new(live.meta)),
            _ => Plan::Keep,
        });
    };
    let desired = agents_render::hash::stamp(desired);
    let name = desired.name_any();
    let live = match live {
        Some(live) => Some(live),
        None => K::api(ctx.client.clone(), &desired.namespace().unwrap_or_default(), dyntype)
            .get_metadata_opt_with(&name, &GetParams::any())
            .await
            .map_err(|source| Error::Apply { action: "look up", kind: K::KIND, name: name.clone(), source })?
            .map(|m: PartialObjectMeta<K>| Live::new(m.metadata)),
    };
    let Some(live) = live else {
        return Ok(Plan::Apply(desired));
    };
    if !controlled_by(&live.meta, owner_uid) {
        let kind = K::KIND;
        let owner = live
            .meta
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))
            .map(|r| format!("it is controlled by {} {}", r.kind, r.name))
            .unwrap_or_else(|| "it was not created by the operator".into());
        return Ok(Plan::Conflict(format!(
            "{kind} {name} already exists and {owner}: rename the resource or delete that {kind}"
        )));
    }
    let same = agents_render::hash::stamped(&live.meta) == agents_render::hash::stamped(desired.meta());
    Ok(if same && !live.drifted { Plan::Keep } else { Plan::Apply(desired) })
}

/// Carries out a plan: a server-side apply with the operator's field manager, or a delete.
pub async fn execute<K: Child>(ctx: &Context, plan: Plan<K>, dyntype: &K::DynamicType) -> Result<Outcome, Error> {
    let kind = K::KIND;
    match plan {
        Plan::Keep => Ok(Outcome::Unchanged),
        Plan::Conflict(why) => Ok(Outcome::Conflict(why)),
        Plan::Apply(desired) => {
            let name = desired.name_any();
            let api = K::api(ctx.client.clone(), &desired.namespace().unwrap_or_default(), dyntype);
            let params = PatchParams::apply(agents_render::FIELD_MANAGER).force();
            api.patch(&name, &params, &Patch::Apply(&desired)).await.map_err(|source| Error::Apply {
                action: "apply",
                kind,
                name,
                source,
            })?;
            ctx.metrics.write(kind, "apply");
            Ok(Outcome::Applied)
        }
        Plan::Delete(live) => {
            let name = live.name.clone().unwrap_or_default();
            let api = K::api(ctx.client.clone(), live.namespace.as_deref().unwrap_or_default(), dyntype);
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {
                    ctx.metrics.write(kind, "delete");
                    Ok(Outcome::Deleted)
                }
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(Outcome::Unchanged),
                Err(source) => Err(Error::Apply { action: "delete", kind, name, source }),
            }
        }
    }
}

/// What the status reports of carrying out the plans: the children that belong to something
/// else (one sentence each), or why writing failed.
pub fn conflicts_and_failure(synced: &Result<Vec<Outcome>, Error>) -> (Vec<String>, Option<String>) {
    match synced {
        Ok(outcomes) => (
            outcomes
                .iter()
                .filter_map(|o| match o {
                    Outcome::Conflict(why) => Some(why.clone()),
                    _ => None,
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

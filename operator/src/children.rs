//! The children the operator owns: label-filtered watches that keep a cache of them (metadata
//! only, except Deployments, whose status the Agent reports), and the apply and delete that keep
//! them as rendered, writing only what changed.

use std::fmt::Debug;

use futures::Stream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
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

/// Watches only what the operator created (by label): a cluster's other ConfigMaps or
/// Deployments never reach its memory.
pub fn watch_config() -> watcher::Config {
    watcher::Config::default()
        .labels(&agents_render::labels::managed_selector())
        .any_semantic()
}

/// A cache of `K`'s children and the stream of their changes (for `Controller::owns_stream`).
pub fn reflector<K>(
    api: Api<K>,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store();
    let stream = watcher(api, watch_config())
        .default_backoff()
        .modify(|object: &mut K| object.managed_fields_mut().clear())
        .reflect(writer)
        .touched_objects();
    (store, stream)
}

/// The cached metadata of `namespace/name`, if the operator has seen it.
pub fn cached<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<ObjectMeta>
where
    K: Resource + Clone,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    store
        .get(&ObjectRef::new(name).within(namespace))
        .map(|object| object.meta().clone())
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

/// What applying one child did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The live child already carries this content: nothing was sent.
    Unchanged,
    Applied,
    /// An object of that name exists and belongs to something else: left untouched.
    Conflict(String),
}

fn controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == owner_uid)
}

/// Server-side applies `desired` unless the cached child already carries its content hash.
/// A child missing from the cache is looked up first (from the API server's cache): an object
/// of that name that is not ours is reported as a conflict, never taken over.
pub async fn apply<K>(
    ctx: &Context,
    desired: K,
    cached: Option<ObjectMeta>,
    owner_uid: &str,
    dyntype: &K::DynamicType,
) -> Result<Outcome, Error>
where
    K: Child,
{
    let desired = agents_render::hash::stamp(desired);
    let kind = K::KIND;
    let name = desired.name_any();
    let namespace = desired.namespace().unwrap_or_default();
    let api = K::api(ctx.client.clone(), &namespace, dyntype);
    let live = match cached {
        Some(meta) => Some(meta),
        None => api
            .get_metadata_opt_with(&name, &GetParams::any())
            .await
            .map_err(|source| Error::Apply {
                action: "look up",
                kind,
                name: name.clone(),
                source,
            })?
            .map(|m: PartialObjectMeta<K>| m.metadata),
    };
    if let Some(live) = &live {
        if !controlled_by(live, owner_uid) {
            let owner = live
                .owner_references
                .iter()
                .flatten()
                .find(|r| r.controller == Some(true))
                .map(|r| format!("it is controlled by {} {}", r.kind, r.name))
                .unwrap_or_else(|| "it was not created by the operator".into());
            return Ok(Outcome::Conflict(format!(
                "{kind} {name} already exists and {owner}: rename the resource or delete that {kind}"
            )));
        }
        if agents_render::hash::stamped(live) == agents_render::hash::stamped(desired.meta()) {
            return Ok(Outcome::Unchanged);
        }
    }
    let params = PatchParams::apply(agents_render::FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&desired))
        .await
        .map_err(|source| Error::Apply {
            action: "apply",
            kind,
            name: name.clone(),
            source,
        })?;
    ctx.metrics.write(kind, "apply");
    Ok(Outcome::Applied)
}

/// Deletes a child the spec no longer asks for, if it is still there and ours.
pub async fn delete<K>(
    ctx: &Context,
    cached: Option<ObjectMeta>,
    owner_uid: &str,
    dyntype: &K::DynamicType,
) -> Result<bool, Error>
where
    K: Child,
{
    let Some(live) = cached.filter(|meta| controlled_by(meta, owner_uid)) else {
        return Ok(false);
    };
    let kind = K::KIND;
    let name = live.name.clone().unwrap_or_default();
    let api = K::api(
        ctx.client.clone(),
        live.namespace.as_deref().unwrap_or_default(),
        dyntype,
    );
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(false),
        Err(source) => {
            return Err(Error::Apply {
                action: "delete",
                kind,
                name,
                source,
            });
        }
    }
    ctx.metrics.write(kind, "delete");
    Ok(true)
}

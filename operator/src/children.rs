//! The children the operator owns: what the caches (`crate::cache`) say of them, and the plan
//! and execution that keep them as rendered, writing only what changed.

use std::fmt::Debug;

use agents_api::ChildRef;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GetParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::Stamped;
use crate::context::Context;
use crate::error::Error;

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
pub fn cached_live<K>(store: &Store<Stamped<K>>, namespace: &str, name: &str) -> Option<Live>
where
    K: Resource + Clone,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    cached(store, namespace, name).map(|child| Live::cached(&child, false))
}

/// What the operator knows of a live child: its metadata, the content hash it carries, and
/// whether it was edited by hand away from what the operator applied (see
/// `agents_render::agent::drift`).
#[derive(Debug, Clone)]
pub struct Live {
    pub meta: ObjectMeta,
    pub hash: Option<String>,
    pub drifted: bool,
}

impl Live {
    /// From metadata that still carries its annotations.
    pub fn new(meta: ObjectMeta) -> Self {
        let hash = agents_render::hash::stamped(&meta).map(String::from);
        Live { meta, hash, drifted: false }
    }

    /// From a child's cache entry.
    pub fn cached<K: Resource>(child: &Stamped<K>, drifted: bool) -> Self {
        Live { meta: child.meta().clone(), hash: child.hash.clone(), drifted }
    }
}

/// What to do with one child.
#[derive(Debug)]
pub enum Plan<K> {
    /// It is as rendered (or must be left as it is).
    Keep,
    /// An object of that name exists and belongs to something else: it is never taken over.
    Conflict(Conflict),
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
    Conflict(Conflict),
}

/// A child the operator may not write: an object of its kind and name belongs to something else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub child: ChildRef,
    /// One sentence: whose it is, and what to do.
    pub why: String,
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
        let why = format!("{kind} {name} already exists and {owner}: rename the resource or delete that {kind}");
        return Ok(Plan::Conflict(Conflict { child: ChildRef::new(kind, &name), why }));
    }
    let same = live.hash.as_deref() == agents_render::hash::stamped(desired.meta());
    Ok(if same && !live.drifted { Plan::Keep } else { Plan::Apply(desired) })
}

/// Carries out a plan: a server-side apply with the operator's field manager, or a delete.
pub async fn execute<K: Child>(ctx: &Context, plan: Plan<K>, dyntype: &K::DynamicType) -> Result<Outcome, Error> {
    let kind = K::KIND;
    match plan {
        Plan::Keep => Ok(Outcome::Unchanged),
        Plan::Conflict(conflict) => Ok(Outcome::Conflict(conflict)),
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

/// The outcome of a plan that is not carried out (what the pods need belongs to someone else):
/// only a conflict found while planning is reported.
pub fn conflict_only<K>(plan: Plan<K>) -> Outcome {
    match plan {
        Plan::Conflict(conflict) => Outcome::Conflict(conflict),
        _ => Outcome::Unchanged,
    }
}

/// What the status reports of carrying out the plans: the children that belong to something
/// else, or why writing failed.
pub fn conflicts_and_failure(synced: &Result<Vec<Outcome>, Error>) -> (Vec<Conflict>, Option<String>) {
    match synced {
        Ok(outcomes) => (
            outcomes
                .iter()
                .filter_map(|o| match o {
                    Outcome::Conflict(conflict) => Some(conflict.clone()),
                    _ => None,
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

/// The children the owner has: those its rendering asks for, less those another object holds.
pub fn held(wanted: Vec<ChildRef>, conflicts: &[Conflict]) -> Vec<ChildRef> {
    wanted.into_iter().filter(|child| !conflicts.iter().any(|c| &c.child == child)).collect()
}

/// One sentence per conflict, for the status.
pub fn sentences(conflicts: &[Conflict]) -> Vec<String> {
    conflicts.iter().map(|c| c.why.clone()).collect()
}

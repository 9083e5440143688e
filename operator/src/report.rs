//! How every reconcile ends: the status written when it changed, the answer kept until the cache
//! shows it ([`Written`]), and the one Event the change is worth. Each kind says only what is
//! its own: where its status is, and which changes are news ([`Reported`]).

use std::fmt::Debug;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::Event;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::cache;
use crate::context::Context;
use crate::error::Error;
use crate::written::Written;

/// A kind whose status the operator writes.
pub trait Reported:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Its kind, as the API and the metrics name it.
    const KIND: &'static str;
    type Status: Serialize + PartialEq + Debug + Send + Sync;

    fn current_status(&self) -> Option<&Self::Status>;

    /// The Event a change of status from `before` to `after` is worth: `None` when it is not
    /// news (`kubectl agents describe` should tell the story without noise).
    fn event(before: Option<&Self::Status>, after: &Self::Status) -> Option<Event>;
}

/// Writes `status` (server-side apply, the operator's field manager) if it differs from what
/// `object` carries, and publishes the Event the change is worth.
pub async fn status<K: Reported>(
    ctx: &Context,
    written: &Written<K>,
    object: &K,
    status: &K::Status,
) -> Result<(), Error> {
    let before = object.current_status();
    if before == Some(status) {
        return Ok(());
    }
    let name = object.name_any();
    let patch = json!({"apiVersion": agents_api::API_VERSION, "kind": K::KIND, "status": status});
    let mut answer = Api::<K>::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default())
        .patch_status(&name, &PatchParams::apply(agents_render::FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await
        .map_err(|source| Error::Status { name: name.clone(), source })?;
    ctx.metrics.write(K::KIND, "status");
    cache::prune_metadata(&mut answer);
    written.wrote(object, answer);
    tracing::debug!(kind = K::KIND, namespace = ?object.namespace(), %name, "status written");
    if let Some(event) = K::event(before, status) {
        ctx.publish(event, object.object_ref(&()));
    }
    Ok(())
}

/// The Event of a phase change: the new phase, and why (its `Ready` condition's reason and
/// message), as `kubectl events` and `describe` show it.
pub fn phase_event(
    type_: kube::runtime::events::EventType,
    phase: impl std::fmt::Display,
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Event {
    let ready = agents_api::conditions::find(conditions, agents_api::conditions::types::READY);
    Event {
        type_,
        reason: phase.to_string(),
        note: ready.map(|c| format!("{}: {}", c.reason, c.message)),
        action: "Reconcile".into(),
        secondary: None,
    }
}

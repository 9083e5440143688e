//! How every reconcile ends: the status written when it changed, the answer kept until the cache
//! shows it ([`Written`]), and the one Event the change is worth. Each kind says only what is
//! its own ([`Reported`]): where its status and phase are, which changes of phase are news, and
//! what the Event's note says.

use std::fmt::{Debug, Display};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::cache;
use crate::context::Context;
use crate::error::Error;
use crate::written::Written;

/// A kind whose status the operator writes, and whose changes of phase are told in Events.
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
    /// What its Events say the operator was doing (the ACTION `kubectl events` shows).
    const ACTION: &'static str = "Reconcile";
    type Status: Serialize + PartialEq + Debug + Send + Sync;
    type Phase: Copy + PartialEq + Display;

    fn current_status(&self) -> Option<&Self::Status>;
    fn phase(status: &Self::Status) -> Option<Self::Phase>;
    /// The generation of the spec `status` describes.
    fn observed_generation(status: &Self::Status) -> Option<i64>;

    /// Whether the object has a change the operator has not acted on: it is new (no status yet)
    /// or its spec moved on since its status was written.
    fn is_unobserved(&self) -> bool {
        let observed = self.current_status().and_then(Self::observed_generation);
        observed.is_none() || observed != self.meta().generation
    }

    /// Whether a change of phase from `before` to `next` (another phase) is news, and which
    /// type of Event it is worth: `None` when it is not (`kubectl agents describe` should tell
    /// the story without noise).
    fn news(before: Option<Self::Phase>, next: Self::Phase) -> Option<EventType>;

    /// Why it is in the phase `status` says, as the note of the Event.
    fn why(status: &Self::Status) -> Option<String>;
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
    if let Some(event) = phase_change::<K>(before, status) {
        ctx.publish(event, object.object_ref(&()));
    }
    Ok(())
}

/// The Event a change of status from `before` to `after` is worth: one when the phase changed
/// and the kind calls that news, its reason the new phase, its note why.
fn phase_change<K: Reported>(before: Option<&K::Status>, after: &K::Status) -> Option<Event> {
    let next = K::phase(after)?;
    let before = before.and_then(K::phase);
    if before == Some(next) {
        return None;
    }
    Some(Event {
        type_: K::news(before, next)?,
        reason: next.to_string(),
        note: K::why(after),
        action: K::ACTION.into(),
        secondary: None,
    })
}

/// Why an object is in its phase, as its `Ready` condition says: reason and message, as
/// `kubectl events` and `describe` show them.
pub fn ready_condition(conditions: &[Condition]) -> Option<String> {
    let ready = agents_api::conditions::find(conditions, agents_api::conditions::types::READY)?;
    Some(format!("{}: {}", ready.reason, ready.message))
}

#[cfg(test)]
mod tests {
    use agents_api::{AgentBuild, AgentBuildStatus, BuildPhase};

    use super::*;

    fn build_status(phase: Option<BuildPhase>, message: &str) -> AgentBuildStatus {
        AgentBuildStatus { phase, message: Some(message.into()), ..Default::default() }
    }

    #[test]
    fn a_change_of_phase_the_kind_calls_news_is_one_event_that_says_why() {
        let running = build_status(Some(BuildPhase::Running), "running");
        let failed = build_status(Some(BuildPhase::Failed), "the image could not be pushed");
        let event = phase_change::<AgentBuild>(Some(&running), &failed).expect("failing is news");
        assert_eq!(event.type_, EventType::Warning);
        assert_eq!(event.reason, "Failed");
        assert_eq!(event.note.as_deref(), Some("the image could not be pushed"));
        assert_eq!(event.action, "Build");
    }

    #[test]
    fn a_status_change_within_one_phase_or_without_one_is_no_event() {
        let failed = build_status(Some(BuildPhase::Failed), "the image could not be pushed");
        let failed_again = build_status(Some(BuildPhase::Failed), "the image could still not be pushed");
        assert!(AgentBuild::news(Some(BuildPhase::Failed), BuildPhase::Failed).is_some(), "the kind would say so");
        assert_eq!(phase_change::<AgentBuild>(Some(&failed), &failed_again).map(|e| e.reason), None);
        assert_eq!(phase_change::<AgentBuild>(Some(&failed), &build_status(None, "")).map(|e| e.reason), None);
    }

    #[test]
    fn the_ready_condition_says_why() {
        let ready = Condition {
            type_: agents_api::conditions::types::READY.into(),
            status: "False".into(),
            reason: "ModelAPINotReady".into(),
            message: "ModelAPI gateway is Pending".into(),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            observed_generation: None,
        };
        assert_eq!(ready_condition(&[ready]).as_deref(), Some("ModelAPINotReady: ModelAPI gateway is Pending"));
        assert_eq!(ready_condition(&[]), None);
    }
}

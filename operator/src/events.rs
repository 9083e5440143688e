//! Events (`events.k8s.io/v1`) about the objects the operator reconciles. The same Event again
//! (same object, type, reason and note) within six minutes raises the first one's series count
//! instead of creating another Event.
//!
//! kube's `Recorder` does the same, but not quite as needed here, so this is our own:
//! - it keeps every Event it sent, whole, until its next publish: after a burst of thousands of
//!   Agents, tens of MiB that an idle operator never gives back;
//! - it leaves the note out of the key, so a new message with an old reason was shown as the old
//!   message, counted twice.
//!
//! Here only a hash of each key, the Event's name and its count are remembered.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as KubeEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};

/// How long an Event can grow a series: client-go's and kube's window.
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// What one publish sends.
#[derive(Debug, PartialEq, Eq)]
enum Write {
    Create { name: String },
    Series { name: String, count: i32 },
}

struct Sent {
    name: String,
    count: i32,
    last: Instant,
}

/// The Events sent within the window, by the hash of their key.
#[derive(Default)]
struct Series {
    sent: HashMap<u64, Sent>,
}

impl Series {
    /// Decides between a new Event (named by `fresh_name`) and a repeat, and remembers it.
    fn next(&mut self, key: u64, now: Instant, fresh_name: impl FnOnce() -> String) -> Write {
        self.sent.retain(|_, sent| now.saturating_duration_since(sent.last) < SERIES_WINDOW);
        match self.sent.get_mut(&key) {
            Some(sent) => {
                sent.count += 1;
                sent.last = now;
                Write::Series { name: sent.name.clone(), count: sent.count }
            }
            None => {
                let name = fresh_name();
                self.sent.insert(key, Sent { name: name.clone(), count: 1, last: now });
                Write::Create { name }
            }
        }
    }

    /// The Event of `key` is gone (deleted by the API server): it starts again as `name`.
    fn restart(&mut self, key: u64, name: String, now: Instant) {
        self.sent.insert(key, Sent { name, count: 1, last: now });
    }
}

pub struct Publisher {
    client: kube::Client,
    controller: String,
    instance: String,
    series: Series,
}

impl Publisher {
    pub fn new(client: kube::Client, controller: String, instance: Option<String>) -> Self {
        let instance = instance.unwrap_or_else(|| controller.clone());
        Publisher { client, controller, instance, series: Series::default() }
    }

    /// Publishes `event` about `regarding`; returns the verb it took (`create`, or `patch` for a
    /// repeat).
    pub async fn publish(&mut self, event: &Event, regarding: &ObjectReference) -> Result<&'static str, kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let events: Api<KubeEvent> = Api::namespaced(self.client.clone(), namespace);
        let now = Timestamp::now();
        let owner = regarding.name.as_deref().unwrap_or(&self.controller);
        let fresh_name = format!("{owner}.{:x}", now.as_nanosecond());
        let key = key(event, regarding);
        match self.series.next(key, Instant::now(), || fresh_name.clone()) {
            Write::Create { name } => {
                events.create(&PostParams::default(), &self.render(event, regarding, name, now)).await?;
                Ok("create")
            }
            Write::Series { name, count } => {
                let patch = serde_json::json!({ "series": EventSeries { count, last_observed_time: MicroTime(now) } });
                match events.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => Ok("patch"),
                    // Deleted meanwhile (the API server keeps Events for an hour): start anew.
                    Err(kube::Error::Api(status)) if status.code == 404 => {
                        self.series.restart(key, fresh_name.clone(), Instant::now());
                        events.create(&PostParams::default(), &self.render(event, regarding, fresh_name, now)).await?;
                        Ok("create")
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Forgets every Event: called once nothing was published for a whole window, when none of
    /// them could grow a series any more.
    pub fn forget(&mut self) {
        self.series = Series::default();
    }

    fn render(&self, event: &Event, regarding: &ObjectReference, name: String, now: Timestamp) -> KubeEvent {
        KubeEvent {
            metadata: ObjectMeta { name: Some(name), namespace: regarding.namespace.clone(), ..Default::default() },
            event_time: Some(MicroTime(now)),
            type_: Some(type_name(event.type_).into()),
            reason: Some(event.reason.clone()),
            action: Some(event.action.clone()),
            note: event.note.clone(),
            regarding: Some(regarding.clone()),
            related: event.secondary.clone(),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        }
    }
}

fn type_name(type_: EventType) -> &'static str {
    match type_ {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    }
}

/// What makes two Events the same: the object, type, reason, action and note.
fn key(event: &Event, regarding: &ObjectReference) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (&regarding.uid, &regarding.namespace, &regarding.name, &regarding.kind).hash(&mut hasher);
    (type_name(event.type_), &event.reason, &event.action, &event.note).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note.into()),
            action: "Reconcile".into(),
            secondary: None,
        }
    }

    fn agent(uid: &str) -> ObjectReference {
        ObjectReference {
            uid: Some(uid.into()),
            name: Some("a".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_same_event_again_grows_a_series_and_another_note_does_not() {
        let mut series = Series::default();
        let start = Instant::now();
        let mut names = 0;
        let mut name = || {
            names += 1;
            format!("e{names}")
        };
        let ready = key(&event("Ready", "2/2 pods ready"), &agent("u1"));
        assert_eq!(series.next(ready, start, &mut name), Write::Create { name: "e1".into() });
        assert_eq!(
            series.next(ready, start + Duration::from_secs(60), &mut name),
            Write::Series { name: "e1".into(), count: 2 }
        );
        let other_note = key(&event("Ready", "3/3 pods ready"), &agent("u1"));
        assert_eq!(series.next(other_note, start, &mut name), Write::Create { name: "e2".into() });
        let other_object = key(&event("Ready", "2/2 pods ready"), &agent("u2"));
        assert_eq!(series.next(other_object, start, &mut name), Write::Create { name: "e3".into() });
    }

    #[test]
    fn after_the_window_an_event_is_new_and_expired_ones_are_forgotten() {
        let mut series = Series::default();
        let start = Instant::now();
        let ready = key(&event("Ready", "ok"), &agent("u1"));
        series.next(ready, start, || "e1".into());
        series.next(key(&event("Pending", "starting"), &agent("u2")), start, || "e2".into());
        let later = start + SERIES_WINDOW + Duration::from_secs(1);
        assert_eq!(series.next(ready, later, || "e3".into()), Write::Create { name: "e3".into() });
        assert_eq!(series.sent.len(), 1, "expired Events are still remembered");
    }
}

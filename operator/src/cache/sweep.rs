//! The sweep a controller makes when its gate opens (it starts, or takes over as leader): every
//! object of its kind once, those whose status has not caught up with their spec first.
//!
//! kube's own `reconcile_all_on` queues the cache in its hash order. At 10,000 settled Agents a
//! sweep takes seconds, and an Agent created while no replica led (the very change a takeover
//! exists for) waited behind a random share of it: 4.7 s after a release, where its Deployment
//! could have been written in a few hundred milliseconds.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::report::Reported;

/// Every object, split into those with a change not acted on and the settled rest.
pub fn unobserved_first<K>(objects: Vec<Arc<K>>) -> (Vec<ObjectRef<K>>, Vec<ObjectRef<K>>)
where
    K: Reported,
{
    let (unobserved, settled): (Vec<_>, Vec<_>) = objects.into_iter().partition(|object| object.is_unobserved());
    let refs = |objects: Vec<Arc<K>>| objects.iter().map(|object| ObjectRef::from_obj(object.as_ref())).collect();
    (refs(unobserved), refs(settled))
}

/// kube's scheduler hands out what is due by its timer wheel's millisecond slots, in no set order
/// within one, and once every reconcile slot is busy it holds what is due in a hash set. So the
/// unobserved objects are queued alone, and the rest a slot later: the unobserved start first as
/// long as they are fewer than the controller's concurrency (16 by default), as after a takeover.
const NEXT_SLOT: Duration = Duration::from_millis(2);

/// Once `opened` resolves, every object in `store` for `Controller::reconcile_on`: the unobserved
/// ones, then, a scheduler slot later, the rest.
pub fn sweep<K>(
    opened: impl std::future::Future<Output = ()> + Send + 'static,
    store: Store<K>,
) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
where
    K: Reported,
{
    futures::stream::once(opened).flat_map(move |()| {
        let (unobserved, settled) = unobserved_first(store.state());
        if !unobserved.is_empty() {
            tracing::info!(kind = K::KIND, unobserved = unobserved.len(), "reconciling unobserved changes first");
        }
        let later = async move {
            tokio::time::sleep(NEXT_SLOT).await;
            futures::stream::iter(settled)
        };
        futures::stream::iter(unobserved).chain(futures::stream::once(later).flatten())
    })
}

#[cfg(test)]
mod tests {
    use agents_api::Agent;
    use kube::runtime::scheduler::{ScheduleRequest, scheduler};
    use serde_json::json;

    use super::*;

    fn agent(name: &str, generation: i64, observed: Option<i64>) -> Arc<Agent> {
        let status = observed.map(|observed| json!({"observedGeneration": observed}));
        let agent = json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "Agent",
            "metadata": {"name": name, "namespace": "ns", "generation": generation},
            "spec": {"image": "a:1"},
            "status": status,
        });
        Arc::new(serde_json::from_value(agent).unwrap())
    }

    fn names(refs: &[ObjectRef<Agent>]) -> Vec<&str> {
        let mut names: Vec<_> = refs.iter().map(|r| r.name.as_str()).collect();
        names.sort();
        names
    }

    #[test]
    fn new_and_edited_objects_come_before_settled_ones() {
        let objects = vec![
            agent("settled", 3, Some(3)),
            agent("new", 1, None),
            agent("edited", 4, Some(3)),
            agent("also-settled", 1, Some(1)),
        ];
        let (unobserved, settled) = unobserved_first(objects);
        assert_eq!(names(&unobserved), ["edited", "new"]);
        assert_eq!(names(&settled), ["also-settled", "settled"]);
    }

    /// Through kube's own scheduler, as the Controller queues a `reconcile_on` stream: without the
    /// slot between them, the first out of 200 settled Agents and 2 new ones was a settled one.
    #[tokio::test(start_paused = true)]
    async fn unobserved_objects_leave_kubes_scheduler_first() {
        let (store, mut writer) = kube::runtime::reflector::store::<Agent>();
        let settled = (0..200).map(|i| agent(&format!("settled-{i}"), 1, Some(1)));
        for object in settled.chain([agent("new-a", 1, None), agent("new-b", 1, None)]) {
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(object.as_ref().clone()));
        }
        let (open, opened) = futures::channel::oneshot::channel::<()>();
        let requests = sweep(async { opened.await.unwrap() }, store)
            .map(|message| ScheduleRequest { message, run_at: tokio::time::Instant::now() })
            // The Controller's triggers never end; kube's scheduler ends with its requests.
            .chain(futures::stream::pending());
        let mut scheduler = std::pin::pin!(scheduler(requests));
        // Nothing until the gate opens.
        assert!(futures::poll!(scheduler.next()).is_pending());
        open.send(()).unwrap();
        let first: Vec<_> = scheduler.as_mut().take(2).map(|r| r.name).collect().await;
        let mut first: Vec<_> = first.iter().map(String::as_str).collect();
        first.sort();
        assert_eq!(first, ["new-a", "new-b"]);
        assert_eq!(scheduler.take(200).count().await, 200);
    }
}

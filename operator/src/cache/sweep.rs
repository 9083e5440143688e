//! The sweep a controller makes when its gate opens (it starts, or takes over as leader): every
//! object of its kind once, those whose status has not caught up with their spec first, and the
//! rest no faster than the reconciles end.
//!
//! kube's own `reconcile_all_on` queues the whole cache at once, in its hash order. At 10,000
//! settled Agents that sweep takes seconds, and every change meanwhile waited behind it: an Agent
//! created as a standby took over had its Deployment 4.7 s later, where a few hundred
//! milliseconds would do. Now at most a window of the sweep (twice the concurrency) is queued at a
//! time, so a change made during it waits behind that window, not behind the cache.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::report::Reported;

/// Every object, split into those with a change not acted on and the settled rest.
fn unobserved_first<K>(objects: Vec<Arc<K>>) -> (Vec<ObjectRef<K>>, Vec<ObjectRef<K>>)
where
    K: Reported,
{
    let (unobserved, settled): (Vec<_>, Vec<_>) = objects.into_iter().partition(|object| object.is_unobserved());
    let refs = |objects: Vec<Arc<K>>| objects.iter().map(|object| ObjectRef::from_obj(object.as_ref())).collect();
    (refs(unobserved), refs(settled))
}

/// kube's scheduler hands out what is due by its timer wheel's millisecond slots, in no set order
/// within one, and once every reconcile slot is busy it holds what is due in a hash set. So the
/// unobserved objects are queued alone, and the rest from a slot later: the unobserved start
/// first as long as they are fewer than the controller's concurrency, as after a takeover.
const NEXT_SLOT: Duration = Duration::from_millis(2);

/// How long the sweep waits for a reconcile to end before it queues another window anyway: the
/// count falls behind when kube merges a queued object with a change to it already queued, and
/// must neither stop the sweep nor let it flood the queue as kube's would.
const STALL: Duration = Duration::from_secs(1);

/// The controller's reconciles as they end (every item of its output stream), counted for the
/// sweep to keep pace with.
#[derive(Clone)]
pub struct Pace(Arc<tokio::sync::watch::Sender<u64>>);

impl Pace {
    fn new() -> Self {
        Pace(Arc::new(tokio::sync::watch::Sender::new(0)))
    }

    /// One reconcile ended.
    pub fn ended(&self) {
        self.0.send_modify(|ended| *ended += 1);
    }

    fn count(&self) -> u64 {
        *self.0.borrow()
    }

    /// Waits until `count` reconciles have ended, for at most [`STALL`]; returns how many have.
    async fn reach(&self, count: u64) -> u64 {
        let mut ended = self.0.subscribe();
        let _ = tokio::time::timeout(STALL, ended.wait_for(|ended| *ended >= count)).await;
        self.count()
    }
}

/// Once `opened` resolves, every object in `store`, for `Controller::reconcile_on`: the unobserved
/// ones, then, a scheduler slot later, the rest, keeping no more than `window` of the sweep queued
/// or running beyond the reconciles [`Pace`] has seen end. The `Pace` is the controller's to tick.
pub fn sweep<K>(
    opened: impl std::future::Future<Output = ()> + Send + 'static,
    store: Store<K>,
    window: usize,
) -> (impl Stream<Item = ObjectRef<K>> + Send + 'static, Pace)
where
    K: Reported,
{
    let pace = Pace::new();
    let ticks = pace.clone();
    let objects = futures::stream::once(opened).flat_map(move |()| {
        let (unobserved, settled) = unobserved_first(store.state());
        if !unobserved.is_empty() {
            tracing::info!(kind = K::KIND, unobserved = unobserved.len(), "reconciling unobserved changes first");
        }
        let paced = paced(settled, ticks.clone(), ticks.count(), unobserved.len(), window);
        let next_slot = futures::stream::once(tokio::time::sleep(NEXT_SLOT)).filter_map(|()| async { None });
        futures::stream::iter(unobserved).chain(next_slot).chain(paced)
    });
    (objects, pace)
}

/// `settled`, each once no more than `window` of the `queued` before it (and of those it yielded)
/// are still to end, counting from `start`; after a [`STALL`], as if all queued had ended.
fn paced<T: Send + 'static>(
    settled: Vec<T>,
    pace: Pace,
    start: u64,
    queued: usize,
    window: usize,
) -> impl Stream<Item = T> + Send + 'static {
    // `excused`: reconciles taken as ended after a stall, though the count did not see them.
    let state = (settled.into_iter(), queued as u64, 0u64);
    futures::stream::unfold(state, move |(mut rest, queued, excused)| {
        let pace = pace.clone();
        async move {
            let next = rest.next()?;
            let due = (start + queued + 1).saturating_sub(window as u64 + excused);
            let ended = pace.reach(due).await;
            // After a stall, everything queued so far counts as ended: a window more goes.
            let excused = if ended >= due { excused } else { (start + queued).saturating_sub(ended) };
            Some((next, (rest, queued + 1, excused)))
        }
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

    fn store_of(objects: impl IntoIterator<Item = Arc<Agent>>) -> Store<Agent> {
        let (store, mut writer) = kube::runtime::reflector::store::<Agent>();
        for object in objects {
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(object.as_ref().clone()));
        }
        store
    }

    /// Through kube's own scheduler, as the Controller queues a `reconcile_on` stream: without the
    /// slot between them, the first out of 200 settled Agents and 2 new ones was a settled one.
    #[tokio::test(start_paused = true)]
    async fn unobserved_objects_leave_kubes_scheduler_first() {
        let settled = (0..200).map(|i| agent(&format!("settled-{i}"), 1, Some(1)));
        let store = store_of(settled.chain([agent("new-a", 1, None), agent("new-b", 1, None)]));
        let (open, opened) = futures::channel::oneshot::channel::<()>();
        let (objects, pace) = sweep(async { opened.await.unwrap() }, store, 32);
        let requests = objects
            .map(|message| ScheduleRequest { message, run_at: tokio::time::Instant::now() })
            // The Controller's triggers never end; kube's scheduler ends with its requests.
            .chain(futures::stream::pending());
        let mut scheduler = std::pin::pin!(scheduler(requests));
        // Nothing until the gate opens.
        assert!(futures::poll!(scheduler.next()).is_pending());
        open.send(()).unwrap();
        let mut first = Vec::new();
        for _ in 0..2 {
            first.push(scheduler.next().await.unwrap().name);
            pace.ended();
        }
        first.sort();
        assert_eq!(first, ["new-a", "new-b"]);
        let rest = scheduler.take(200).inspect(|_| pace.ended()).count().await;
        assert_eq!(rest, 200);
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweep_keeps_a_window_ahead_of_the_reconciles_that_ended() {
        let store = store_of((0..10).map(|i| agent(&format!("settled-{i}"), 1, Some(1))));
        let (objects, pace) = sweep(async {}, store, 3);
        let mut objects = std::pin::pin!(objects);
        for _ in 0..3 {
            objects.next().await.unwrap();
        }
        // A fourth waits for one of the three to end, and nothing else moves it short of a stall.
        tokio::time::sleep(STALL / 2).await;
        assert!(futures::poll!(objects.next()).is_pending());
        pace.ended();
        objects.next().await.unwrap();
        assert!(futures::poll!(objects.next()).is_pending());
        // No reconcile ends for a whole STALL: another window comes, then nothing for a STALL.
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            objects.next().await.unwrap();
        }
        assert_eq!(started.elapsed(), STALL);
        assert!(futures::poll!(objects.next()).is_pending());
        pace.ended();
        objects.next().await.unwrap();
        assert_eq!(started.elapsed(), STALL, "the one that ended let the next through at once");
        assert_eq!(objects.count().await, 2);
    }
}

//! What one controller's reconciles read, registered as the controller is set up, and the
//! [`Gate`] built from it. Each cache a controller reads is reached through its [`Reads`] (the
//! children's caches here, the shared watches through `Shared::read`, the pods through
//! `pods::follow`), and [`Reads::gate`] waits for every one: a controller cannot read a cache it
//! does not wait for, nor forget one in a list kept by hand. A controller gets its `Reads` from
//! `Watches::reads`, which first of all waits for this replica to lead: a standby fills its
//! caches and writes nothing.

use std::fmt::Debug;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

use super::sweep::Pace;
use super::{Filled, Stamped};
use crate::report::Reported;

/// The caches of one controller, as it sets them up.
#[must_use = "a controller's reads make its gate"]
pub struct Reads {
    filled: Vec<BoxFuture<'static, ()>>,
    /// Told once every cache is filled (a standby's are long before it leads).
    on_filled: Box<dyn FnOnce() + Send>,
    leading: BoxFuture<'static, ()>,
}

impl Reads {
    /// Reads whose gate also waits for `leading` (this replica leads), and calls `on_filled`
    /// once the caches are filled, leading or not.
    pub(crate) fn new(leading: BoxFuture<'static, ()>, on_filled: impl FnOnce() + Send + 'static) -> Self {
        Reads { filled: Vec::new(), on_filled: Box::new(on_filled), leading }
    }

    /// The children of one kind of owner, and the stream of their changes (see
    /// [`super::children`]).
    pub fn children<K>(
        &mut self,
        api: Api<K>,
        owner_label: &str,
        prune: fn(&mut K),
    ) -> (Store<Stamped<K>>, impl Stream<Item = Result<Stamped<K>, watcher::Error>> + Send + 'static)
    where
        K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
        K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
    {
        let (store, filled, changes) = super::children(api, owner_label, prune);
        self.wait_for(&filled);
        (store, changes)
    }

    /// A cache filled elsewhere: for the modules that hand out the other caches.
    pub(crate) fn wait_for(&mut self, filled: &Filled) {
        self.filled.push(filled.wait());
    }

    /// Something else the reconciles need to know first (whether an optional kind is served).
    pub(crate) fn wait_until(&mut self, known: BoxFuture<'static, ()>) {
        self.filled.push(known);
    }

    /// The gate that opens once every cache read is filled and this replica leads.
    pub fn gate(self) -> Gate {
        let Reads { filled, on_filled, leading } = self;
        Gate(
            async move {
                futures::future::join_all(filled).await;
                on_filled();
                leading.await;
            }
            .boxed()
            .shared(),
        )
    }
}

/// Keeps a controller from reconciling until this replica leads and each cache its reconciles
/// read holds its first full list. kube's Controller holds reconciles until its own kind's cache
/// is filled, but not those of children and references: a reconcile triggered by one child's
/// list that read another cache still empty would report a child as missing ("creating the
/// Deployment"), and nothing would change afterwards to correct it (at 5,000 Agents, a restart
/// did so for 130 of them).
///
/// Every stream that triggers reconciles is polled all along (it fills a cache, or drains a
/// shared watch that must not wait for a controller that does not lead yet) and its items are
/// dropped until the gate opens ([`Gate::discard_until_open`]); then [`Gate::sweep`] reconciles
/// every object of the controller's kind once, from its cache, which by then holds all that was
/// dropped. A standby thus leads with its caches warm: no relist, and the same reconciles as a
/// start.
#[derive(Clone)]
pub struct Gate(futures::future::Shared<BoxFuture<'static, ()>>);

impl Gate {
    /// `stream`, polled all along, its items dropped until the gate opens.
    pub fn discard_until_open<S>(&self, stream: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
        S::Item: Send,
    {
        let open = self.0.clone();
        stream.filter(move |_| std::future::ready(open.peek().is_some()))
    }

    /// Resolves when the gate opens.
    fn opened(&self) -> impl Future<Output = ()> + Send + 'static {
        self.0.clone()
    }

    /// Every object in `store` once when the gate opens, unobserved changes first and the rest
    /// at the pace reconciles end: for `Controller::reconcile_on`, with the [`Pace`] the
    /// controller ticks for each reconcile that ends (see [`super::sweep`]).
    pub fn sweep<K>(
        &self,
        store: Store<K>,
        concurrency: u16,
    ) -> (impl Stream<Item = ObjectRef<K>> + Send + 'static, Pace)
    where
        K: Reported,
    {
        super::sweep::sweep(self.opened(), store, 2 * usize::from(concurrency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_comes_before_the_gate_opens_is_drained_and_dropped() {
        let (open, opening) = futures::channel::oneshot::channel::<()>();
        let (told, filled) = futures::channel::oneshot::channel::<()>();
        let gate = Reads::new(opening.map(|_| ()).boxed(), move || told.send(()).unwrap()).gate();
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let mut items = Box::pin(gate.discard_until_open(rx));
        let mut opened = Box::pin(gate.opened());
        tx.unbounded_send(1).unwrap();
        // Polled before the gate opens, the item is taken off the stream and dropped.
        assert!(futures::poll!(items.next()).is_pending());
        assert!(futures::poll!(&mut opened).is_pending());
        // No cache to wait for: filled at once, though this replica does not lead yet.
        filled.await.unwrap();
        open.send(()).unwrap();
        opened.await;
        tx.unbounded_send(2).unwrap();
        drop(tx);
        assert_eq!(items.collect::<Vec<_>>().await, vec![2]);
    }
}

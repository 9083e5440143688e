//! What one controller's reconciles read, registered as the controller is set up, and the
//! [`Gate`] built from it. Each cache a controller reads is reached through its [`Reads`] (the
//! children's caches here, the shared watches through `Shared::read`, the pods through
//! `pods::follow`), and [`Reads::gate`] waits for every one: a controller cannot read a cache it
//! does not wait for, nor forget one in a list kept by hand.

use std::fmt::Debug;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

use super::{Filled, Stamped};

/// The caches of one controller, as it sets them up.
#[derive(Default)]
#[must_use = "a controller's reads make its gate"]
pub struct Reads {
    filled: Vec<BoxFuture<'static, ()>>,
}

impl Reads {
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

    /// The gate that opens once every cache read is filled.
    pub fn gate(self) -> Gate {
        Gate::new(self.filled)
    }
}

/// Keeps a controller from reconciling until each cache its reconciles read holds its first full
/// list. kube's Controller holds reconciles until its own kind's cache is filled, but not those
/// of children and references: a reconcile triggered by one child's list that read another
/// cache still empty would report a child as missing ("creating the Deployment"), and nothing
/// would change afterwards to correct it (at 5,000 Agents, a restart did so for 130 of them).
///
/// The controller's own kind is held back ([`Gate::hold`]): all of it comes through once the gate
/// opens, and each object is reconciled then. What its children's watches say before that is
/// dropped ([`Gate::discard_until_open`]): those watches must run to fill their caches, and those
/// reconciles will read what they said.
#[derive(Clone)]
pub struct Gate(futures::future::Shared<BoxFuture<'static, ()>>);

impl Gate {
    /// Opens once every one of `filled` has resolved.
    fn new(filled: Vec<BoxFuture<'static, ()>>) -> Self {
        Gate(futures::future::join_all(filled).map(|_| ()).boxed().shared())
    }

    /// `stream`, not polled until the gate opens: for a stream fed elsewhere (a follower of a
    /// shared watch), whose items wait for it.
    pub fn hold<S>(&self, stream: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
    {
        let open = self.0.clone();
        futures::stream::once(async move {
            open.await;
            stream
        })
        .flatten()
    }

    /// `stream`, polled all along (it fills a cache the gate waits for), its items dropped until
    /// the gate opens.
    pub fn discard_until_open<S>(&self, stream: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
        S::Item: Send,
    {
        let open = self.0.clone();
        stream.filter(move |_| std::future::ready(open.peek().is_some()))
    }
}

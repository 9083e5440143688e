//! Which objects of one kind read which others, as their last reconcile saw them: a change to
//! one reconciles the objects that read it, found by a lookup rather than by scanning every
//! object at every change. Pods' ConfigMaps and Secrets (`super::inputs`) and Agents' peers
//! are read this way.
//!
//! A reconcile records what it reads before it reads it: a change that lands after the record
//! triggers the reader again, and one before it is what the reconcile reads.
//!
//! Most objects read one or two things, and at 10,000 Agents there are 10,000 records: a record is
//! a boxed slice and a thing's readers a hash set, not B-trees (a B-tree's first node holds room
//! for eleven entries, some 370 bytes for one `Input`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use agents_render::inputs::Input;
use futures::{Stream, StreamExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

/// What the objects read, by namespace: `I` names a thing read (an [`Input`], a peer's name).
#[derive(Clone)]
pub struct Readers<I = Input>(Arc<Mutex<ReadersInner<I>>>);

struct ReadersInner<I> {
    /// By (namespace, what is read): the names of the objects that read it.
    by_read: HashMap<(String, I), HashSet<String>>,
    /// By (namespace, name): what the object reads, in order, each once.
    by_reader: HashMap<(String, String), Box<[I]>>,
}

impl<I> Default for Readers<I> {
    fn default() -> Self {
        Readers(Arc::new(Mutex::new(ReadersInner { by_read: HashMap::new(), by_reader: HashMap::new() })))
    }
}

impl<I: Clone + Ord + Hash + Send + 'static> Readers<I> {
    /// The object `name` in `namespace` reads `read` (and nothing else) now.
    pub fn record(&self, namespace: &str, name: &str, read: BTreeSet<I>) {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let reader = (namespace.to_string(), name.to_string());
        if inner.by_reader.get(&reader).map_or(read.is_empty(), |before| before.iter().eq(&read)) {
            return;
        }
        if let Some(before) = inner.by_reader.remove(&reader) {
            inner.forget(namespace, name, before);
        }
        for thing in &read {
            inner.by_read.entry((namespace.to_string(), thing.clone())).or_default().insert(name.to_string());
        }
        if !read.is_empty() {
            inner.by_reader.insert(reader, read.into_iter().collect());
        }
    }

    /// The objects that read `thing` in `namespace`, by name, in no order.
    pub(super) fn of(&self, namespace: &str, thing: &I) -> Vec<String> {
        let inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let readers = inner.by_read.get(&(namespace.to_string(), thing.clone()));
        readers.map(|names| names.iter().cloned().collect()).unwrap_or_default()
    }

    /// Forgets an object that is gone.
    fn forget(&self, namespace: &str, name: &str) {
        self.record(namespace, name, BTreeSet::new());
    }

    /// The objects of `store` to reconcile for each change in `changes` (a namespace and what
    /// changed in it): those that read it. An object gone since is forgotten.
    pub fn to_reconcile<K>(
        &self,
        changes: impl Stream<Item = (String, I)> + Send + 'static,
        store: Store<K>,
    ) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        let readers = self.clone();
        changes.flat_map(move |(namespace, thing)| {
            let mut refs = Vec::new();
            for name in readers.of(&namespace, &thing) {
                let reference = ObjectRef::new(&name).within(&namespace);
                if store.get(&reference).is_some() {
                    refs.push(reference);
                } else {
                    readers.forget(&namespace, &name);
                }
            }
            futures::stream::iter(refs)
        })
    }
}

impl Readers<String> {
    /// [`Readers::to_reconcile`] for objects read by name: the readers of each object a watch
    /// shows changed. (The shared watches pass no errors on: they retry on their own.)
    pub fn to_reconcile_changed<R, K>(
        &self,
        changes: impl Stream<Item = Result<R, watcher::Error>> + Send + 'static,
        store: Store<K>,
    ) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
    where
        R: Resource + Send + 'static,
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        let named = changes.filter_map(|changed| async move {
            let changed = changed.ok()?;
            Some((changed.namespace()?, changed.name_any()))
        });
        self.to_reconcile(named, store)
    }
}

impl<I: Clone + Ord + Hash> ReadersInner<I> {
    fn forget(&mut self, namespace: &str, name: &str, read: Box<[I]>) {
        for thing in read {
            let key = (namespace.to_string(), thing);
            if let Some(names) = self.by_read.get_mut(&key) {
                names.remove(name);
                if names.is_empty() {
                    self.by_read.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    fn config_map(name: &str) -> Input {
        Input::ConfigMap(name.into())
    }

    #[test]
    fn readers_follow_what_each_object_reads_now() {
        let readers = Readers::default();
        readers.record("ns", "a", [config_map("shared"), config_map("only-a")].into());
        readers.record("ns", "b", [config_map("shared")].into());
        readers.record("other", "c", [config_map("shared")].into());
        let mut shared = readers.of("ns", &config_map("shared"));
        shared.sort();
        assert_eq!(shared, ["a", "b"]);
        assert_eq!(readers.of("ns", &Input::Secret("shared".into())), Vec::<String>::new(), "a Secret of that name");
        readers.record("ns", "a", [config_map("shared")].into());
        assert_eq!(readers.of("ns", &config_map("only-a")), Vec::<String>::new(), "no longer read");
        readers.forget("ns", "b");
        assert_eq!(readers.of("ns", &config_map("shared")), ["a"]);
        readers.forget("ns", "a");
        readers.forget("other", "c");
        let inner = readers.0.lock().unwrap();
        assert!(inner.by_read.is_empty() && inner.by_reader.is_empty(), "nothing left behind");
    }

    #[tokio::test]
    async fn a_change_reconciles_the_readers_still_cached_and_forgets_the_others() {
        // Any kind will do: the store says which readers still exist.
        let (store, mut writer) = kube::runtime::reflector::store::<ConfigMap>();
        let mut lead = ConfigMap::default();
        lead.metadata.name = Some("lead".into());
        lead.metadata.namespace = Some("ns".into());
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(lead));
        let peers = Readers::<String>::default();
        peers.record("ns", "lead", ["writer".to_string()].into());
        peers.record("ns", "deleted", ["writer".to_string()].into());
        peers.record("other", "lead", ["writer".to_string()].into());

        let changes = futures::stream::iter([("ns".to_string(), "writer".to_string())]);
        let reconciled: Vec<_> = peers.to_reconcile(changes, store).collect().await;
        assert_eq!(reconciled, [ObjectRef::new("lead").within("ns")]);
        assert_eq!(peers.of("ns", &"writer".to_string()), ["lead"], "the deleted reader is forgotten");
    }
}

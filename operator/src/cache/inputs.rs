//! The ConfigMaps (and, with `--follow-secrets`, the Secrets) that pods read, kept only as digests
//! of their contents, so that a change to one rolls the pods that read it
//! (`agents_render::inputs`).
//!
//! One watch per kind, shared by every controller that runs pods. It skips the operator's own
//! ConfigMaps (their contents are in the pod template's config hash already). Each controller
//! keeps [`Readers`], filled by its reconciles: which of its objects read what, so that a change
//! reconciles those objects and no other.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use agents_render::inputs::{self, Input};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::fanout::Fanout;
use super::reduced::{self, Change, Reduced};
use super::{Filled, Reads};
use crate::context::Context;

/// A changed input: its namespace and what it is.
pub type Changed = (String, Input);

pub struct Inputs {
    digests: Digests,
    filled: Vec<Filled>,
    changes: Fanout<Changed>,
}

/// The digests of the inputs, for the reconciles.
#[derive(Clone)]
pub struct Digests {
    config_maps: Reduced<String>,
    /// `None` unless the operator follows Secrets (it then needs to list and watch them).
    secrets: Option<Reduced<String>>,
}

impl Inputs {
    /// The watches, not started yet.
    pub fn new(ctx: &Context) -> Self {
        // Not the operator's own: a pod template hashes their contents already.
        let not_ours = format!("{}!={}", agents_render::labels::MANAGED_BY, agents_render::labels::MANAGER);
        let config = || watcher::Config::default().labels(&not_ours).any_semantic();
        let (config_maps, config_maps_filled, config_map_changes) =
            reduced::watch(ctx.api::<ConfigMap>(), config(), |c| Some(inputs::config_map_digest(c)));
        let config_map_changes = config_map_changes.map(|change| changed(change, Input::ConfigMap));
        let mut filled = vec![config_maps_filled];
        let (secrets, changes) = if ctx.follow_secrets {
            let (secrets, secrets_filled, secret_changes) =
                reduced::watch(ctx.api::<Secret>(), config(), |s| Some(inputs::secret_digest(s)));
            filled.push(secrets_filled);
            let secret_changes = secret_changes.map(|change| changed(change, Input::Secret));
            (Some(secrets), futures::stream::select(config_map_changes, secret_changes).boxed())
        } else {
            (None, config_map_changes.boxed())
        };
        Inputs { digests: Digests { config_maps, secrets }, filled, changes: Fanout::new(changes) }
    }

    /// The digests and the inputs that change, from the start, for a controller whose gate
    /// waits for them.
    pub fn read(&self, reads: &mut Reads) -> (Digests, impl Stream<Item = Changed> + Send + 'static) {
        self.filled.iter().for_each(|filled| reads.wait_for(filled));
        (self.digests.clone(), self.changes.follow())
    }

    pub fn start(self) {
        self.changes.start();
    }
}

impl Digests {
    /// No input followed yet: a Deployment is stamped with no digest.
    #[cfg(test)]
    pub fn none() -> Self {
        Digests { config_maps: Reduced::default(), secrets: None }
    }

    /// The digest of `input` in `namespace`, if it exists and is followed.
    pub fn digest(&self, namespace: &str, input: &Input) -> Option<String> {
        match input {
            Input::ConfigMap(name) => self.config_maps.get(namespace, name),
            Input::Secret(name) => self.secrets.as_ref()?.get(namespace, name),
        }
    }

    /// Stamps `deployment`'s pod template with the digests of what it reads, and records that
    /// the object `name` reads those (before reading the digests: a change landing in between
    /// then reconciles it again rather than going unnoticed).
    pub fn stamp(&self, readers: &Readers, namespace: &str, name: &str, deployment: &mut Deployment) {
        let Some(pod) = deployment.spec.template.spec.as_ref() else { return };
        let read = inputs::of(pod);
        readers.record(namespace, name, read.clone());
        inputs::stamp(deployment, &read, |input| self.digest(namespace, input));
    }
}

fn changed(change: Change<String>, kind: fn(String) -> Input) -> Changed {
    let (namespace, name) = change.key;
    (namespace, kind(name))
}

/// Which objects of one kind read which inputs, as their last reconcile rendered them.
#[derive(Clone, Default)]
pub struct Readers(Arc<Mutex<ReadersInner>>);

#[derive(Default)]
struct ReadersInner {
    /// By (namespace, input): the names of the objects that read it.
    by_input: HashMap<(String, Input), BTreeSet<String>>,
    /// By (namespace, name): what the object reads.
    by_reader: HashMap<(String, String), BTreeSet<Input>>,
}

impl Readers {
    /// The object `name` in `namespace` reads `read` (and nothing else) now.
    pub fn record(&self, namespace: &str, name: &str, read: BTreeSet<Input>) {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let reader = (namespace.to_string(), name.to_string());
        if inner.by_reader.get(&reader) == Some(&read) {
            return;
        }
        let before = inner.by_reader.remove(&reader).unwrap_or_default();
        inner.forget(namespace, name, before);
        for input in &read {
            inner.by_input.entry((namespace.to_string(), input.clone())).or_default().insert(name.to_string());
        }
        if !read.is_empty() {
            inner.by_reader.insert(reader, read);
        }
    }

    /// The objects that read `input` in `namespace`.
    fn of(&self, namespace: &str, input: &Input) -> Vec<String> {
        let inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let readers = inner.by_input.get(&(namespace.to_string(), input.clone()));
        readers.map(|names| names.iter().cloned().collect()).unwrap_or_default()
    }

    /// Forgets an object that is gone.
    fn forget(&self, namespace: &str, name: &str) {
        self.record(namespace, name, BTreeSet::new());
    }

    /// The objects of `store` to reconcile for each change in `changes`: those that read the
    /// changed input (an object gone since is forgotten).
    pub fn to_reconcile<K>(
        &self,
        changes: impl Stream<Item = Changed> + Send + 'static,
        store: Store<K>,
    ) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        let readers = self.clone();
        changes.flat_map(move |(namespace, input)| {
            let mut refs = Vec::new();
            for name in readers.of(&namespace, &input) {
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

impl ReadersInner {
    fn forget(&mut self, namespace: &str, name: &str, read: BTreeSet<Input>) {
        for input in read {
            let key = (namespace.to_string(), input);
            if let Some(names) = self.by_input.get_mut(&key) {
                names.remove(name);
                if names.is_empty() {
                    self.by_input.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(readers.of("ns", &config_map("shared")), ["a", "b"]);
        assert_eq!(readers.of("ns", &Input::Secret("shared".into())), Vec::<String>::new(), "a Secret of that name");
        readers.record("ns", "a", [config_map("shared")].into());
        assert_eq!(readers.of("ns", &config_map("only-a")), Vec::<String>::new(), "no longer read");
        readers.forget("ns", "b");
        assert_eq!(readers.of("ns", &config_map("shared")), ["a"]);
        readers.forget("ns", "a");
        readers.forget("other", "c");
        let inner = readers.0.lock().unwrap();
        assert!(inner.by_input.is_empty() && inner.by_reader.is_empty(), "nothing left behind");
    }
}

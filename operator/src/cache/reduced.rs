//! A watch whose objects are kept only as what a reducer makes of them (a pod as its problem, a
//! ConfigMap as the digest of its contents), and the stream of the objects whose reduction
//! changed. What the reducer drops never reaches the operator's memory for longer than one event.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;

use super::Filled;

/// An object by namespace and name.
pub type Key = (String, String);

/// The reductions of the objects of one watch, shared by the watch that writes them and the
/// reconciles that read them. An object reduced to nothing is not kept.
pub struct Reduced<V>(Arc<Mutex<HashMap<Key, V>>>);

impl<V> Clone for Reduced<V> {
    fn clone(&self) -> Self {
        Reduced(self.0.clone())
    }
}

impl<V> Default for Reduced<V> {
    fn default() -> Self {
        Reduced(Arc::default())
    }
}

/// One object's reduction before and after a change (`None`: nothing kept).
#[derive(Clone, Debug, PartialEq)]
pub struct Change<V> {
    pub key: Key,
    pub before: Option<V>,
    pub after: Option<V>,
}

impl<V: Clone + PartialEq> Reduced<V> {
    /// What the object `namespace`/`name` is reduced to now.
    pub fn get(&self, namespace: &str, name: &str) -> Option<V> {
        self.lock().get(&(namespace.to_string(), name.to_string())).cloned()
    }

    /// Every reduction, for a reader that must look through them all.
    pub fn lock(&self) -> MutexGuard<'_, HashMap<Key, V>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records what the object is reduced to now; the change, if it is one.
    pub(super) fn set(&self, key: Key, value: Option<V>) -> Option<Change<V>> {
        let mut reduced = self.lock();
        let before = match &value {
            Some(value) => reduced.insert(key.clone(), value.clone()),
            None => reduced.remove(&key),
        };
        (before != value).then_some(Change { key, before, after: value })
    }

    /// Swaps in what a complete (re)list says; the changes from before (a relist carries no
    /// deletions: an object gone meanwhile is one of them).
    pub(super) fn replace(&self, listed: HashMap<Key, V>) -> Vec<Change<V>> {
        let mut reduced = self.lock();
        let mut before = std::mem::replace(&mut *reduced, listed);
        let mut changes: Vec<Change<V>> = reduced
            .iter()
            .filter_map(|(key, after)| {
                let before = before.remove(key);
                (before.as_ref() != Some(after)).then(|| Change {
                    key: key.clone(),
                    before,
                    after: Some(after.clone()),
                })
            })
            .collect();
        changes.extend(before.into_iter().map(|(key, before)| Change { key, before: Some(before), after: None }));
        changes.sort_by(|a, b| a.key.cmp(&b.key));
        changes
    }
}

/// Watches `api` with `config`, keeps each object as `reduce` makes it (`None`: nothing, as for a
/// deleted object), and yields every change. The first complete list fills it ([`Filled`]).
pub fn watch<K, V>(
    api: Api<K>,
    config: watcher::Config,
    reduce: impl Fn(&K) -> Option<V> + Send + 'static,
) -> (Reduced<V>, Filled, impl Stream<Item = Change<V>> + Send + 'static)
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + 'static,
    V: Clone + PartialEq + Send + 'static,
{
    let reduced = Reduced::default();
    let (listed, filled) = tokio::sync::watch::channel(false);
    let writer = reduced.clone();
    let kind = K::kind(&()).into_owned();
    let changes = watcher(api, config)
        .default_backoff()
        .scan(HashMap::new(), move |relist, event| {
            let changes = match event {
                Ok(watcher::Event::Apply(object)) => {
                    key(&object).and_then(|key| writer.set(key, reduce(&object))).into_iter().collect()
                }
                Ok(watcher::Event::Delete(object)) => {
                    key(&object).and_then(|key| writer.set(key, None)).into_iter().collect()
                }
                Ok(watcher::Event::Init) => {
                    relist.clear();
                    Vec::new()
                }
                Ok(watcher::Event::InitApply(object)) => {
                    if let (Some(key), Some(value)) = (key(&object), reduce(&object)) {
                        relist.insert(key, value);
                    }
                    Vec::new()
                }
                Ok(watcher::Event::InitDone) => {
                    listed.send_replace(true);
                    writer.replace(std::mem::take(relist))
                }
                Err(e) => {
                    tracing::warn!(kind = %K::kind(&()), "watch failed, retrying: {e}");
                    Vec::new()
                }
            };
            std::future::ready(Some(futures::stream::iter(changes)))
        })
        .flatten();
    (reduced, Filled { kind, filled }, changes)
}

fn key<K: Resource>(object: &K) -> Option<Key> {
    Some((object.meta().namespace.clone()?, object.meta().name.clone()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        ("ns".into(), name.into())
    }

    #[test]
    fn only_a_changed_reduction_is_a_change() {
        let reduced = Reduced::default();
        assert_eq!(reduced.set(key("a"), None::<u8>), None, "nothing kept, nothing changed");
        assert_eq!(reduced.set(key("a"), Some(1)), Some(Change { key: key("a"), before: None, after: Some(1) }));
        assert_eq!(reduced.set(key("a"), Some(1)), None);
        assert_eq!(reduced.get("ns", "a"), Some(1));
        assert_eq!(reduced.set(key("a"), None), Some(Change { key: key("a"), before: Some(1), after: None }));
        assert!(reduced.lock().is_empty());
    }

    #[test]
    fn a_relist_reports_what_changed_meanwhile() {
        let reduced = Reduced::default();
        reduced.set(key("kept"), Some(1));
        reduced.set(key("changed"), Some(1));
        reduced.set(key("gone"), Some(1));
        let listed = [(key("kept"), 1), (key("changed"), 2), (key("new"), 1)].into();
        let changes = reduced.replace(listed);
        let summary: Vec<_> = changes.iter().map(|c| (c.key.1.as_str(), c.before, c.after)).collect();
        assert_eq!(summary, [("changed", Some(1), Some(2)), ("gone", Some(1), None), ("new", None, Some(1))]);
    }
}

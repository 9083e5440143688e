//! What the operator wrote that its cache has not shown yet.
//!
//! A controller reads the object it reconciles from its cache, which learns of the operator's
//! own status write only when the watch delivers it. A reconcile triggered meanwhile (a child
//! changed) would read the status from before that write: it would write the same status again
//! and announce the same phase change twice. So the API server's answer to a status write is kept
//! here until the watch has delivered a newer version than the one the write was made from, and
//! reconciles read that answer instead of the stale copy. Entries live only for that short while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

/// The answer to a write, over the cached version it supersedes.
struct Newer<K> {
    /// The version the cache held when the first of these writes was made.
    cached_version: Option<String>,
    answer: Arc<K>,
}

pub struct Written<K: Resource<DynamicType = ()> + 'static> {
    cache: Store<K>,
    newer: Mutex<HashMap<ObjectRef<K>, Newer<K>>>,
}

impl<K> Written<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    pub fn new(cache: Store<K>) -> Self {
        Written { cache, newer: Mutex::default() }
    }

    /// The copy a reconcile should read: `cached`, unless the operator has written over it since.
    pub fn latest(&self, cached: Arc<K>) -> Arc<K> {
        let key = ObjectRef::from_obj(cached.as_ref());
        let mut newer = self.lock();
        match newer.get(&key) {
            Some(entry) if entry.cached_version == cached.meta().resource_version => entry.answer.clone(),
            Some(_) => {
                newer.remove(&key);
                cached
            }
            None => cached,
        }
    }

    /// Keeps `answer`, the API server's answer to a write made from `read`, until the cache
    /// shows something newer than what `read` was read from.
    pub fn wrote(&self, read: &K, answer: K) {
        let key = ObjectRef::from_obj(read);
        let read_version = &read.meta().resource_version;
        let mut newer = self.lock();
        // Checked under the lock that `seen` takes: once the cache holds a newer version, its
        // watch event reaches `seen` after this, so nothing kept here outlives it.
        let cached_version = self.cache.get(&key).and_then(|cached| cached.meta().resource_version.clone());
        match newer.get_mut(&key) {
            // Another write over the answer to the previous one, before the cache saw either.
            Some(entry) if &entry.answer.meta().resource_version == read_version => entry.answer = Arc::new(answer),
            _ if &cached_version == read_version => {
                newer.insert(key, Newer { cached_version, answer: Arc::new(answer) });
            }
            // The cache has moved on already: it holds this write, or a later change.
            _ => {
                newer.remove(&key);
            }
        }
    }

    /// Passes on the changes of the cache's watch, forgetting what each one supersedes.
    pub fn follow<S>(self: &Arc<Self>, changes: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream<Item = Result<K, watcher::Error>> + Send + 'static,
        K: Send + Sync,
    {
        let written = self.clone();
        changes.inspect(move |changed| {
            if let Ok(changed) = changed {
                written.seen(changed);
            }
        })
    }

    /// The cache now holds `changed`.
    fn seen(&self, changed: &K) {
        let key = ObjectRef::from_obj(changed);
        let mut newer = self.lock();
        if newer.get(&key).is_some_and(|entry| entry.cached_version != changed.meta().resource_version) {
            newer.remove(&key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectRef<K>, Newer<K>>> {
        self.newer.lock().expect("the written objects are never poisoned")
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector::store;

    fn version(name: &str, resource_version: &str, data: &str) -> ConfigMap {
        let mut object = ConfigMap::default();
        object.metadata.name = Some(name.into());
        object.metadata.namespace = Some("ns".into());
        object.metadata.resource_version = Some(resource_version.into());
        object.data = Some([("v".to_string(), data.to_string())].into());
        object
    }

    fn data(object: &ConfigMap) -> &str {
        object.data.as_ref().and_then(|d| d.get("v")).map(String::as_str).unwrap_or_default()
    }

    #[test]
    fn a_reconcile_reads_its_own_write_until_the_cache_shows_it() {
        let (cache, mut writer) = store::<ConfigMap>();
        let written = Written::new(cache.clone());
        let read = version("a", "1", "old");
        writer.apply_watcher_event(&watcher::Event::Apply(read.clone()));

        written.wrote(&read, version("a", "2", "written"));
        let stale = cache.get(&ObjectRef::from_obj(&read)).unwrap();
        assert_eq!(data(&written.latest(stale.clone())), "written");

        // A second write made from the first one's answer replaces it.
        written.wrote(&version("a", "2", "written"), version("a", "3", "again"));
        assert_eq!(data(&written.latest(stale)), "again");

        let delivered = version("a", "3", "again");
        writer.apply_watcher_event(&watcher::Event::Apply(delivered.clone()));
        written.seen(&delivered);
        assert_eq!(written.len(), 0, "kept after the cache showed it");
        let fresh = cache.get(&ObjectRef::from_obj(&read)).unwrap();
        assert_eq!(data(&written.latest(fresh)), "again");
    }

    #[test]
    fn nothing_is_kept_once_the_cache_has_moved_on() {
        let (cache, mut writer) = store::<ConfigMap>();
        let written = Written::new(cache.clone());
        let read = version("a", "1", "old");
        // The watch delivered the write (or someone else's change) before its answer came back.
        writer.apply_watcher_event(&watcher::Event::Apply(version("a", "2", "written")));
        written.wrote(&read, version("a", "2", "written"));
        assert_eq!(written.len(), 0);
    }

    #[test]
    fn someone_elses_change_wins_over_a_kept_answer() {
        let (cache, mut writer) = store::<ConfigMap>();
        let written = Written::new(cache.clone());
        let read = version("a", "1", "old");
        writer.apply_watcher_event(&watcher::Event::Apply(read.clone()));
        written.wrote(&read, version("a", "2", "written"));
        // A reconcile that finds a newer cached copy than the one written over reads that copy.
        let edited = Arc::new(version("a", "5", "edited"));
        assert_eq!(data(&written.latest(edited)), "edited");
        assert_eq!(written.len(), 0);
    }
}

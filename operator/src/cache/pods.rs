//! The pods of one kind of owner, kept only as their problems (`agents_render::pods`): an image
//! that cannot be pulled, a crash loop, a missing Secret, no node that fits. A Deployment's status
//! counts pods that are not ready but never says why; this watch does, for the owner's status.
//!
//! A healthy pod costs nothing once its event is read: only pods with a problem are kept, and
//! each as a sentence. An owner is reconciled when one of its pods' problems appears, changes or
//! goes, not on every pod update (the Deployment's counts already trigger those).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use agents_render::pods::{self, PodProblem};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use serde::Deserialize;

use super::{Filled, watch_config};

/// A pod as the watch decodes it: what names it and its owner, and its status (its spec, the
/// bulk of it, is skipped while decoding).
#[derive(Clone, Debug, Deserialize)]
pub struct WatchedPod {
    metadata: ObjectMeta,
    #[serde(default)]
    status: Option<PodStatus>,
}

/// A pod by namespace and name.
type PodKey = (String, String);

/// The problem of one pod and the name of its owner (the value of the owner label).
#[derive(Clone, Debug, PartialEq)]
struct Owned {
    owner: String,
    problem: PodProblem,
}

/// The problems of the pods of one kind of owner, shared by the watch that writes them and the
/// reconciles that read them.
#[derive(Clone, Default)]
pub struct PodProblems(Arc<Mutex<HashMap<PodKey, Owned>>>);

impl PodProblems {
    /// The problem of a pod of `owner` in `namespace`: the first by pod name, if several have one,
    /// so the owner's status does not alternate between them.
    pub fn of(&self, namespace: &str, owner: &str) -> Option<PodProblem> {
        let problems = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        problems
            .iter()
            .filter(|((ns, _), owned)| ns == namespace && owned.owner == owner)
            .min_by(|(a, _), (b, _)| a.1.cmp(&b.1))
            .map(|(_, owned)| owned.problem.clone())
    }

    /// Records what the pod says now, and returns its owner when its problem changed.
    fn observe(&self, pod: &WatchedPod, owner_label: &str) -> Option<(String, String)> {
        let (key, owned) = reduce(pod, owner_label)?;
        let mut problems = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let before = match owned {
            Some(owned) => problems.insert(key.clone(), owned),
            None => problems.remove(&key),
        };
        changed_owner(&key, before.as_ref(), problems.get(&key))
    }

    /// Forgets a deleted pod, and returns its owner when it had a problem.
    fn forget(&self, pod: &WatchedPod, owner_label: &str) -> Option<(String, String)> {
        let (key, _) = reduce(pod, owner_label)?;
        let before = self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        changed_owner(&key, before.as_ref(), None)
    }

    /// Swaps in what a complete (re)list says, and returns the owners whose pods' problems
    /// differ from before (a relist carries no deletions: a pod gone meanwhile counts too).
    fn replace(&self, listed: HashMap<PodKey, Owned>) -> Vec<(String, String)> {
        let mut problems = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let before = std::mem::replace(&mut *problems, listed);
        let keys = before.keys().chain(problems.keys());
        let mut owners: Vec<_> =
            keys.filter_map(|key| changed_owner(key, before.get(key), problems.get(key))).collect();
        owners.sort();
        owners.dedup();
        owners
    }
}

/// The pod's key, and its problem with its owner (`None` when it has none, or is on its way out:
/// a replaced pod's problem is no longer its owner's). `None` for a pod without a name or owner
/// label, which the watch's selector never yields.
fn reduce(pod: &WatchedPod, owner_label: &str) -> Option<(PodKey, Option<Owned>)> {
    let meta = &pod.metadata;
    let key = (meta.namespace.clone()?, meta.name.clone()?);
    let owner = meta.labels.as_ref()?.get(owner_label)?.clone();
    let leaving = meta.deletion_timestamp.is_some();
    let problem = pod.status.as_ref().filter(|_| !leaving).and_then(|status| pods::problem(&key.1, status));
    Some((key, problem.map(|problem| Owned { owner, problem })))
}

/// The owner (namespace, name) whose pod's problem went from `before` to `after`, if it changed.
fn changed_owner(key: &PodKey, before: Option<&Owned>, after: Option<&Owned>) -> Option<(String, String)> {
    if before == after {
        return None;
    }
    let owned = before.or(after)?;
    Some((key.0.clone(), owned.owner.clone()))
}

/// Watches the pods labelled `owner_label` (the operator's own, by its managed-by label), keeps
/// their problems, and yields the owners of `K` to reconcile when those change. The first
/// complete list fills it ([`Filled`]).
pub fn follow<K>(
    api: Api<WatchedPod>,
    owner_label: &'static str,
) -> (PodProblems, Filled, impl Stream<Item = ObjectRef<K>> + Send + 'static)
where
    K: Resource<DynamicType = ()> + 'static,
{
    let problems = PodProblems::default();
    let (listed, filled) = tokio::sync::watch::channel(false);
    let writer = problems.clone();
    let owners = watcher(api, watch_config(owner_label))
        .default_backoff()
        .scan(HashMap::new(), move |relist, event| {
            let owners = match event {
                Ok(watcher::Event::Apply(pod)) => writer.observe(&pod, owner_label).into_iter().collect(),
                Ok(watcher::Event::Delete(pod)) => writer.forget(&pod, owner_label).into_iter().collect(),
                Ok(watcher::Event::Init) => {
                    relist.clear();
                    Vec::new()
                }
                Ok(watcher::Event::InitApply(pod)) => {
                    if let Some((key, Some(owned))) = reduce(&pod, owner_label) {
                        relist.insert(key, owned);
                    }
                    Vec::new()
                }
                Ok(watcher::Event::InitDone) => {
                    listed.send_replace(true);
                    writer.replace(std::mem::take(relist))
                }
                Err(e) => {
                    tracing::debug!("the pods watch of {owner_label}: {e}");
                    Vec::new()
                }
            };
            std::future::ready(Some(futures::stream::iter(owners)))
        })
        .flatten()
        .map(|(namespace, name)| ObjectRef::new(&name).within(&namespace));
    (problems, Filled { kind: "Pod".into(), filled }, owners)
}

super::decoded_as!(WatchedPod, Pod);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LABEL: &str = "agents.dev/agent";

    fn pod(name: &str, owner: &str, waiting: Option<&str>) -> WatchedPod {
        let state = match waiting {
            Some(reason) => json!({"waiting": {"reason": reason}}),
            None => json!({"running": {}}),
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "labels": {LABEL: owner}},
            "spec": {"containers": [{"name": "agent", "image": "a:1"}]},
            "status": {"containerStatuses": [{"name": "agent", "image": "a:1", "imageID": "", "ready": false,
                "restartCount": 0, "state": state}]},
        }))
        .unwrap()
    }

    fn owner(name: &str) -> Option<(String, String)> {
        Some(("ns".into(), name.into()))
    }

    #[test]
    fn only_a_change_of_problem_reconciles_the_owner() {
        let problems = PodProblems::default();
        assert_eq!(problems.observe(&pod("r-1", "r", None), LABEL), None, "a healthy pod is no news");
        assert_eq!(problems.observe(&pod("r-1", "r", Some("ImagePullBackOff")), LABEL), owner("r"));
        assert_eq!(problems.observe(&pod("r-1", "r", Some("ErrImagePull")), LABEL), None, "the same problem");
        assert_eq!(problems.of("ns", "r").unwrap().reason, "ImagePullBackOff");
        assert_eq!(problems.of("other", "r"), None);
        assert_eq!(problems.observe(&pod("r-1", "r", None), LABEL), owner("r"), "the problem went");
        assert_eq!(problems.of("ns", "r"), None);
        problems.observe(&pod("r-2", "r", Some("CrashLoopBackOff")), LABEL);
        assert_eq!(problems.forget(&pod("r-2", "r", Some("CrashLoopBackOff")), LABEL), owner("r"));
        assert!(problems.0.lock().unwrap().is_empty(), "healthy and deleted pods are not kept");
        problems.observe(&pod("r-3", "r", Some("CrashLoopBackOff")), LABEL);
        let mut leaving = pod("r-3", "r", Some("CrashLoopBackOff"));
        leaving.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(problems.observe(&leaving, LABEL), owner("r"), "a pod on its way out speaks for no one");
    }

    #[test]
    fn the_first_pod_by_name_speaks_for_its_owner() {
        let problems = PodProblems::default();
        problems.observe(&pod("r-b", "r", Some("CrashLoopBackOff")), LABEL);
        problems.observe(&pod("r-a", "r", Some("InvalidImageName")), LABEL);
        assert_eq!(problems.of("ns", "r").unwrap().reason, "InvalidImageName");
    }

    #[test]
    fn a_relist_reports_the_owners_whose_problems_changed_meanwhile() {
        let problems = PodProblems::default();
        problems.observe(&pod("a-1", "a", Some("CrashLoopBackOff")), LABEL);
        problems.observe(&pod("b-1", "b", Some("CrashLoopBackOff")), LABEL);
        let mut listed = HashMap::new();
        for pod in [pod("b-1", "b", Some("CrashLoopBackOff")), pod("c-1", "c", Some("InvalidImageName"))] {
            let (key, owned) = reduce(&pod, LABEL).unwrap();
            listed.insert(key, owned.unwrap());
        }
        assert_eq!(problems.replace(listed), vec![owner("a").unwrap(), owner("c").unwrap()]);
    }
}

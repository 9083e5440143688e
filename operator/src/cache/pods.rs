//! The pods of one kind of owner, kept only as their problems (`agents_render::pods`): an image
//! that cannot be pulled, a crash loop, a missing Secret, no node that fits. A Deployment's status
//! counts pods that are not ready but never says why; this watch does, for the owner's status.
//!
//! A healthy pod costs nothing once its event is read: only pods with a problem are kept, and
//! each as a sentence. An owner is reconciled when one of its pods' problems appears, changes or
//! goes, not on every pod update (the Deployment's counts already trigger those).

use agents_render::pods::{self, PodProblem};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use serde::Deserialize;

use super::reduced::{self, Change, Reduced};
use super::{Reads, watch_config};

/// A pod as the watch decodes it: what names it and its owner, and its status (its spec, the
/// bulk of it, is skipped while decoding).
#[derive(Clone, Debug, Deserialize)]
pub struct WatchedPod {
    metadata: ObjectMeta,
    #[serde(default)]
    status: Option<PodStatus>,
}

/// The problem of one pod and the name of its owner (the value of the owner label).
#[derive(Clone, Debug, PartialEq)]
pub struct Owned {
    owner: String,
    problem: PodProblem,
}

/// The problems of the pods of one kind of owner, shared by the watch that writes them and the
/// reconciles that read them.
#[derive(Clone, Default)]
pub struct PodProblems(Reduced<Owned>);

impl PodProblems {
    /// The problem of a pod of `owner` in `namespace`: the first by pod name, if several have one,
    /// so the owner's status does not alternate between them.
    pub fn of(&self, namespace: &str, owner: &str) -> Option<PodProblem> {
        let problems = self.0.lock();
        problems
            .iter()
            .filter(|((ns, _), owned)| ns == namespace && owned.owner == owner)
            .min_by(|(a, _), (b, _)| a.1.cmp(&b.1))
            .map(|(_, owned)| owned.problem.clone())
    }
}

/// The pod's problem and its owner; `None` when it has none, or is on its way out (a replaced
/// pod's problem is no longer its owner's), or has no owner label (the watch's selector never
/// yields one).
fn reduce(pod: &WatchedPod, owner_label: &str) -> Option<Owned> {
    let meta = &pod.metadata;
    let owner = meta.labels.as_ref()?.get(owner_label)?.clone();
    if meta.deletion_timestamp.is_some() {
        return None;
    }
    let problem = pods::problem(meta.name.as_deref()?, pod.status.as_ref()?)?;
    Some(Owned { owner, problem })
}

/// The owner (namespace, name) of a pod whose problem changed.
fn owner_of(change: Change<Owned>) -> Option<(String, String)> {
    let owned = change.before.or(change.after)?;
    Some((change.key.0, owned.owner))
}

/// Watches the pods labelled `owner_label` (the operator's own, by its managed-by label), keeps
/// their problems, and yields the owners of `K` to reconcile when those change. The controller's
/// gate waits for the first complete list.
pub fn follow<K>(
    reads: &mut Reads,
    api: Api<WatchedPod>,
    owner_label: &'static str,
) -> (PodProblems, impl Stream<Item = ObjectRef<K>> + Send + 'static)
where
    K: Resource<DynamicType = ()> + 'static,
{
    let (problems, filled, changes) =
        reduced::watch(api, watch_config(owner_label), move |pod| reduce(pod, owner_label));
    reads.wait_for(&filled);
    let owners = changes.filter_map(|change| std::future::ready(owner_of(change)));
    (PodProblems(problems), owners.map(|(namespace, name)| ObjectRef::new(&name).within(&namespace)))
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

    fn key(pod: &WatchedPod) -> (String, String) {
        ("ns".into(), pod.metadata.name.clone().unwrap())
    }

    /// What the watch does with an update of `pod`: the owner to reconcile, if any.
    fn observe(problems: &PodProblems, pod: &WatchedPod) -> Option<(String, String)> {
        problems.0.set(key(pod), reduce(pod, LABEL)).and_then(owner_of)
    }

    /// What the watch does with the deletion of `pod`.
    fn forget(problems: &PodProblems, pod: &WatchedPod) -> Option<(String, String)> {
        problems.0.set(key(pod), None).and_then(owner_of)
    }

    #[test]
    fn only_a_change_of_problem_reconciles_the_owner() {
        let problems = PodProblems::default();
        assert_eq!(observe(&problems, &pod("r-1", "r", None)), None, "a healthy pod is no news");
        assert_eq!(observe(&problems, &pod("r-1", "r", Some("ImagePullBackOff"))), owner("r"));
        assert_eq!(observe(&problems, &pod("r-1", "r", Some("ErrImagePull"))), None, "the same problem");
        assert_eq!(problems.of("ns", "r").unwrap().reason, "ImagePullBackOff");
        assert_eq!(problems.of("other", "r"), None);
        assert_eq!(observe(&problems, &pod("r-1", "r", None)), owner("r"), "the problem went");
        assert_eq!(problems.of("ns", "r"), None);
        observe(&problems, &pod("r-2", "r", Some("CrashLoopBackOff")));
        assert_eq!(forget(&problems, &pod("r-2", "r", Some("CrashLoopBackOff"))), owner("r"));
        assert!(problems.0.lock().is_empty(), "healthy and deleted pods are not kept");
        observe(&problems, &pod("r-3", "r", Some("CrashLoopBackOff")));
        let mut leaving = pod("r-3", "r", Some("CrashLoopBackOff"));
        leaving.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(observe(&problems, &leaving), owner("r"), "a pod on its way out speaks for no one");
    }

    #[test]
    fn the_first_pod_by_name_speaks_for_its_owner() {
        let problems = PodProblems::default();
        observe(&problems, &pod("r-b", "r", Some("CrashLoopBackOff")));
        observe(&problems, &pod("r-a", "r", Some("InvalidImageName")));
        assert_eq!(problems.of("ns", "r").unwrap().reason, "InvalidImageName");
    }
}

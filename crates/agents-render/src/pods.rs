//! Why a pod does not run, in the words of the kubelet and the scheduler: the states a real
//! cluster shows and a Deployment's status never mentions (an image that cannot be pulled, a
//! container that keeps crashing or is killed for its memory, a Secret that does not exist, no
//! node that fits). An owner's status carries it, so "why is it not Ready" has one answer.

use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};

/// A container's waiting reasons that mean it will not start by itself (the others,
/// `ContainerCreating` and `PodInitializing`, are a pod on its way).
const WAITING_PROBLEMS: &[&str] = &[
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
    "PostStartHookError",
];

/// The kubelet alternates between these two while it retries a pull; one reason keeps the
/// owner's status from changing with each attempt.
const IMAGE_PULL_RETRY: &str = "ErrImagePull";
const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";
const CRASH_LOOP: &str = "CrashLoopBackOff";
const CONFIG_ERROR: &str = "CreateContainerConfigError";
pub const OOM_KILLED: &str = "OOMKilled";
pub const UNSCHEDULABLE: &str = "Unschedulable";

/// One pod's problem: its reason (the kubelet's or scheduler's, CamelCase) and a sentence naming
/// the pod and container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProblem {
    pub reason: &'static str,
    pub message: String,
    /// It names a Secret, ConfigMap or key that does not exist: the pod starts once it does,
    /// so its owner waits rather than fails.
    pub awaits_reference: bool,
}

/// The problem of the pod `pod`, if it has one: the scheduler's verdict first, then each
/// container (init containers first, as they run first).
pub fn problem(pod: &str, status: &PodStatus) -> Option<PodProblem> {
    let unschedulable = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some(UNSCHEDULABLE));
    if let Some(condition) = unschedulable {
        let why = condition.message.as_deref().unwrap_or("no node fits it");
        return Some(PodProblem {
            reason: UNSCHEDULABLE,
            message: format!("pod {pod} cannot be scheduled: {why}"),
            awaits_reference: false,
        });
    }
    let init = status.init_container_statuses.iter().flatten().map(|c| (Kind::Init, c));
    let main = status.container_statuses.iter().flatten().map(|c| (Kind::Main, c));
    init.chain(main).find_map(|(kind, c)| container_problem(pod, kind, c))
}

/// Whether a container is one of the pod's init containers, which run to completion, one after
/// the other, before the others start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Init,
    Main,
}

fn container_problem(pod: &str, kind: Kind, container: &ContainerStatus) -> Option<PodProblem> {
    let waiting = container.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    let reason = if reason == IMAGE_PULL_RETRY { IMAGE_PULL_BACK_OFF } else { reason };
    let reason = *WAITING_PROBLEMS.iter().find(|known| **known == reason)?;
    let name = match kind {
        Kind::Init => format!("init container {}", container.name),
        Kind::Main => format!("container {}", container.name),
    };
    let said = waiting.message.as_deref().filter(|m| !m.is_empty());
    let last_exit = container.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let problem = |reason, message| Some(PodProblem { reason, message, awaits_reference: false });
    match reason {
        CRASH_LOOP => match last_exit {
            Some(exit) if exit.reason.as_deref() == Some(OOM_KILLED) => problem(
                OOM_KILLED,
                format!(
                    "pod {pod}: {name} was killed for using more memory than its limit, and is restarted with \
                     back-off: raise its memory limit (spec.resources.limits.memory)"
                ),
            ),
            Some(exit) => {
                let how = exit.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                let exited = format!("(last exit code {}{how})", exit.exit_code);
                // An init container is meant to exit; failing, it holds back the pod's containers.
                let what = match kind {
                    Kind::Init => format!(
                        "keeps failing {exited}, so the pod's containers do not start; it is retried with back-off"
                    ),
                    Kind::Main => format!("keeps exiting {exited} and is restarted with back-off"),
                };
                let logs = format!("kubectl logs {pod} -c {} --previous", container.name);
                problem(CRASH_LOOP, format!("pod {pod}: {name} {what}: its logs say why ({logs})"))
            }
            None => problem(CRASH_LOOP, format!("pod {pod}: {name} keeps exiting and is restarted with back-off")),
        },
        CONFIG_ERROR => {
            let why = said.unwrap_or("its configuration cannot be assembled");
            Some(PodProblem {
                reason,
                message: format!("pod {pod}: {name} cannot start: {why}"),
                awaits_reference: names_a_missing_reference(why),
            })
        }
        _ => {
            let why = said.map(|m| format!(": {m}")).unwrap_or_default();
            problem(reason, format!("pod {pod}: {name}: {reason}{why}"))
        }
    }
}

/// The kubelet's words for a Secret, ConfigMap or key that is not there (`secret "x" not found`,
/// `couldn't find key k in Secret ns/x`), as opposed to a configuration that can never run
/// (`container has runAsNonRoot and image will run as root`).
fn names_a_missing_reference(message: &str) -> bool {
    let missing_object =
        (message.starts_with("secret ") || message.starts_with("configmap ")) && message.ends_with(" not found");
    missing_object || message.starts_with("couldn't find key ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(value: serde_json::Value) -> PodStatus {
        serde_json::from_value(value).unwrap()
    }

    fn waiting(reason: &str, message: &str) -> PodStatus {
        status(json!({"containerStatuses": [{
            "name": "agent", "image": "a:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": reason, "message": message}},
        }]}))
    }

    #[test]
    fn a_pod_on_its_way_has_no_problem() {
        assert_eq!(problem("p", &waiting("ContainerCreating", "")), None);
        assert_eq!(problem("p", &status(json!({"phase": "Pending"}))), None);
        let running = status(json!({"phase": "Running", "containerStatuses": [{
            "name": "agent", "image": "a:1", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {}},
        }]}));
        assert_eq!(problem("p", &running), None);
    }

    #[test]
    fn an_image_that_cannot_be_pulled_is_one_reason_however_the_kubelet_retries() {
        let backoff = problem("p", &waiting("ImagePullBackOff", "Back-off pulling image \"a:1\"")).unwrap();
        let retry = problem("p", &waiting("ErrImagePull", "rpc error: not found")).unwrap();
        assert_eq!((backoff.reason, retry.reason), (IMAGE_PULL_BACK_OFF, IMAGE_PULL_BACK_OFF));
        assert_eq!(backoff.message, "pod p: container agent: ImagePullBackOff: Back-off pulling image \"a:1\"");
        assert!(!backoff.awaits_reference);
        assert_eq!(problem("p", &waiting("InvalidImageName", "bad")).unwrap().reason, "InvalidImageName");
    }

    #[test]
    fn a_crash_loop_names_the_last_exit_and_an_oom_kill_says_what_to_raise() {
        let crash = |reason: &str, code: i32| {
            status(json!({"containerStatuses": [{
                "name": "agent", "image": "a:1", "imageID": "", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
                "lastState": {"terminated": {"exitCode": code, "reason": reason}},
            }]}))
        };
        let error = problem("p", &crash("Error", 1)).unwrap();
        assert_eq!(error.reason, CRASH_LOOP);
        assert!(error.message.contains("last exit code 1 (Error)"), "{}", error.message);
        assert!(!error.message.contains("40s"), "the back-off time changes with every restart: {}", error.message);
        let oom = problem("p", &crash(OOM_KILLED, 137)).unwrap();
        assert_eq!(oom.reason, OOM_KILLED);
        assert!(oom.message.contains("spec.resources.limits.memory"), "{}", oom.message);
    }

    #[test]
    fn a_missing_secret_is_awaited_and_an_impossible_configuration_is_not() {
        for missing in ["secret \"openai\" not found", "couldn't find key api-key in Secret ns/openai"] {
            let p = problem("p", &waiting(CONFIG_ERROR, missing)).unwrap();
            assert!(p.awaits_reference, "{missing}");
            assert!(p.message.ends_with(missing), "{}", p.message);
        }
        let root =
            problem("p", &waiting(CONFIG_ERROR, "container has runAsNonRoot and image will run as root")).unwrap();
        assert!(!root.awaits_reference);
    }

    #[test]
    fn the_scheduler_speaks_first_and_init_containers_before_the_others() {
        let unschedulable = status(json!({"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
        }]}));
        let p = problem("p", &unschedulable).unwrap();
        assert_eq!(p.reason, UNSCHEDULABLE);
        assert!(p.message.contains("didn't match"), "{}", p.message);
        let both = status(json!({
            "initContainerStatuses": [{"name": "init", "image": "i:1", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "InvalidImageName"}}}],
            "containerStatuses": [{"name": "agent", "image": "a:1", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "CreateContainerConfigError"}}}],
        }));
        assert_eq!(problem("p", &both).unwrap().message, "pod p: init container init: InvalidImageName");
    }
}

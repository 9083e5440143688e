//! An Agent's status, from what the operator observed: its dependencies, its Deployment, and any
//! child it could not take because something else owns it.

use agents_api::conditions::{self, Desired, reasons, types};
use agents_api::{Agent, AgentPhase, AgentStatus};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Dependencies, deployment, features};
use crate::labels;
use crate::pods::PodProblem;
use crate::rollout::{self, RolloutState};

/// What the operator saw while reconciling one Agent.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub agent: &'a Agent,
    pub dependencies: &'a Dependencies,
    /// The live Deployment, if it exists.
    pub deployment: Option<&'a Deployment>,
    /// Why one of its pods does not run, if one does not.
    pub pod_problem: Option<&'a PodProblem>,
    /// Children that exist but belong to something else, one sentence each.
    pub conflicts: &'a [String],
    /// Why writing the children failed, if it did.
    pub failure: Option<&'a str>,
    pub service_monitor_served: bool,
    /// The live HorizontalPodAutoscaler, if the Agent has one (see [`features`]).
    pub autoscaler: Option<&'a HorizontalPodAutoscaler>,
}

/// The phase and the reason behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub phase: AgentPhase,
    pub reason: &'static str,
    pub message: String,
}

impl Assessment {
    fn new(phase: AgentPhase, reason: &'static str, message: impl Into<String>) -> Self {
        Assessment { phase, reason, message: message.into() }
    }
}

/// The whole status. Conditions keep their transition times when unchanged, so an unchanged
/// world yields a status equal to the current one.
pub fn status(observed: Observed<'_>, now: &Time) -> AgentStatus {
    let agent = observed.agent;
    let assessment = assess(observed);
    // No `DependenciesReady`: `dependencies` says which are ready, and a blocker is the `Ready`
    // condition's reason. Every condition adds to the cost of each status write (`AgentStatus`).
    let mut desired = vec![Desired::new(
        types::READY,
        assessment.phase.ready_condition(),
        assessment.reason,
        assessment.message.clone(),
    )];
    desired.extend(features::condition(agent, observed.service_monitor_served, observed.autoscaler));
    desired.extend(assessment.phase.progress(assessment.reason).condition(assessment.reason, &assessment.message));
    let existing = agent.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let deployment_status = observed.deployment.and_then(|d| d.status.as_ref());
    let name = agent.metadata.name.as_deref().unwrap_or_default();
    let ready_replicas = deployment_status.and_then(|s| s.ready_replicas).unwrap_or(0);
    AgentStatus {
        phase: Some(assessment.phase),
        replicas: Some(deployment_status.and_then(|s| s.replicas).unwrap_or(0)),
        ready_replicas: Some(ready_replicas),
        last_health_check: last_health_check(agent.status.as_ref(), ready_replicas, now),
        children: Vec::new(),
        dependencies: observed.dependencies.refs(),
        endpoint: super::endpoint(agent),
        image: observed.deployment.and_then(running_image).or_else(|| deployment::image(agent, observed.dependencies)),
        selector: Some(labels::to_selector_string(&labels::agent_selector(name))),
        observed_generation: agent.metadata.generation,
        conditions: conditions::merge(existing, &desired, agent.metadata.generation, now),
    }
}

/// When the ready count last changed: the cluster's word that a health check answered
/// differently (a pod passed its readiness probe, or stopped passing it). Unchanged otherwise, so
/// a settled Agent's status stays as it is; unset until a pod has first been ready.
fn last_health_check(previous: Option<&AgentStatus>, ready_replicas: i32, now: &Time) -> Option<Time> {
    let before = previous.and_then(|s| s.last_health_check.clone());
    let ready_before = previous.and_then(|s| s.ready_replicas).unwrap_or(0);
    if ready_replicas == ready_before || (before.is_none() && ready_replicas == 0) { before } else { Some(now.clone()) }
}

/// The image in the live Deployment's pod template.
fn running_image(deployment: &Deployment) -> Option<String> {
    deployment.spec.template.spec.as_ref()?.containers.iter().find(|c| c.name == deployment::CONTAINER)?.image.clone()
}

/// The phase, by precedence: a conflict, then dependencies, then the Deployment's own state.
pub fn assess(observed: Observed<'_>) -> Assessment {
    if !observed.conflicts.is_empty() {
        return Assessment::new(AgentPhase::Failed, reasons::CHILD_CONFLICT, observed.conflicts.join("; "));
    }
    if let Some(failure) = observed.failure {
        return Assessment::new(AgentPhase::Failed, reasons::RECONCILE_FAILED, failure);
    }
    if !observed.dependencies.all_ready() {
        let reason = if observed.dependencies.only_build_blocks() {
            reasons::BUILD_NOT_SUCCEEDED
        } else {
            reasons::DEPENDENCIES_NOT_READY
        };
        return Assessment::new(AgentPhase::Waiting, reason, observed.dependencies.blockers().join("; "));
    }
    let Some(deployment) = observed.deployment else {
        if observed.agent.spec.replicas == Some(0) {
            return Assessment::new(AgentPhase::Stopped, reasons::STOPPED, "spec.replicas is 0");
        }
        return Assessment::new(AgentPhase::Pending, reasons::PODS_STARTING, "creating the Deployment");
    };
    let previous = observed.agent.status.as_ref().and_then(|s| s.phase);
    deployment_assessment(deployment, observed.pod_problem, previous)
}

fn deployment_assessment(
    deployment: &Deployment,
    pod_problem: Option<&PodProblem>,
    previous: Option<AgentPhase>,
) -> Assessment {
    let rollout = rollout::assess(deployment, pod_problem);
    let phase = match rollout.state {
        RolloutState::Stopped => AgentPhase::Stopped,
        RolloutState::Starting => AgentPhase::Pending,
        RolloutState::Degraded => AgentPhase::Degraded,
        RolloutState::Failed => AgentPhase::Failed,
        RolloutState::Waiting => AgentPhase::Waiting,
        RolloutState::Ready => AgentPhase::Ready,
        RolloutState::Unobserved => previous.unwrap_or(AgentPhase::Pending),
    };
    Assessment::new(phase, rollout.reason, rollout.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Dependency;
    use crate::agent::fixtures::agent;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn deployment(replicas: i32, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "research", "generation": 2},
            "spec": {
                "replicas": replicas,
                "selector": {},
                "template": {"spec": {"containers": [{"name": "agent", "image": "live:2"}]}},
            },
            "status": status,
        }))
        .unwrap()
    }

    fn assess_with(deployment: Option<&Deployment>, dependencies: &Dependencies) -> Assessment {
        let agent = agent("image: a:1\n");
        assess(Observed {
            agent: &agent,
            dependencies,
            deployment,
            pod_problem: None,
            conflicts: &[],
            failure: None,
            service_monitor_served: false,
            autoscaler: None,
        })
    }

    fn phase_of(replicas: i32, status: serde_json::Value) -> (AgentPhase, &'static str) {
        let a = assess_with(Some(&deployment(replicas, status)), &Dependencies::default());
        (a.phase, a.reason)
    }

    #[test]
    fn phases_follow_the_deployment() {
        let settled = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2});
        assert_eq!(phase_of(2, settled), (AgentPhase::Ready, reasons::READY));
        assert_eq!(
            phase_of(2, json!({"observedGeneration": 2, "replicas": 2})),
            (AgentPhase::Pending, reasons::PODS_STARTING)
        );
        assert_eq!(
            phase_of(3, json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2})),
            (AgentPhase::Degraded, reasons::PODS_NOT_READY)
        );
        assert_eq!(phase_of(0, json!({"observedGeneration": 2})), (AgentPhase::Stopped, reasons::STOPPED));
        assert_eq!(
            phase_of(2, json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2})),
            (AgentPhase::Ready, reasons::ROLLOUT_IN_PROGRESS)
        );
    }

    #[test]
    fn counts_the_deployment_controller_has_not_caught_up_with_change_nothing() {
        // Scaled from 0 to 1 while the last pod is still counted: not Ready yet.
        let unobserved = json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1});
        let live = deployment(1, unobserved);
        for previous in [AgentPhase::Stopped, AgentPhase::Ready, AgentPhase::Waiting] {
            let mut agent = agent("image: a:1\n");
            agent.status = Some(AgentStatus { phase: Some(previous), ..Default::default() });
            let a = assess(Observed {
                agent: &agent,
                dependencies: &Dependencies::default(),
                deployment: Some(&live),
                pod_problem: None,
                conflicts: &[],
                failure: None,
                service_monitor_served: false,
                autoscaler: None,
            });
            assert_eq!((a.phase, a.reason), (previous, reasons::ROLLOUT_IN_PROGRESS));
        }
        assert_eq!(
            phase_of(1, json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1})).0,
            AgentPhase::Pending,
            "a new Agent has no phase to keep"
        );
    }

    #[test]
    fn pods_that_cannot_be_created_fail_the_agent() {
        let quota = json!({"observedGeneration": 2, "conditions": [{
            "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
            "message": "pods \"research-x\" is forbidden: exceeded quota: no-pods",
        }]});
        let a = assess_with(Some(&deployment(1, quota)), &Dependencies::default());
        assert_eq!((a.phase, a.reason), (AgentPhase::Failed, reasons::PODS_CANNOT_BE_CREATED));
        assert!(a.message.contains("exceeded quota"), "{}", a.message);
    }

    #[test]
    fn a_stuck_rollout_fails_or_degrades() {
        let stuck = |ready: i32| {
            json!({"observedGeneration": 2, "readyReplicas": ready, "conditions": [{
                "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"research-1\" has timed out progressing.",
            }]})
        };
        assert_eq!(phase_of(2, stuck(0)), (AgentPhase::Failed, reasons::ROLLOUT_FAILED));
        assert_eq!(phase_of(2, stuck(1)), (AgentPhase::Degraded, reasons::ROLLOUT_FAILED));
    }

    #[test]
    fn missing_dependencies_make_it_wait_whatever_the_deployment_says() {
        let deps = Dependencies { peers: [("writer".to_string(), Dependency::Missing)].into(), ..Default::default() };
        let settled = json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1});
        let a = assess_with(Some(&deployment(1, settled)), &deps);
        assert_eq!((a.phase, a.reason), (AgentPhase::Waiting, reasons::DEPENDENCIES_NOT_READY));
        assert!(a.message.contains("Agent writer does not exist"), "{}", a.message);
    }

    #[test]
    fn an_unchanged_world_gives_an_unchanged_status() {
        let mut agent = agent("image: a:1\nreplicas: 2\n");
        let live =
            deployment(2, json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2}));
        let deps = Dependencies::default();
        fn observe<'a>(agent: &'a Agent, deps: &'a Dependencies, live: &'a Deployment) -> Observed<'a> {
            Observed {
                agent,
                dependencies: deps,
                deployment: Some(live),
                pod_problem: None,
                conflicts: &[],
                failure: None,
                service_monitor_served: false,
                autoscaler: None,
            }
        }
        let first = status(observe(&agent, &deps, &live), &Time(Timestamp::from_second(100).unwrap()));
        agent.status = Some(first.clone());
        let second = status(observe(&agent, &deps, &live), &Time(Timestamp::from_second(200).unwrap()));
        assert_eq!(first, second);
        assert_eq!(first.phase, Some(AgentPhase::Ready));
        assert_eq!(first.image.as_deref(), Some("live:2"));
        assert_eq!(first.endpoint.as_deref(), Some("http://research.team-a.svc.cluster.local"));
        assert_eq!(first.selector.as_deref(), Some("agents.dev/agent=research"));
        assert_eq!(first.observed_generation, Some(3));
    }

    /// Seed 000's `lastHealthCheck`: set when the ready count changes, kept while it does not.
    #[test]
    fn the_last_health_check_is_when_the_ready_count_last_changed() {
        let mut agent = agent("image: a:1\nreplicas: 2\n");
        let deps = Dependencies::default();
        let at = |second| Time(Timestamp::from_second(second).unwrap());
        let mut observe_ready = |ready: i32, second: i64| {
            let live = deployment(
                2,
                json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": ready}),
            );
            let observed = Observed {
                agent: &agent,
                dependencies: &deps,
                deployment: Some(&live),
                pod_problem: None,
                conflicts: &[],
                failure: None,
                service_monitor_served: false,
                autoscaler: None,
            };
            let next = status(observed, &at(second));
            agent.status = Some(next.clone());
            next.last_health_check
        };
        assert_eq!(observe_ready(0, 100), None, "no pod has answered yet");
        assert_eq!(observe_ready(1, 110), Some(at(110)));
        assert_eq!(observe_ready(2, 120), Some(at(120)));
        assert_eq!(observe_ready(2, 500), Some(at(120)), "a settled Agent's status does not change");
        assert_eq!(observe_ready(0, 600), Some(at(600)), "the checks stopped passing");
    }

    /// Seed 001's linked resources: each dependency as resolved.
    #[test]
    fn the_status_lists_resolved_dependencies() {
        let agent = agent("image: a:1\n");
        let dependencies = Dependencies {
            build: Some(("image".into(), Dependency::Ready("registry.example/research@sha256:ab".into()))),
            model_api: Some(("gateway".into(), Dependency::Ready("http://gateway.team-a:8000".into()))),
            mcp_servers: [("search".to_string(), Dependency::NotReady("it is not serving".into()))].into(),
            peers: [("writer".to_string(), Dependency::Missing)].into(),
            ..Default::default()
        };
        let observed = Observed {
            agent: &agent,
            dependencies: &dependencies,
            deployment: None,
            pod_problem: None,
            conflicts: &[],
            failure: None,
            service_monitor_served: false,
            autoscaler: None,
        };
        let s = status(observed, &Time(Timestamp::from_second(100).unwrap()));
        let listed = serde_json::to_value(&s.dependencies).unwrap();
        assert_eq!(
            listed,
            json!([
                {"kind": "AgentBuild", "name": "image", "ready": true, "image": "registry.example/research@sha256:ab"},
                {"kind": "ModelAPI", "name": "gateway", "ready": true, "endpoint": "http://gateway.team-a:8000"},
                {"kind": "MCPServer", "name": "search", "ready": false},
                {"kind": "Agent", "name": "writer", "ready": false},
            ])
        );
    }

    #[test]
    fn kstatus_reads_progress_failure_and_a_settled_or_stopped_agent_as_current() {
        let types_of = |replicas: i32, deployment_status: serde_json::Value, conflicts: &[String]| {
            let agent = agent(&format!("image: a:1\nreplicas: {replicas}\n"));
            let live = deployment(replicas, deployment_status);
            let observed = Observed {
                agent: &agent,
                dependencies: &Dependencies::default(),
                deployment: Some(&live),
                pod_problem: None,
                conflicts,
                failure: None,
                service_monitor_served: false,
                autoscaler: None,
            };
            let s = status(observed, &Time(Timestamp::from_second(100).unwrap()));
            let ready = conditions::find(&s.conditions, types::READY).unwrap().status.clone();
            let kstatus: Vec<String> = s
                .conditions
                .iter()
                .filter(|c| [types::RECONCILING, types::STALLED].contains(&c.type_.as_str()))
                .map(|c| format!("{}={}", c.type_, c.status))
                .collect();
            (ready, kstatus)
        };
        let settled = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2});
        assert_eq!(types_of(2, settled.clone(), &[]), ("True".to_string(), vec![]));
        let starting = json!({"observedGeneration": 2, "replicas": 2});
        assert_eq!(types_of(2, starting, &[]), ("False".to_string(), vec!["Reconciling=True".to_string()]));
        let rolling = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2});
        assert_eq!(types_of(2, rolling, &[]), ("True".to_string(), vec!["Reconciling=True".to_string()]));
        let conflict = ["Service research belongs to someone else".to_string()];
        assert_eq!(types_of(2, settled, &conflict), ("False".to_string(), vec!["Stalled=True".to_string()]));
        assert_eq!(
            types_of(0, json!({"observedGeneration": 2}), &[]),
            ("True".to_string(), vec![]),
            "Stopped is current"
        );
    }

    #[test]
    fn a_child_the_api_server_refuses_fails_the_agent() {
        let agent = agent("image: a:1\n");
        let a = assess(Observed {
            agent: &agent,
            dependencies: &Dependencies::default(),
            deployment: None,
            pod_problem: None,
            conflicts: &[],
            failure: Some("could not apply PodDisruptionBudget research: invalid"),
            service_monitor_served: false,
            autoscaler: None,
        });
        assert_eq!((a.phase, a.reason), (AgentPhase::Failed, reasons::RECONCILE_FAILED));
        assert!(a.message.contains("PodDisruptionBudget"));
    }

    #[test]
    fn a_conflicting_child_fails_the_agent() {
        let agent = agent("image: a:1\n");
        let conflicts = ["Service research exists and is not owned by this Agent".to_string()];
        let a = assess(Observed {
            agent: &agent,
            dependencies: &Dependencies::default(),
            deployment: None,
            pod_problem: None,
            conflicts: &conflicts,
            failure: None,
            service_monitor_served: false,
            autoscaler: None,
        });
        assert_eq!((a.phase, a.reason), (AgentPhase::Failed, reasons::CHILD_CONFLICT));
    }
}

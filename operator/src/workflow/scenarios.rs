//! The AgentWorkflow reconcile's decisions against a mocked API server (`crate::fixtures`): a run
//! request starts one Argo Workflow, once the Agents its steps call are Ready.

use std::sync::Arc;

use agents_api::{Agent, AgentWorkflow};
use agents_render::workflow::argo::{cron_workflow_resource, workflow_resource};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::State;
use super::reconcile::{error_policy, reconcile};
use crate::argo::{Argo, Caches};
use crate::cache::Readers;
use crate::error::Error;
use crate::fixtures::{self, Reconciler, Scenario, create, write_status};
use crate::written::Written;

const RUNS: &str = "/apis/argoproj.io/v1alpha1/namespaces/team-a/workflows";

/// An AgentWorkflow of one step calling the Agent `research`, asked to run once (`a1`).
fn workflow_json() -> Value {
    json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "AgentWorkflow",
        "metadata": {"name": "pipeline", "namespace": "team-a", "uid": "w-1", "generation": 1, "resourceVersion": "1",
            "annotations": {(agents_api::workflow::RUN_REQUEST_ANNOTATION): r#"{"id":"a1"}"#}},
        "spec": {"steps": [{"name": "a", "agentRef": {"name": "research"}, "input": "x"}]},
    })
}

fn ready_agent() -> Agent {
    serde_json::from_value(json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "Agent",
        "metadata": {"name": "research", "namespace": "team-a", "uid": "a-1"},
        "spec": {"image": "registry.example/research:1"},
        "status": {"phase": "Ready", "endpoint": "http://research.team-a.svc.cluster.local"},
    }))
    .expect("a valid Agent")
}

fn workflow() -> AgentWorkflow {
    serde_json::from_value(workflow_json()).expect("a valid AgentWorkflow")
}

impl Reconciler for State {
    type Object = AgentWorkflow;

    fn reconcile(workflow: Arc<AgentWorkflow>, state: Arc<State>) -> impl Future<Output = Result<Action, Error>> {
        reconcile(workflow, state)
    }

    fn error_policy(workflow: Arc<AgentWorkflow>, error: &Error, state: Arc<State>) -> Action {
        error_policy(workflow, error, state)
    }
}

/// The AgentWorkflow controller, Argo served and no run cached, `agents` in the Agent cache.
fn given_agents(agents: Vec<Agent>) -> Scenario<State> {
    Scenario::given(|ctx| State {
        ctx,
        agents: fixtures::store(agents),
        callers: Readers::default(),
        argo: Argo::served_with(Caches {
            workflows: fixtures::store_with(workflow_resource(), []),
            cron_workflows: fixtures::store_with(cron_workflow_resource(), []),
        }),
        written: Arc::new(Written::new(fixtures::store([]))),
    })
}

#[tokio::test]
async fn a_run_request_starts_one_argo_workflow_once_its_agents_are_ready() {
    let then = given_agents(vec![ready_agent()]).reconcile(workflow(), [create(RUNS), write_status(&workflow())]).await;
    assert!(then.result.is_ok(), "{:?}", then.result);
    assert_eq!(then.sent[0].body["metadata"]["name"], "pipeline-a1");
    assert_eq!(then.status().last_run_request.as_deref(), Some("a1"), "the request is handled");
}

#[tokio::test]
async fn a_run_request_waits_while_an_agent_is_missing() {
    let then = given_agents(vec![]).reconcile(workflow(), [write_status(&workflow())]).await;
    assert!(then.result.is_ok(), "{:?}", then.result);
    assert_eq!(then.status().last_run_request, None, "the request is still to be handled");
}

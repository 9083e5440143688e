//! The AgentWorkflow reconcile's decisions against a mocked API server (`crate::fixtures`): a run
//! request starts one Argo Workflow, once the Agents its steps call are Ready.

use std::sync::Arc;

use agents_api::{Agent, AgentWorkflow, AgentWorkflowStatus};
use agents_render::workflow::argo::{cron_workflow_resource, workflow_resource};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::State;
use super::reconcile::reconcile;
use crate::argo::{Argo, Caches};
use crate::context::Context;
use crate::error::Error;
use crate::fixtures::{self, Answer, Exchange, Sent};
use crate::written::Written;

const RUNS: &str = "/apis/argoproj.io/v1alpha1/namespaces/team-a/workflows";
const STATUS: &str = "/apis/agents.dev/v1alpha1/namespaces/team-a/agentworkflows/pipeline/status";

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

/// Reconciles the workflow, Argo served and no run cached, `agents` in the Agent cache, while
/// the API server answers `script`.
async fn reconcile_with(agents: Vec<Agent>, script: Vec<Exchange>) -> (Result<Action, Error>, Vec<Sent>) {
    let (client, mut server) = fixtures::client();
    let (ctx, _events) = Context::for_tests(client);
    let caches = Caches {
        workflows: fixtures::store_with(workflow_resource(), []),
        cron_workflows: fixtures::store_with(cron_workflow_resource(), []),
    };
    let state = State {
        ctx,
        agents: fixtures::store(agents),
        argo: Argo::served_with(caches),
        written: Arc::new(Written::new(fixtures::store([]))),
    };
    let workflow: AgentWorkflow = serde_json::from_value(workflow_json()).expect("a valid AgentWorkflow");
    server.expect(script, reconcile(Arc::new(workflow), Arc::new(state))).await
}

fn written_status(sent: &[Sent]) -> AgentWorkflowStatus {
    let last = sent.last().expect("a request");
    assert_eq!(last.path, STATUS);
    serde_json::from_value(last.body["status"].clone()).expect("an AgentWorkflow status")
}

fn write_status() -> Exchange {
    ("PATCH", STATUS.into(), Answer::Over(workflow_json()))
}

#[tokio::test]
async fn a_run_request_starts_one_argo_workflow_once_its_agents_are_ready() {
    let script = vec![("POST", RUNS.into(), Answer::Echo), write_status()];
    let (result, sent) = reconcile_with(vec![ready_agent()], script).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sent[0].body["metadata"]["name"], "pipeline-a1");
    assert_eq!(written_status(&sent).last_run_request.as_deref(), Some("a1"), "the request is handled");
}

#[tokio::test]
async fn a_run_request_waits_while_an_agent_is_missing() {
    let (result, sent) = reconcile_with(vec![], vec![write_status()]).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(written_status(&sent).last_run_request, None, "the request is still to be handled");
}

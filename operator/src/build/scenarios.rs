//! The AgentBuild reconcile's decisions against a mocked API server (`crate::fixtures`): how a
//! build request becomes one PipelineRun, and what the API server's refusals do.

use std::sync::Arc;

use agents_api::{AgentBuild, AgentBuildStatus, BuildPhase};
use kube::ResourceExt;
use kube::api::DynamicObject;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::{Value, json};

use super::reconcile::{RESYNC, reconcile};
use super::{State, tekton};
use crate::context::Context;
use crate::error::Error;
use crate::fixtures::{self, Answer, Exchange, Sent};
use crate::written::Written;

const RUNS: &str = "/apis/tekton.dev/v1/namespaces/team-a/pipelineruns";
const STATUS: &str = "/apis/agents.dev/v1alpha1/namespaces/team-a/agentbuilds/research/status";

fn build_json() -> Value {
    json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "AgentBuild",
        "metadata": {"name": "research", "namespace": "team-a", "uid": "b-1234", "generation": 1,
            "resourceVersion": "1"},
        "spec": {"git": {"url": "https://github.com/org/research.git", "revision": "v1.2.0"},
            "image": "ghcr.io/org/research", "tag": "v1"},
    })
}

fn build() -> AgentBuild {
    serde_json::from_value(build_json()).expect("a valid AgentBuild")
}

/// The run the build's first request gets.
fn first_run_object() -> DynamicObject {
    agents_render::build::next_run::<DynamicObject>(&build(), &[]).expect("a run")
}

/// Its path.
fn first_run() -> String {
    format!("{RUNS}/{}", first_run_object().name_any())
}

/// Reconciles the build, Tekton served and no run cached, while the API server answers `script`;
/// the result, what was sent, and the Events published.
async fn reconcile_new_build(script: Vec<Exchange>) -> (Result<Action, Error>, Vec<Sent>, Vec<(EventType, String)>) {
    let (client, mut server) = fixtures::client();
    let (ctx, mut events) = Context::for_tests(client);
    let tekton = tekton::Tekton::served_with(tekton::Caches::empty());
    let state = Arc::new(State { ctx, tekton, written: Arc::new(Written::new(fixtures::store([]))) });
    let (result, sent) = server.expect(script, reconcile(Arc::new(build()), state)).await;
    let events = std::iter::from_fn(|| events.try_recv().ok()).map(|(e, _)| (e.type_, e.reason)).collect();
    (result, sent, events)
}

fn written_status(sent: &[Sent]) -> AgentBuildStatus {
    let last = sent.last().expect("a request");
    assert_eq!(last.path, STATUS);
    serde_json::from_value(last.body["status"].clone()).expect("an AgentBuild status")
}

fn write_status() -> Exchange {
    ("PATCH", STATUS.into(), Answer::Over(build_json()))
}

#[tokio::test]
async fn a_new_build_request_starts_one_pipeline_run_after_looking_for_it() {
    let script = vec![("GET", first_run(), Answer::NotFound), ("POST", RUNS.into(), Answer::Echo), write_status()];
    let (result, sent, events) = reconcile_new_build(script).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    assert!(sent[1].query.contains(&format!("fieldManager={}", agents_render::FIELD_MANAGER)));
    assert_eq!(written_status(&sent).phase, Some(BuildPhase::Pending));
    assert_eq!(events, [(EventType::Normal, "Started".to_string())]);
}

#[tokio::test]
async fn a_run_the_api_server_refuses_fails_the_build_without_a_retry() {
    let refused = "PipelineRun.tekton.dev \"research-1\" is invalid: spec.params: Invalid value";
    let script = vec![
        ("GET", first_run(), Answer::NotFound),
        ("POST", RUNS.into(), Answer::Refuse(422, refused)),
        write_status(),
    ];
    let (result, sent, events) = reconcile_new_build(script).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC), "a refusal does not go away by retrying");
    let status = written_status(&sent);
    assert_eq!(status.phase, Some(BuildPhase::Failed));
    assert!(status.message.as_deref().is_some_and(|m| m.contains(refused)), "{:?}", status.message);
    assert_eq!(events, [(EventType::Warning, "Failed".to_string())]);
}

#[tokio::test]
async fn a_run_created_meanwhile_is_adopted_not_created_twice() {
    let script = vec![
        ("GET", first_run(), Answer::NotFound),
        ("POST", RUNS.into(), Answer::Refuse(409, "pipelineruns.tekton.dev already exists")),
        // The run the earlier reconcile created: read back, not created again.
        ("GET", first_run(), Answer::Object(serde_json::to_value(first_run_object()).unwrap())),
        write_status(),
    ];
    let (result, sent, events) = reconcile_new_build(script).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    assert_eq!(sent.iter().filter(|s| s.method == "POST").count(), 1);
    assert_eq!(events, [], "no second Started Event");
}

#[tokio::test]
async fn a_server_error_on_create_is_an_error_for_the_error_policy() {
    let script = vec![
        ("GET", first_run(), Answer::NotFound),
        ("POST", RUNS.into(), Answer::Refuse(500, "etcdserver: request timed out")),
        write_status(),
    ];
    let (result, _, _) = reconcile_new_build(script).await;
    let error = result.expect_err("a server error is retried with backoff");
    assert_eq!(error.metric_label(), "apply");
    assert!(error.to_string().contains("etcdserver: request timed out"), "{error}");
}

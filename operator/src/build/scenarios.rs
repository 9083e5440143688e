//! The AgentBuild reconcile's decisions against a mocked API server (`crate::fixtures`): how a
//! build request becomes one PipelineRun, and what the API server's refusals do.

use std::sync::Arc;

use agents_api::{AgentBuild, BuildPhase};
use kube::ResourceExt;
use kube::api::DynamicObject;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::{Value, json};

use super::reconcile::{RESYNC, error_policy, reconcile};
use super::{State, tekton};
use crate::error::Error;
use crate::fixtures::{self, Answer, Reconciler, Scenario, create, get, refuse, write_status};
use crate::written::Written;

const RUNS: &str = "/apis/tekton.dev/v1/namespaces/team-a/pipelineruns";

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

impl Reconciler for State {
    type Object = AgentBuild;

    fn reconcile(build: Arc<AgentBuild>, state: Arc<State>) -> impl Future<Output = Result<Action, Error>> {
        reconcile(build, state)
    }

    fn error_policy(build: Arc<AgentBuild>, error: &Error, state: Arc<State>) -> Action {
        error_policy(build, error, state)
    }
}

/// The AgentBuild controller, Tekton served and no run cached.
fn given_no_run() -> Scenario<State> {
    Scenario::given(|ctx| State {
        ctx,
        tekton: tekton::Tekton::served_with(tekton::Caches::empty()),
        written: Arc::new(Written::new(fixtures::store([]))),
    })
}

#[tokio::test]
async fn a_new_build_request_starts_one_pipeline_run_after_looking_for_it() {
    let script = [get(&first_run(), Answer::NotFound), create(RUNS), write_status(&build())];
    let then = given_no_run().reconcile(build(), script).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    assert!(then.sent[1].query.contains(&format!("fieldManager={}", agents_render::FIELD_MANAGER)));
    assert_eq!(then.status().phase, Some(BuildPhase::Pending));
    assert_eq!(then.events, [(EventType::Normal, "Started".to_string())]);
}

#[tokio::test]
async fn a_run_the_api_server_refuses_fails_the_build_without_a_retry() {
    let refused = "PipelineRun.tekton.dev \"research-1\" is invalid: spec.params: Invalid value";
    let script = [get(&first_run(), Answer::NotFound), refuse("POST", RUNS, 422, refused), write_status(&build())];
    let then = given_no_run().reconcile(build(), script).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC), "a refusal does not go away by retrying");
    let status = then.status();
    assert_eq!(status.phase, Some(BuildPhase::Failed));
    assert!(status.message.as_deref().is_some_and(|m| m.contains(refused)), "{:?}", status.message);
    assert_eq!(then.events, [(EventType::Warning, "Failed".to_string())]);
}

#[tokio::test]
async fn a_run_created_meanwhile_is_adopted_not_created_twice() {
    let script = [
        get(&first_run(), Answer::NotFound),
        refuse("POST", RUNS, 409, "pipelineruns.tekton.dev already exists"),
        // The run the earlier reconcile created: read back, not created again.
        get(&first_run(), Answer::Object(serde_json::to_value(first_run_object()).unwrap())),
        write_status(&build()),
    ];
    let then = given_no_run().reconcile(build(), script).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    assert_eq!(then.sent.iter().filter(|s| s.method == "POST").count(), 1);
    assert_eq!(then.events, [], "no second Started Event");
}

#[tokio::test]
async fn a_server_error_on_create_is_an_error_for_the_error_policy() {
    let script = [
        get(&first_run(), Answer::NotFound),
        refuse("POST", RUNS, 500, "etcdserver: request timed out"),
        write_status(&build()),
    ];
    let then = given_no_run().reconcile(build(), script).await;
    assert_eq!(then.error().metric_label(), "apply");
    assert!(then.error().to_string().contains("etcdserver: request timed out"), "{}", then.error());
}

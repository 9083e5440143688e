//! Golden-output tests: the tables and pages people read, printed from the objects of
//! `testdata/team-a.yaml` (statuses as the operator writes them) at a fixed clock, through a fake
//! API server ([`crate::fake_api`]). A change to a column or a sentence shows as a diff of a file
//! in `snapshots/`: `INSTA_UPDATE=always cargo test -p kubectl-agents golden` writes the new ones
//! (or `cargo insta review` walks through them) for the change's reviewer to read.

use agents_api::{Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI};
use k8s_openapi::jiff::Timestamp;
use kube::api::DynamicObject;
use serde::Deserialize;
use serde_json::{Value, json};

use super::get::{self, Listed};
use crate::fake_api::FakeApi;
use crate::kinds::Kind;
use crate::output::{self, RowOptions};

const NOW: &str = "2026-12-06T12:00:00Z";
const NAMESPACE: &str = "team-a";

fn now() -> Timestamp {
    NOW.parse().expect("a timestamp")
}

fn options(wide: bool) -> RowOptions {
    RowOptions { wide, colour: false, now: now() }
}

/// Every object of the fixture namespace.
fn team() -> Vec<Value> {
    serde_norway::Deserializer::from_str(include_str!("../../testdata/team-a.yaml"))
        .map(|document| Value::deserialize(document).expect("testdata/team-a.yaml holds valid YAML"))
        .collect()
}

/// The fixture's objects of kind `K`.
fn of_kind<K: Listed>() -> Vec<K> {
    let kind = K::kind(&());
    team()
        .into_iter()
        .filter(|o| o["kind"] == kind.as_ref())
        .map(|o| serde_json::from_value(o).unwrap_or_else(|e| panic!("a {kind} of testdata/team-a.yaml: {e}")))
        .collect()
}

fn table<K: Listed>(all_namespaces: bool, wide: bool) -> String {
    let mut out = Vec::new();
    output::write_table(&mut out, &get::listing(&of_kind::<K>(), all_namespaces, &options(wide)), true).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn get_prints_each_kind_as_kubectl_would() {
    insta::assert_snapshot!("get_agents", table::<Agent>(false, false));
    insta::assert_snapshot!("get_agents_wide", table::<Agent>(false, true));
    insta::assert_snapshot!("get_agents_all_namespaces", table::<Agent>(true, false));
    insta::assert_snapshot!("get_modelapis_wide", table::<ModelAPI>(false, true));
    insta::assert_snapshot!("get_mcpservers_wide", table::<MCPServer>(false, true));
    insta::assert_snapshot!("get_agentbuilds_wide", table::<AgentBuild>(false, true));
    insta::assert_snapshot!("get_agentworkflows", table::<AgentWorkflow>(false, false));
}

#[tokio::test]
async fn describe_prints_a_page_for_each_kind() {
    let session = FakeApi::new(team()).session(NAMESPACE);
    for (kind, name) in [
        (Kind::Agent, "research"),
        (Kind::Agent, "writer"),
        (Kind::Agent, "crashy"),
        (Kind::ModelAPI, "gateway"),
        (Kind::MCPServer, "search"),
        (Kind::AgentBuild, "research-image"),
        (Kind::AgentWorkflow, "research-pipeline"),
    ] {
        let page = super::describe::page(&session, kind, name, false, now()).await.unwrap();
        insta::assert_snapshot!(format!("describe_{}_{name}", kind.names()[0]), page);
    }
}

#[tokio::test]
async fn workflow_status_draws_the_run() {
    let session = FakeApi::new(team()).session(NAMESPACE);
    let workflow = super::workflow::get(&session, "research-pipeline").await.unwrap();
    let run = super::workflow::get_run(&session, &workflow, None).await.unwrap();
    insta::assert_snapshot!("workflow_status", super::workflow::status::page(&workflow, Some(&run), &options(false)));
    let never_ran = AgentWorkflow { status: None, ..workflow };
    insta::assert_snapshot!(
        "workflow_status_never_ran",
        super::workflow::status::page(&never_ran, None, &options(false))
    );
}

#[tokio::test]
async fn build_list_shows_the_runs() {
    let session = FakeApi::new(team()).session(NAMESPACE);
    let build = super::build::get(&session, "research-image").await.unwrap();
    let runs: Vec<DynamicObject> = super::build::runs_of(&session, "research-image").await.unwrap();
    for wide in [false, true] {
        let mut out = Vec::new();
        output::write_table(&mut out, &super::build::list::runs_table(&build, &runs, &options(wide)), true).unwrap();
        let name = if wide { "build_list_runs_wide" } else { "build_list_runs" };
        insta::assert_snapshot!(name, String::from_utf8(out).unwrap());
    }
}

/// A cluster with the CRDs of this release, its operator Ready, and neither Tekton nor Argo.
fn installed_cluster() -> Vec<Value> {
    let mut objects: Vec<Value> = agents_api::crd::all()
        .into_iter()
        .map(|crd| {
            let mut crd = serde_json::to_value(crd).unwrap();
            crd["metadata"]["labels"] = json!({agents_render::labels::VERSION: env!("CARGO_PKG_VERSION")});
            crd["status"] = json!({"conditions": [{"type": "Established", "status": "True"}]});
            crd
        })
        .collect();
    objects.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "agents-operator", "namespace": "agents-system",
                     "labels": {"app.kubernetes.io/name": "agents-operator",
                                agents_render::labels::VERSION: env!("CARGO_PKG_VERSION")}},
        "spec": {"replicas": 2, "selector": {}, "template": {}},
        "status": {"replicas": 2, "readyReplicas": 2},
    }));
    objects
}

#[tokio::test]
async fn check_prints_each_part_with_its_hint() {
    let ready = FakeApi::new(installed_cluster()).session("default");
    let report = super::check::report(&ready.client).await.unwrap();
    insta::assert_snapshot!("check_ready", super::check::page(&report.checks));
    let empty = FakeApi::new(Vec::new()).session("default");
    let report = super::check::report(&empty.client).await.unwrap();
    insta::assert_snapshot!("check_empty_cluster", super::check::page(&report.checks));
}

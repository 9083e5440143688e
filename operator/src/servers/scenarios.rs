//! The server controller's decisions against a mocked API server (`crate::fixtures`), for a
//! ModelAPI: which requests a reconcile makes, in which order, and what it returns.

use std::sync::Arc;

use agents_api::{ModelAPI, ModelAPIStatus, ServerPhase};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::reconcile::{RESYNC, reconcile};
use super::{ChildStores, State};
use crate::cache::inputs::{Digests, Readers};
use crate::cache::pods::PodProblems;
use crate::context::Context;
use crate::fixtures::{self, Answer, Sent};
use crate::written::Written;

const CONFIG_MAP: &str = "/api/v1/namespaces/team-a/configmaps/gateway";
const SERVICE: &str = "/api/v1/namespaces/team-a/services/gateway";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/team-a/deployments/gateway";
const STATUS: &str = "/apis/agents.dev/v1alpha1/namespaces/team-a/modelapis/gateway/status";

/// A new Proxy ModelAPI, as the API server returns it.
fn proxy_json() -> Value {
    json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "ModelAPI",
        "metadata": {"name": "gateway", "namespace": "team-a", "uid": "9876", "generation": 1, "resourceVersion": "1"},
        "spec": {"mode": "Proxy", "proxy": {"models": [{"name": "*"}]}},
    })
}

/// The server controller of ModelAPIs, its caches empty.
fn state(ctx: Arc<Context>) -> Arc<State<ModelAPI>> {
    let children = ChildStores {
        config_maps: fixtures::store([]),
        deployments: fixtures::store([]),
        services: fixtures::store([]),
        claims: fixtures::store([]),
        pod_problems: PodProblems::default(),
        inputs: Digests::none(),
        readers: Readers::default(),
    };
    Arc::new(State { ctx, children, written: Arc::new(Written::new(fixtures::store([]))) })
}

#[tokio::test]
async fn a_new_proxy_model_api_gets_its_config_then_its_server_then_its_status() {
    let (client, mut server) = fixtures::client();
    let (ctx, mut events) = Context::for_tests(client);
    let model_api: ModelAPI = serde_json::from_value(proxy_json()).unwrap();
    let script = vec![
        ("GET", CONFIG_MAP.into(), Answer::NotFound),
        ("GET", SERVICE.into(), Answer::NotFound),
        ("GET", DEPLOYMENT.into(), Answer::NotFound),
        // What the pods mount comes before the pods.
        ("PATCH", CONFIG_MAP.into(), Answer::Echo),
        ("PATCH", SERVICE.into(), Answer::Echo),
        ("PATCH", DEPLOYMENT.into(), Answer::Echo),
        ("PATCH", STATUS.into(), Answer::Over(proxy_json())),
    ];
    let (result, sent) = server.expect(script, reconcile(Arc::new(model_api), state(ctx))).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    assert!(sent[3..].iter().all(Sent::is_forced_apply), "{sent:?}");
    let status: ModelAPIStatus = serde_json::from_value(sent[6].body["status"].clone()).unwrap();
    assert_eq!(status.phase, Some(ServerPhase::Pending));
    assert!(events.try_recv().is_err(), "a new server's first phase is not news");
}

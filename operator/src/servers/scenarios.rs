//! The server controller's decisions against a mocked API server (`crate::fixtures`), for
//! ModelAPIs and MCPServers: which requests a reconcile makes, in which order, and what it returns.

use std::sync::Arc;

use agents_api::{ModelAPI, ServerPhase};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::reconcile::{RESYNC, error_policy, reconcile};
use super::{ChildStores, ServerKind, State};
use crate::cache::inputs::{Digests, Readers};
use crate::cache::pods::PodProblems;
use crate::error::Error;
use crate::fixtures::{self, Answer, Reconciler, Scenario, apply, get, write_status};
use crate::written::Written;

const CONFIG_MAP: &str = "/api/v1/namespaces/team-a/configmaps/gateway";
const SERVICE: &str = "/api/v1/namespaces/team-a/services/gateway";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/team-a/deployments/gateway";

/// A new Proxy ModelAPI, as the API server returns it.
fn proxy_json() -> Value {
    json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "ModelAPI",
        "metadata": {"name": "gateway", "namespace": "team-a", "uid": "9876", "generation": 1, "resourceVersion": "1"},
        "spec": {"mode": "Proxy", "proxy": {"models": [{"name": "*"}]}},
    })
}

fn proxy() -> ModelAPI {
    serde_json::from_value(proxy_json()).expect("a valid ModelAPI")
}

impl<K: ServerKind> Reconciler for State<K> {
    type Object = K;

    fn reconcile(server: Arc<K>, state: Arc<Self>) -> impl Future<Output = Result<Action, Error>> {
        reconcile(server, state)
    }

    fn error_policy(server: Arc<K>, error: &Error, state: Arc<Self>) -> Action {
        error_policy(server, error, state)
    }
}

/// The server controller of `K`, its caches empty.
fn given_nothing<K: ServerKind>() -> Scenario<State<K>> {
    Scenario::given(|ctx| State {
        ctx,
        children: ChildStores {
            config_maps: fixtures::store([]),
            deployments: fixtures::store([]),
            services: fixtures::store([]),
            claims: fixtures::store([]),
            pod_problems: PodProblems::default(),
            inputs: Digests::none(),
            readers: Readers::default(),
        },
        written: Arc::new(Written::new(fixtures::store([]))),
    })
}

#[tokio::test]
async fn a_new_proxy_model_api_gets_its_config_then_its_server_then_its_status() {
    let script = [
        get(CONFIG_MAP, Answer::NotFound),
        get(SERVICE, Answer::NotFound),
        get(DEPLOYMENT, Answer::NotFound),
        // What the pods mount comes before the pods.
        apply(CONFIG_MAP),
        apply(SERVICE),
        apply(DEPLOYMENT),
        write_status(&proxy()),
    ];
    let then = given_nothing::<ModelAPI>().reconcile(proxy(), script).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    assert!(then.child_writes().iter().all(|s| s.is_forced_apply()), "{:?}", then.sent);
    assert_eq!(then.status().phase, Some(ServerPhase::Pending));
    assert_eq!(then.events, [], "a new server's first phase is not news");
}

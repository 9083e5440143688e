//! The server controller's decisions against a mocked API server (`crate::fixtures`), for
//! ModelAPIs and MCPServers: which requests a reconcile makes, in which order, and what it returns.

use std::sync::Arc;
use std::time::Duration;

use agents_api::conditions::{find, types};
use agents_api::{MCPServer, ModelAPI, ServerPhase};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::{Value, json};

use super::reconcile::{RECHECK, RESYNC, error_policy, reconcile};
use super::{ChildStores, ServerKind, State};
use crate::cache::Readers;
use crate::cache::inputs::Digests;
use crate::cache::pods::PodProblems;
use crate::context::Context;
use crate::error::Error;
use crate::fixtures::{
    self, Answer, Exchange, Reconciled, Reconciler, Rollout, Scenario, apply, cached, get, refuse, write_status,
};
use crate::mcp_tools::ToolLister;
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

/// The server controller of `K`, its caches holding `children` (objects as the API server
/// holds them) and nothing else.
fn given<K: ServerKind>(children: &[Value]) -> Scenario<State<K>> {
    Scenario::given_context(list_tools_through_pods, |ctx| state(ctx, children))
}

/// MCPServers are asked for their tools through a ready pod, as an operator out of the cluster
/// does: the pods are listed from the API server, and the pod's address is a loopback one.
fn list_tools_through_pods(ctx: &mut Context) {
    ctx.tools = Some(ToolLister::through_pods(ctx.client.clone()));
}

fn state<K: ServerKind>(ctx: Arc<Context>, children: &[Value]) -> State<K> {
    State {
        ctx,
        children: ChildStores {
            config_maps: cached(children, "ConfigMap"),
            deployments: cached(children, "Deployment"),
            services: cached(children, "Service"),
            claims: cached(children, "PersistentVolumeClaim"),
            pod_problems: PodProblems::default(),
            inputs: Digests::none(),
            readers: Readers::default(),
        },
        written: Arc::new(Written::new(fixtures::store([]))),
    }
}

/// What a new Proxy ModelAPI's reconcile sends: none of its children exists; what the pods
/// mount comes before the pods; `deployment` is how the Deployment's apply is answered.
fn new_proxy_script(deployment: Exchange) -> [Exchange; 7] {
    [
        get(CONFIG_MAP, Answer::NotFound),
        get(SERVICE, Answer::NotFound),
        get(DEPLOYMENT, Answer::NotFound),
        apply(CONFIG_MAP),
        apply(SERVICE),
        deployment,
        write_status(&proxy()),
    ]
}

#[tokio::test]
async fn a_new_proxy_model_api_gets_its_config_then_its_server_then_its_status() {
    let then = given::<ModelAPI>(&[]).reconcile(proxy(), new_proxy_script(apply(DEPLOYMENT))).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    assert!(then.child_writes().iter().all(|s| s.is_forced_apply()), "{:?}", then.sent);
    assert_eq!(then.status().phase, Some(ServerPhase::Pending));
    assert_eq!(then.events, [], "a new server's first phase is not news");
}

#[tokio::test]
async fn a_refused_apply_fails_the_server_and_goes_to_the_error_policy() {
    for (code, message) in [
        (409, "Operation cannot be fulfilled on deployments.apps \"gateway\": the object has been modified"),
        (422, "Deployment.apps \"gateway\" is invalid: spec.template.spec.containers[0].image: Invalid value"),
        (500, "etcdserver: request timed out"),
    ] {
        let mut scenario = given::<ModelAPI>(&[]);
        let script = new_proxy_script(refuse("PATCH", DEPLOYMENT, code, message));
        let then = scenario.reconcile(proxy(), script).await;
        assert_eq!(then.error().to_string(), format!("could not apply Deployment gateway: {message}"));
        let status = then.status();
        assert_eq!(status.phase, Some(ServerPhase::Failed), "{code}");
        let ready = find(&status.conditions, types::READY).expect("a Ready condition");
        assert_eq!(ready.message, then.error().to_string(), "{code}");
        assert_eq!(scenario.error_policy(&proxy(), then.error()), Action::requeue(Duration::from_secs(1)));
        let metrics = scenario.state.ctx.metrics.encode();
        assert!(metrics.contains(r#"reconcile_failures_total{kind="ModelAPI",error="apply"} 1"#), "{metrics}");
    }
}

#[tokio::test]
async fn a_config_map_owned_by_someone_else_stops_every_write_and_fails_the_server() {
    let foreign = json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": {"name": "gateway", "namespace": "team-a", "uid": "other", "resourceVersion": "9"},
    });
    let script = [
        get(CONFIG_MAP, Answer::Object(foreign)),
        get(SERVICE, Answer::NotFound),
        get(DEPLOYMENT, Answer::NotFound),
        // Nor the Service nor the Deployment whose pods would mount the other owner's ConfigMap.
        write_status(&proxy()),
    ];
    let then = given::<ModelAPI>(&[]).reconcile(proxy(), script).await;
    assert_eq!(then.requeue(), Action::requeue(RECHECK), "the other owner's changes trigger nothing");
    let status = then.status();
    assert_eq!(status.phase, Some(ServerPhase::Failed));
    let ready = find(&status.conditions, types::READY).expect("a Ready condition");
    assert!(
        ready.message.contains("ConfigMap gateway already exists and it was not created by the operator"),
        "{}",
        ready.message
    );
    assert_eq!(then.events, [], "a new server's first phase is not news");
}

/// An MCPServer serving streamable HTTP from an image, on `port`.
fn mcp_server(port: u16) -> MCPServer {
    serde_json::from_value(json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": "fetch", "namespace": "team-a", "uid": "5432", "generation": 1, "resourceVersion": "1"},
        "spec": {"image": "registry.example/fetch:1", "port": port},
    }))
    .expect("a valid MCPServer")
}

const MCP_SERVICE: &str = "/api/v1/namespaces/team-a/services/fetch";
const MCP_DEPLOYMENT: &str = "/apis/apps/v1/namespaces/team-a/deployments/fetch";
const MCP_PODS: &str = "/api/v1/namespaces/team-a/pods";

/// The MCPServer's first reconcile: its Service and Deployment created, then its status.
async fn first_mcp_reconcile(mcp: &MCPServer) -> Reconciled<MCPServer> {
    let script = [
        get(MCP_SERVICE, Answer::NotFound),
        get(MCP_DEPLOYMENT, Answer::NotFound),
        apply(MCP_SERVICE),
        apply(MCP_DEPLOYMENT),
        write_status(mcp),
    ];
    let then = given::<MCPServer>(&[]).reconcile(mcp.clone(), script).await;
    assert_eq!(then.status().phase, Some(ServerPhase::Pending), "not asked for its tools before it is Ready");
    then
}

/// The MCPServer once its Deployment rolled out, with the status its first reconcile wrote, and
/// the controller whose caches hold its children.
async fn rolled_out(mcp: MCPServer) -> (MCPServer, Scenario<State<MCPServer>>) {
    let first = first_mcp_reconcile(&mcp).await;
    let scenario = given(&fixtures::as_stored(&first, Rollout::Done));
    (MCPServer { status: Some(first.status()), ..mcp }, scenario)
}

/// The pods of the MCPServer, as the API server lists them: one, ready or not, on loopback.
fn pods(ready: bool) -> Answer {
    let status = if ready { "True" } else { "False" };
    Answer::Object(json!({
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": "7"},
        "items": [{
            "metadata": {"name": "fetch-1", "namespace": "team-a", "labels": {"agents.dev/mcpserver": "fetch"}},
            "status": {"podIP": "127.0.0.1", "conditions": [{"type": "Ready", "status": status}]},
        }],
    }))
}

/// An MCP server on loopback that lists `tools`, or answers every request with HTTP 500 when
/// there are none to list; its port.
async fn serve_mcp(tools: Option<&'static [&'static str]>) -> u16 {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    let answer = move |body: axum::body::Bytes| async move {
        let Some(tools) = tools else {
            return (StatusCode::INTERNAL_SERVER_ERROR, "the server broke").into_response();
        };
        let request: Value = serde_json::from_slice(&body).expect("a JSON-RPC message");
        let result = match request["method"].as_str() {
            Some("initialize") => json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                "serverInfo": {"name": "fetch", "version": "1"}}),
            Some("tools/list") => json!({"tools": tools.iter().map(|name| json!({"name": name})).collect::<Vec<_>>()}),
            _ => return StatusCode::ACCEPTED.into_response(),
        };
        let response = json!({"jsonrpc": "2.0", "id": request["id"], "result": result});
        ([(axum::http::header::CONTENT_TYPE, "application/json")], response.to_string()).into_response()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(axum::serve(listener, axum::Router::new().route("/mcp", axum::routing::post(answer))).into_future());
    port
}

#[tokio::test]
async fn a_ready_mcp_server_is_asked_for_its_tools_and_its_status_lists_them() {
    let port = serve_mcp(Some(&["search", "fetch"])).await;
    let (mcp, mut scenario) = rolled_out(mcp_server(port)).await;
    let then = scenario.reconcile(mcp.clone(), [get(MCP_PODS, pods(true)), write_status(&mcp)]).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    let status = then.status();
    assert_eq!(status.phase, Some(ServerPhase::Ready));
    assert_eq!(status.tools, Some(vec!["fetch".to_string(), "search".to_string()]));
    let listed = find(&status.conditions, types::TOOLS_LISTED).expect("a ToolsListed condition");
    assert_eq!((listed.status.as_str(), listed.message.as_str()), ("True", "the server listed 2 tools"));
    assert_eq!(then.events, [(EventType::Normal, "Ready".to_string())]);
}

#[tokio::test]
async fn an_mcp_server_whose_tools_cannot_be_listed_says_why_and_is_asked_again_soon() {
    let broken = serve_mcp(None).await;
    for (port, pods, why) in [
        // Port 1 is never dialled: no pod is ready.
        (1, pods(false), "could not reach the pods of fetch: none is ready"),
        (broken, pods(true), "answered HTTP 500 Internal Server Error: the server broke"),
    ] {
        let (mcp, mut scenario) = rolled_out(mcp_server(port)).await;
        let then = scenario.reconcile(mcp.clone(), [get(MCP_PODS, pods), write_status(&mcp)]).await;
        assert_eq!(then.requeue(), Action::requeue(RECHECK), "{why}");
        let status = then.status();
        assert_eq!(status.phase, Some(ServerPhase::Ready), "the server runs: only its tools are unknown");
        assert_eq!(status.tools, None, "{why}");
        let listed = find(&status.conditions, types::TOOLS_LISTED).expect("a ToolsListed condition");
        assert_eq!(listed.status, "False");
        assert!(listed.message.starts_with("could not list the tools: "), "{}", listed.message);
        assert!(listed.message.ends_with(why), "{}", listed.message);
    }
}

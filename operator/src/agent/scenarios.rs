//! The Agent reconcile's decisions against a mocked API server (`crate::fixtures`): which
//! requests it makes, in which order, what its status says and what it returns.

use std::sync::Arc;
use std::time::Duration;

use agents_api::{Agent, AgentPhase, AgentStatus};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::{Value, json};

use super::reconcile::{CONFLICT_RECHECK, RESYNC, error_policy, reconcile};
use super::{ChildStores, State, dependencies};
use crate::cache::Readers;
use crate::cache::inputs::Digests;
use crate::cache::pods::PodProblems;
use crate::error::Error;
use crate::fixtures::{
    self, Answer, Exchange, Reconciled, Reconciler, Rollout, Scenario, apply, cached, get, refuse, write_status,
};
use crate::service_monitor::ServiceMonitors;
use crate::written::Written;

const SERVICE_ACCOUNT: &str = "/api/v1/namespaces/team-a/serviceaccounts/research";
const CONFIG_MAP: &str = "/api/v1/namespaces/team-a/configmaps/research";
const SERVICE: &str = "/api/v1/namespaces/team-a/services/research";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/team-a/deployments/research";
const AUTOSCALER: &str = "/apis/autoscaling/v2/namespaces/team-a/horizontalpodautoscalers/research";
const UID: &str = "1234-5678";

/// A new Agent, as the API server returns it: no status yet.
fn agent_json() -> Value {
    json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "Agent",
        "metadata": {"name": "research", "namespace": "team-a", "uid": UID, "generation": 1, "resourceVersion": "1"},
        "spec": {"image": "registry.example/research:1"},
    })
}

fn new_agent() -> Agent {
    serde_json::from_value(agent_json()).expect("a valid Agent")
}

fn with_status(status: AgentStatus) -> Agent {
    Agent { status: Some(status), ..new_agent() }
}

/// What a new Agent's children are looked up and applied with, in the order the reconcile asks:
/// every lookup at once, then what the pods run as and mount, then the rest.
fn create_children() -> Vec<Exchange> {
    vec![
        get(SERVICE_ACCOUNT, Answer::NotFound),
        get(CONFIG_MAP, Answer::NotFound),
        get(SERVICE, Answer::NotFound),
        get(DEPLOYMENT, Answer::NotFound),
        apply(SERVICE_ACCOUNT),
        apply(CONFIG_MAP),
        apply(SERVICE),
        apply(DEPLOYMENT),
    ]
}

impl Reconciler for State {
    type Object = Agent;

    fn reconcile(agent: Arc<Agent>, state: Arc<State>) -> impl Future<Output = Result<Action, Error>> {
        reconcile(agent, state)
    }

    fn error_policy(agent: Arc<Agent>, error: &Error, state: Arc<State>) -> Action {
        error_policy(agent, error, state)
    }
}

/// The Agent controller, its caches holding `children` (objects as the API server holds them)
/// and nothing else.
fn given(children: &[Value]) -> Scenario<State> {
    Scenario::given(|ctx| {
        let agents = fixtures::store([]);
        State {
            ctx,
            referenced: dependencies::Referenced {
                agents: agents.clone(),
                builds: fixtures::store([]),
                model_apis: fixtures::store([]),
                mcp_servers: fixtures::store([]),
                runtime_image: None,
            },
            peers: Readers::default(),
            children: ChildStores {
                service_accounts: cached(children, "ServiceAccount"),
                config_maps: cached(children, "ConfigMap"),
                services: cached(children, "Service"),
                deployments: cached(children, "Deployment"),
                autoscalers: cached(children, "HorizontalPodAutoscaler"),
                disruption_budgets: fixtures::store([]),
                network_policies: fixtures::store([]),
                service_monitors: ServiceMonitors::not_served(),
                pod_problems: PodProblems::default(),
                inputs: Digests::none(),
                readers: Readers::default(),
            },
            written: Arc::new(Written::new(agents)),
        }
    })
}

/// A new Agent's first reconcile: its children created, then its status written.
async fn first_reconcile() -> Reconciled<Agent> {
    given(&[]).reconcile(new_agent(), [create_children(), vec![write_status(&new_agent())]].concat()).await
}

/// The children as the API server holds them after a new Agent's first reconcile, the
/// Deployment rolled out or not.
async fn children_applied(rollout: Rollout) -> Vec<Value> {
    fixtures::as_stored(&first_reconcile().await, rollout)
}

#[tokio::test]
async fn a_new_agent_gets_its_children_applied_then_its_status_written_once() {
    let then = first_reconcile().await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    let writes = then.child_writes();
    assert_eq!(writes.len(), 4);
    assert!(writes.iter().all(|s| s.is_forced_apply()), "every write is a forced server-side apply: {writes:?}");
    assert_eq!(then.status().phase, Some(AgentPhase::Pending));
    assert_eq!(then.events, [], "a new Agent's first Pending is not news");
}

#[tokio::test]
async fn an_agent_whose_deployment_rolled_out_turns_ready_with_one_event() {
    let pending = with_status(first_reconcile().await.status());
    let then = given(&children_applied(Rollout::Done).await).reconcile(pending, [write_status(&new_agent())]).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    assert_eq!(then.status().phase, Some(AgentPhase::Ready));
    assert_eq!(then.events, [(EventType::Normal, "Ready".to_string())]);
}

#[tokio::test]
async fn a_settled_agent_makes_no_request_at_all() {
    let children = children_applied(Rollout::Done).await;
    let ready = given(&children).reconcile(new_agent(), [write_status(&new_agent())]).await.status();
    let then = given(&children).reconcile(with_status(ready), []).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    assert!(then.sent.is_empty());
    assert_eq!(then.events, []);
}

#[tokio::test]
async fn a_config_map_owned_by_someone_else_stops_every_write_but_the_account_and_fails_the_agent() {
    let foreign = json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": {"name": "research", "namespace": "team-a", "uid": "other", "resourceVersion": "9"},
    });
    let script = [
        get(SERVICE_ACCOUNT, Answer::NotFound),
        get(CONFIG_MAP, Answer::Object(foreign)),
        get(SERVICE, Answer::NotFound),
        get(DEPLOYMENT, Answer::NotFound),
        // Written beside the ConfigMap, before its conflict is known; it runs nothing.
        apply(SERVICE_ACCOUNT),
        write_status(&new_agent()),
    ];
    let then = given(&[]).reconcile(new_agent(), script).await;
    assert_eq!(then.requeue(), Action::requeue(CONFLICT_RECHECK), "the other owner's changes trigger nothing");
    let status = then.status();
    assert_eq!(status.phase, Some(AgentPhase::Failed));
    let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY).unwrap();
    assert!(
        ready.message.contains("ConfigMap research already exists and it was not created by the operator"),
        "{}",
        ready.message
    );
    assert_eq!(then.events, [(EventType::Warning, "Failed".to_string())]);
}

#[tokio::test]
async fn a_refused_apply_is_reported_in_the_status_and_handed_to_the_error_policy() {
    for (code, message) in [
        (409, "Operation cannot be fulfilled on deployments.apps \"research\": the object has been modified"),
        (422, "Deployment.apps \"research\" is invalid: spec.template.spec.containers[0].image: Invalid value"),
        (500, "etcdserver: request timed out"),
    ] {
        let mut scenario = given(&[]);
        let mut script = create_children();
        script[7] = refuse("PATCH", DEPLOYMENT, code, message);
        script.push(write_status(&new_agent()));
        let then = scenario.reconcile(new_agent(), script).await;
        let error = then.error();
        assert_eq!(error.to_string(), format!("could not apply Deployment research: {message}"));
        let status = then.status();
        assert_eq!(status.phase, Some(AgentPhase::Failed), "{code}");
        let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY).unwrap();
        assert_eq!(ready.message, error.to_string(), "{code}");
        assert_eq!(scenario.error_policy(&new_agent(), error), Action::requeue(Duration::from_secs(1)));
    }
}

#[tokio::test]
async fn a_status_write_the_api_server_fails_is_retried_ever_later_and_its_event_waits_for_it() {
    let pending = with_status(first_reconcile().await.status());
    let mut scenario = given(&children_applied(Rollout::Done).await);
    let unavailable = "the server is currently unable to handle the request";
    let failing_write = refuse("PATCH", &fixtures::status_path(&pending), 503, unavailable);
    let secs = |s: u64| Action::requeue(Duration::from_secs(s));
    for delay in [secs(1), secs(2)] {
        let then = scenario.reconcile(pending.clone(), [failing_write.clone()]).await;
        assert_eq!(then.error().metric_label(), "status");
        assert!(then.error().to_string().contains(unavailable), "{}", then.error());
        assert_eq!(then.events, [], "no Event tells of a phase the status does not show");
        assert_eq!(scenario.error_policy(&pending, then.error()), delay);
    }
    let then = scenario.reconcile(pending.clone(), [write_status(&pending)]).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    assert_eq!(then.events, [(EventType::Normal, "Ready".to_string())]);
    let error = Error::Status { name: "research".into(), source: kube::Error::Api(Box::default()) };
    assert_eq!(scenario.error_policy(&pending, &error), secs(1), "the success started the backoff over");
}

#[tokio::test]
async fn an_unchanged_child_is_kept_and_one_the_spec_dropped_is_deleted() {
    let mut children = children_applied(Rollout::Started).await;
    children.push(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "research", "namespace": "team-a", "resourceVersion": "3",
            "ownerReferences": [{"apiVersion": "agents.dev/v1alpha1", "kind": "Agent", "name": "research",
                "uid": UID, "controller": true}]},
        "spec": {"maxReplicas": 3, "scaleTargetRef": {"kind": "Deployment", "name": "research"}},
    }));
    let deleted = json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200});
    let script = [("DELETE", AUTOSCALER.into(), Answer::Object(deleted)), write_status(&new_agent())];
    let then = given(&children).reconcile(new_agent(), script).await;
    assert_eq!(then.requeue(), Action::requeue(RESYNC));
    assert_eq!(then.sent[0].body["propagationPolicy"], "Background");
}

#[tokio::test]
async fn each_failing_agent_waits_twice_as_long_as_before_until_it_succeeds() {
    let scenario = given(&[]);
    let error = Error::Status {
        name: "research".into(),
        source: kube::Error::Api(Box::new(serde_json::from_value(json!({"code": 500, "message": "down"})).unwrap())),
    };
    let research = new_agent();
    let mut other = new_agent();
    other.metadata.name = Some("other".into());
    let delays: Vec<Action> = (0..4).map(|_| scenario.error_policy(&research, &error)).collect();
    let secs = |s: u64| Action::requeue(Duration::from_secs(s));
    assert_eq!(delays, [secs(1), secs(2), secs(4), secs(8)]);
    assert_eq!(scenario.error_policy(&other, &error), secs(1), "another Agent's failures are its own");
    scenario.state.ctx.succeeded(kube::runtime::reflector::ObjectRef::from_obj(&research));
    assert_eq!(scenario.error_policy(&research, &error), secs(1), "a success starts it over");
    let metrics = scenario.state.ctx.metrics.encode();
    assert!(metrics.contains(r#"reconcile_failures_total{kind="Agent",error="status"} 6"#), "{metrics}");
}

//! The Agent reconcile's decisions against a mocked API server (`crate::fixtures`): which
//! requests it makes, in which order, what its status says and what it returns.

use std::sync::Arc;
use std::time::Duration;

use agents_api::{Agent, AgentPhase, AgentStatus};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::Store;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::reconcile::{CONFLICT_RECHECK, RESYNC, error_policy, reconcile};
use super::{ChildStores, State, dependencies};
use crate::cache::Stamped;
use crate::cache::inputs::{Digests, Readers};
use crate::cache::pods::PodProblems;
use crate::context::Context;
use crate::error::Error;
use crate::fixtures::{self, Answer, ApiServer, Exchange, Sent};
use crate::service_monitor::ServiceMonitors;
use crate::written::Written;

const SERVICE_ACCOUNT: &str = "/api/v1/namespaces/team-a/serviceaccounts/research";
const CONFIG_MAP: &str = "/api/v1/namespaces/team-a/configmaps/research";
const SERVICE: &str = "/api/v1/namespaces/team-a/services/research";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/team-a/deployments/research";
const AUTOSCALER: &str = "/apis/autoscaling/v2/namespaces/team-a/horizontalpodautoscalers/research";
const STATUS: &str = "/apis/agents.dev/v1alpha1/namespaces/team-a/agents/research/status";
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

fn get(path: &str, answer: Answer) -> Exchange {
    ("GET", path.into(), answer)
}

/// A server-side apply, answered with what it sent.
fn apply(path: &str) -> Exchange {
    ("PATCH", path.into(), Answer::Echo)
}

fn refuse_apply(path: &str, code: u16, message: &'static str) -> Exchange {
    ("PATCH", path.into(), Answer::Refuse(code, message))
}

fn write_status() -> Exchange {
    ("PATCH", STATUS.into(), Answer::Over(agent_json()))
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

/// The Agent controller over a mocked API server.
struct Controller {
    server: ApiServer,
    events: UnboundedReceiver<(Event, ObjectReference)>,
    state: Arc<State>,
}

impl Controller {
    /// Its caches hold `children` (objects as the API server holds them), and nothing else.
    fn with_cached(children: &[Value]) -> Self {
        let (client, server) = fixtures::client();
        let (ctx, events) = Context::for_tests(client);
        let stores = ChildStores {
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
        };
        let agents = fixtures::store([]);
        let state = State {
            ctx,
            referenced: dependencies::Referenced {
                agents: agents.clone(),
                builds: fixtures::store([]),
                model_apis: fixtures::store([]),
                mcp_servers: fixtures::store([]),
                runtime_image: None,
            },
            children: stores,
            written: Arc::new(Written::new(agents)),
        };
        Controller { server, events, state: Arc::new(state) }
    }

    fn new() -> Self {
        Self::with_cached(&[])
    }

    /// Reconciles `agent` while the API server answers `script`.
    async fn reconcile(&mut self, agent: Agent, script: Vec<Exchange>) -> (Result<Action, Error>, Vec<Sent>) {
        self.server.expect(script, reconcile(Arc::new(agent), self.state.clone())).await
    }

    /// The Events published so far: type and reason.
    fn events(&mut self) -> Vec<(EventType, String)> {
        std::iter::from_fn(|| self.events.try_recv().ok()).map(|(event, _)| (event.type_, event.reason)).collect()
    }
}

/// A cache of the `kind` objects among `children`, as its watch keeps them.
fn cached<K>(children: &[Value], kind: &str) -> Store<Stamped<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + 'static,
{
    let of_kind = children.iter().filter(|child| child["kind"] == kind);
    fixtures::store(of_kind.map(|child| Stamped::new(serde_json::from_value(child.clone()).expect(kind))))
}

/// The status a reconcile wrote: the last request.
fn written_status(sent: &[Sent]) -> AgentStatus {
    let last = sent.last().expect("a request");
    assert_eq!(last.path, STATUS);
    serde_json::from_value(last.body["status"].clone()).expect("an Agent status")
}

/// What a new Agent's first reconcile sends.
async fn first_reconcile() -> Vec<Sent> {
    let (_, sent) = Controller::new().reconcile(new_agent(), [create_children(), vec![write_status()]].concat()).await;
    sent
}

/// The children as the API server holds them after a new Agent's first reconcile, the
/// Deployment rolled out (`ready`) or not.
async fn children_applied(ready: bool) -> Vec<Value> {
    let applied = first_reconcile().await.into_iter().filter(|s| s.method == "PATCH" && s.path != STATUS);
    let mut children: Vec<Value> = applied.map(|s| s.body).collect();
    for child in &mut children {
        child["metadata"]["resourceVersion"] = json!("2");
        if child["kind"] == "Deployment" {
            child["metadata"]["generation"] = json!(1);
            if ready {
                child["status"] = json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                    "readyReplicas": 1, "availableReplicas": 1});
            }
        }
    }
    children
}

#[tokio::test]
async fn a_new_agent_gets_its_children_applied_then_its_status_written_once() {
    let mut controller = Controller::new();
    let script = [create_children(), vec![write_status()]].concat();
    let (result, sent) = controller.reconcile(new_agent(), script).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    let writes = &sent[4..];
    assert!(writes.iter().all(Sent::is_forced_apply), "every write is a forced server-side apply: {writes:?}");
    let status = written_status(&sent);
    assert_eq!(status.phase, Some(AgentPhase::Pending));
    assert_eq!(controller.events(), [], "a new Agent's first Pending is not news");
}

#[tokio::test]
async fn an_agent_whose_deployment_rolled_out_turns_ready_with_one_event() {
    let mut controller = Controller::with_cached(&children_applied(true).await);
    let pending = written_status(&first_reconcile().await);
    let (result, sent) = controller.reconcile(with_status(pending), vec![write_status()]).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    assert_eq!(written_status(&sent).phase, Some(AgentPhase::Ready));
    assert_eq!(controller.events(), [(EventType::Normal, "Ready".to_string())]);
}

#[tokio::test]
async fn a_settled_agent_makes_no_request_at_all() {
    let children = children_applied(true).await;
    let ready = {
        let (_, sent) = Controller::with_cached(&children).reconcile(new_agent(), vec![write_status()]).await;
        written_status(&sent)
    };
    let mut controller = Controller::with_cached(&children);
    let (result, sent) = controller.reconcile(with_status(ready), vec![]).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    assert!(sent.is_empty());
    assert_eq!(controller.events(), []);
}

#[tokio::test]
async fn a_config_map_owned_by_someone_else_stops_every_write_but_the_account_and_fails_the_agent() {
    let foreign = json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": {"name": "research", "namespace": "team-a", "uid": "other", "resourceVersion": "9"},
    });
    let mut controller = Controller::new();
    let script = vec![
        get(SERVICE_ACCOUNT, Answer::NotFound),
        get(CONFIG_MAP, Answer::Object(foreign)),
        get(SERVICE, Answer::NotFound),
        get(DEPLOYMENT, Answer::NotFound),
        // Written beside the ConfigMap, before its conflict is known; it runs nothing.
        apply(SERVICE_ACCOUNT),
        write_status(),
    ];
    let (result, sent) = controller.reconcile(new_agent(), script).await;
    assert_eq!(result.unwrap(), Action::requeue(CONFLICT_RECHECK), "the other owner's changes trigger nothing");
    let status = written_status(&sent);
    assert_eq!(status.phase, Some(AgentPhase::Failed));
    let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY).unwrap();
    assert!(
        ready.message.contains("ConfigMap research already exists and it was not created by the operator"),
        "{}",
        ready.message
    );
    assert_eq!(controller.events(), [(EventType::Warning, "Failed".to_string())]);
}

#[tokio::test]
async fn a_refused_apply_is_reported_in_the_status_and_handed_to_the_error_policy() {
    for (code, message) in [
        (409, "Operation cannot be fulfilled on deployments.apps \"research\": the object has been modified"),
        (422, "Deployment.apps \"research\" is invalid: spec.template.spec.containers[0].image: Invalid value"),
        (500, "etcdserver: request timed out"),
    ] {
        let mut controller = Controller::new();
        let mut script = create_children();
        script[7] = refuse_apply(DEPLOYMENT, code, message);
        script.push(write_status());
        let (result, sent) = controller.reconcile(new_agent(), script).await;
        let error = result.expect_err("a refused apply fails the reconcile");
        assert_eq!(error.to_string(), format!("could not apply Deployment research: {message}"));
        let status = written_status(&sent);
        assert_eq!(status.phase, Some(AgentPhase::Failed), "{code}");
        let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY).unwrap();
        assert_eq!(ready.message, error.to_string(), "{code}");
        let agent = Arc::new(new_agent());
        assert_eq!(error_policy(agent, &error, controller.state.clone()), Action::requeue(Duration::from_secs(1)));
    }
}

#[tokio::test]
async fn an_unchanged_child_is_kept_and_one_the_spec_dropped_is_deleted() {
    let mut children = children_applied(false).await;
    children.push(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "research", "namespace": "team-a", "resourceVersion": "3",
            "ownerReferences": [{"apiVersion": "agents.dev/v1alpha1", "kind": "Agent", "name": "research",
                "uid": UID, "controller": true}]},
        "spec": {"maxReplicas": 3, "scaleTargetRef": {"kind": "Deployment", "name": "research"}},
    }));
    let mut controller = Controller::with_cached(&children);
    let deleted = json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200});
    let script = vec![("DELETE", AUTOSCALER.into(), Answer::Object(deleted)), write_status()];
    let (result, sent) = controller.reconcile(new_agent(), script).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    assert_eq!(sent[0].body["propagationPolicy"], "Background");
}

#[tokio::test]
async fn each_failing_agent_waits_twice_as_long_as_before_until_it_succeeds() {
    let controller = Controller::new();
    let error = Error::Status {
        name: "research".into(),
        source: kube::Error::Api(Box::new(serde_json::from_value(json!({"code": 500, "message": "down"})).unwrap())),
    };
    let retry = |agent: &Agent| error_policy(Arc::new(agent.clone()), &error, controller.state.clone());
    let research = new_agent();
    let mut other = new_agent();
    other.metadata.name = Some("other".into());
    let delays: Vec<Action> = (0..4).map(|_| retry(&research)).collect();
    let secs = |s: u64| Action::requeue(Duration::from_secs(s));
    assert_eq!(delays, [secs(1), secs(2), secs(4), secs(8)]);
    assert_eq!(retry(&other), secs(1), "another Agent's failures are its own");
    controller.state.ctx.succeeded(kube::runtime::reflector::ObjectRef::from_obj(&research));
    assert_eq!(retry(&research), secs(1), "a success starts it over");
    let metrics = controller.state.ctx.metrics.encode();
    assert!(metrics.contains(r#"reconcile_failures_total{kind="Agent",error="status"} 6"#), "{metrics}");
}

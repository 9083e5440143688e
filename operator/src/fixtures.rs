//! A mocked API server for reconcile scenarios, as kube-rs's controller-rs tests its reconciler:
//! a real `kube::Client` over tower-test's `mock::pair`. A [`Scenario`] reads as given, when,
//! then: given a controller's caches, when one object is reconciled, these requests in this order
//! (each with the API server's answer), then what the reconcile returned, wrote and published. A
//! request of another method or path, one more, or one fewer fails it. No control plane: a
//! scenario runs in milliseconds under `cargo test`.
//!
//! The order is the reconcile's own: requests made together (`tokio::try_join!`) reach the API
//! server in the order their futures are polled, which is the order they are written in.

use std::fmt::Debug;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;
use tower_test::mock::{self, Handle};

use crate::cache::Stamped;
use crate::context::Context;
use crate::error::Error;
use crate::report::Reported;

/// How long a scenario waits for a request or for the reconcile to return before it fails. A
/// scenario takes milliseconds; this only bounds a broken one on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(5);

/// A controller as the scenarios drive it: its state (caches and Context), its reconcile and its
/// error policy.
pub trait Reconciler: Send + Sync + Sized + 'static {
    type Object: Reported;

    fn reconcile(object: Arc<Self::Object>, state: Arc<Self>) -> impl Future<Output = Result<Action, Error>>;
    fn error_policy(object: Arc<Self::Object>, error: &Error, state: Arc<Self>) -> Action;
}

/// One controller over a mocked API server.
pub struct Scenario<S: Reconciler> {
    pub state: Arc<S>,
    server: ApiServer,
    events: Receiver<(Event, ObjectReference)>,
}

/// What one reconcile did.
#[derive(Debug)]
pub struct Reconciled<K> {
    pub result: Result<Action, Error>,
    /// The requests it made, in order.
    pub sent: Vec<Sent>,
    /// The Events it published: type and reason.
    pub events: Vec<(EventType, String)>,
    kind: PhantomData<K>,
}

impl<S: Reconciler> Scenario<S> {
    /// Given the controller's state that `state` builds (its caches) over a Context whose client
    /// is the mocked API server.
    pub fn given(state: impl FnOnce(Arc<Context>) -> S) -> Self {
        Self::given_context(|_| {}, state)
    }

    /// As [`Scenario::given`], the Context first set up by `set_up` (e.g. how MCP tools are
    /// listed).
    pub fn given_context(set_up: impl FnOnce(&mut Context), state: impl FnOnce(Arc<Context>) -> S) -> Self {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let (mut ctx, events) = Context::for_tests(kube::Client::new(service, "default"));
        set_up(&mut ctx);
        Scenario { state: Arc::new(state(Arc::new(ctx))), server: ApiServer { handle }, events }
    }

    /// When `object` is reconciled, the API server expects `script`: these requests in this
    /// order, each answered as it says. Panics, naming the request, when the reconcile asks for
    /// anything but the next request of the script, or returns before it asked for all of them.
    pub async fn reconcile(
        &mut self,
        object: S::Object,
        script: impl IntoIterator<Item = Exchange>,
    ) -> Reconciled<S::Object> {
        let reconcile = S::reconcile(Arc::new(object), self.state.clone());
        let (result, sent) = self.server.expect(script, reconcile).await;
        let events = std::iter::from_fn(|| self.events.try_recv().ok()).map(|(e, _)| (e.type_, e.reason)).collect();
        Reconciled { result, sent, events, kind: PhantomData }
    }

    /// What the error policy makes of `error`, returned by the reconcile of `object`.
    pub fn error_policy(&self, object: &S::Object, error: &Error) -> Action {
        S::error_policy(Arc::new(object.clone()), error, self.state.clone())
    }
}

impl<K> Reconciled<K> {
    /// When the reconcile asked to be run again; panics, saying why, when it failed.
    pub fn requeue(&self) -> Action {
        match &self.result {
            Ok(action) => action.clone(),
            Err(error) => panic!("the reconcile failed: {error}"),
        }
    }

    /// Why the reconcile failed; panics when it did not.
    pub fn error(&self) -> &Error {
        self.result.as_ref().expect_err("the reconcile did not fail")
    }

    /// The writes of children: every request that is neither a look-up nor a status write.
    pub fn child_writes(&self) -> Vec<&Sent> {
        self.sent.iter().filter(|s| s.method != "GET" && !s.path.ends_with("/status")).collect()
    }
}

impl<K: Reported> Reconciled<K>
where
    K::Status: DeserializeOwned,
{
    /// The status the reconcile wrote: its last request, which writes the status subresource.
    pub fn status(&self) -> K::Status {
        let last = self.sent.last().expect("the reconcile made a request");
        assert!(
            last.method == "PATCH" && last.path.ends_with("/status"),
            "the last request writes no status: {} {}",
            last.method,
            last.path
        );
        serde_json::from_value(last.body["status"].clone()).expect("a status of the kind")
    }
}

/// A look-up of `path`, answered with `answer`.
pub fn get(path: &str, answer: Answer) -> Exchange {
    ("GET", path.into(), answer)
}

/// A server-side apply of `path`, answered with what it sent.
pub fn apply(path: &str) -> Exchange {
    ("PATCH", path.into(), Answer::Echo)
}

/// A creation in the collection `path`, answered with what it sent.
pub fn create(path: &str) -> Exchange {
    ("POST", path.into(), Answer::Echo)
}

/// A request the API server refuses with `code` and `message`.
pub fn refuse(method: &'static str, path: &str, code: u16, message: &'static str) -> Exchange {
    (method, path.into(), Answer::Refuse(code, message))
}

/// A write of `object`'s status, answered as the API server does: `object` with the status sent.
pub fn write_status<K: Resource<DynamicType = ()> + Serialize>(object: &K) -> Exchange {
    ("PATCH", status_path(object), Answer::Over(serde_json::to_value(object).expect("an object serialises")))
}

/// The path of `object`'s status subresource.
pub fn status_path<K: Resource<DynamicType = ()>>(object: &K) -> String {
    format!("{}/{}/status", K::url_path(&(), object.namespace().as_deref()), object.name_any())
}

/// Whether a Deployment the operator applied has rolled out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    Started,
    Done,
}

/// The children a reconcile applied, as the API server then holds them: a newer version, and
/// the Deployment's rollout at `rollout`.
pub fn as_stored<K>(reconciled: &Reconciled<K>, rollout: Rollout) -> Vec<Value> {
    let applied = reconciled.child_writes().into_iter().filter(|s| s.method == "PATCH");
    let mut children: Vec<Value> = applied.map(|s| s.body.clone()).collect();
    for child in &mut children {
        child["metadata"]["resourceVersion"] = json!("2");
        if child["kind"] == "Deployment" {
            child["metadata"]["generation"] = json!(1);
            if rollout == Rollout::Done {
                child["status"] = json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                    "readyReplicas": 1, "availableReplicas": 1});
            }
        }
    }
    children
}

/// A cache of the `kind` objects among `children`, as its watch keeps them.
pub fn cached<K>(children: &[Value], kind: &str) -> Store<Stamped<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + 'static,
{
    let of_kind = children.iter().filter(|child| child["kind"] == kind);
    store(of_kind.map(|child| Stamped::new(serde_json::from_value(child.clone()).expect(kind))))
}

/// The other end of the scenario's client: it sees each request and answers it.
struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
}

/// What the API server answers a request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 404: the object does not exist.
    NotFound,
    /// The object the request sent, as a server-side apply answers.
    Echo,
    /// `object` with the fields the request sent laid over it: a status write's answer.
    Over(Value),
    /// This object.
    Object(Value),
    /// A refusal: this HTTP code, with this message.
    Refuse(u16, &'static str),
}

/// One request a scenario expects (method and path, without the query) and its answer.
pub type Exchange = (&'static str, String, Answer);

/// A request the API server was sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    /// `Null` when the request had no body.
    pub body: Value,
}

impl Sent {
    /// A server-side apply that takes the fields over with the operator's field manager.
    pub fn is_forced_apply(&self) -> bool {
        self.method == "PATCH"
            && self.content_type.as_deref() == Some("application/apply-patch+yaml")
            && self.query.contains(&format!("fieldManager={}", agents_render::FIELD_MANAGER))
            && self.query.contains("force=true")
    }
}

impl ApiServer {
    /// Runs `reconcile` while answering `script`; returns what the reconcile returned and what
    /// it sent.
    async fn expect<T: Debug>(
        &mut self,
        script: impl IntoIterator<Item = Exchange>,
        reconcile: impl Future<Output = T>,
    ) -> (T, Vec<Sent>) {
        // On the heap, as the Controller runs it: a reconcile's future can outgrow a test's stack.
        let mut reconcile = Box::pin(reconcile);
        let mut returned = None;
        let mut sent = Vec::new();
        for (method, path, answer) in script {
            let next = async {
                loop {
                    tokio::select! {
                        request = self.handle.next_request() => break request,
                        result = &mut reconcile, if returned.is_none() => returned = Some(result),
                    }
                }
            };
            let Ok(Some((request, respond))) = tokio::time::timeout(PATIENCE, next).await else {
                match &returned {
                    Some(result) => panic!("the reconcile returned {result:?} without asking for {method} {path}"),
                    None => panic!("the reconcile did not ask for {method} {path} within {PATIENCE:?}"),
                }
            };
            let request = Sent::from(request).await;
            assert_eq!(
                (request.method.as_str(), request.path.as_str()),
                (method, path.as_str()),
                "the reconcile asked for something else (the requests before it: {:?})",
                sent.iter().map(|s: &Sent| format!("{} {}", s.method, s.path)).collect::<Vec<_>>()
            );
            respond.send_response(answer.to(&request));
            sent.push(request);
        }
        let result = match returned {
            Some(result) => result,
            None => match tokio::time::timeout(PATIENCE, &mut reconcile).await {
                Ok(result) => result,
                Err(_) => match tokio::time::timeout(Duration::ZERO, self.handle.next_request()).await {
                    Ok(Some((request, _))) => {
                        let request = Sent::from(request).await;
                        panic!("the reconcile asked for more: {} {}", request.method, request.path)
                    }
                    _ => panic!("the reconcile did not return within {PATIENCE:?}"),
                },
            },
        };
        (result, sent)
    }
}

impl Sent {
    async fn from(request: Request<Body>) -> Sent {
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.expect("a request body can be read");
        Sent {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            content_type: parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(Into::into),
            body: if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON body") },
        }
    }
}

impl Answer {
    fn to(&self, request: &Sent) -> Response<Body> {
        let (code, body) = match self {
            Answer::NotFound => (404, refusal(404, "NotFound", &format!("{} not found", request.path))),
            Answer::Echo => (200, request.body.clone()),
            Answer::Over(object) => {
                let mut object = object.clone();
                if let (Some(object), Some(sent)) = (object.as_object_mut(), request.body.as_object()) {
                    object.extend(sent.clone());
                }
                (200, object)
            }
            Answer::Object(object) => (200, object.clone()),
            Answer::Refuse(code, message) => (*code, refusal(*code, reason(*code), message)),
        };
        Response::builder()
            .status(code)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&body).expect("JSON")))
            .expect("a valid response")
    }
}

/// A `Status` as the API server sends with a refusal.
fn refusal(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message,
        "code": code})
}

fn reason(code: u16) -> &'static str {
    match code {
        404 => "NotFound",
        409 => "Conflict",
        422 => "Invalid",
        _ => "InternalError",
    }
}

/// A cache holding `objects`, as a watch would have filled it.
pub fn store<K>(objects: impl IntoIterator<Item = K>) -> Store<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, mut writer) = reflector::store();
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    store
}

/// A cache of objects of a dynamic kind (`resource`) holding `objects`.
pub fn store_with<K>(resource: K::DynamicType, objects: impl IntoIterator<Item = K>) -> Store<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let mut writer = reflector::store::Writer::new(resource);
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    writer.as_reader()
}

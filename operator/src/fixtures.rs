//! A mocked API server for reconcile scenarios, as kube-rs's controller-rs tests its reconciler:
//! a real `kube::Client` over tower-test's `mock::pair`. A scenario lists the requests a reconcile
//! must make, in the order it makes them, and what the API server answers each; a request of
//! another method or path, one more, or one fewer fails it. No control plane: a scenario runs in
//! milliseconds under `cargo test`.
//!
//! The order is the reconcile's own: requests made together (`tokio::try_join!`) reach the API
//! server in the order their futures are polled, which is the order they are written in.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle};

/// How long a scenario waits for a request or for the reconcile to return before it fails. A
/// scenario takes milliseconds; this only bounds a broken one on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(5);

/// A client whose every request goes to the returned [`ApiServer`].
pub fn client() -> (kube::Client, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), ApiServer { handle })
}

/// The other end of a [`client`]: it sees each request and answers it.
pub struct ApiServer {
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
    /// it sent. Panics, naming the request, when the reconcile asks for anything but the next
    /// request of the script, or returns before it asked for all of them.
    pub async fn expect<T: Debug>(
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

//! A fake API server for the plugin's in-process tests: objects held as JSON and answered as the
//! API server answers a GET of one object (or a 404 Status) and a list (an equality label
//! selector, the field selectors `metadata.name=` and `regarding.name=`). Every request is read
//! as a GET: the commands tested here only read. The pages and tables
//! commands print are then tested in seconds against a fixed clock; the end-to-end tests prove
//! the same commands against the real API server.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

use crate::session::Session;

/// The objects the fake serves.
#[derive(Clone, Default)]
pub struct FakeApi {
    objects: Arc<Vec<Value>>,
}

impl FakeApi {
    pub fn new(objects: Vec<Value>) -> Self {
        FakeApi { objects: Arc::new(objects) }
    }

    /// A session whose client talks to this fake, acting on `namespace`.
    pub fn session(&self, namespace: &str) -> Session {
        let api = self.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let (status, body) = api.answer(request.uri());
            async move {
                let response = Response::builder()
                    .status(status)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string().into_bytes()))
                    .expect("a response of a status and a body");
                Ok::<_, Infallible>(response)
            }
        });
        Session::with_client(kube::Client::new(service, namespace), namespace)
    }

    fn answer(&self, uri: &http::Uri) -> (StatusCode, Value) {
        let Some(path) = Path::parse(uri.path()) else {
            return not_found(uri.path());
        };
        let query: Vec<(String, String)> =
            form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
        let matching = self.objects.iter().filter(|o| path.holds(o));
        match path.name {
            Some(name) => match matching.into_iter().find(|o| o["metadata"]["name"] == name) {
                Some(object) => (StatusCode::OK, object.clone()),
                None => not_found(&format!("{} {name:?}", path.plural)),
            },
            None => {
                let selected: Vec<Value> = matching.filter(|o| selected(o, &query)).cloned().collect();
                let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": selected});
                (StatusCode::OK, list)
            }
        }
    }
}

/// `/api/v1[/namespaces/NS]/PLURAL[/NAME]` or `/apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME]`;
/// without a namespace, a cluster-scoped object or a list across every namespace.
struct Path<'a> {
    api_version: String,
    namespace: Option<&'a str>,
    plural: &'a str,
    name: Option<&'a str>,
}

impl<'a> Path<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (api_version, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] => (version.to_string(), rest),
            ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(*namespace), rest),
            _ => (None, rest),
        };
        match rest {
            [plural] => Some(Path { api_version, namespace, plural, name: None }),
            [plural, name] => Some(Path { api_version, namespace, plural, name: Some(name) }),
            _ => None,
        }
    }

    fn holds(&self, object: &Value) -> bool {
        let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
        let plural = match kind.strip_suffix('y') {
            Some(stem) => format!("{stem}ies"),
            None => format!("{kind}s"),
        };
        object["apiVersion"] == self.api_version.as_str()
            && self.namespace.is_none_or(|namespace| object["metadata"]["namespace"] == namespace)
            && plural == self.plural
    }
}

/// Whether `object` passes the list's selectors.
fn selected(object: &Value, query: &[(String, String)]) -> bool {
    query.iter().all(|(key, value)| match key.as_str() {
        "labelSelector" => value.split(',').filter(|s| !s.is_empty()).all(|term| match term.split_once('=') {
            Some((label, wanted)) => object["metadata"]["labels"][label] == wanted,
            None => false,
        }),
        "fieldSelector" => value.split(',').all(|term| match term.split_once('=') {
            Some((field, wanted)) => field.split('.').fold(object, |v, f| &v[f]) == wanted,
            None => false,
        }),
        _ => true,
    })
}

fn not_found(what: &str) -> (StatusCode, Value) {
    let status = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound",
                        "code": 404, "message": format!("{what} not found")});
    (StatusCode::NOT_FOUND, status)
}

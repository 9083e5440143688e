//! How a request reaches an agent through the Kubernetes API, with nothing for the user to set
//! up: a port-forward to one of its ready pods (the default: it needs `pods/portforward`, as
//! `kubectl port-forward`, and works for agents without a Service), or the API server's proxy to
//! its Service (`services/proxy`).

use std::pin::Pin;

use agents_api::Agent;
use anyhow::Context as _;
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::error::Explained;
use crate::port_forward::{self, PodConnection};
use crate::session::Session;

/// Which way requests go.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Via {
    /// A port-forward to a ready pod (pods/portforward).
    #[default]
    PortForward,
    /// The API server's proxy to the agent's Service (services/proxy).
    Service,
}

/// A response body as it arrives.
pub type BodyStream = Pin<Box<dyn Stream<Item = anyhow::Result<Bytes>> + Send>>;

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyStream,
}

impl Response {
    pub async fn bytes(self) -> anyhow::Result<Vec<u8>> {
        let chunks: Vec<Bytes> = self.body.try_collect().await?;
        Ok(chunks.concat())
    }

    pub fn is_event_stream(&self) -> bool {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"))
    }
}

/// An open way to one agent.
pub struct Channel {
    route: Route,
    /// What the requests reach, for messages: `pod research-7d9f-x` or `service research`.
    pub target: String,
}

enum Route {
    Forwarded(PodConnection),
    Proxied { client: kube::Client, prefix: String },
}

impl Channel {
    pub async fn open(session: &Session, agent: &Agent, via: Via) -> anyhow::Result<Channel> {
        match via {
            Via::PortForward => Self::forward(session, agent).await,
            Via::Service => Self::proxy(session, agent),
        }
    }

    async fn forward(session: &Session, agent: &Agent) -> anyhow::Result<Channel> {
        let name = agent.name_any();
        let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
        let listed = pods.list(&ListParams::default().labels(&format!("agents.dev/agent={name}"))).await?;
        let pod = pick_ready_pod(&listed.items).ok_or_else(|| {
            let ready = agent.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
            Explained(format!(
                "agent/{name} has no ready pod to talk to ({ready} ready, {} found): `kubectl agents describe agent {name}` shows why",
                listed.items.len()
            ))
        })?;
        let pod_name = pod.name_any();
        let port = u16::try_from(agent.spec.port).context("the agent's spec.port is not a port")?;
        let connection = PodConnection::open(&pods, &pod_name, port).await?;
        let target = connection.target.clone();
        Ok(Channel { route: Route::Forwarded(connection), target })
    }

    fn proxy(session: &Session, agent: &Agent) -> anyhow::Result<Channel> {
        let name = agent.name_any();
        if !agent.spec.expose {
            return Err(Explained(format!(
                "agent/{name} has spec.expose: false, so no Service to proxy to: drop --via service to use a port-forward"
            ))
            .into());
        }
        Ok(Channel {
            route: Route::Proxied {
                client: session.client_without_retries()?,
                prefix: service_proxy_path(&session.namespace, &name),
            },
            target: format!("service {name}"),
        })
    }

    /// Sends one request; `path` is the agent's own (`/`, `/.well-known/agent-card.json`).
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Response> {
        match &mut self.route {
            Route::Forwarded(connection) => {
                let mut request = port_forward::request(method, path);
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                let response = connection.send(request.body(Full::new(Bytes::from(body)))?).await?;
                let (parts, body) = response.into_parts();
                let body = body.into_data_stream().map(|chunk| chunk.map_err(anyhow::Error::from));
                Ok(Response { status: parts.status, headers: parts.headers, body: Box::pin(body) })
            }
            Route::Proxied { client, prefix } => {
                let mut request = Request::builder().method(method).uri(format!("{prefix}{path}"));
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                let response = client.send(request.body(kube::client::Body::from(body))?).await?;
                let (parts, body) = response.into_parts();
                let body = body.into_data_stream().map(|chunk| chunk.map_err(anyhow::Error::from));
                Ok(Response { status: parts.status, headers: parts.headers, body: Box::pin(body) })
            }
        }
    }
}

/// The API server's path that proxies to the Service's `http` port (`[scheme:]name[:port]`).
pub fn service_proxy_path(namespace: &str, service: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/services/http:{service}:http/proxy")
}

/// The newest pod that is ready and not on its way out.
fn pick_ready_pod(pods: &[Pod]) -> Option<&Pod> {
    let ready = |pod: &&Pod| {
        pod.metadata.deletion_timestamp.is_none()
            && pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|conditions| conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    pods.iter().filter(ready).max_by_key(|pod| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, created: &str, ready: &str, deleting: bool) -> Pod {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "status": {"conditions": [{"type": "Ready", "status": ready}]},
        }))
        .unwrap();
        if deleting {
            pod.metadata.deletion_timestamp = pod.metadata.creation_timestamp.clone();
        }
        pod
    }

    #[test]
    fn the_newest_ready_pod_that_stays_is_picked() {
        let pods = [
            pod("old", "2026-12-01T00:00:00Z", "True", false),
            pod("starting", "2026-12-03T00:00:00Z", "False", false),
            pod("leaving", "2026-12-04T00:00:00Z", "True", true),
            pod("new", "2026-12-02T00:00:00Z", "True", false),
        ];
        assert_eq!(pick_ready_pod(&pods).map(|p| p.name_any()).as_deref(), Some("new"));
        assert!(pick_ready_pod(&pods[1..3]).is_none());
    }

    #[test]
    fn the_service_proxy_goes_to_the_services_http_port() {
        assert_eq!(
            service_proxy_path("team-a", "research"),
            "/api/v1/namespaces/team-a/services/http:research:http/proxy"
        );
    }
}

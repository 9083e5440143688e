//! HTTP/1 to one port of one pod over a port-forward through the API server (`pods/portforward`,
//! as `kubectl port-forward`): how `invoke` and `describe` reach an agent and `status` reads the
//! operator's metrics, with nothing for the user to set up.

use std::pin::Pin;

use anyhow::Context as _;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

/// An HTTP connection to a pod's port.
pub struct PodConnection {
    sender: SendRequest<Full<Bytes>>,
    /// Why the port-forward broke, if it did: a better answer than the broken connection.
    forwarding_error: Option<Pin<Box<dyn Future<Output = Option<String>> + Send>>>,
    /// `pod NAME`, for messages.
    pub target: String,
}

impl PodConnection {
    pub async fn open(pods: &Api<Pod>, pod: &str, port: u16) -> anyhow::Result<PodConnection> {
        let mut forwarder = pods
            .portforward(pod, &[port])
            .await
            .with_context(|| format!("opening a port-forward to pod {pod} port {port}"))?;
        let stream = forwarder.take_stream(port).context("the port-forward gave no stream")?;
        let forwarding_error =
            forwarder.take_error(port).map(|f| Box::pin(f) as Pin<Box<dyn Future<Output = _> + Send>>);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("starting HTTP on the port-forward to pod {pod}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
            let _ = forwarder.join().await;
        });
        tracing::debug!(pod, port, "port-forward open");
        Ok(PodConnection { sender, forwarding_error, target: format!("pod {pod}") })
    }

    /// Sends one request (its URI is the path on the pod's server).
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<http::Response<Incoming>> {
        let sent = async {
            self.sender.ready().await?;
            self.sender.send_request(request).await
        };
        match sent.await {
            Ok(response) => Ok(response),
            Err(error) => {
                let why = match self.forwarding_error.take() {
                    Some(why) => tokio::time::timeout(std::time::Duration::from_secs(2), why).await.ok().flatten(),
                    None => None,
                };
                Err(anyhow::anyhow!(
                    "the request to {} failed: {}",
                    self.target,
                    why.unwrap_or_else(|| error.to_string())
                ))
            }
        }
    }
}

/// A request with the headers every request over a port-forward carries.
pub fn request(method: http::Method, path: &str) -> http::request::Builder {
    Request::builder().method(method).uri(path).header(http::header::HOST, "localhost")
}

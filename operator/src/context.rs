//! What every reconcile shares: the client, the Event queue, metrics, per-object backoff and the
//! error policy.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agents_api::Agent;
use anyhow::bail;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::Event;
use kube::runtime::reflector::ObjectRef;

use crate::args::{Args, McpTools};
use crate::backoff::Backoffs;
use crate::events::{Publisher, SERIES_WINDOW};
use crate::mcp_tools::ToolLister;
use crate::metrics::Metrics;

/// Events that may wait to be published (client-go's recorder keeps 1,000): a burst beyond it,
/// say 5,000 Agents turning Ready at once, loses Events rather than holding memory without end.
pub const EVENT_QUEUE: usize = 1000;

pub struct Context {
    pub client: kube::Client,
    pub metrics: Arc<Metrics>,
    /// Objects of each kind but AgentBuild reconciled at once (`--concurrency`).
    pub concurrency: u16,
    pub build_concurrency: u16,
    /// The one namespace reconciled, or `None` for all.
    pub namespace: Option<String>,
    /// How MCPServers are asked for their tools; `None` when that is off.
    pub tools: Option<ToolLister>,
    /// The image Agents without one run (`--agent-runtime-image`); `None`: this release's.
    pub runtime_image: Option<String>,
    /// Whether pods roll when a Secret they read changes (`--follow-secrets`).
    pub follow_secrets: bool,
    backoffs: Mutex<Backoffs>,
    events: tokio::sync::mpsc::Sender<(Event, ObjectReference)>,
}

impl Context {
    pub fn new(client: kube::Client, metrics: Arc<Metrics>, args: &Args) -> Arc<Self> {
        let tools = match (args.mcp_tools, args.in_cluster()) {
            (McpTools::Off, _) => None,
            (McpTools::Service, _) | (McpTools::Auto, true) => Some(ToolLister::through_services()),
            (McpTools::Pod, _) | (McpTools::Auto, false) => Some(ToolLister::through_pods(client.clone())),
        };
        let mut publisher =
            Publisher::new(client.clone(), agents_render::FIELD_MANAGER.into(), std::env::var("POD_NAME").ok());
        let (events, mut queue) = tokio::sync::mpsc::channel::<(Event, ObjectReference)>(EVENT_QUEUE);
        // One Event in flight at a time: after a dependency turns Ready, a hundred Agents' status
        // writes must not queue behind a hundred Events at the API server.
        let counted = metrics.clone();
        tokio::spawn(async move {
            loop {
                let Ok(next) = tokio::time::timeout(SERIES_WINDOW, queue.recv()).await else {
                    // A whole window without an Event: none of those sent can grow a series.
                    publisher.forget();
                    continue;
                };
                let Some((event, regarding)) = next else { break };
                match publisher.publish(&event, &regarding).await {
                    Ok(verb) => counted.write("Event", verb),
                    Err(e) => {
                        tracing::warn!(kind = ?regarding.kind, name = ?regarding.name, "could not publish an event: {e}")
                    }
                }
            }
        });
        Arc::new(Context {
            events,
            client,
            metrics,
            concurrency: args.concurrency(),
            build_concurrency: args.build_concurrency,
            namespace: args.namespace.clone(),
            runtime_image: args.agent_runtime_image.clone(),
            follow_secrets: args.follow_secrets,
            tools,
            backoffs: Mutex::default(),
        })
    }

    /// A Context over `client` (a mocked API server) that hands its Events to the test instead of
    /// publishing them: a scenario asserts the Event itself (`events.rs` tests how one is sent).
    #[cfg(test)]
    pub fn for_tests(client: kube::Client) -> (Self, tokio::sync::mpsc::Receiver<(Event, ObjectReference)>) {
        let (events, published) = tokio::sync::mpsc::channel(EVENT_QUEUE);
        let ctx = Context {
            client,
            metrics: Metrics::new(),
            concurrency: 1,
            build_concurrency: 1,
            namespace: None,
            tools: None,
            runtime_image: None,
            follow_secrets: false,
            backoffs: Mutex::default(),
            events,
        };
        (ctx, published)
    }

    /// An `Api` over the namespace the operator reconciles, or over all of them.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match &self.namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        }
    }

    /// How long `object` waits after one more failure (see [`Backoffs`]).
    pub fn backoff<K: kube::Resource>(&self, object: ObjectRef<K>) -> Duration {
        self.backoffs.lock().expect("the backoffs are never poisoned").failed(object.erase(), Instant::now())
    }

    /// Publishes an Event in the background, one at a time: the reconcile does not wait for it,
    /// and status writes are not held up at the API server by a burst of Events.
    /// Beyond [`EVENT_QUEUE`] Events waiting, a new one is dropped (and counted), as client-go's
    /// recorder drops them: an Event is a report, and the status already says it.
    pub fn publish(&self, event: Event, regarding: ObjectReference) {
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) = self.events.try_send((event, regarding)) {
            self.metrics.event_dropped();
        }
    }

    /// The error policy of every controller: count the failure, log it with the object, and
    /// retry after the object's backoff.
    pub fn retry_after_failure<K>(&self, kind: &'static str, object: &K, error: &crate::error::Error) -> Action
    where
        K: kube::Resource<DynamicType = ()>,
    {
        self.metrics.failure(kind, error.metric_label());
        let delay = self.backoff(ObjectRef::from_obj(object));
        tracing::warn!(
            kind,
            name = %object.meta().name.as_deref().unwrap_or_default(),
            namespace = %object.meta().namespace.as_deref().unwrap_or_default(),
            retry_in = ?delay,
            "{error}"
        );
        Action::requeue(delay)
    }

    pub fn succeeded<K: kube::Resource>(&self, object: ObjectRef<K>) {
        self.backoffs.lock().expect("the backoffs are never poisoned").succeeded(&object.erase());
    }
}

/// Fails with the install command when the CRDs are missing, instead of watching nothing.
pub async fn check_crds_installed(client: &kube::Client) -> anyhow::Result<()> {
    match Api::<Agent>::all(client.clone()).list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => bail!(
            "the agents.dev CRDs are not installed in this cluster: run `kubectl agents install` \
             (or `kubectl apply --server-side -k operator/config/crd`)"
        ),
        Err(e) => Err(anyhow::Error::new(e).context("listing Agents to check the CRDs")),
    }
}

#[cfg(test)]
mod tests {
    use kube::client::Body;
    use kube::runtime::events::EventType;

    use super::*;

    #[tokio::test]
    async fn events_beyond_the_queue_are_dropped_and_counted() {
        let (service, _handle) = tower_test::mock::pair::<http::Request<Body>, http::Response<Body>>();
        let (ctx, mut published) = Context::for_tests(kube::Client::new(service, "default"));
        let event = || Event {
            type_: EventType::Normal,
            reason: "Ready".into(),
            note: None,
            action: "Reconcile".into(),
            secondary: None,
        };
        for _ in 0..EVENT_QUEUE + 2 {
            ctx.publish(event(), ObjectReference::default());
        }
        assert!(ctx.metrics.encode().contains("agents_operator_events_dropped_total 2"), "{}", ctx.metrics.encode());
        // The queue, once drained, takes Events again.
        while published.try_recv().is_ok() {}
        ctx.publish(event(), ObjectReference::default());
        assert!(published.try_recv().is_ok());
    }
}

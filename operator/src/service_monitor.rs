//! ServiceMonitors exist only in clusters running the Prometheus Operator. While the cluster
//! serves them, the operator caches the ServiceMonitors it created and renders them for Agents
//! that ask; when the CRD appears or goes, every Agent is reconciled again.

use agents_api::Agent;
use futures::{FutureExt, Stream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::cache;
use crate::optional::{self, Crd, Optional};

/// The cache of the ServiceMonitors the operator owns, while the cluster serves them.
pub type ServiceMonitors = Optional<Store<PartialObjectMeta<DynamicObject>>>;

impl ServiceMonitors {
    pub fn cached(&self, namespace: &str, name: &str) -> Option<ObjectMeta> {
        let store = self.caches()?;
        let resource = agents_render::agent::service_monitor_resource();
        store.get(&ObjectRef::new_with(name, resource).within(namespace)).map(|m| m.metadata.clone())
    }
}

/// Follows the CRD until the operator stops. Returns the shared view, a stream that fires when
/// every Agent must be reconciled (the CRD came or went), and one of Agents whose ServiceMonitor changed.
/// The Agent controller's gate waits until the operator knows whether the CRD is served (at most
/// [`optional::KNOWN_LIMIT`]).
pub fn follow(
    reads: &mut cache::Reads,
    client: kube::Client,
    namespace: Option<String>,
) -> (ServiceMonitors, impl Stream<Item = ()> + Send + 'static, impl Stream<Item = ObjectRef<Agent>> + Send + 'static) {
    let crd = Crd {
        name: "servicemonitors.monitoring.coreos.com",
        served: "the cluster serves ServiceMonitors: Agents with spec.monitoring get one",
        not_served: "the cluster does not serve ServiceMonitors",
    };
    let followed = optional::follow(client, crd, move |client| {
        let (store, cached) = optional::cache(
            client,
            namespace.as_deref(),
            agents_render::agent::service_monitor_resource(),
            agents_render::labels::AGENT,
            cache::prune_metadata,
            owning_agent,
        );
        (store, vec![cached])
    });
    let monitors = followed.0.clone();
    reads.wait_until(async move { monitors.known(optional::KNOWN_LIMIT).await }.boxed());
    followed
}

fn owning_agent(monitor: &PartialObjectMeta<DynamicObject>) -> Option<ObjectRef<Agent>> {
    let owner =
        monitor.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true) && r.kind == "Agent")?;
    Some(ObjectRef::new(&owner.name).within(monitor.metadata.namespace.as_deref()?))
}

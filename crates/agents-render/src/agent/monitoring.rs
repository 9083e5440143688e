//! The Agent's Prometheus ServiceMonitor (prometheus-operator's CRD, not a k8s-openapi type).

use agents_api::agent::Monitoring;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use crate::labels;

/// `monitoring.coreos.com/v1` ServiceMonitor.
pub fn service_monitor_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
        "servicemonitors",
    )
}

pub fn service_monitor(spec: &Monitoring, meta: ObjectMeta) -> DynamicObject {
    let name = meta.name.clone().unwrap_or_default();
    let mut object = DynamicObject::new(&name, &service_monitor_resource());
    object.metadata = meta;
    object.data = json!({
        "spec": {
            "selector": {"matchLabels": labels::agent_selector(&name)},
            "endpoints": [{"port": "http", "path": spec.path, "interval": spec.interval}],
        }
    });
    object
}

#[cfg(test)]
mod tests {
    use crate::agent::fixtures::agent;
    use crate::agent::{Dependencies, Inputs, children};

    #[test]
    fn a_service_monitor_only_where_the_crd_is_served() {
        let agent = agent("image: a:1\nmonitoring: {path: /metrics, interval: 15s}\n");
        let render = |served| {
            children(Inputs { agent: &agent, dependencies: &Dependencies::default(), service_monitor_served: served })
                .unwrap()
                .service_monitor
        };
        assert!(render(false).is_none());
        let monitor = serde_json::to_value(render(true).unwrap()).unwrap();
        assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
        assert_eq!(monitor["kind"], "ServiceMonitor");
        assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "15s");
        assert_eq!(monitor["spec"]["selector"]["matchLabels"]["agents.dev/agent"], "research");
    }
}

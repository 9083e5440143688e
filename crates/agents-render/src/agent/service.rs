//! The Agent's ServiceAccount and Service.

use k8s_openapi::api::core::v1::{Service, ServiceAccount, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::labels;

/// An identity of its own, without an API token: agents do not talk to the API server.
pub fn service_account(meta: ObjectMeta) -> ServiceAccount {
    ServiceAccount { metadata: meta, automount_service_account_token: Some(false), ..Default::default() }
}

/// Port 80 to the agent's named `http` port, so a port change does not touch callers.
pub fn service(meta: ObjectMeta) -> Service {
    let name = meta.name.clone().unwrap_or_default();
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            selector: Some(labels::agent_selector(&name)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

//! In-cluster URLs, and the addresses on this machine that serve them. The operator hands an
//! Agent its peers, tool servers and model gateway as Service URLs
//! (`http://NAME.NAMESPACE.svc.cluster.local[:PORT]`), which resolve only inside a cluster; here
//! each is replaced by the address of a pod behind the Service, where a program playing that pod
//! listens (or nothing, if no one plays it).

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};

use super::rendered::running;
use crate::Error;

/// The in-cluster base URL of a Service on port 80, as the operator writes it into environments.
pub fn service_url(namespace: &str, service: &str) -> String {
    format!("http://{service}.{namespace}.svc.cluster.local")
}

/// `(in-cluster URL, URL here)` for each port of each Service in `namespace` with a running pod
/// behind it: the URL with its port, and for port 80 the URL without one, both leading to the
/// pod's IP and the port the Service targets. Services without a selector or a running pod are
/// left out (their URLs stay as they are, and do not resolve here).
pub async fn cluster_urls(client: &kube::Client, namespace: &str) -> Result<Vec<(String, String)>, Error> {
    let services = Api::<Service>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::kube(format!("list the Services in {namespace}"), e))?;
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let mut urls = Vec::new();
    for service in services.items {
        let name = service.metadata.name.clone().unwrap_or_default();
        let Some(spec) = service.spec else { continue };
        let Some(selector) = spec.selector.filter(|s| !s.is_empty()) else { continue };
        let listed = pods
            .list(&ListParams::default().labels(&agents_render::labels::to_selector_string(&selector)))
            .await
            .map_err(|e| Error::kube(format!("list the pods of Service {namespace}/{name}"), e))?;
        let Some((pod, ip)) = listed.items.iter().find_map(|pod| running(pod).map(|(_, ip)| (pod, ip))) else {
            continue;
        };
        for port in spec.ports.iter().flatten() {
            let Some(target) = target_port(pod, port.port, port.target_port.as_ref()) else { continue };
            let here = format!("http://{}", std::net::SocketAddr::new(ip, target));
            let base = service_url(namespace, &name);
            urls.push((format!("{base}:{}", port.port), here.clone()));
            if port.port == 80 {
                urls.push((base, here));
            }
        }
    }
    Ok(urls)
}

/// The pod port a Service port leads to: its target port, by number or by the name of a
/// container port (the Service's own port when it names none).
fn target_port(pod: &Pod, port: i32, target: Option<&IntOrString>) -> Option<u16> {
    let number = match target {
        None => port,
        Some(IntOrString::Int(number)) => *number,
        Some(IntOrString::String(name)) => {
            pod.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name.as_str()))?
                .container_port
        }
    };
    u16::try_from(number).ok()
}

/// `value` with each in-cluster URL of `urls` replaced by its URL here. A URL matches only as a
/// whole host: `http://a.ns.svc.cluster.local` is not replaced inside
/// `http://a.ns.svc.cluster.local:8000/mcp` (that is the port's own entry) nor inside a longer name.
pub fn replace_urls(value: &str, urls: &[(String, String)]) -> String {
    let mut value = value.to_string();
    for (cluster, here) in urls {
        value = replace_whole(&value, cluster, here);
    }
    value
}

fn replace_whole(value: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find(from) {
        let after = &rest[at + from.len()..];
        let continues = after.chars().next().is_some_and(|c| c == ':' || c == '.' || c == '-' || c.is_alphanumeric());
        out.push_str(&rest[..at]);
        out.push_str(if continues { from } else { to });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec};

    use super::*;

    #[test]
    fn a_url_is_replaced_only_as_a_whole_host() {
        let urls = vec![
            ("http://time.ns.svc.cluster.local:8000".to_string(), "http://127.0.0.5:8000".to_string()),
            ("http://writer.ns.svc.cluster.local".to_string(), "http://127.0.0.6:8000".to_string()),
            ("http://writer.ns.svc.cluster.local:80".to_string(), "http://127.0.0.6:8000".to_string()),
        ];
        assert_eq!(
            replace_urls(r#"{"time":"http://time.ns.svc.cluster.local:8000/mcp"}"#, &urls),
            r#"{"time":"http://127.0.0.5:8000/mcp"}"#
        );
        assert_eq!(
            replace_urls("http://writer.ns.svc.cluster.local/.well-known/agent-card.json", &urls),
            "http://127.0.0.6:8000/.well-known/agent-card.json"
        );
        // Another port of the Service, and a longer name, are not this URL.
        assert_eq!(
            replace_urls("http://writer.ns.svc.cluster.local:9090/x", &urls),
            "http://writer.ns.svc.cluster.local:9090/x"
        );
        assert_eq!(
            replace_urls("http://writer.ns.svc.cluster.local.example/", &urls),
            "http://writer.ns.svc.cluster.local.example/"
        );
    }

    #[test]
    fn a_named_target_port_is_the_container_port_of_that_name() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    ports: Some(vec![ContainerPort {
                        name: Some("http".into()),
                        container_port: 8000,
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(target_port(&pod, 80, Some(&IntOrString::String("http".into()))), Some(8000));
        assert_eq!(target_port(&pod, 80, Some(&IntOrString::Int(9000))), Some(9000));
        assert_eq!(target_port(&pod, 80, None), Some(80));
        assert_eq!(target_port(&pod, 80, Some(&IntOrString::String("grpc".into()))), None);
    }
}

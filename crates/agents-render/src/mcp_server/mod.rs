//! An MCPServer's children (Deployment, Service) and status.
//!
//! A package server speaks MCP over stdio, so it runs behind a bridge that serves it as
//! streamable HTTP on `spec.port` at `/mcp`:
//!
//! | runtime | image | bridge |
//! | --- | --- | --- |
//! | uvx (PyPI) | uv + Python | `mcp-proxy` (PyPI) |
//! | npx (npm) | Node.js | `supergateway` (npm) |
//!
//! An image server is run as it is and must serve HTTP itself (`transport`, `port`, `path`).

mod bridge;

use agents_api::mcp_server::McpTransport;
use agents_api::{MCPServer, MCPServerStatus};
use k8s_openapi::api::core::v1::{Container, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub use bridge::{NODE_IMAGE, UV_IMAGE};

use crate::agent::Incomplete;
use crate::server::Children;
use crate::{hash, labels, server};

pub fn labels(name: &str) -> std::collections::BTreeMap<String, String> {
    labels::server_labels(labels::MCP_SERVER, "mcpserver", name)
}

pub fn selector(name: &str) -> std::collections::BTreeMap<String, String> {
    [(labels::MCP_SERVER.to_string(), name.to_string())].into()
}

pub fn children(mcp: &MCPServer) -> Result<Children, Incomplete> {
    let name = mcp.metadata.name.clone().unwrap_or_default();
    let meta = server::child_meta(mcp, labels(&name))?;
    let spec = &mcp.spec;
    let mut container = match &spec.package {
        Some(package) => bridge::container(package, spec.port),
        None => Container {
            image: spec.image.clone(),
            command: spec.command.clone(),
            args: spec.args.clone(),
            ..Default::default()
        },
    };
    container.env.get_or_insert_with(Vec::new).extend(spec.env.iter().cloned());
    container.resources = spec.resources.clone();
    // Bridges and servers differ in their health endpoints; an open port is what they share.
    container.readiness_probe = Some(Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::String("http".into()), ..Default::default() }),
        period_seconds: Some(5),
        ..Default::default()
    });
    let pod = server::Pod {
        container,
        port: spec.port,
        volumes: Vec::new(),
        replicas: spec.replicas,
        annotations: [(hash::CONFIG_HASH_ANNOTATION.to_string(), hash::of(&source(mcp)))].into(),
    };
    Ok(Children {
        service: Some(server::service(meta.clone(), selector(&name), spec.port)),
        deployment: Some(server::deployment(meta, selector(&name), pod)),
        ..Default::default()
    })
}

/// The HTTP path of the MCP endpoint.
pub fn path(mcp: &MCPServer) -> String {
    mcp.spec.path.clone().unwrap_or_else(|| match mcp.spec.transport {
        McpTransport::StreamableHttp => "/mcp".into(),
        McpTransport::Sse => "/sse".into(),
    })
}

/// The URL Agents receive in `MCP_SERVERS`.
pub fn endpoint(mcp: &MCPServer) -> Option<String> {
    Some(format!("{}{}", server::service_url(&mcp.metadata, mcp.spec.port)?, path(mcp)))
}

/// Where the server comes from, for people: `uvx:NAME@VERSION`, `npx:NAME@VERSION` or the image.
pub fn source(mcp: &MCPServer) -> String {
    match &mcp.spec.package {
        Some(package) => format!("{}:{}", bridge::runtime_name(package.runtime), bridge::spec_of(package)),
        None => mcp.spec.image.clone().unwrap_or_default(),
    }
}

/// The whole status. `tools` is carried over: only a `tools/list` answer sets it.
pub fn status(mcp: &MCPServer, observed: server::Observed<'_>, now: &Time) -> MCPServerStatus {
    let assessment = server::assess(observed);
    let current = mcp.status.as_ref();
    let existing = current.map(|s| s.conditions.as_slice()).unwrap_or_default();
    MCPServerStatus {
        phase: Some(assessment.0),
        endpoint: endpoint(mcp),
        source: Some(source(mcp)),
        tools: current.and_then(|s| s.tools.clone()),
        ready_replicas: Some(
            observed.deployment.and_then(|d| d.status.as_ref()).and_then(|s| s.ready_replicas).unwrap_or(0),
        ),
        observed_generation: mcp.metadata.generation,
        conditions: server::ready_condition(existing, &assessment, mcp.metadata.generation, now),
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use agents_api::MCPServer;

    pub fn mcp_server(spec_yaml: &str) -> MCPServer {
        let spec: serde_json::Value = serde_norway::from_str(spec_yaml).expect("valid YAML");
        serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1",
            "kind": "MCPServer",
            "metadata": {"name": "fetch", "namespace": "team-a", "uid": "7", "generation": 1},
            "spec": spec,
        }))
        .expect("a valid MCPServer")
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::mcp_server;
    use super::*;

    #[test]
    fn an_image_server_runs_as_given_behind_its_service() {
        let mcp = mcp_server("image: ghcr.io/acme/tools:1.2\nargs: [--port, '9000']\nport: 9000\ntransport: sse\n");
        let children = children(&mcp).unwrap();
        let deployment = children.deployment.unwrap();
        let container = &deployment.spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(container.image.as_deref(), Some("ghcr.io/acme/tools:1.2"));
        assert_eq!(container.args.as_deref(), Some(&["--port".to_string(), "9000".to_string()][..]));
        assert_eq!(children.service.unwrap().spec.unwrap().ports.unwrap()[0].port, 9000);
        assert_eq!(endpoint(&mcp).as_deref(), Some("http://fetch.team-a.svc.cluster.local:9000/sse"));
        assert_eq!(source(&mcp), "ghcr.io/acme/tools:1.2");
    }

    #[test]
    fn status_keeps_the_tools_it_learned() {
        let mut mcp = mcp_server("package: {runtime: uvx, name: mcp-server-fetch, version: '2025.4.7'}\n");
        mcp.status = Some(MCPServerStatus { tools: Some(vec!["fetch".into()]), ..Default::default() });
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let status = status(&mcp, server::Observed { runs_pods: true, ..Default::default() }, &now);
        assert_eq!(status.tools, Some(vec!["fetch".to_string()]));
        assert_eq!(status.source.as_deref(), Some("uvx:mcp-server-fetch@2025.4.7"));
        assert_eq!(status.endpoint.as_deref(), Some("http://fetch.team-a.svc.cluster.local:8000/mcp"));
    }
}

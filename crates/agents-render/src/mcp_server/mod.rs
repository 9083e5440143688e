//! An MCPServer's children (Deployment, Service, and a ConfigMap for inline tools) and status.
//!
//! A package server speaks MCP over stdio, so it runs behind a bridge that serves it as
//! streamable HTTP on `spec.port` at `/mcp`:
//!
//! | runtime | image | bridge |
//! | --- | --- | --- |
//! | uvx (PyPI) | uv + Python | `mcp-proxy` (PyPI) |
//! | npx (npm) | Node.js | `supergateway` (npm) |
//!
//! An npm package and its bridge are fetched by an init container (`fetch`) before the server
//! starts: a package npm cannot fetch fails the pod, rather than each MCP session of a Ready one.
//!
//! An image server is run as it is and must serve HTTP itself (`transport`, `port`, `path`).
//! Inline tools (`inlineTools.python`) are served by the MCP Python SDK through our wrapper,
//! both mounted from a ConfigMap (`inline.rs`).

mod bridge;
mod inline;

use agents_api::conditions::{self, Desired, reasons, types};
use agents_api::mcp_server::McpTransport;
use agents_api::{MCPServer, MCPServerStatus, ServerPhase};
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
    let (mut container, config_map, volumes) = match (&spec.package, &spec.inline_tools) {
        (Some(package), _) => (bridge::container(package, spec.port), None, Vec::new()),
        (None, Some(tools)) => {
            let inline = inline::render(tools, spec.port, &meta);
            (inline.container, Some(inline.config_map), vec![inline.volume])
        }
        (None, None) => (
            Container {
                image: spec.image.clone(),
                command: spec.command.clone(),
                args: spec.args.clone(),
                ..Default::default()
            },
            None,
            Vec::new(),
        ),
    };
    // What the pods run changes with the source; for inline tools, with the mounted files too.
    let config_hash = match &config_map {
        Some(config_map) => hash::of(&config_map.data),
        None => hash::of(&source(mcp)),
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
        volumes,
        replicas: spec.replicas,
        annotations: [(hash::CONFIG_HASH_ANNOTATION.to_string(), config_hash)].into(),
    };
    let service = server::service(meta.clone(), selector(&name), spec.port);
    let mut deployment = server::deployment(meta, selector(&name), pod);
    // An npm package is fetched before the server starts, by an init container made from the
    // server's container as rendered (its image, environment, mounts, security context, resources).
    if let (Some(package), Some(pod)) = (&spec.package, deployment.spec.template.spec.as_mut()) {
        let fetch = pod.containers.first().and_then(|server| bridge::fetch_container(package, server));
        pod.init_containers = fetch.map(|fetch| vec![fetch]);
    }
    Ok(Children { config_map, service: Some(service), deployment: Some(deployment), ..Default::default() })
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

/// Where the server comes from, for people: `uvx:NAME@VERSION`, `npx:NAME@VERSION`, the image,
/// or `inline:python`.
pub fn source(mcp: &MCPServer) -> String {
    match (&mcp.spec.package, &mcp.spec.inline_tools) {
        (Some(package), _) => format!("{}:{}", bridge::runtime_name(package.runtime), bridge::spec_of(package)),
        (None, Some(_)) => "inline:python".into(),
        (None, None) => mcp.spec.image.clone().unwrap_or_default(),
    }
}

/// What asking the running server for its tools gave, this reconcile.
pub type ToolsAnswer = Result<Vec<String>, String>;

/// Whether the tools should be asked for now: the server serves streamable HTTP, is Ready, and
/// its tools were not listed for this generation of its spec yet (a new package version may
/// bring new tools).
pub fn tools_wanted(mcp: &MCPServer, phase: ServerPhase) -> bool {
    if phase != ServerPhase::Ready || mcp.spec.transport != McpTransport::StreamableHttp {
        return false;
    }
    let listed = mcp.status.as_ref().and_then(|s| conditions::find(&s.conditions, types::TOOLS_LISTED));
    !listed.is_some_and(|c| c.status == "True" && c.observed_generation == mcp.metadata.generation)
}

/// The whole status. `tools` comes only from an answer of the server: without a new one it is
/// carried over (with its condition); a failed attempt clears it rather than keep a list that
/// may belong to an older version.
pub fn status(
    mcp: &MCPServer,
    observed: server::Observed<'_>,
    tools: Option<&ToolsAnswer>,
    now: &Time,
) -> MCPServerStatus {
    let assessment = server::assess(observed);
    let current = mcp.status.as_ref();
    let existing = current.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let generation = mcp.metadata.generation;
    let mut conditions = server::ready_condition(existing, &assessment, generation, now);
    let listed = match tools {
        None => {
            conditions.extend(conditions::find(existing, types::TOOLS_LISTED).cloned());
            current.and_then(|s| s.tools.clone())
        }
        Some(answer) => {
            let desired = match answer {
                Ok(tools) => Desired::new(
                    types::TOOLS_LISTED,
                    true,
                    reasons::TOOLS_LISTED,
                    format!("the server listed {} tools", tools.len()),
                ),
                Err(why) => Desired::new(types::TOOLS_LISTED, false, reasons::TOOLS_NOT_LISTED, why.clone()),
            };
            conditions.extend(conditions::merge(existing, &[desired], generation, now));
            answer.as_ref().ok().cloned()
        }
    };
    MCPServerStatus {
        phase: Some(assessment.0),
        endpoint: endpoint(mcp),
        source: Some(source(mcp)),
        tools: listed,
        ready_replicas: Some(
            observed.deployment.and_then(|d| d.status.as_ref()).and_then(|s| s.ready_replicas).unwrap_or(0),
        ),
        children: observed.children.to_vec(),
        observed_generation: generation,
        conditions,
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
    use agents_api::MCPServerStatus;
    use k8s_openapi::api::core::v1::PodStatus;

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
    fn tools_are_asked_for_once_per_generation_and_cleared_when_asking_fails() {
        let mut mcp = mcp_server("package: {runtime: npx, name: server-everything}\n");
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let ready = server::Observed { runs_pods: true, ..Default::default() };
        assert!(!tools_wanted(&mcp, ServerPhase::Pending));
        assert!(tools_wanted(&mcp, ServerPhase::Ready));
        let listed = status(&mcp, ready, Some(&Ok(vec!["echo".into(), "add".into()])), &now);
        assert_eq!(listed.tools, Some(vec!["echo".to_string(), "add".to_string()]));
        mcp.status = Some(listed);
        assert!(!tools_wanted(&mcp, ServerPhase::Ready), "listed for this generation");
        mcp.metadata.generation = Some(2);
        assert!(tools_wanted(&mcp, ServerPhase::Ready), "a new spec may bring new tools");
        let failed = status(&mcp, ready, Some(&Err("could not reach it".into())), &now);
        assert_eq!(failed.tools, None);
        let condition = conditions::find(&failed.conditions, types::TOOLS_LISTED).unwrap();
        assert_eq!((condition.status.as_str(), condition.message.as_str()), ("False", "could not reach it"));
        let sse = mcp_server("image: x:1\ntransport: sse\n");
        assert!(!tools_wanted(&sse, ServerPhase::Ready), "tools are asked over streamable HTTP only");
    }

    /// The status of `mcp` whose one pod (of a Deployment not yet available) reports `pod`.
    fn status_with_pod(mcp: &MCPServer, pod: &PodStatus) -> MCPServerStatus {
        let deployment: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"generation": 1},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1},
        }))
        .unwrap();
        let problem = crate::pods::problem("fetch-7d9f-x2", pod).expect("a problem");
        let observed = server::Observed {
            runs_pods: true,
            deployment: Some(&deployment),
            pod_problem: Some(&problem),
            ..Default::default()
        };
        status(mcp, observed, None, &Time(k8s_openapi::jiff::Timestamp::now()))
    }

    /// Inline tools that do not import (a syntax error) make the wrapper exit 1 with the Python
    /// error in its log: the kubelet restarts it with back-off, and the MCPServer says so.
    #[test]
    fn inline_tools_that_do_not_import_leave_the_server_failed_pointing_at_the_log() {
        let mcp = mcp_server("inlineTools: {python: \"def add(a, b)\\n    return a + b\\n\"}\n");
        let pod: PodStatus = serde_json::from_value(serde_json::json!({
            "containerStatuses": [{
                "name": "server", "image": UV_IMAGE, "imageID": "", "ready": false, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }],
        }))
        .unwrap();
        let status = status_with_pod(&mcp, &pod);
        assert_eq!(status.phase, Some(ServerPhase::Failed));
        assert_eq!(status.source.as_deref(), Some("inline:python"));
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "CrashLoopBackOff"));
        assert_eq!(
            ready.message,
            "0/1 pods ready: pod fetch-7d9f-x2: container server keeps exiting (last exit code 1 (Error)) and is \
             restarted with back-off: its logs say why (kubectl logs fetch-7d9f-x2 -c server --previous)"
        );
        assert!(!tools_wanted(&mcp, ServerPhase::Failed), "a failed server is not asked for tools");
    }

    /// An npm package npm cannot fetch (here a version that does not exist) makes the init
    /// container `fetch` exit 1 with npm's error (`npm error notarget No matching version found
    /// for …`) in its log; the kubelet retries it with back-off and the server container never
    /// starts (kubectl shows `Init:CrashLoopBackOff`). The MCPServer is Failed, pointing at that log.
    #[test]
    fn an_npm_package_that_cannot_be_fetched_leaves_the_server_failed_pointing_at_the_fetch_log() {
        let mcp =
            mcp_server("package: {runtime: npx, name: '@modelcontextprotocol/server-everything', version: 1999.1.1}\n");
        let pod: PodStatus = serde_json::from_value(serde_json::json!({
            "phase": "Pending",
            "conditions": [
                {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
                 "message": "containers with incomplete status: [fetch]"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "initContainerStatuses": [{
                "name": bridge::FETCH, "image": NODE_IMAGE, "imageID": "", "ready": false, "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                    "message": "back-off 20s restarting failed container=fetch pod=fetch-7d9f-x2_team-a(7)"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }],
            "containerStatuses": [{
                "name": "server", "image": NODE_IMAGE, "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "PodInitializing"}},
            }],
        }))
        .unwrap();
        let status = status_with_pod(&mcp, &pod);
        assert_eq!(status.phase, Some(ServerPhase::Failed));
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "CrashLoopBackOff"));
        assert_eq!(
            ready.message,
            "0/1 pods ready: pod fetch-7d9f-x2: init container fetch keeps failing (last exit code 1 (Error)), so \
             the pod's containers do not start; it is retried with back-off: its logs say why (kubectl logs \
             fetch-7d9f-x2 -c fetch --previous)"
        );
        assert!(!tools_wanted(&mcp, ServerPhase::Failed), "a failed server is not asked for tools");
    }

    #[test]
    fn status_keeps_the_tools_it_learned() {
        let mut mcp = mcp_server("package: {runtime: uvx, name: mcp-server-fetch, version: '2025.4.7'}\n");
        mcp.status = Some(MCPServerStatus { tools: Some(vec!["fetch".into()]), ..Default::default() });
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let status = status(&mcp, server::Observed { runs_pods: true, ..Default::default() }, None, &now);
        assert_eq!(status.tools, Some(vec!["fetch".to_string()]));
        assert_eq!(status.source.as_deref(), Some("uvx:mcp-server-fetch@2025.4.7"));
        assert_eq!(status.endpoint.as_deref(), Some("http://fetch.team-a.svc.cluster.local:8000/mcp"));
    }
}

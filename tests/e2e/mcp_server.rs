//! An MCPServer's tools come from the running server: the operator asks it (`initialize`, then
//! `tools/list` over streamable HTTP; running outside the cluster, it calls a ready pod by its
//! IP) and writes what it answered into `status.tools`. Here the "server" is a fake MCP server
//! listening on the KWOK pod's address, which is on loopback.

use std::sync::Arc;

use agents_api::MCPServer;
use anyhow::{Context, ensure};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::support::{Ctx, Env, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "mcp_server", [its_tools_are_what_the_running_server_lists])
}

const SESSION: &str = "session-42";

/// A streamable-HTTP MCP server with three tools over two pages; the second page comes as an
/// event stream, as servers may answer.
async fn fake_mcp(headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let id = request["id"].clone();
    let result = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
    match request["method"].as_str() {
        Some("initialize") => (
            [("mcp-session-id", SESSION), ("content-type", "application/json")],
            result(json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake", "version": "1"},
            }))
            .to_string(),
        )
            .into_response(),
        Some("notifications/initialized") => StatusCode::ACCEPTED.into_response(),
        Some("tools/list") if headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) != Some(SESSION) => {
            (StatusCode::BAD_REQUEST, "no session").into_response()
        }
        Some("tools/list") if request["params"]["cursor"].is_null() => {
            let page = result(json!({"tools": [{"name": "search"}, {"name": "fetch"}], "nextCursor": "2"}));
            ([(header::CONTENT_TYPE, "application/json")], page.to_string()).into_response()
        }
        Some("tools/list") => {
            let event = format!("event: message\ndata: {}\n\n", result(json!({"tools": [{"name": "summarize"}]})));
            ([(header::CONTENT_TYPE, "text/event-stream")], event).into_response()
        }
        _ => (StatusCode::BAD_REQUEST, "unexpected").into_response(),
    }
}

fn tools_condition(mcp: &MCPServer) -> Option<(String, String)> {
    let status = mcp.status.as_ref()?;
    agents_api::conditions::find(&status.conditions, "ToolsListed").map(|c| (c.status.clone(), c.message.clone()))
}

async fn its_tools_are_what_the_running_server_lists(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    // A port nothing else on loopback uses, so the fake can bind the pod's address with it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    ctx.apply_yaml(&format!(
        "apiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {{name: tools}}\n\
         spec: {{image: ghcr.io/example/mcp:v1, port: {port}}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {{name: silent}}\n\
         spec: {{image: ghcr.io/example/mcp:v1, port: {port}}}\n"
    ))
    .await?;
    let servers: Api<MCPServer> = ctx.api();

    // Nothing listens on the silent server's pod: it is Ready, its tools are not known, and the
    // condition says why.
    let silent = ctx
        .wait_for(&servers, "silent", "a ToolsListed condition", |m: Option<&MCPServer>| {
            m.and_then(tools_condition).is_some()
        })
        .await?;
    let (status, message) = tools_condition(&silent).context("the condition")?;
    ensure!(status == "False" && message.contains("could not list the tools"), "{status}: {message}");
    ensure!(silent.status.as_ref().and_then(|s| s.tools.as_ref()).is_none(), "tools were invented: {silent:?}");

    // The fake server listens on the other pod's address; a touch makes the operator ask again.
    let pods: Api<Pod> = ctx.api();
    let pod_ip = ctx
        .wait_for_value("the pod's IP", || async {
            let list = pods.list(&ListParams::default().labels("agents.dev/mcpserver=tools")).await?;
            Ok(list.items.iter().find_map(|p| p.status.as_ref()?.pod_ip.clone()))
        })
        .await?;
    let listener = tokio::net::TcpListener::bind((pod_ip.parse::<std::net::IpAddr>()?, port))
        .await
        .with_context(|| format!("binding {pod_ip}:{port}"))?;
    let app = axum::Router::new().route("/mcp", axum::routing::post(fake_mcp));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    servers
        .patch("tools", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"annotations": {"touched": "1"}}})))
        .await?;
    let listed = ctx
        .wait_for(&servers, "tools", "status.tools", |m: Option<&MCPServer>| {
            m.and_then(|m| m.status.as_ref()).is_some_and(|s| s.tools.is_some())
        })
        .await?;
    server.abort();
    let tools = listed.status.as_ref().and_then(|s| s.tools.clone()).unwrap_or_default();
    ensure!(tools == ["fetch", "search", "summarize"], "{tools:?}");
    let (status, message) = tools_condition(&listed).context("the condition")?;
    ensure!(status == "True" && message == "the server listed 3 tools", "{status}: {message}");
    Ok(())
}

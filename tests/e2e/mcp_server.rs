//! An MCPServer's tools come from the running server: the operator asks it (`initialize`, then
//! `tools/list` over streamable HTTP; running outside the cluster, it calls a ready pod by its
//! IP) and writes what it answered into `status.tools`. The servers listen on the KWOK pod's
//! address, which is on loopback: a fake MCP server (the client's edge cases), and a published
//! npm package behind the bridge the operator renders for it (`in_pod`).

use std::net::SocketAddr;
use std::sync::Arc;

use agents_api::MCPServer;
use agents_runtime::tools::mcp::McpServer;
use agents_testenv::{node, python};
use anyhow::{Context, ensure};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::in_pod;
use crate::support::{Ctx, DEADLINE, Env, output_within, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    let mut tests = trials!(
        env,
        "mcp_server",
        [its_tools_are_what_the_running_server_lists, an_npm_package_runs_behind_the_rendered_bridge]
    );
    // No control plane: the pod's command is the operator's own render.
    tests.push(Trial::test("mcp_server::a_pypi_package_that_cannot_be_fetched_stops_its_pod_naming_it", || {
        a_pypi_package_that_cannot_be_fetched_stops_its_pod_naming_it().map_err(|e| format!("{e:#}").into())
    }));
    tests
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

/// Seed 001's row "MCPServer from a package", with npm, run for real: the MCPServer
/// `package: {runtime: npx, ...}` runs as the operator rendered it, `npx -y supergateway@3.4.0`
/// (npm) serving `npx -y @modelcontextprotocol/server-everything@2026.8.31` (npm, published by
/// the MCP project) with every flag of the render, from the cached installs of exactly those
/// pins (`agents_testenv::node`). The operator lists the package's tools from it, and tool calls
/// go through the bridge: one as plain JSON-RPC, one with the runtime's MCP client. The
/// namespace enforces the `restricted` Pod Security Standard (the real admission plugin), which
/// the server and the init container that fetches its packages must pass.
///
/// supergateway 3.4.0 has no option for the address it listens on: it listens on every address
/// (Node's `listen(port)`), the pod's IP among them, as in a pod. So the port is one free on
/// every address, and the test sends to the pod's address only.
///
/// A tool's arguments may carry secrets: the bridge's log (both its streams, as a pod's log
/// holds them) shows neither the argument of a call nor its echo. At supergateway's default
/// level it would show both, on stdout.
async fn an_npm_package_runs_behind_the_rendered_bridge(ctx: Ctx) -> anyhow::Result<()> {
    let restricted = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    Api::<Namespace>::all(ctx.client.clone())
        .patch(&ctx.ns, &PatchParams::default(), &Patch::Merge(restricted))
        .await?;
    let _operator = ctx.operator(&[])?;
    let (bridge, everything) = tokio::task::spawn_blocking(|| {
        Ok::<_, agents_testenv::Error>((node::SUPERGATEWAY.ensure()?, node::SERVER_EVERYTHING.ensure()?))
    })
    .await??;
    let package = "@modelcontextprotocol/server-everything";
    let version = node::SERVER_EVERYTHING.version_of(package).context("the pinned version")?;
    let port = std::net::TcpListener::bind("0.0.0.0:0")?.local_addr()?.port();
    ctx.apply_yaml(&format!(
        "apiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {{name: everything}}\n\
         spec: {{package: {{runtime: npx, name: '{package}', version: '{version}'}}, port: {port}}}\n"
    ))
    .await?;

    // The pod's command, with the cached programs where npx would fetch them.
    let dir = ctx.cluster.dir().join("runtime").join(&ctx.ns);
    std::fs::create_dir_all(&dir)?;
    let (_, ip) = in_pod::running_pod(&ctx, "agents.dev/mcpserver=everything").await?;
    let deployment = ctx.api::<Deployment>().get("everything").await?;
    let pod = deployment.spec.template.spec.context("the pod template")?;
    let container = pod.containers.first().context("the server container")?;
    let rendered = container.command.as_deref().unwrap_or_default();
    let command = node::as_rendered(rendered, &[&bridge, &everything])?;

    // KWOK runs no init container, and the test does not reach npm: the init container that
    // fetches before the server starts is checked as rendered. It fetches exactly the two
    // packages the server's command runs with npx (`npx -y BRIDGE … --stdio "npx -y PACKAGE"`),
    // in the same environment, so the server runs them from npm's cache.
    let stdio = rendered.iter().skip_while(|w| *w != "--stdio").nth(1).context("no --stdio")?;
    let (bridge_spec, package_spec) =
        (rendered.get(2).context("no bridge")?, stdio.split_whitespace().nth(2).context("no package")?);
    let fetch = format!("npx -y -p {bridge_spec} -c true && npx -y -p {package_spec} -c true");
    let init = pod.init_containers.as_deref().unwrap_or_default();
    let fetches: Vec<_> = init.iter().map(|c| (c.name.as_str(), c.command.clone().unwrap_or_default())).collect();
    ensure!(fetches == [("fetch", vec!["sh".into(), "-c".into(), fetch])], "{fetches:?}");
    ensure!(init[0].env == container.env && init[0].image == container.image, "{init:?}");
    let address = SocketAddr::new(ip, port);
    let mut gateway = in_pod::start_program(both_streams_logged(&command), address, dir.join("everything.log"))?;
    tokio::task::block_in_place(|| gateway.wait_listening())?;

    // The operator may have asked before the bridge listened; a touch makes it ask again now.
    let servers = ctx.api::<MCPServer>();
    let touch = json!({"metadata": {"annotations": {"touched": "1"}}});
    servers.patch("everything", &PatchParams::default(), &Patch::Merge(&touch)).await?;
    let listed = ctx
        .wait_for(&servers, "everything", "ToolsListed=True", |m: Option<&MCPServer>| {
            m.and_then(tools_condition).is_some_and(|(status, _)| status == "True")
        })
        .await
        .with_context(|| format!("the bridge's log:\n{}", gateway.log_text()))?;
    let status = listed.status.clone().unwrap_or_default();
    let tools = status.tools.clone().unwrap_or_default();
    ensure!(["echo", "get-sum"].iter().all(|t| tools.iter().any(|listed| listed == t)), "{tools:?}");
    let (_, message) = tools_condition(&listed).context("the condition")?;
    ensure!(message == format!("the server listed {} tools", tools.len()), "{message}");
    ensure!(status.source == Some(format!("npx:{package}@{version}")), "{status:?}");

    // A tool call through the bridge, in a session of its own.
    let http = agents_runtime::http_client()?;
    let url = format!("http://{address}/mcp");
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}});
    let (session, initialized) = rpc(&http, &url, None, &initialize).await?;
    ensure!(initialized["result"]["serverInfo"]["name"] == "mcp-servers/everything", "{initialized}");
    // A stateless bridge gives no session: it would start the package anew for every request.
    let session = session.context("initialize opened no MCP session")?;
    rpc(&http, &url, Some(&session), &json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await?;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": TOOL_ARGUMENT}}});
    let (_, called) = rpc(&http, &url, Some(&session), &call).await?;
    ensure!(
        called["result"]["content"][0]["text"] == format!("Echo: {TOOL_ARGUMENT}"),
        "{called}\nthe bridge's log:\n{}",
        gateway.log_text()
    );
    let ended = http.delete(&url).header("mcp-session-id", &session).timeout(DEADLINE).send().await?;
    ensure!(ended.status().is_success(), "ending the session: {}", ended.status());

    // And as Agents call it: the runtime's MCP client (the official Rust SDK, rmcp).
    let client = McpServer::new("everything".into(), url, http);
    let sum = client.call("get-sum", json!({"a": 2, "b": 40}).as_object().cloned().unwrap_or_default()).await?;
    ensure!(sum.text.contains("42") && !sum.is_error, "{sum:?}\nthe bridge's log:\n{}", gateway.log_text());
    gateway.check_running()?;
    ensure!(
        !gateway.log_text().contains(TOOL_ARGUMENT),
        "the bridge logged a tool's argument:\n{}",
        gateway.log_text()
    );
    Ok(())
}

/// A tool call's argument, as a secret would look.
const TOOL_ARGUMENT: &str = "sk-e2e-tool-argument-3f8a";

/// `command` with its stdout written where its stderr goes: a pod's log holds both, and the
/// pod process keeps only stderr.
fn both_streams_logged(command: &std::process::Command) -> std::process::Command {
    let mut shell = std::process::Command::new("sh");
    shell.args(["-c", "exec \"$0\" \"$@\" >&2"]).arg(command.get_program()).args(command.get_args());
    shell
}

/// One JSON-RPC message POSTed to a streamable-HTTP MCP endpoint: the session the server named
/// (`mcp-session-id`) and the response to the message (from a JSON body or an event stream), or
/// `Null` for a notification.
async fn rpc(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    message: &Value,
) -> anyhow::Result<(Option<String>, Value)> {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .timeout(DEADLINE);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.body(message.to_string()).send().await?;
    let status = response.status();
    let session = response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(String::from);
    let body = response.text().await?;
    ensure!(status.is_success(), "{} answered {status}: {body}", message["method"]);
    if message["id"].is_null() {
        return Ok((session, Value::Null));
    }
    let answer = body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .chain([body.as_str()])
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|m| m["id"] == message["id"])
        .with_context(|| format!("no answer to {} in {body:?}", message["method"]))?;
    Ok((session, answer))
}

/// A package that cannot be fetched (here a name the index does not know) stops the pod with
/// uv's reason in its log: the container of a `uvx` package MCPServer, as the operator renders
/// it, exits non-zero with the message naming the package, so the kubelet restarts it with
/// back-off and the MCPServer is `Failed`, reason `CrashLoopBackOff`, pointing at
/// `kubectl logs … --previous` (that status is `agents-render`'s unit test of a server
/// container that keeps exiting). The bridge never listens, so the pod is never Ready.
///
/// Run here: mcp-proxy from the cached environment where the image's `uvx` would fetch it, and
/// the package's `uvx` as rendered, the real uv of the image (`python::UV`). The index is an
/// empty one on loopback, named by `UV_INDEX_URL` in the spec's `env` as a mirror would be (it
/// answers 404 to everything, as PyPI does for a name it does not know), and uv is kept from
/// downloading a Python (this machine's serves).
fn a_pypi_package_that_cannot_be_fetched_stops_its_pod_naming_it() -> anyhow::Result<()> {
    let (bridge, uv) = (python::MCP_PROXY.ensure()?, python::UV.ensure()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let index = listener.local_addr()?;
    runtime.spawn(async move { axum::serve(listener, axum::Router::new()).await });
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let package = "no-such-mcp-server-e2e";
    let mcp: MCPServer = serde_json::from_value(json!({
        "apiVersion": "agents.dev/v1alpha1", "kind": "MCPServer",
        "metadata": {"name": "missing", "namespace": "e2e", "uid": "1"},
        "spec": {"package": {"runtime": "uvx", "name": package, "version": "1.0.0"}, "port": port,
            "env": [{"name": "UV_INDEX_URL", "value": format!("http://{index}/simple")},
                    {"name": "UV_PYTHON_DOWNLOADS", "value": "never"}]},
    }))?;
    let deployment = agents_render::mcp_server::children(&mcp)?.deployment.context("no Deployment")?;
    let pod = deployment.spec.template.spec.context("no pod template")?;
    let container = pod.containers.first().context("no container")?;
    let rendered = container.command.as_deref().unwrap_or_default();
    // `uvx … mcp-proxy@… -- uvx PACKAGE@VERSION`: the bridge, then the server it starts.
    let split = rendered.iter().position(|w| w == "--").context("no server after the bridge")?;
    let (bridge_words, server_words) = rendered.split_at(split + 1);
    ensure!(server_words == ["uvx", &format!("{package}@1.0.0")], "{rendered:?}");
    let mut command = in_pod::as_rendered(bridge_words, "127.0.0.1".parse()?, |tool| bridge.bin(tool))?;
    command.args(server_words);

    // The rendered environment, with its `/tmp` (the pod's writable directory) in a directory
    // of this run, and this machine's PATH after uv's for the server's `uvx`.
    let tmp = std::env::temp_dir().join(format!("e2e-uvx-missing-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    command.env_clear();
    for variable in container.env.iter().flatten() {
        let value = variable.value.as_deref().context("a variable from a source")?;
        let value = value.strip_prefix("/tmp").map_or(value.to_string(), |rest| format!("{}{rest}", tmp.display()));
        command.env(&variable.name, value);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(uv.dir().join("bin")).chain(std::env::split_paths(&path)))?;
    command.env("PATH", path);

    let output = output_within(&mut command)?;
    let stderr = text(&output.stderr);
    std::fs::remove_dir_all(&tmp)?;
    ensure!(!output.status.success(), "the pod's program went on: {:?}\n{stderr}", output.status);
    // uv wraps its message at 80 columns.
    let words = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    let reason = format!("Because {package} was not found in the package registry");
    ensure!(words.contains(&reason), "its log does not say {reason:?}:\n{stderr}");
    Ok(())
}

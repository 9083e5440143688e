//! MCPServers whose tools are written in the spec: seed 001's `toolsString` row ("Dynamic Python
//! tools"), here `spec.inlineTools.python`.
//!
//! The operator renders a ConfigMap (the user's `tools.py` and the wrapper `server.py`) and a pod
//! that runs the wrapper with the official MCP Python SDK. The test runs what that pod would run
//! (`in_pod`): the rendered files, written out here, with the interpreter of the cached
//! environment `agents_testenv::python::MCP_PROXY`, which holds exactly the SDK the pod pins
//! (`mcp==1.30.0`, published on PyPI), bound to the pod's loopback address. The operator lists the
//! tools from it, and the runtime's MCP client (the official Rust SDK, rmcp, as Agents use it)
//! calls one over streamable HTTP.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use agents_api::MCPServer;
use agents_runtime::tools::mcp::McpServer;
use agents_testenv::python;
use anyhow::{Context, bail, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, Container};
use kube::api::{Patch, PatchParams};
use libtest_mimic::Trial;
use serde_json::json;

use crate::in_pod;
use crate::support::{Ctx, Env, output_within, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "mcp_inline_tools",
        [invalid_inline_tools_are_rejected, python_functions_in_the_spec_are_served_as_tools]
    )
}

/// Two tools, and what must not become one: an imported function and a private helper.
const TOOLS: &str = r#"from json import dumps

def add(a: int, b: int) -> int:
    """Adds two whole numbers."""
    return _checked(a + b)

async def greet(name: str) -> str:
    """Greets someone by name."""
    return f"Hello, {name}!"

def _checked(value):
    return value
"#;

/// The MCPServer `calc` serving `python` on `port`, as YAML.
fn calc(python: &str, port: u16) -> String {
    let spec = json!({"inlineTools": {"python": python}, "port": port});
    format!("apiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {{name: calc}}\nspec: {spec}\n")
}

/// The rendered `uv run [OPTIONS] python SCRIPT ARGS…`, run here: the cached environment's
/// interpreter in place of `uv run … python` (after checking it holds the SDK the pod pins),
/// the files of the ConfigMap's mount read from `dir`, and the wildcard listen address replaced
/// by the pod's.
fn as_rendered(rendered: &Container, dir: &Path, ip: IpAddr, venv: &python::Venv) -> anyhow::Result<Command> {
    let words = rendered.command.clone().unwrap_or_default();
    let python_at = words.iter().position(|w| w == "python").context("no python in the command")?;
    let (uv, args) = (&words[..python_at], &words[python_at + 1..]);
    ensure!(uv.starts_with(&["uv".into(), "run".into()]), "not a uv run command: {words:?}");
    let pins: Vec<&str> = uv.windows(2).filter(|w| w[0] == "--with").map(|w| w[1].as_str()).collect();
    ensure!(!pins.is_empty(), "the pod pins no SDK: {words:?}");
    for pin in pins {
        ensure!(python::MCP_PROXY.requirements.contains(&pin), "the pod pins {pin}, the cached environment does not");
    }
    let mounts: Vec<&str> = rendered.volume_mounts.iter().flatten().map(|m| m.mount_path.as_str()).collect();
    let mount = mounts
        .iter()
        .find(|m| args.iter().any(|a| a.starts_with(&format!("{m}/"))))
        .with_context(|| format!("no argument is a file of a mount ({mounts:?}): {words:?}"))?;
    let mut command = Command::new(venv.python());
    command.args(args.iter().map(|arg| match arg.strip_prefix(mount) {
        Some(file) => format!("{}{file}", dir.display()),
        None if arg == "0.0.0.0" => ip.to_string(),
        None => arg.clone(),
    }));
    Ok(command)
}

/// Writes the ConfigMap's files into `dir`, as its volume would show them.
fn write_files(config_map: &ConfigMap, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (file, content) in config_map.data.iter().flatten() {
        std::fs::write(dir.join(file), content)?;
    }
    Ok(())
}

async fn python_functions_in_the_spec_are_served_as_tools(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let venv = tokio::task::spawn_blocking(|| python::MCP_PROXY.ensure()).await??;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    ctx.apply_yaml(&calc(TOOLS, port)).await?;

    // The operator owns a ConfigMap holding the module and the wrapper.
    let config_maps = ctx.api::<ConfigMap>();
    let config_map = ctx.wait_for(&config_maps, "calc", "the ConfigMap", |c: Option<&ConfigMap>| c.is_some()).await?;
    let owner = config_map.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true));
    ensure!(owner.is_some_and(|o| o.kind == "MCPServer" && o.name == "calc"), "{:?}", config_map.metadata);
    ensure!(config_map.data.as_ref().and_then(|d| d.get("tools.py")).map(String::as_str) == Some(TOOLS));

    // The pod's program, run here as the pod would run it.
    let dir = ctx.cluster.dir().join("runtime").join(&ctx.ns);
    write_files(&config_map, &dir.join("tools"))?;
    let (_, ip) = in_pod::running_pod(&ctx, "agents.dev/mcpserver=calc").await?;
    let container = in_pod::rendered_container(&ctx, "calc").await?;
    let env = agents_testenv::pods::resolved_env(&ctx.client, &ctx.ns, &container).await?;
    let mut command = as_rendered(&container, &dir.join("tools"), ip, &venv)?;
    command.envs(env);
    let address = SocketAddr::new(ip, port);
    let mut server = in_pod::start_program(command, address, dir.join("calc.log"))?;
    server.wait_listening()?;

    // The operator may have asked before the server listened; a touch makes it ask again now.
    let servers = ctx.api::<MCPServer>();
    let touch = json!({"metadata": {"annotations": {"touched": "1"}}});
    servers.patch("calc", &PatchParams::default(), &Patch::Merge(&touch)).await?;
    let listed = ctx
        .wait_for(&servers, "calc", "status.tools", |m: Option<&MCPServer>| {
            m.and_then(|m| m.status.as_ref()).is_some_and(|s| s.tools.is_some())
        })
        .await?;
    let status = listed.status.unwrap_or_default();
    ensure!(status.tools == Some(vec!["add".into(), "greet".into()]), "{status:?}\n{}", server.log_text());
    ensure!(status.source.as_deref() == Some("inline:python"), "{status:?}");

    // An Agent's client sees the docstrings and type hints, and a call runs the function.
    let client = McpServer::new("calc".into(), format!("http://{address}/mcp"), agents_runtime::http_client()?);
    let tools = client.tools().await.map_err(anyhow::Error::msg)?;
    let add = tools.iter().find(|t| t.name == "add").context("add is listed")?;
    ensure!(add.description == "Adds two whole numbers.", "{add:?}");
    ensure!(add.parameters["properties"]["a"]["type"] == "integer" && add.parameters["required"] == json!(["a", "b"]));
    let arguments = json!({"a": 2, "b": 40}).as_object().cloned().unwrap_or_default();
    let sum = client.call("add", arguments).await?;
    ensure!(sum.text == "42" && !sum.is_error, "{sum:?}\n{}", server.log_text());
    let arguments = json!({"name": "Ada"}).as_object().cloned().unwrap_or_default();
    let greeting = client.call("greet", arguments).await?;
    ensure!(greeting.text == "Hello, Ada!", "an async function is a tool too: {greeting:?}");
    drop(server);

    // A module that does not import ends the wrapper with the Python error: the pod's log.
    let broken = ConfigMap {
        data: config_map.data.clone().map(|mut d| {
            d.insert("tools.py".into(), "def add(a: int, b: int) -> int\n    return a + b\n".into());
            d
        }),
        ..Default::default()
    };
    write_files(&broken, &dir.join("broken"))?;
    let output = output_within(&mut as_rendered(&container, &dir.join("broken"), ip, &venv)?)?;
    let stderr = text(&output.stderr);
    ensure!(output.status.code() == Some(1), "{:?}: {stderr}", output.status);
    ensure!(
        stderr.contains("SyntaxError: expected ':'")
            && stderr.contains("spec.inlineTools.python could not be imported"),
        "{stderr}"
    );

    // Another source: the ConfigMap goes.
    ctx.apply_yaml(&format!(
        "apiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {{name: calc}}\n\
         spec: {{image: ghcr.io/example/calc:v1, port: {port}}}\n"
    ))
    .await?;
    ctx.wait_gone(&config_maps, "calc").await
}

/// (what is wrong, the spec in YAML, fragments the rejection must contain)
const INVALID: &[(&str, &str, &[&str])] = &[
    (
        "a package and inline tools",
        "{package: {runtime: uvx, name: x}, inlineTools: {python: 'def f(): pass'}}",
        &[
            "set exactly one of spec.package (a PyPI or npm package run with uvx or npx) or spec.image (a container image \
         serving MCP over HTTP) or spec.inlineTools",
        ],
    ),
    ("no source", "{inlineTools: {}}", &["spec.inlineTools.python: Required value"]),
    (
        "an empty module",
        "{inlineTools: {python: ''}}",
        &["spec.inlineTools.python in body should be at least 1 chars long"],
    ),
    (
        "no public function",
        "{inlineTools: {python: \"from os.path import join\\ndef _helper(): pass\\n\"}}",
        &["spec.inlineTools.python: Invalid value: ", "must define at least one public function at the top level"],
    ),
    (
        "a module too long",
        "{inlineTools: {python: 'def f(): pass\\n#LONG'}}",
        &["spec.inlineTools.python: Too long: may not be more than 32768 bytes"],
    ),
    (
        "SSE",
        "{inlineTools: {python: 'def f(): pass'}, transport: sse}",
        &["inline tools are served over streamable HTTP only: remove spec.transport"],
    ),
    (
        "another path",
        "{inlineTools: {python: 'def f(): pass'}, path: /tools}",
        &["inline tools are served at /mcp and nothing else"],
    ),
    (
        "arguments",
        "{inlineTools: {python: 'def f(): pass'}, args: [-v]}",
        &["spec.command and spec.args are for spec.image"],
    ),
];

async fn invalid_inline_tools_are_rejected(ctx: Ctx) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for (what, spec, fragments) in INVALID {
        let spec = spec.replace("#LONG", &"#".repeat(agents_api::mcp_server::MAX_INLINE_PYTHON));
        let yaml = format!("apiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {{name: t}}\nspec: {spec}\n");
        match ctx.apply_yaml(&yaml).await {
            Ok(()) => failures.push(format!("{what}: accepted")),
            Err(e) => {
                let message = format!("{e:#}");
                if let Some(lacking) = fragments.iter().find(|f| !message.contains(**f)) {
                    failures.push(format!("{what}: rejected with {message:?}, which lacks {lacking:?}"));
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!("{} of {} cases went wrong:\n{}", failures.len(), INVALID.len(), failures.join("\n"));
    }
    // An async function at the top level is a tool too; so is the largest module allowed.
    let largest = format!("async def f(): pass\n{}", "#".repeat(agents_api::mcp_server::MAX_INLINE_PYTHON - 20));
    ctx.apply_yaml(&calc(&largest, 8000)).await.context("a valid MCPServer with inline tools")
}

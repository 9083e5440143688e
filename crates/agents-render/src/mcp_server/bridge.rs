//! Package servers: the image and the stdio-to-HTTP bridge that runs a PyPI or npm package.

use agents_api::mcp_server::{McpPackage, PackageRuntime};
use k8s_openapi::api::core::v1::{Container, EnvVar};

/// uv with Python, for `uvx` packages.
pub const UV_IMAGE: &str = "ghcr.io/astral-sh/uv:0.9.5-python3.12-bookworm-slim";
/// Node.js, for `npx` packages.
pub const NODE_IMAGE: &str = "node:22.21.0-bookworm-slim";
/// Serves a stdio MCP server as streamable HTTP (`/mcp`) and SSE (`/sse`).
const MCP_PROXY: &str = "mcp-proxy@0.10.0";
/// The MCP SDK mcp-proxy 0.10.0 runs with: it asks for `mcp>=1.17` with no upper bound, and
/// fails at import with mcp 2 (what uvx resolves today), so its version is pinned.
pub(super) const MCP_PROXY_SDK: &str = "mcp==1.30.0";
/// Serves a stdio MCP server as streamable HTTP, listening on every address of the pod (it has
/// no option to choose one).
const SUPERGATEWAY: &str = "supergateway@3.4.0";
/// How long an MCP session may sit idle before supergateway ends it and its server process
/// (5 minutes). Clients that never end their sessions (the operator, after listing the tools)
/// would otherwise keep a server process each for the pod's life; a client that comes back
/// later opens a new session (the runtime does so when a call finds its session gone).
const SESSION_TIMEOUT_MS: &str = "300000";

/// Where uv keeps its caches, tools and Pythons, and the home of what it runs: the writable
/// `/tmp` (the root filesystem is read-only).
pub(super) fn uv_env() -> Vec<EnvVar> {
    [
        ("HOME", "/tmp"),
        ("UV_CACHE_DIR", "/tmp/uv/cache"),
        ("UV_TOOL_DIR", "/tmp/uv/tools"),
        ("UV_PYTHON_INSTALL_DIR", "/tmp/uv/python"),
    ]
    .map(|(name, value)| EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() })
    .into()
}

pub fn runtime_name(runtime: PackageRuntime) -> &'static str {
    match runtime {
        PackageRuntime::Uvx => "uvx",
        PackageRuntime::Npx => "npx",
    }
}

/// `NAME@VERSION`, or `NAME` when unpinned (both uvx and npx read that form).
pub fn spec_of(package: &McpPackage) -> String {
    match &package.version {
        Some(version) => format!("{}@{version}", package.name),
        None => package.name.clone(),
    }
}

/// The container that runs `package` behind its bridge, listening on `port`. Caches go to the
/// writable `/tmp`: the root filesystem is read-only.
pub fn container(package: &McpPackage, port: i32) -> Container {
    let var = |name: &str, value: &str| EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() };
    let (image, command, env) = match package.runtime {
        PackageRuntime::Uvx => {
            let mut command: Vec<String> =
                ["uvx", "--with", MCP_PROXY_SDK, MCP_PROXY, "--host", "0.0.0.0", "--port"].map(String::from).into();
            command.extend([
                port.to_string(),
                "--pass-environment".into(),
                "--".into(),
                "uvx".into(),
                spec_of(package),
            ]);
            command.extend(package.args.iter().cloned());
            (UV_IMAGE, command, uv_env())
        }
        PackageRuntime::Npx => {
            // supergateway starts the server with `sh -c` from one command line: quote every word.
            let server = std::iter::once(["npx", "-y"].map(String::from).join(" "))
                .chain(std::iter::once(shell_quote(&spec_of(package))))
                .chain(package.args.iter().map(|a| shell_quote(a)))
                .collect::<Vec<_>>()
                .join(" ");
            let command = vec![
                "npx".into(),
                "-y".into(),
                SUPERGATEWAY.into(),
                "--stdio".into(),
                server,
                "--outputTransport".into(),
                "streamableHttp".into(),
                // Stateless (the default), supergateway starts the package anew for every
                // request, so a request never meets the server its `initialize` set up, and
                // 3.4.0 never stops those processes: each request leaves an npm and a Node.js
                // process running. Stateful, one server runs per MCP session, ended with it.
                "--stateful".into(),
                "--sessionTimeout".into(),
                SESSION_TIMEOUT_MS.into(),
                "--port".into(),
                port.to_string(),
                "--streamableHttpPath".into(),
                "/mcp".into(),
            ];
            let env = vec![var("HOME", "/tmp"), var("npm_config_cache", "/tmp/npm")];
            (NODE_IMAGE, command, env)
        }
    };
    Container { image: Some(image.into()), command: Some(command), env: Some(env), ..Default::default() }
}

/// `word` as one POSIX shell word.
fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp_server::children;
    use crate::mcp_server::fixtures::mcp_server;

    fn command(yaml: &str) -> (String, Vec<String>) {
        let deployment = children(&mcp_server(yaml)).unwrap().deployment.unwrap();
        let container = deployment.spec.template.spec.unwrap().containers.remove(0);
        (container.image.unwrap(), container.command.unwrap())
    }

    #[test]
    fn a_pypi_package_runs_behind_mcp_proxy() {
        let (image, command) = command(
            "package: {runtime: uvx, name: mcp-server-fetch, version: '2025.4.7', args: [--ignore-robots-txt]}\n",
        );
        assert_eq!(image, UV_IMAGE);
        assert_eq!(
            command,
            [
                "uvx",
                "--with",
                "mcp==1.30.0",
                MCP_PROXY,
                "--host",
                "0.0.0.0",
                "--port",
                "8000",
                "--pass-environment",
                "--",
                "uvx",
                "mcp-server-fetch@2025.4.7",
                "--ignore-robots-txt"
            ]
        );
    }

    #[test]
    fn an_npm_package_runs_behind_supergateway_with_its_arguments_quoted() {
        let (image, command) = command(
            "package: {runtime: npx, name: '@modelcontextprotocol/server-filesystem', version: 2025.8.21, args: [/data, \"it's here\"]}\n",
        );
        assert_eq!(image, NODE_IMAGE);
        assert_eq!(
            command,
            [
                "npx",
                "-y",
                SUPERGATEWAY,
                "--stdio",
                r"npx -y @modelcontextprotocol/server-filesystem@2025.8.21 /data 'it'\''s here'",
                "--outputTransport",
                "streamableHttp",
                "--stateful",
                "--sessionTimeout",
                "300000",
                "--port",
                "8000",
                "--streamableHttpPath",
                "/mcp"
            ]
        );
    }

    /// npm writes only under the writable `/tmp` (its cache, where npx installs packages, and its
    /// logs): the root filesystem is read-only.
    #[test]
    fn npm_writes_under_tmp() {
        let deployment =
            children(&mcp_server("package: {runtime: npx, name: server-everything, version: 2026.8.31}\n")).unwrap();
        let container = deployment.deployment.unwrap().spec.template.spec.unwrap().containers.remove(0);
        let env: Vec<(String, String)> =
            container.env.unwrap().into_iter().map(|v| (v.name, v.value.unwrap_or_default())).collect();
        assert_eq!(env, [("HOME".into(), "/tmp".into()), ("npm_config_cache".into(), "/tmp/npm".into())]);
    }
}

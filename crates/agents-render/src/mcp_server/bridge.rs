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
/// The init container that fetches an npm package server's programs before the server starts.
pub const FETCH: &str = "fetch";

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

/// npm's settings, the same in the server's container and the one that fetches its programs.
/// Its cache and `HOME` are in the writable `/tmp` (the root filesystem is read-only). npx asks
/// the registry about a package on every run, even one it has installed, before it looks in its
/// install cache: preferring the cache, the server's npx runs what the fetch left there without
/// the network, while the fetch, on an empty cache, still fetches everything. And npm does not
/// check for a newer npm, which would print a notice into the log a failed fetch points people to.
fn npm_env() -> Vec<EnvVar> {
    [
        ("HOME", "/tmp"),
        ("npm_config_cache", "/tmp/npm"),
        ("npm_config_prefer_offline", "true"),
        ("npm_config_update_notifier", "false"),
    ]
    .map(|(name, value)| EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() })
    .into()
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
                // At its default level (`info`) supergateway logs every JSON-RPC message both
                // ways, a tool call's arguments and its result among them, and those may carry
                // secrets. 3.4.0's levels are `debug`, `info` and `none`; `none` also drops the
                // server's stderr and the bridge's own errors, which it logs through the same
                // logger: the pod's log stays empty. A package that cannot be fetched still
                // shows in the log of the init container `fetch`.
                "--logLevel".into(),
                "none".into(),
            ];
            (NODE_IMAGE, command, npm_env())
        }
    };
    Container { image: Some(image.into()), command: Some(command), env: Some(env), ..Default::default() }
}

/// The init container that fetches into the pod's npm cache exactly what `server` (the rendered
/// [`container`] of an `npx` package) runs, so that a package npm cannot fetch fails the pod
/// instead of every MCP session, and the first session does not wait for npm. It shares the
/// server's image, environment, mounts (the cache is in `/tmp`), security context and resources.
/// `None` for a `uvx` package.
///
/// npx keeps each install in a directory named after the set of packages it was asked for, so
/// supergateway and the package are fetched one at a time, as the server runs them: one
/// `npx -p A -p B` would fill a directory neither `npx A` nor `npx B` looks in.
pub fn fetch_container(package: &McpPackage, server: &Container) -> Option<Container> {
    if package.runtime != PackageRuntime::Npx {
        return None;
    }
    let fetch = |spec: &str| format!("npx -y -p {} -c true", shell_quote(spec));
    let script = format!("{} && {}", fetch(SUPERGATEWAY), fetch(&spec_of(package)));
    Some(Container {
        name: FETCH.into(),
        image: server.image.clone(),
        command: Some(vec!["sh".into(), "-c".into(), script]),
        env: server.env.clone(),
        volume_mounts: server.volume_mounts.clone(),
        security_context: server.security_context.clone(),
        resources: server.resources.clone(),
        ..Default::default()
    })
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

    fn pod(yaml: &str) -> k8s_openapi::api::core::v1::PodSpec {
        children(&mcp_server(yaml)).unwrap().deployment.unwrap().spec.template.spec.unwrap()
    }

    fn command(yaml: &str) -> (String, Vec<String>) {
        let container = pod(yaml).containers.remove(0);
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
                "/mcp",
                "--logLevel",
                "none"
            ]
        );
    }

    /// npm writes only under the writable `/tmp` (its cache, where npx installs packages, and its
    /// logs): the root filesystem is read-only. It prefers its cache, where the fetch left the
    /// programs, to asking the registry about them again.
    #[test]
    fn npm_writes_under_tmp_and_prefers_its_cache() {
        let server = pod("package: {runtime: npx, name: server-everything, version: 2026.8.31}\n").containers.remove(0);
        let env: Vec<(String, String)> =
            server.env.unwrap().into_iter().map(|v| (v.name, v.value.unwrap_or_default())).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            env,
            [
                ("HOME", "/tmp"),
                ("npm_config_cache", "/tmp/npm"),
                ("npm_config_prefer_offline", "true"),
                ("npm_config_update_notifier", "false")
            ]
        );
    }

    /// The init container fetches exactly what the server runs, one npx install each (npx keys
    /// its installs by the set of packages asked for), as the server would: same image,
    /// environment (the user's too: a registry or its token), `/tmp`, security context and
    /// resources.
    #[test]
    fn an_npm_package_and_its_bridge_are_fetched_before_the_server_starts() {
        let mut pod = pod(
            "package: {runtime: npx, name: '@modelcontextprotocol/server-filesystem', version: 2025.8.21, args: [/data]}\n\
             env: [{name: npm_config_registry, value: 'https://npm.example.com/'}]\n\
             resources: {limits: {memory: 512Mi}}\n",
        );
        let server = pod.containers.remove(0);
        let init = pod.init_containers.unwrap_or_default();
        let [fetch] = init.as_slice() else { panic!("one init container: {init:?}") };
        assert_eq!(fetch.name, FETCH);
        assert_eq!(
            fetch.command.as_deref().unwrap_or_default(),
            [
                "sh",
                "-c",
                "npx -y -p supergateway@3.4.0 -c true && npx -y -p @modelcontextprotocol/server-filesystem@2025.8.21 -c true"
            ]
        );
        let stdio = server.command.as_ref().and_then(|c| c.iter().find(|w| w.starts_with("npx -y "))).unwrap();
        assert!(stdio.starts_with("npx -y @modelcontextprotocol/server-filesystem@2025.8.21 "), "{stdio}");
        assert_eq!(fetch.image.as_deref(), Some(NODE_IMAGE));
        assert_eq!(fetch.env, server.env);
        assert!(fetch.env.iter().flatten().any(|v| v.name == "npm_config_registry"), "{:?}", fetch.env);
        let mounts = fetch.volume_mounts.clone().unwrap_or_default();
        assert_eq!(
            mounts.iter().map(|m| (m.name.as_str(), m.mount_path.as_str())).collect::<Vec<_>>(),
            [("tmp", "/tmp")]
        );
        assert_eq!(fetch.security_context, Some(crate::security::container()));
        assert_eq!(fetch.resources, server.resources);
        assert!(fetch.resources.is_some());
        // An init container may have no probe, and serves nothing.
        assert_eq!((&fetch.readiness_probe, &fetch.ports), (&None, &None));
    }

    #[test]
    fn only_npm_packages_are_fetched_first() {
        for yaml in [
            "package: {runtime: uvx, name: mcp-server-fetch, version: '2025.4.7'}\n",
            "image: ghcr.io/acme/tools:1.2\n",
            "inlineTools: {python: \"def add(a: int, b: int) -> int:\\n    return a + b\\n\"}\n",
        ] {
            assert_eq!(pod(yaml).init_containers, None, "{yaml}");
        }
    }
}

//! Inline tools (seed 001's `toolsString`): the user's Python module and our wrapper
//! (`inline_server.py`) in a ConfigMap, run with the official MCP Python SDK (FastMCP) in the uv
//! image the uvx bridge uses, with the SDK version that bridge pins.
//!
//! The wrapper imports the module as `tools`, registers each public function defined in it and
//! serves streamable HTTP at `/mcp`. A module it cannot import ends the process with a non-zero
//! status and the Python error in the log: the pod crash-loops, and the MCPServer is `Failed`
//! with reason `CrashLoopBackOff` (see the tests in `mod.rs`).

use agents_api::mcp_server::InlineTools;
use k8s_openapi::api::core::v1::{ConfigMap, ConfigMapVolumeSource, Container, EnvVar, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::bridge::{MCP_PROXY_SDK, UV_IMAGE, uv_env};

/// The user's module, as the ConfigMap's key and the file the wrapper imports.
pub const TOOLS_FILE: &str = "tools.py";
/// The wrapper, as the ConfigMap's key and the file the container runs.
pub const SERVER_FILE: &str = "server.py";
/// The wrapper's source.
const SERVER: &str = include_str!("inline_server.py");
/// Where the ConfigMap is mounted (read-only).
const DIR: &str = "/etc/mcp-tools";
const VOLUME: &str = "tools";

/// What the inline tools add to the pod: the ConfigMap, its volume and the container.
pub struct Rendered {
    pub config_map: ConfigMap,
    pub volume: Volume,
    pub container: Container,
}

/// The ConfigMap named as the server (`meta`), and the container that serves its tools on `port`.
pub fn render(tools: &InlineTools, port: i32, meta: &ObjectMeta) -> Rendered {
    let name = meta.name.clone().unwrap_or_default();
    let config_map = ConfigMap {
        metadata: meta.clone(),
        data: Some(
            [(TOOLS_FILE.to_string(), tools.python.clone()), (SERVER_FILE.to_string(), SERVER.to_string())].into(),
        ),
        ..Default::default()
    };
    let volume = Volume {
        name: VOLUME.into(),
        config_map: Some(ConfigMapVolumeSource { name: name.clone(), ..Default::default() }),
        ..Default::default()
    };
    let command = [
        "uv",
        "run",
        "--no-project",
        "--with",
        // The SDK the uvx bridge pins: one Python MCP stack to keep current.
        MCP_PROXY_SDK,
        "python",
        &format!("{DIR}/{SERVER_FILE}"),
        "--name",
        &name,
        "--host",
        "0.0.0.0",
        "--port",
        &port.to_string(),
    ]
    .map(String::from)
    .into();
    let var = |name: &str, value: &str| EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() };
    // uv as the uvx bridge runs it; the mount is read-only, so no bytecode beside the module.
    let mut env = uv_env();
    env.extend([var("PYTHONDONTWRITEBYTECODE", "1"), var("PYTHONUNBUFFERED", "1")]);
    let container = Container {
        image: Some(UV_IMAGE.into()),
        command: Some(command),
        env: Some(env),
        volume_mounts: Some(vec![VolumeMount {
            name: VOLUME.into(),
            mount_path: DIR.into(),
            read_only: Some(true),
            ..Default::default()
        }]),
        ..Default::default()
    };
    Rendered { config_map, volume, container }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp_server::children;
    use crate::mcp_server::fixtures::mcp_server;

    const TOOLS: &str = "inlineTools:\n  python: |\n    def add(a: int, b: int) -> int:\n        \"\"\"Adds.\"\"\"\n        return a + b\nport: 9000\n";

    #[test]
    fn the_module_and_the_wrapper_are_mounted_and_run_with_the_pinned_sdk() {
        let children = children(&mcp_server(TOOLS)).unwrap();
        let config_map = children.config_map.expect("a ConfigMap");
        assert_eq!(config_map.metadata.name.as_deref(), Some("fetch"));
        assert_eq!(config_map.metadata.owner_references.as_ref().unwrap()[0].kind, "MCPServer");
        let data = config_map.data.unwrap();
        assert!(data[TOOLS_FILE].starts_with("def add(a: int, b: int) -> int:"));
        assert!(data[SERVER_FILE].contains("import tools"));
        let pod = children.deployment.unwrap().spec.template.spec.unwrap();
        let container = &pod.containers[0];
        assert_eq!(container.image.as_deref(), Some(UV_IMAGE));
        assert_eq!(
            container.command.as_deref().unwrap(),
            [
                "uv",
                "run",
                "--no-project",
                "--with",
                "mcp==1.30.0",
                "python",
                "/etc/mcp-tools/server.py",
                "--name",
                "fetch",
                "--host",
                "0.0.0.0",
                "--port",
                "9000"
            ]
        );
        let mount = container.volume_mounts.iter().flatten().find(|m| m.mount_path == DIR).expect("the mount");
        assert_eq!(mount.read_only, Some(true));
        let volume = pod.volumes.iter().flatten().find(|v| v.name == mount.name).expect("the volume");
        assert_eq!(volume.config_map.as_ref().map(|c| c.name.as_str()), Some("fetch"));
        assert!(container.readiness_probe.is_some(), "probed like every MCPServer");
        assert_eq!(container.security_context.as_ref().unwrap().read_only_root_filesystem, Some(true));
    }

    #[test]
    fn a_changed_source_rolls_the_pods() {
        let hash = |yaml: &str| {
            let deployment = children(&mcp_server(yaml)).unwrap().deployment.unwrap();
            deployment.spec.template.metadata.unwrap().annotations.unwrap()[crate::hash::CONFIG_HASH_ANNOTATION].clone()
        };
        assert_eq!(hash(TOOLS), hash(TOOLS));
        assert_ne!(hash(TOOLS), hash(&TOOLS.replace("a + b", "b + a")));
    }

    #[test]
    fn other_sources_have_no_config_map() {
        assert!(children(&mcp_server("image: ghcr.io/acme/tools:1.2\n")).unwrap().config_map.is_none());
        assert!(children(&mcp_server("package: {runtime: npx, name: x}\n")).unwrap().config_map.is_none());
    }
}

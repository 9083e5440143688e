//! `kubectl agents create mcpserver NAME --uvx|--npx PACKAGE[@VERSION] | --image IMAGE [flags]`.

use std::process::ExitCode;

use agents_api::MCPServer;
use dialoguer::{Input, Select};
use serde_json::{Map, Value, json};

use super::{Common, Destination, env_entries, interactive, parse_env, submit};
use crate::error::Explained;

#[derive(clap::Args, Debug, Default)]
pub struct McpServerArgs {
    /// The MCPServer's name.
    pub name: String,
    /// A PyPI package run with uvx, as PACKAGE or PACKAGE@VERSION (e.g. mcp-server-fetch@2025.4.7).
    #[arg(long, value_name = "PACKAGE[@VERSION]", conflicts_with_all = ["npx", "image"])]
    pub uvx: Option<String>,
    /// An npm package run with npx, as PACKAGE or PACKAGE@VERSION (e.g. @modelcontextprotocol/server-everything@2025.8.4).
    #[arg(long, value_name = "PACKAGE[@VERSION]", conflicts_with = "image")]
    pub npx: Option<String>,
    /// An image that serves MCP over HTTP itself.
    #[arg(long)]
    pub image: Option<String>,
    /// An argument to the package's command or the image's entrypoint (repeatable).
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// The image's transport: streamable-http (default) or sse.
    #[arg(long, value_parser = ["streamable-http", "sse"])]
    pub transport: Option<String>,
    /// The port it serves on (default 8000).
    #[arg(long)]
    pub port: Option<i32>,
    /// The HTTP path of its MCP endpoint (default /mcp, or /sse for SSE).
    #[arg(long)]
    pub path: Option<String>,
    /// Environment variables, NAME=VALUE (repeatable; reference secrets in a manifest instead).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Number of pods (default 1).
    #[arg(long)]
    pub replicas: Option<i32>,
    #[command(flatten)]
    pub common: Common,
}

pub async fn run(destination: Destination<'_>, mut args: McpServerArgs) -> anyhow::Result<ExitCode> {
    if args.uvx.is_none() && args.npx.is_none() && args.image.is_none() {
        if !interactive() {
            return Err(Explained(
                "say what runs: pass --uvx PACKAGE[@VERSION] (PyPI), --npx PACKAGE[@VERSION] (npm) or --image IMAGE; on a terminal, run it without flags for a wizard"
                    .into(),
            )
            .into());
        }
        wizard(&mut args)?;
    }
    Ok(submit::<MCPServer>(destination, manifest(&args), &args.common).await?.0)
}

/// `PACKAGE@VERSION` split at its last `@` (npm scopes start with one): `(package, version)`.
pub fn split_version(text: &str) -> (&str, Option<&str>) {
    match text.rfind('@') {
        Some(at) if at > 0 => (&text[..at], Some(&text[at + 1..])),
        _ => (text, None),
    }
}

pub fn manifest(args: &McpServerArgs) -> Value {
    let mut spec = Map::new();
    let package = |runtime: &str, text: &str| {
        let (name, version) = split_version(text);
        let mut package = json!({"runtime": runtime, "name": name});
        if let Some(version) = version {
            package["version"] = json!(version);
        }
        if !args.args.is_empty() {
            package["args"] = json!(args.args);
        }
        package
    };
    if let Some(text) = &args.uvx {
        spec.insert("package".into(), package("uvx", text));
    } else if let Some(text) = &args.npx {
        spec.insert("package".into(), package("npx", text));
    } else if let Some(image) = &args.image {
        spec.insert("image".into(), json!(image));
        if !args.args.is_empty() {
            spec.insert("args".into(), json!(args.args));
        }
    }
    let mut set = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            spec.insert(field.into(), value);
        }
    };
    set("transport", args.transport.clone().map(Value::from));
    set("port", args.port.map(Value::from));
    set("path", args.path.clone().map(Value::from));
    set("replicas", args.replicas.map(Value::from));
    set("env", (!args.env.is_empty()).then(|| env_entries(&args.env)));
    json!({
        "apiVersion": agents_api::API_VERSION,
        "kind": "MCPServer",
        "metadata": {"name": args.name},
        "spec": spec,
    })
}

/// Asks for what the flags did not say. Every question has a flag, so scripts never see it.
fn wizard(args: &mut McpServerArgs) -> anyhow::Result<()> {
    eprintln!(
        "Creating MCPServer {:?}. (Every answer has a flag: see `kubectl agents create mcpserver --help`.)",
        args.name
    );
    let sources = ["a PyPI package (uvx)", "an npm package (npx)", "an image serving MCP over HTTP"];
    let source = Select::new().with_prompt("Run").items(sources).default(0).interact()?;
    let ask = |prompt: &str| -> anyhow::Result<String> { Ok(Input::new().with_prompt(prompt).interact_text()?) };
    match source {
        0 => args.uvx = Some(ask("Package[@version], e.g. mcp-server-fetch@2025.4.7")?),
        1 => args.npx = Some(ask("Package[@version], e.g. @modelcontextprotocol/server-everything@2025.8.4")?),
        _ => args.image = Some(ask("Image")?),
    }
    if args.args.is_empty() {
        let text: String = Input::new()
            .with_prompt("Arguments, space-separated (empty for none)")
            .allow_empty(true)
            .interact_text()?;
        args.args = text.split_whitespace().map(String::from).collect();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_at_the_last_at_sign() {
        assert_eq!(split_version("mcp-server-fetch@2025.4.7"), ("mcp-server-fetch", Some("2025.4.7")));
        assert_eq!(split_version("@scope/server@1.0.0"), ("@scope/server", Some("1.0.0")));
        assert_eq!(split_version("@scope/server"), ("@scope/server", None));
        assert_eq!(split_version("plain"), ("plain", None));
    }

    #[test]
    fn a_package_server_carries_its_runtime_version_and_arguments() {
        let manifest = manifest(&McpServerArgs {
            name: "files".into(),
            npx: Some("@modelcontextprotocol/server-filesystem@2025.8.21".into()),
            args: vec!["/data".into()],
            ..Default::default()
        });
        assert_eq!(
            manifest["spec"],
            json!({"package": {"runtime": "npx", "name": "@modelcontextprotocol/server-filesystem", "version": "2025.8.21", "args": ["/data"]}})
        );
        let _: MCPServer = serde_json::from_value(manifest).expect("a valid MCPServer");
    }
}

//! The tools the model may call: those of the agent's MCP servers, and its peers (each peer is a
//! tool that sends it a message). [`Toolbox`] offers them and runs the calls.

pub mod mcp;
pub mod peers;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::metrics::Metrics;
use crate::model::ToolSpec;

/// What a tool returned, for the model to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub text: String,
    /// The tool ran and reported a failure (MCP's `isError`): the model reads it and may recover.
    pub is_error: bool,
}

/// A call that could not be made at all; it ends the task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    #[error("the model called a tool that does not exist: {0}")]
    Unknown(String),
    #[error("the model called {tool} with arguments that are not a JSON object: {why}")]
    Arguments { tool: String, why: String },
    #[error("tool {tool} of MCP server {server} could not be called: {why}")]
    Server { server: String, tool: String, why: String },
    #[error("peer agent {peer} could not answer: {why}")]
    Peer { peer: String, why: String },
}

/// The tools on offer, and running them.
pub trait Tools: Send + Sync {
    fn specs(&self) -> impl Future<Output = Vec<ToolSpec>> + Send;
    fn call(&self, name: &str, arguments: &str) -> impl Future<Output = Result<ToolOutput, ToolError>> + Send;
}

/// The agent's MCP servers (when tools are enabled) and peers (when delegation is).
pub struct Toolbox {
    pub servers: Vec<Arc<mcp::McpServer>>,
    pub peers: Vec<Arc<peers::Peer>>,
    pub metrics: Metrics,
}

/// Which server or peer a function name the model sees stands for.
enum Target {
    Tool { server: Arc<mcp::McpServer>, tool: String },
    Peer(Arc<peers::Peer>),
}

impl Toolbox {
    /// Every tool by the function name the model sees: a tool's own name, or
    /// `<server>__<tool>` when two servers (or a peer) would share it.
    async fn catalogue(&self) -> Vec<(ToolSpec, Target)> {
        let mut listed = Vec::new();
        for server in &self.servers {
            match server.tools().await {
                Ok(tools) => listed.extend(tools.into_iter().map(|tool| (server.clone(), tool))),
                // The task goes on without this server's tools; its log says why.
                Err(e) => tracing::warn!(server = %server.name, "no tools from MCP server: {e}"),
            }
        }
        let peer_names: Vec<String> = self.peers.iter().map(|p| p.tool_name()).collect();
        let mut seen: BTreeSet<String> = peer_names.iter().cloned().collect();
        let mut clashes = BTreeSet::new();
        for (_, tool) in &listed {
            if !seen.insert(function_name(&tool.name)) {
                clashes.insert(function_name(&tool.name));
            }
        }
        let mut catalogue: Vec<(ToolSpec, Target)> = listed
            .into_iter()
            .map(|(server, tool)| {
                let plain = function_name(&tool.name);
                let name = if clashes.contains(&plain) {
                    function_name(&format!("{}__{}", server.name, tool.name))
                } else {
                    plain
                };
                let spec =
                    ToolSpec { name, description: tool.description.clone(), parameters: tool.parameters.clone() };
                (spec, Target::Tool { server, tool: tool.name })
            })
            .collect();
        catalogue.extend(self.peers.iter().map(|peer| (peer.spec(), Target::Peer(peer.clone()))));
        catalogue
    }
}

impl Tools for Toolbox {
    async fn specs(&self) -> Vec<ToolSpec> {
        self.catalogue().await.into_iter().map(|(spec, _)| spec).collect()
    }

    async fn call(&self, name: &str, arguments: &str) -> Result<ToolOutput, ToolError> {
        let target = self.catalogue().await.into_iter().find(|(spec, _)| spec.name == name).map(|(_, target)| target);
        let arguments = parse_arguments(name, arguments)?;
        match target {
            Some(Target::Tool { server, tool }) => {
                let result = server.call(&tool, arguments).await;
                let status = match &result {
                    Ok(output) if output.is_error => "tool_error",
                    Ok(_) => "success",
                    Err(_) => "error",
                };
                self.metrics.tool_call(&server.name, &tool, status);
                result
            }
            Some(Target::Peer(peer)) => {
                let message = arguments.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
                let result = peer.ask(&message).await;
                self.metrics.delegation(&peer.name, if result.is_ok() { "success" } else { "error" });
                result.map(|text| ToolOutput { text, is_error: false })
            }
            None => Err(ToolError::Unknown(name.to_string())),
        }
    }
}

fn parse_arguments(tool: &str, arguments: &str) -> Result<Map<String, Value>, ToolError> {
    if arguments.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(arguments) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ToolError::Arguments { tool: tool.into(), why: format!("got {other}") }),
        Err(e) => Err(ToolError::Arguments { tool: tool.into(), why: e.to_string() }),
    }
}

/// A name the Chat Completions API accepts for a function: `^[a-zA-Z0-9_-]{1,64}$`.
pub fn function_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(64)
        .collect();
    if cleaned.is_empty() { "tool".into() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_what_the_chat_api_accepts() {
        assert_eq!(function_name("get_current_time"), "get_current_time");
        assert_eq!(function_name("files.read v2"), "files_read_v2");
        assert_eq!(function_name(&"x".repeat(80)).len(), 64);
        assert_eq!(function_name(""), "tool");
    }

    #[test]
    fn arguments_must_be_an_object() {
        assert_eq!(parse_arguments("t", "").unwrap(), Map::new());
        assert_eq!(parse_arguments("t", r#"{"a":1}"#).unwrap()["a"], 1);
        assert!(matches!(parse_arguments("t", "[1]"), Err(ToolError::Arguments { .. })));
        assert!(parse_arguments("t", "{oops").unwrap_err().to_string().contains("not a JSON object"));
    }
}

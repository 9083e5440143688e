//! One MCP server, reached over streamable HTTP with the official Rust SDK (rmcp): a session
//! opened on first use, its tools listed once per session, and a session that broke (the server
//! restarted) opened again once before a call fails.

use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::time::timeout;

use super::{ToolError, ToolOutput};

/// How long opening a session and listing the tools may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one tool call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// After a failed attempt to open a session, how long tasks go without this server's tools
/// before the next attempt (so a server that is down does not add its timeout to every question).
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// A tool as the server lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTool {
    pub name: String,
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

pub struct McpServer {
    pub name: String,
    url: String,
    http: reqwest::Client,
    session: Mutex<Option<Arc<Session>>>,
    /// The last failure to open a session, and when.
    failed: Mutex<Option<(Instant, String)>>,
}

struct Session {
    client: RunningService<RoleClient, ClientConfig>,
    tools: Vec<ListedTool>,
}

impl McpServer {
    pub fn new(name: String, url: String, http: reqwest::Client) -> Self {
        McpServer { name, url, http, session: Mutex::new(None), failed: Mutex::new(None) }
    }

    /// The server's tools (opening a session if none is open).
    pub async fn tools(&self) -> Result<Vec<ListedTool>, String> {
        Ok(self.session().await?.tools.clone())
    }

    pub async fn call(&self, tool: &str, arguments: Map<String, Value>) -> Result<ToolOutput, ToolError> {
        let failed = |why: String| ToolError::Server { server: self.name.clone(), tool: tool.into(), why };
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        let mut retried = false;
        loop {
            let session = self.session().await.map_err(failed)?;
            match timeout(CALL_TIMEOUT, session.client.call_tool(params.clone())).await {
                Ok(Ok(result)) => return Ok(output(result)),
                Ok(Err(ServiceError::McpError(error))) => return Err(failed(error.message.to_string())),
                Ok(Err(error)) if !retried => {
                    tracing::info!(server = %self.name, "MCP session broke ({error}); opening a new one");
                    self.forget(&session).await;
                    retried = true;
                }
                Ok(Err(error)) => return Err(failed(error.to_string())),
                Err(_) => return Err(failed(format!("no answer within {} seconds", CALL_TIMEOUT.as_secs()))),
            }
        }
    }

    async fn session(&self) -> Result<Arc<Session>, String> {
        let mut current = self.session.lock().await;
        if let Some(session) = current.as_ref().filter(|s| !s.client.is_closed()) {
            return Ok(session.clone());
        }
        let mut failed = self.failed.lock().await;
        if let Some((at, why)) = failed.as_ref().filter(|(at, _)| at.elapsed() < RETRY_AFTER) {
            let next = RETRY_AFTER.saturating_sub(at.elapsed()).as_secs();
            return Err(format!("{why} (the next attempt is in {next}s)"));
        }
        match self.connect().await {
            Ok(session) => {
                *failed = None;
                let session = Arc::new(session);
                *current = Some(session.clone());
                Ok(session)
            }
            Err(why) => {
                *failed = Some((Instant::now(), why.clone()));
                Err(why)
            }
        }
    }

    async fn forget(&self, broken: &Arc<Session>) {
        let mut current = self.session.lock().await;
        if current.as_ref().is_some_and(|s| Arc::ptr_eq(s, broken)) {
            *current = None;
        }
    }

    async fn connect(&self) -> Result<Session, String> {
        let transport = StreamableHttpClientTransport::with_client(
            self.http.clone(),
            StreamableHttpClientTransportConfig::with_uri(self.url.as_str()),
        );
        let info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("agents-runtime", env!("CARGO_PKG_VERSION")),
        );
        let opened = async {
            let client =
                info.serve(transport).await.map_err(|e| format!("could not open a session at {}: {e}", self.url))?;
            let tools = client.list_all_tools().await.map_err(|e| format!("could not list its tools: {e}"))?;
            Ok::<_, String>(Session { tools: tools.iter().map(listed).collect(), client })
        };
        let session = timeout(CONNECT_TIMEOUT, opened)
            .await
            .map_err(|_| format!("no answer from {} within {} seconds", self.url, CONNECT_TIMEOUT.as_secs()))??;
        tracing::info!(server = %self.name, tools = session.tools.len(), "MCP session open");
        Ok(session)
    }
}

fn listed(tool: &rmcp::model::Tool) -> ListedTool {
    ListedTool {
        name: tool.name.to_string(),
        description: tool.description.as_deref().or(tool.title.as_deref()).unwrap_or_default().to_string(),
        parameters: Value::Object((*tool.input_schema).clone()),
    }
}

/// The text the model reads: the text blocks, and other blocks as JSON.
fn output(result: CallToolResult) -> ToolOutput {
    let text: Vec<String> = result
        .content
        .iter()
        .map(|block| match block.as_text() {
            Some(text) => text.text.clone(),
            None => serde_json::to_string(block).unwrap_or_default(),
        })
        .collect();
    let text = if text.is_empty() {
        result.structured_content.as_ref().map(Value::to_string).unwrap_or_default()
    } else {
        text.join("\n")
    };
    ToolOutput { text, is_error: result.is_error.unwrap_or(false) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_is_down_is_not_asked_again_at_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server =
            McpServer::new("down".into(), format!("http://127.0.0.1:{port}/mcp"), crate::http_client().unwrap());
        let first = server.tools().await.unwrap_err();
        assert!(first.starts_with(&format!("could not open a session at http://127.0.0.1:{port}/mcp")), "{first}");
        let second = server.tools().await.unwrap_err();
        assert!(second.starts_with(&first) && second.contains("the next attempt is in"), "{second}");
        let failed = server.call("t", Map::new()).await.unwrap_err();
        assert!(matches!(failed, ToolError::Server { .. }), "{failed:?}");
    }
}

//! One MCP server, reached over streamable HTTP with the official Rust SDK (rmcp): a session
//! opened on first use, its tools listed once per session, and a session that broke (the server
//! restarted) opened again once before a call fails.

use std::time::Duration;

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
}

struct Session {
    client: RunningService<RoleClient, ClientConfig>,
    tools: Vec<ListedTool>,
}

impl McpServer {
    pub fn new(name: String, url: String, http: reqwest::Client) -> Self {
        McpServer { name, url, http, session: Mutex::new(None) }
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
        let session = Arc::new(self.connect().await?);
        *current = Some(session.clone());
        Ok(session)
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

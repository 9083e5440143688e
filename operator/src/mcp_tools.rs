//! Asks a running MCP server for its tools: `initialize`, `notifications/initialized`, then
//! `tools/list` (following `nextCursor`), over MCP's streamable HTTP transport. The answer is all
//! `status.tools` ever holds: the operator never guesses a server's tools.
//!
//! In a cluster the operator calls the server's Service by its DNS name. Out of a cluster (a
//! developer's operator, the tests) Service names do not resolve, so it calls a ready pod of the
//! server by its IP, which works where pod addresses are routable from the operator (the local
//! control plane's are on loopback). The API server's proxy is no way around that: it refuses to
//! proxy to loopback addresses, and it needs the broad `services/proxy` permission.

use std::time::Duration;

use agents_api::MCPServer;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

/// The MCP revision the operator speaks.
const PROTOCOL_VERSION: &str = "2025-06-18";
const SESSION_HEADER: &str = "mcp-session-id";
/// Each request's limit: a server that does not answer in time is asked again later.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Pages of `tools/list` followed at most.
const MAX_PAGES: u64 = 20;

/// Why the tools could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    #[error("could not reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}: {body}")]
    Http { url: String, status: StatusCode, body: String },
    #[error("{method} failed: {reason}")]
    Protocol { method: &'static str, reason: String },
}

/// Where requests go.
#[derive(Clone)]
enum Address {
    /// `http://NAME.NAMESPACE.svc:PORT/PATH`.
    Service,
    /// `http://POD_IP:PORT/PATH` of a ready pod, found with this client.
    Pod(kube::Client),
}

#[derive(Clone)]
pub struct ToolLister {
    http: HttpClient<HttpConnector, Full<Bytes>>,
    address: Address,
}

/// One HTTP answer, as much of it as MCP needs.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl ToolLister {
    /// Calls servers through their Services (the operator runs in the cluster).
    pub fn through_services() -> Self {
        ToolLister { http: HttpClient::builder(TokioExecutor::new()).build_http(), address: Address::Service }
    }

    /// Calls a ready pod of each server (the operator runs where pod addresses are routable).
    pub fn through_pods(client: kube::Client) -> Self {
        ToolLister { http: HttpClient::builder(TokioExecutor::new()).build_http(), address: Address::Pod(client) }
    }

    /// The sorted names of the server's tools.
    pub async fn list(&self, mcp: &MCPServer) -> Result<Vec<String>, ToolsError> {
        let url = self.url(mcp).await?;
        let initialize = json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "agents-operator", "version": env!("CARGO_PKG_VERSION")},
            },
        });
        let reply = self.post(&url, &initialize, None).await?;
        let session = reply.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(String::from);
        answer(&reply, 1, "initialize")?;
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.post(&url, &initialized, session.as_deref()).await?;
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for id in 2..2 + MAX_PAGES {
            let params = cursor.as_ref().map(|c| json!({"cursor": c})).unwrap_or_else(|| json!({}));
            let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": params});
            let result = answer(&self.post(&url, &request, session.as_deref()).await?, id, "tools/list")?;
            let page = result["tools"].as_array().ok_or_else(|| ToolsError::Protocol {
                method: "tools/list",
                reason: "the result has no tools list".into(),
            })?;
            tools.extend(page.iter().filter_map(|t| t["name"].as_str()).map(String::from));
            cursor = result["nextCursor"].as_str().filter(|c| !c.is_empty()).map(String::from);
            if cursor.is_none() {
                break;
            }
        }
        tools.sort();
        tools.dedup();
        Ok(tools)
    }

    async fn url(&self, mcp: &MCPServer) -> Result<String, ToolsError> {
        let path = agents_render::mcp_server::path(mcp);
        let (name, namespace, port) = (mcp.name_any(), mcp.namespace().unwrap_or_default(), mcp.spec.port);
        let host = match &self.address {
            Address::Service => format!("{name}.{namespace}.svc"),
            Address::Pod(client) => {
                let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
                let selector = format!("{}={name}", agents_render::labels::MCP_SERVER);
                let list = pods.list(&ListParams::default().labels(&selector)).await.map_err(|e| {
                    ToolsError::Unreachable { url: format!("the pods of {name}"), reason: e.to_string() }
                })?;
                list.items.iter().filter(|p| ready(p)).find_map(|p| p.status.as_ref()?.pod_ip.clone()).ok_or_else(
                    || ToolsError::Unreachable { url: format!("the pods of {name}"), reason: "none is ready".into() },
                )?
            }
        };
        Ok(format!("http://{host}:{port}{path}"))
    }

    async fn post(&self, url: &str, message: &Value, session: Option<&str>) -> Result<Reply, ToolsError> {
        let mut request = Request::post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION);
        if let Some(session) = session {
            request = request.header(SESSION_HEADER, session);
        }
        let body = serde_json::to_vec(message).expect("JSON values serialise");
        let unreachable = |reason: String| ToolsError::Unreachable { url: url.to_string(), reason };
        let exchange = async {
            let request = request.body(Full::new(Bytes::from(body))).map_err(|e| unreachable(e.to_string()))?;
            let response = self.http.request(request).await.map_err(|e| unreachable(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| unreachable(e.to_string()))?.to_bytes();
            Ok(Reply { status: parts.status, headers: parts.headers, body })
        };
        let reply = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {REQUEST_TIMEOUT:?}")))??;
        if !reply.status.is_success() {
            let body = String::from_utf8_lossy(&reply.body).chars().take(200).collect();
            return Err(ToolsError::Http { url: url.to_string(), status: reply.status, body });
        }
        Ok(reply)
    }
}

/// Whether the pod's `Ready` condition is true.
fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The `result` of the JSON-RPC response with `id`, from a JSON body or an SSE stream.
fn answer(reply: &Reply, id: u64, method: &'static str) -> Result<Value, ToolsError> {
    let protocol = |reason: String| ToolsError::Protocol { method, reason };
    let text = std::str::from_utf8(&reply.body).map_err(|_| protocol("the answer is not UTF-8".into()))?;
    let is_stream = reply
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let messages: Vec<Value> = if is_stream {
        sse_data(text).filter_map(|data| serde_json::from_str(&data).ok()).collect()
    } else {
        vec![serde_json::from_str(text).map_err(|e| protocol(format!("the answer is not JSON: {e}")))?]
    };
    let response = messages
        .into_iter()
        .find(|m| m["id"] == json!(id))
        .ok_or_else(|| protocol(format!("no response with id {id} in the answer")))?;
    if let Some(error) = response.get("error") {
        return Err(protocol(error["message"].as_str().unwrap_or("an error without a message").to_string()));
    }
    Ok(response["result"].clone())
}

/// The `data` of each event of a server-sent event stream (multi-line data joined by newlines).
fn sse_data(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split("\n\n").filter_map(|event| {
        let lines: Vec<&str> =
            event.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(content_type: &str, body: &str) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        Reply { status: StatusCode::OK, headers, body: Bytes::from(body.to_string()) }
    }

    #[test]
    fn answers_come_as_json_or_as_an_event_stream() {
        let json_reply = reply("application/json", r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"fetch"}]}}"#);
        assert_eq!(answer(&json_reply, 2, "tools/list").unwrap()["tools"][0]["name"], "fetch");
        let stream = reply(
            "text/event-stream",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n\
             event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\n\
             data: \"result\":{\"tools\":[{\"name\":\"search\"}]}}\n\n",
        );
        assert_eq!(answer(&stream, 2, "tools/list").unwrap()["tools"][0]["name"], "search");
    }

    #[test]
    fn errors_say_what_failed() {
        let error =
            reply("application/json", r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"bad version"}}"#);
        assert_eq!(answer(&error, 1, "initialize").unwrap_err().to_string(), "initialize failed: bad version");
        let other = reply("application/json", r#"{"jsonrpc":"2.0","id":7,"result":{}}"#);
        assert!(answer(&other, 1, "initialize").unwrap_err().to_string().contains("no response with id 1"));
        let html = reply("text/html", "<html>");
        assert!(answer(&html, 1, "initialize").unwrap_err().to_string().contains("not JSON"));
    }
}

//! agents-runtime: the reference agent. It reads the operator's environment contract and the
//! mounted `agent.yaml` ([`config`]), serves A2A ([`server`]), and answers each message with the
//! [`agentic_loop`]: its model ([`model`]) over an OpenAI-compatible Chat Completions API, the
//! tools of its MCP servers and its peer agents ([`tools`]), its conversations kept in bounded
//! memory ([`memory`]).

pub mod agent;
pub mod agentic_loop;
pub mod config;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod server;
pub mod tasks;
pub mod tools;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::chat::ChatClient;
use crate::tools::{Toolbox, Tools, mcp::McpServer, peers::Peer};

/// How long a stopping runtime waits for the tasks still running.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// Serves until SIGTERM or Ctrl-C, then finishes the requests and tasks in flight.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let http = http_client()?;
    let metrics = Metrics::new();
    let servers = if config.agentic_loop.enable_tools { config.mcp_servers.clone() } else { Default::default() };
    let peers = if config.agentic_loop.enable_delegation { config.peers.clone() } else { Default::default() };
    let toolbox = Toolbox {
        servers: servers.into_iter().map(|(name, url)| Arc::new(McpServer::new(name, url, http.clone()))).collect(),
        peers: peers.into_iter().map(|(name, url)| Arc::new(Peer::new(name, url, http.clone()))).collect(),
        metrics: metrics.clone(),
    };
    let model = ChatClient::new(config.model.clone(), http, metrics.clone());
    let listen = config.listen;
    tracing::info!(
        agent = %config.name, model = %config.model.name, endpoint = %config.model.chat_url,
        mcp_servers = toolbox.servers.len(), peers = toolbox.peers.len(), max_steps = config.agentic_loop.max_steps,
        "starting"
    );
    let tracker = TaskTracker::new();
    let app =
        Arc::new(server::App { agent: agent::Agent::new(config, model, toolbox), metrics, tracker: tracker.clone() });
    let listener = bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, "serving A2A, /health and /metrics");
    // Open the MCP sessions early, so the first question does not wait for them.
    let warm = app.clone();
    tracker.spawn(async move {
        warm.agent.tools().specs().await;
    });
    axum::serve(listener, server::router(app)).with_graceful_shutdown(stop_signal()).await.context("serving")?;
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait()).await.is_err() {
        tracing::warn!("stopping with tasks still running after {} seconds", DRAIN_TIMEOUT.as_secs());
    }
    tracing::info!("stopped");
    Ok(())
}

/// Listens on `address`; the default `[::]` falls back to `0.0.0.0` on a kernel without IPv6.
async fn bind(address: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => Ok(listener),
        Err(e) if address.ip() == std::net::Ipv6Addr::UNSPECIFIED => {
            let v4 = std::net::SocketAddr::from(([0, 0, 0, 0], address.port()));
            tracing::info!("cannot listen on {address} ({e}); listening on {v4}");
            tokio::net::TcpListener::bind(v4).await.with_context(|| format!("listening on {v4} (AGENT_PORT)"))
        }
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("listening on {address} (AGENT_PORT, AGENT_BIND_ADDRESS)")))
        }
    }
}

/// The client of the model, the peers and the MCP servers.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    // reqwest's rustls needs its crypto chosen (it panics otherwise): ring, as kube's. This
    // fails only when a provider is already installed, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("agents-runtime/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// SIGTERM (the kubelet stopping the pod) or Ctrl-C.
async fn stop_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("stopping: finishing the requests in flight");
}

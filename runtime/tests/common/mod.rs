//! What the runtime's integration tests share: a model server of the test's own on loopback, and
//! the runtime binary started against it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;

/// Serves `model` (routes for `/v1/chat/completions`) on a free loopback port; its base URL.
pub async fn serve_model(model: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, model).await.unwrap() });
    url
}

/// `agents-runtime` named `name`, on a free loopback port, calling the model at `model_url`;
/// killed when dropped.
pub struct Runtime {
    pub child: Child,
    pub base: String,
    pub client: reqwest::Client,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Runtime {
    /// Starts it (with `extra` variables besides the operator's few it needs) and waits until it serves.
    pub async fn start(name: &str, model_url: &str, extra: &[(&str, &str)]) -> Runtime {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_agents-runtime"))
            .env_clear()
            .envs([
                ("AGENT_NAME", name.to_string()),
                ("AGENT_PORT", port.to_string()),
                ("AGENT_BIND_ADDRESS", "127.0.0.1".into()),
                ("MODEL_NAME", "m".into()),
                ("MODEL_API_URL", model_url.to_string()),
            ])
            .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let runtime =
            Runtime { child, base: format!("http://127.0.0.1:{port}"), client: agents_runtime::http_client().unwrap() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while runtime.client.get(format!("{}/health", runtime.base)).send().await.is_err() {
            assert!(Instant::now() < deadline, "the runtime did not serve");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        runtime
    }
}

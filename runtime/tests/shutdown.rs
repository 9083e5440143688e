//! SIGTERM finishes what is in flight: a request the model is still answering completes, and
//! the process then exits 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish() {
    // A model that tells the test when a turn starts, and answers 1.5 s later.
    let (started, mut turn_started) = mpsc::unbounded_channel::<()>();
    let model = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let started = started.clone();
            async move {
                let _ = started.send(());
                tokio::time::sleep(Duration::from_millis(1500)).await;
                axum::Json(json!({"choices": [{"message": {"role": "assistant", "content": "done"}}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let model_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, model).await.unwrap() });

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut runtime = Command::new(env!("CARGO_BIN_EXE_agents-runtime"))
        .env_clear()
        .envs([
            ("AGENT_NAME", "slow".to_string()),
            ("AGENT_PORT", port.to_string()),
            ("AGENT_BIND_ADDRESS", "127.0.0.1".into()),
            ("MODEL_NAME", "m".into()),
            ("MODEL_API_URL", model_url),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = agents_runtime::http_client().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the runtime did not serve");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
        "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}});
    let answer = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move { client.post(&base).body(request.to_string()).send().await?.text().await }
    });
    tokio::time::timeout(Duration::from_secs(10), turn_started.recv()).await.expect("the model was called");
    kill(Pid::from_raw(runtime.id() as i32), Signal::SIGTERM).unwrap();

    let body: Value = serde_json::from_str(&answer.await.unwrap().expect("the request in flight is answered")).unwrap();
    assert_eq!(body["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED", "{body}");
    assert_eq!(body["result"]["task"]["artifacts"][0]["parts"][0]["text"], "done");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = runtime.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the runtime did not exit after its last request");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

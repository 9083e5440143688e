//! SIGTERM finishes what is in flight: a request the model is still answering completes, and
//! the process then exits 0.

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use common::Runtime;
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
    let mut runtime = Runtime::start("slow", &common::serve_model(model).await, &[]).await;
    let (client, base) = (runtime.client.clone(), runtime.base.clone());

    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
        "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}});
    let answer = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move { client.post(&base).body(request.to_string()).send().await?.text().await }
    });
    tokio::time::timeout(Duration::from_secs(10), turn_started.recv()).await.expect("the model was called");
    kill(Pid::from_raw(runtime.child.id() as i32), Signal::SIGTERM).unwrap();

    let body: Value = serde_json::from_str(&answer.await.unwrap().expect("the request in flight is answered")).unwrap();
    assert_eq!(body["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED", "{body}");
    assert_eq!(body["result"]["task"]["artifacts"][0]["parts"][0]["text"], "done");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = runtime.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the runtime did not exit after its last request");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

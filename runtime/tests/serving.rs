//! The runtime's HTTP surface, run as the binary on loopback with a model that echoes: the
//! JSON-RPC methods of both A2A versions and their errors, tasks kept for `GetTask`, and the
//! read-only memory endpoints.

mod common;

use axum::Router;
use axum::routing::post;
use common::Runtime;
use serde_json::{Value, json};

/// A model that echoes the last message, or answers 500 to one containing "break".
async fn start_model() -> String {
    let model = Router::new().route(
        "/v1/chat/completions",
        post(|body: String| async move {
            let request: Value = serde_json::from_str(&body).unwrap();
            let last = request["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
            if last.contains("break") {
                return (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"error": {"message": "boom"}})),
                );
            }
            let turns = request["messages"].as_array().unwrap().len();
            let answer = format!("echo: {last} ({turns} messages)");
            (
                axum::http::StatusCode::OK,
                axum::Json(json!({"choices": [{"message": {"role": "assistant", "content": answer}}]})),
            )
        }),
    );
    common::serve_model(model).await
}

async fn start(extra: &[(&str, &str)]) -> Runtime {
    Runtime::start("echo", &start_model().await, extra).await
}

impl Runtime {
    async fn call(&self, method: &str, params: Value, version: Option<&str>) -> Value {
        let mut request = self
            .client
            .post(format!("{}/", self.base))
            .body(json!({"jsonrpc": "2.0", "id": "r1", "method": method, "params": params}).to_string());
        if let Some(version) = version {
            request = request.header("A2A-Version", version);
        }
        serde_json::from_slice(&request.send().await.unwrap().bytes().await.unwrap()).unwrap()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

fn message(text: &str, context: Option<&str>, legacy: bool) -> Value {
    let mut message = if legacy {
        json!({"kind": "message", "messageId": "m1", "role": "user", "parts": [{"kind": "text", "text": text}]})
    } else {
        json!({"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": text}]})
    };
    if let Some(context) = context {
        message["contextId"] = context.into();
    }
    json!({"message": message})
}

#[tokio::test]
async fn each_version_is_answered_in_its_own_form() {
    let runtime = start(&[]).await;
    let current = runtime.call("SendMessage", message("hi", None, false), Some("1.0")).await;
    let task = &current["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{current}");
    assert_eq!(task["artifacts"][0]["parts"][0], json!({"text": "echo: hi (1 messages)"}));
    assert_eq!(task["history"][1]["role"], "ROLE_AGENT");

    // 0.3, as AgentWorkflow steps send it: the answer as a Message.
    let legacy = runtime.call("message/send", message("hi", None, true), None).await;
    assert_eq!(legacy["result"]["kind"], "message", "{legacy}");
    assert_eq!(legacy["result"]["parts"][0], json!({"kind": "text", "text": "echo: hi (1 messages)"}));
    // A failed task comes back as the task, with the reason in its status.
    let failed = runtime.call("message/send", message("break it", None, true), None).await;
    assert_eq!(failed["result"]["kind"], "task", "{failed}");
    assert_eq!(failed["result"]["status"]["state"], "failed");
    let reason = failed["result"]["status"]["message"]["parts"][0]["text"].as_str().unwrap();
    assert_eq!(reason, "the model endpoint answered 500: boom");

    // Tasks are kept for GetTask, in either version's form.
    let id = task["id"].as_str().unwrap();
    let got = runtime.call("tasks/get", json!({"id": id, "historyLength": 1}), None).await;
    assert_eq!(
        (got["result"]["status"]["state"].as_str(), got["result"]["history"].as_array().map(Vec::len)),
        (Some("completed"), Some(1))
    );
    let missing = runtime.call("GetTask", json!({"id": "nope"}), Some("1.0")).await;
    assert_eq!(missing["error"]["code"], -32001, "{missing}");
    assert_eq!(missing["error"]["data"][0]["reason"], "TASK_NOT_FOUND");
    let cancel = runtime.call("CancelTask", json!({"id": id}), Some("1.0")).await;
    assert_eq!(cancel["error"]["code"], -32002, "{cancel}");
}

#[tokio::test]
async fn bad_calls_get_json_rpc_errors_that_say_what_is_served() {
    let runtime = start(&[]).await;
    let unknown = runtime.call("agent/getAuthenticatedExtendedCard", json!({}), None).await;
    assert_eq!(unknown["error"]["code"], -32601);
    assert!(unknown["error"]["message"].as_str().unwrap().contains("SendMessage, SendStreamingMessage"));
    let future = runtime.call("SendMessage", message("hi", None, false), Some("2.0")).await;
    assert_eq!(future["error"]["code"], -32009, "{future}");
    let no_message = runtime.call("SendMessage", json!({"configuration": {}}), Some("1.0")).await;
    assert_eq!(no_message["error"]["code"], -32602, "{no_message}");
    let file_only = json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"url": "https://x/a.png"}]}});
    let nothing_to_read = runtime.call("SendStreamingMessage", file_only, Some("1.0")).await;
    assert_eq!(nothing_to_read["error"]["code"], -32602, "{nothing_to_read}");
    assert!(nothing_to_read["error"]["message"].as_str().unwrap().contains("the message has no text"));
    let response = runtime.client.post(format!("{}/", runtime.base)).body("{not json").send().await.unwrap();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], -32700);
}

#[tokio::test]
async fn conversations_are_kept_by_context_and_shown_only_when_asked() {
    let hidden = start(&[]).await;
    assert_eq!(hidden.get("/memory").await.0, 404);

    let runtime = start(&[("AGENT_DEBUG_MEMORY_ENDPOINTS", "true")]).await;
    let first = runtime.call("SendMessage", message("one", Some("ctx-1"), false), Some("1.0")).await;
    assert_eq!(first["result"]["task"]["contextId"], "ctx-1");
    let second = runtime.call("SendMessage", message("two", Some("ctx-1"), false), Some("1.0")).await;
    // The model saw the first exchange: question, answer, then the new question.
    assert_eq!(second["result"]["task"]["artifacts"][0]["parts"][0]["text"], "echo: two (3 messages)");
    let (status, contexts) = runtime.get("/memory").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&contexts).unwrap(),
        json!({"contexts": [{"contextId": "ctx-1", "messages": 4}]})
    );
    let (_, conversation) = runtime.get("/memory/ctx-1").await;
    let conversation: Value = serde_json::from_str(&conversation).unwrap();
    assert_eq!(conversation["messages"][0], json!({"role": "user", "content": "one"}));
    assert_eq!(runtime.get("/memory/unknown").await.0, 404);
    // Read-only.
    let written = runtime.client.post(format!("{}/memory/ctx-1", runtime.base)).body("{}").send().await.unwrap();
    assert_eq!(written.status().as_u16(), 405);
}

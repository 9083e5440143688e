//! JSON-RPC 2.0 framing: requests, results and A2A's errors.

use serde_json::{Value, json};

use crate::Version;

/// A call as a server receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The caller's id, echoed in the response (`null` when the request had none or could not be read).
    pub id: Value,
    pub method: String,
    pub params: Value,
}

impl Request {
    /// Reads a request body. A body that is not a JSON-RPC 2.0 request is an error to send back
    /// as it is, with the id when one could be read.
    pub fn parse(body: &[u8]) -> Result<Request, (Value, RpcError)> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| (Value::Null, RpcError::new(PARSE_ERROR, format!("the body is not JSON: {e}"))))?;
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        let invalid = |why: &str| (id.clone(), RpcError::new(INVALID_REQUEST, why.to_string()));
        if value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(invalid("not a JSON-RPC 2.0 request: \"jsonrpc\": \"2.0\" is missing"));
        }
        let method = value.get("method").and_then(Value::as_str).ok_or_else(|| invalid("the request has no method"))?;
        Ok(Request { method: method.to_string(), params: value.get("params").cloned().unwrap_or(Value::Null), id })
    }
}

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
pub const TASK_NOT_FOUND: i64 = -32001;
pub const TASK_NOT_CANCELABLE: i64 = -32002;
pub const UNSUPPORTED_OPERATION: i64 = -32004;
pub const VERSION_NOT_SUPPORTED: i64 = -32009;

/// A JSON-RPC error: its code and a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (JSON-RPC error {code})")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError { code, message: message.into() }
    }

    /// A2A's name of the error, as 1.0 reports it in `google.rpc.ErrorInfo`.
    fn reason(&self) -> Option<&'static str> {
        Some(match self.code {
            TASK_NOT_FOUND => "TASK_NOT_FOUND",
            TASK_NOT_CANCELABLE => "TASK_NOT_CANCELABLE",
            UNSUPPORTED_OPERATION => "UNSUPPORTED_OPERATION",
            VERSION_NOT_SUPPORTED => "VERSION_NOT_SUPPORTED",
            _ => return None,
        })
    }
}

/// A successful response.
pub fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error response; 1.0 adds the A2A reason as an `ErrorInfo` detail.
pub fn error(id: &Value, error: &RpcError, version: Version) -> Value {
    let mut body = json!({"code": error.code, "message": error.message});
    if let (Version::V1_0, Some(reason)) = (version, error.reason()) {
        body["data"] = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "a2a-protocol.org"}]);
    }
    json!({"jsonrpc": "2.0", "id": id, "error": body})
}

/// A request, as a client sends it.
pub fn call(id: &str, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// What a response carries: its result, or its error.
pub fn read_response(response: Value) -> Result<Value, ResponseError> {
    match response {
        Value::Object(mut object) => {
            if let Some(error) = object.remove("error").filter(|e| !e.is_null()) {
                let code = error.get("code").and_then(Value::as_i64).unwrap_or(INTERNAL_ERROR);
                let message = error.get("message").and_then(Value::as_str).unwrap_or("no message").to_string();
                return Err(ResponseError::Rpc(RpcError { code, message }));
            }
            object.remove("result").ok_or(ResponseError::NotJsonRpc("it has neither a result nor an error"))
        }
        _ => Err(ResponseError::NotJsonRpc("it is not a JSON object")),
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResponseError {
    #[error("the agent answered with an error: {0}")]
    Rpc(RpcError),
    #[error("the answer is not a JSON-RPC response: {0}")]
    NotJsonRpc(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_read_with_its_id() {
        let request =
            Request::parse(br#"{"jsonrpc":"2.0","id":"r1","method":"SendMessage","params":{"a":1}}"#).unwrap();
        assert_eq!(
            (request.id, request.method.as_str(), request.params),
            (json!("r1"), "SendMessage", json!({"a": 1}))
        );
    }

    #[test]
    fn bodies_that_are_not_requests_get_the_standard_codes() {
        assert_eq!(Request::parse(b"{oops").unwrap_err().1.code, PARSE_ERROR);
        let (id, error) = Request::parse(br#"{"id":7,"method":"SendMessage"}"#).unwrap_err();
        assert_eq!((id, error.code), (json!(7), INVALID_REQUEST));
        assert_eq!(Request::parse(br#"{"jsonrpc":"2.0","id":7}"#).unwrap_err().1.code, INVALID_REQUEST);
    }

    #[test]
    fn errors_carry_a2a_reasons_only_in_1_0() {
        let missing = RpcError::new(TASK_NOT_FOUND, "no task t1");
        let current = error(&json!(1), &missing, Version::V1_0);
        assert_eq!(current["error"]["data"][0]["reason"], "TASK_NOT_FOUND");
        assert!(error(&json!(1), &missing, Version::V0_3)["error"].get("data").is_none());
    }

    #[test]
    fn responses_give_their_result_or_their_error() {
        assert_eq!(read_response(result(&json!(1), json!({"x": 1}))), Ok(json!({"x": 1})));
        let failed = read_response(error(&json!(1), &RpcError::new(METHOD_NOT_FOUND, "no"), Version::V0_3));
        assert_eq!(failed, Err(ResponseError::Rpc(RpcError::new(METHOD_NOT_FOUND, "no"))));
        assert!(matches!(read_response(json!([1])), Err(ResponseError::NotJsonRpc(_))));
    }
}

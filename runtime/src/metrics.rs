//! The runtime's Prometheus metrics, named as seed 002's dashboards and alerts read them:
//! `llm_requests_total{model,status}`, `llm_request_duration_seconds{model}`,
//! `llm_tokens_total{model,type}`; and the agent's own work: tool calls, delegations, A2A requests,
//! and the tasks it answered (how they ended and how long they took: what its callers see).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::model::Turn;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelStatusLabels {
    model: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    model: String,
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    server: String,
    tool: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    peer: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    status: &'static str,
}

struct Inner {
    registry: Registry,
    model_requests: Family<ModelStatusLabels, Counter>,
    model_duration: Family<ModelLabels, Histogram>,
    tokens: Family<TokenLabels, Counter>,
    tool_calls: Family<ToolLabels, Counter>,
    delegations: Family<PeerLabels, Counter>,
    a2a_requests: Family<RequestLabels, Counter>,
    tasks: Family<TaskLabels, Counter>,
    task_duration: Histogram,
}

/// Shared by every part of the runtime; cloning is cheap.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let model_requests = Family::<ModelStatusLabels, Counter>::default();
        let model_duration = Family::<ModelLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0])
        });
        let tokens = Family::<TokenLabels, Counter>::default();
        let tool_calls = Family::<ToolLabels, Counter>::default();
        let delegations = Family::<PeerLabels, Counter>::default();
        let a2a_requests = Family::<RequestLabels, Counter>::default();
        let tasks = Family::<TaskLabels, Counter>::default();
        let task_duration = Histogram::new([0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0]);
        registry.register(
            "llm_requests",
            "Model requests, by model and status (success, error)",
            model_requests.clone(),
        );
        registry.register(
            "llm_request_duration_seconds",
            "Time a model request took, to its last chunk",
            model_duration.clone(),
        );
        registry.register(
            "llm_tokens",
            "Tokens the model reported, by model and type (prompt, completion)",
            tokens.clone(),
        );
        registry.register(
            "agent_tool_calls",
            "MCP tool calls, by server, tool and status (success, tool_error: the tool reported a failure, error: it could not be called)",
            tool_calls.clone(),
        );
        registry.register("agent_delegations", "Messages sent to peer agents, by peer and status", delegations.clone());
        registry.register(
            "a2a_requests",
            "A2A JSON-RPC requests, by method and status (ok, error)",
            a2a_requests.clone(),
        );
        registry.register(
            "agent_tasks",
            "Messages answered (A2A tasks), by how they ended (completed, failed: the model, a tool or the step limit failed it)",
            tasks.clone(),
        );
        registry.register(
            "agent_task_duration_seconds",
            "Time from a message to its task's end, every model turn and tool call included",
            task_duration.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            model_requests,
            model_duration,
            tokens,
            tool_calls,
            delegations,
            a2a_requests,
            tasks,
            task_duration,
        }))
    }

    /// A model request that took `took`: its turn when it succeeded.
    pub fn model_request(&self, model: &str, turn: Option<&Turn>, took: Duration) {
        let status = if turn.is_some() { "success" } else { "error" };
        self.0.model_requests.get_or_create(&ModelStatusLabels { model: model.into(), status }).inc();
        self.0.model_duration.get_or_create(&ModelLabels { model: model.into() }).observe(took.as_secs_f64());
        if let Some(usage) = turn.and_then(|t| t.usage) {
            let add = |r#type, n| {
                self.0.tokens.get_or_create(&TokenLabels { model: model.into(), r#type }).inc_by(n);
            };
            add("prompt", usage.prompt_tokens);
            add("completion", usage.completion_tokens);
        }
    }

    pub fn tool_call(&self, server: &str, tool: &str, status: &'static str) {
        self.0.tool_calls.get_or_create(&ToolLabels { server: server.into(), tool: tool.into(), status }).inc();
    }

    pub fn delegation(&self, peer: &str, status: &'static str) {
        self.0.delegations.get_or_create(&PeerLabels { peer: peer.into(), status }).inc();
    }

    pub fn a2a_request(&self, method: &'static str, ok: bool) {
        self.0.a2a_requests.get_or_create(&RequestLabels { method, status: if ok { "ok" } else { "error" } }).inc();
    }

    /// A task that ended, `completed` or failed, `took` after its message arrived.
    pub fn task(&self, completed: bool, took: Duration) {
        let status = if completed { "completed" } else { "failed" };
        self.0.tasks.get_or_create(&TaskLabels { status }).inc();
        self.0.task_duration.observe(took.as_secs_f64());
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.0.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Usage;

    #[test]
    fn model_requests_count_tokens_by_type() {
        let metrics = Metrics::new();
        let turn = Turn { usage: Some(Usage { prompt_tokens: 12, completion_tokens: 7 }), ..Default::default() };
        metrics.model_request("gpt-4o", Some(&turn), Duration::from_millis(30));
        metrics.model_request("gpt-4o", None, Duration::from_millis(5));
        metrics.tool_call("time", "get_current_time", "success");
        metrics.a2a_request("SendMessage", true);
        metrics.task(true, Duration::from_millis(40));
        metrics.task(false, Duration::from_millis(7));
        let text = metrics.render();
        for line in [
            r#"llm_requests_total{model="gpt-4o",status="success"} 1"#,
            r#"llm_requests_total{model="gpt-4o",status="error"} 1"#,
            r#"llm_tokens_total{model="gpt-4o",type="prompt"} 12"#,
            r#"llm_tokens_total{model="gpt-4o",type="completion"} 7"#,
            r#"llm_request_duration_seconds_count{model="gpt-4o"} 2"#,
            r#"agent_tool_calls_total{server="time",tool="get_current_time",status="success"} 1"#,
            r#"a2a_requests_total{method="SendMessage",status="ok"} 1"#,
            r#"agent_tasks_total{status="completed"} 1"#,
            r#"agent_tasks_total{status="failed"} 1"#,
            r#"agent_task_duration_seconds_count 2"#,
            r#"agent_task_duration_seconds_bucket{le="0.1"} 2"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    /// prometheus-client leaves out a family with no samples, so before any message only the task
    /// histogram is exported: the dashboards find agents by it (`agent_task_duration_seconds_count`).
    #[test]
    fn the_task_histogram_is_exported_before_any_message() {
        let text = Metrics::new().render();
        assert!(text.contains("# TYPE agent_task_duration_seconds histogram\n"), "{text}");
        assert!(text.contains("agent_task_duration_seconds_count 0\n"), "{text}");
        for family in
            ["llm_requests", "llm_tokens", "agent_tool_calls", "agent_delegations", "a2a_requests", "agent_tasks"]
        {
            assert!(!text.contains(&format!("# TYPE {family} ")), "{family} listed with no sample:\n{text}");
        }
    }
}

//! The Agent's ConfigMap: one `agent.yaml` with everything the spec says about the agent except
//! secrets (those reach the pod as `secretKeyRef` env only).

use agents_api::Agent;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value, json};

/// Where the ConfigMap is mounted in the agent's container.
pub const MOUNT_PATH: &str = "/etc/agent";
/// The file inside it.
pub const FILE: &str = "agent.yaml";

pub fn config_map(agent: &Agent, meta: ObjectMeta) -> ConfigMap {
    ConfigMap { metadata: meta, data: Some([(FILE.to_string(), document(agent))].into()), ..Default::default() }
}

/// `agent.yaml`: null and empty fields are left out, so the file shows only what was set.
fn document(agent: &Agent) -> String {
    let spec = &agent.spec;
    let model = spec.model.as_ref().map(|m| {
        json!({
            "provider": m.provider,
            "name": m.name,
            "maxTokens": m.max_tokens,
            "temperature": m.temperature,
            "modelAPI": m.model_api_ref.as_ref().map(|r| &r.name),
        })
    });
    let document = json!({
        "name": agent.metadata.name,
        "description": spec.description,
        "type": spec.agent_type,
        "instructions": spec.instructions,
        "model": model,
        "agenticLoop": spec.agentic_loop,
        "features": spec.features,
        "mcpServers": spec.mcp_servers.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "peers": spec.peers.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "port": spec.port,
        "config": spec.config,
    });
    serde_norway::to_string(&prune(document)).expect("JSON values serialise to YAML")
}

fn prune(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(k, v)| (k, prune(v))).filter(|(_, v)| !is_empty(v)).collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fixtures::agent;

    #[test]
    fn the_file_holds_the_spec_without_secrets() {
        let agent = agent(
            "image: a:1\nmodel: {provider: openai, name: gpt-4o, temperature: 0.5, apiKeySecretRef: {name: openai, key: api-key}}\n\
             instructions: Be brief.\nfeatures: {reflection: true}\nconfig: {memory: {kind: local}}\n",
        );
        let text = document(&agent);
        let parsed: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(parsed["model"]["name"], "gpt-4o");
        assert_eq!(parsed["instructions"], "Be brief.");
        assert_eq!(parsed["features"]["reflection"], true);
        assert_eq!(parsed["config"]["memory"]["kind"], "local");
        assert!(!text.contains("api-key") && !text.contains("apiKeySecretRef"), "{text}");
        assert!(parsed.get("description").is_none(), "unset fields are left out: {text}");
    }
}

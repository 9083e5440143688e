//! The agent container's environment (seed 001's mapping, documented in docs/api/agent.md).

use agents_api::{Agent, SecretKeyRef};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, SecretKeySelector};

use super::config::{FILE, MOUNT_PATH};
use super::{AGENT_CARD_PATH, Dependencies};

fn literal(name: &str, value: impl ToString) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.to_string()), ..Default::default() }
}

fn from(name: &str, source: EnvVarSource) -> EnvVar {
    EnvVar { name: name.into(), value_from: Some(source), ..Default::default() }
}

/// A variable read from a Secret by the kubelet: the value is never copied.
fn secret(name: &str, key: &SecretKeyRef) -> EnvVar {
    from(
        name,
        EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: key.name.clone(),
                key: key.key.clone(),
                optional: Some(false),
            }),
            ..Default::default()
        },
    )
}

/// `PEER_AGENT_<NAME>_CARD_URL` for a peer: upper case, `-` becomes `_`.
pub fn peer_card_variable(peer: &str) -> String {
    format!("PEER_AGENT_{}_CARD_URL", peer.to_uppercase().replace('-', "_"))
}

pub fn env(agent: &Agent, dependencies: &Dependencies) -> Vec<EnvVar> {
    let spec = &agent.spec;
    let mut env = vec![
        literal("AGENT_NAME", agent.metadata.name.as_deref().unwrap_or_default()),
        from(
            "AGENT_NAMESPACE",
            EnvVarSource {
                field_ref: Some(ObjectFieldSelector { field_path: "metadata.namespace".into(), ..Default::default() }),
                ..Default::default()
            },
        ),
        literal("AGENT_PORT", spec.port),
        literal("AGENT_CONFIG_FILE", format!("{MOUNT_PATH}/{FILE}")),
    ];
    let optional = [
        ("AGENT_DESCRIPTION", spec.description.clone()),
        ("AGENT_TYPE", spec.agent_type.clone()),
        ("AGENT_INSTRUCTIONS", spec.instructions.clone()),
    ];
    env.extend(optional.into_iter().filter_map(|(k, v)| Some(literal(k, v?))));
    if let Some(model) = &spec.model {
        env.extend(model.provider.as_ref().map(|p| literal("MODEL_PROVIDER", p)));
        env.push(literal("MODEL_NAME", &model.name));
        env.extend(model.max_tokens.map(|t| literal("MODEL_MAX_TOKENS", t)));
        env.extend(model.temperature.map(|t| literal("MODEL_TEMPERATURE", t)));
        env.extend(model.api_key_secret_ref.as_ref().map(|key| secret("MODEL_API_KEY", key)));
    }
    env.extend(dependencies.model_api_url().map(|url| literal("MODEL_API_URL", url)));
    // The key the ModelAPI asks callers for: an External endpoint's or a Proxy's master key (the
    // schema forbids a key of the Agent's own with a modelAPIRef).
    env.extend(
        dependencies.model_api_url().and(dependencies.model_api_key.as_ref()).map(|key| secret("MODEL_API_KEY", key)),
    );
    if let Some(agentic) = &spec.agentic_loop {
        env.extend(agentic.max_steps.map(|n| literal("AGENTIC_LOOP_MAX_STEPS", n)));
        env.extend(agentic.enable_tools.map(|b| literal("AGENTIC_LOOP_ENABLE_TOOLS", b)));
        env.extend(agentic.enable_delegation.map(|b| literal("AGENTIC_LOOP_ENABLE_DELEGATION", b)));
    }
    let enabled: Vec<&str> = spec.features.iter().filter(|(_, on)| **on).map(|(f, _)| f.as_str()).collect();
    if !enabled.is_empty() {
        env.push(literal("AGENT_FEATURES", enabled.join(",")));
    }
    let mcp: serde_json::Map<String, serde_json::Value> = dependencies
        .mcp_servers
        .iter()
        .filter_map(|(name, d)| match d {
            super::Dependency::Ready(url) => Some((name.clone(), url.clone().into())),
            _ => None,
        })
        .collect();
    if !mcp.is_empty() {
        env.push(literal("MCP_SERVERS", serde_json::Value::Object(mcp)));
    }
    let peers: Vec<(&String, &String)> = dependencies
        .peers
        .iter()
        .filter_map(|(name, d)| match d {
            super::Dependency::Ready(url) => Some((name, url)),
            _ => None,
        })
        .collect();
    if !peers.is_empty() {
        let names: Vec<&str> = peers.iter().map(|(n, _)| n.as_str()).collect();
        env.push(literal("PEER_AGENTS", names.join(",")));
        env.extend(
            peers.iter().map(|(name, url)| literal(&peer_card_variable(name), format!("{url}{AGENT_CARD_PATH}"))),
        );
    }
    // The user's variables come last and replace the operator's of the same name (server-side
    // apply rejects a list with two entries of one name).
    env.retain(|ours| !spec.env.iter().any(|theirs| theirs.name == ours.name));
    env.extend(spec.env.iter().cloned());
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Dependency;
    use crate::agent::fixtures::agent;

    fn value<'a>(env: &'a [EnvVar], name: &str) -> Option<&'a str> {
        env.iter().find(|e| e.name == name).and_then(|e| e.value.as_deref())
    }

    #[test]
    fn spec_fields_map_to_variables() {
        let agent = agent(
            "image: a:1\ndescription: Finds papers\ninstructions: Be brief.\n\
             model: {provider: anthropic, name: claude, maxTokens: 4096, temperature: 0.7}\n\
             agenticLoop: {maxSteps: 5, enableTools: true, enableDelegation: false}\n\
             features: {reflection: true, memory: false, toolSelection: true}\n",
        );
        let env = env(&agent, &Dependencies::default());
        assert_eq!(value(&env, "AGENT_NAME"), Some("research"));
        assert_eq!(value(&env, "AGENT_DESCRIPTION"), Some("Finds papers"));
        assert_eq!(value(&env, "AGENT_INSTRUCTIONS"), Some("Be brief."));
        assert_eq!(value(&env, "MODEL_PROVIDER"), Some("anthropic"));
        assert_eq!(value(&env, "MODEL_NAME"), Some("claude"));
        assert_eq!(value(&env, "MODEL_MAX_TOKENS"), Some("4096"));
        assert_eq!(value(&env, "MODEL_TEMPERATURE"), Some("0.7"));
        assert_eq!(value(&env, "AGENTIC_LOOP_MAX_STEPS"), Some("5"));
        assert_eq!(value(&env, "AGENTIC_LOOP_ENABLE_TOOLS"), Some("true"));
        assert_eq!(value(&env, "AGENTIC_LOOP_ENABLE_DELEGATION"), Some("false"));
        assert_eq!(value(&env, "AGENT_FEATURES"), Some("reflection,toolSelection"));
        assert_eq!(value(&env, "AGENT_CONFIG_FILE"), Some("/etc/agent/agent.yaml"));
        assert!(value(&env, "MODEL_API_KEY").is_none());
    }

    #[test]
    fn the_api_key_is_a_secret_reference_never_a_value() {
        let agent = agent("image: a:1\nmodel: {name: m, apiKeySecretRef: {name: openai, key: api-key}}\n");
        let env = env(&agent, &Dependencies::default());
        let key = env.iter().find(|e| e.name == "MODEL_API_KEY").unwrap();
        assert!(key.value.is_none());
        let selector = key.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
        assert_eq!((selector.name.as_str(), selector.key.as_str()), ("openai", "api-key"));
    }

    #[test]
    fn the_model_apis_key_reaches_the_pod_as_a_secret_reference_once_it_serves() {
        let agent = agent("model: {name: smart, modelAPIRef: {name: gw}}\n");
        let master = SecretKeyRef { name: "gw-master".into(), key: "key".into() };
        let deps = |state: Dependency| Dependencies {
            model_api: Some(("gw".into(), state)),
            model_api_key: Some(master.clone()),
            ..Default::default()
        };
        let serving = env(&agent, &deps(Dependency::Ready("http://gw.team-a.svc.cluster.local:8000".into())));
        let key = serving.iter().find(|e| e.name == "MODEL_API_KEY").expect("MODEL_API_KEY");
        assert_eq!(key.value, None);
        let selector = key.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
        assert_eq!(
            (selector.name.as_str(), selector.key.as_str(), selector.optional),
            ("gw-master", "key", Some(false))
        );
        let waiting = env(&agent, &deps(Dependency::NotReady("it is not serving".into())));
        assert!(waiting.iter().all(|e| e.name != "MODEL_API_KEY"));
    }

    #[test]
    fn resolved_dependencies_become_urls() {
        let agent = agent("image: a:1\npeers: [{name: writer-bot}]\nmcpServers: [{name: github}]\n");
        let deps = Dependencies {
            model_api: Some(("gw".into(), Dependency::Ready("http://gw.team-a.svc.cluster.local:8000".into()))),
            mcp_servers: [(
                "github".to_string(),
                Dependency::Ready("http://github.team-a.svc.cluster.local/mcp".into()),
            )]
            .into(),
            peers: [("writer-bot".to_string(), Dependency::Ready("http://writer-bot.team-a.svc.cluster.local".into()))]
                .into(),
            ..Default::default()
        };
        let env = env(&agent, &deps);
        assert_eq!(value(&env, "MODEL_API_URL"), Some("http://gw.team-a.svc.cluster.local:8000"));
        assert_eq!(value(&env, "MCP_SERVERS"), Some(r#"{"github":"http://github.team-a.svc.cluster.local/mcp"}"#));
        assert_eq!(value(&env, "PEER_AGENTS"), Some("writer-bot"));
        assert_eq!(
            value(&env, "PEER_AGENT_WRITER_BOT_CARD_URL"),
            Some("http://writer-bot.team-a.svc.cluster.local/.well-known/agent-card.json")
        );
    }

    #[test]
    fn user_variables_replace_the_operators_own() {
        let agent = agent(
            "image: a:1\nmodel: {name: m}\nenv: [{name: MODEL_NAME, value: override}, {name: EXTRA, value: x}]\n",
        );
        let env = env(&agent, &Dependencies::default());
        assert_eq!(env.iter().filter(|e| e.name == "MODEL_NAME").count(), 1);
        assert_eq!(value(&env, "MODEL_NAME"), Some("override"));
        assert_eq!(env.last().map(|e| e.name.as_str()), Some("EXTRA"));
    }
}

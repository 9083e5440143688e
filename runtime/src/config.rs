//! What the runtime is told: the operator's environment contract (docs/api/agent.md) and the
//! mounted `agent.yaml`. Read once at start by a pure function, so every rule is unit-tested.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use agents_a2a::card::Skill;
use serde::Deserialize;

/// Everything the runtime needs, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub name: String,
    pub namespace: Option<String>,
    pub description: Option<String>,
    pub agent_type: Option<String>,
    pub instructions: Option<String>,
    pub listen: SocketAddr,
    pub model: ModelConfig,
    pub agentic_loop: LoopConfig,
    /// MCP servers by name: their streamable-HTTP URLs.
    pub mcp_servers: BTreeMap<String, String>,
    /// Peer agents by name: their agent card URLs.
    pub peers: BTreeMap<String, String>,
    pub skills: Vec<Skill>,
    pub memory: MemoryConfig,
}

#[derive(Clone, PartialEq)]
pub struct ModelConfig {
    pub name: String,
    /// The Chat Completions URL.
    pub chat_url: String,
    /// Sent as a bearer token. Never printed: `Debug` hides it.
    pub api_key: Option<String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
}

impl std::fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelConfig")
            .field("name", &self.name)
            .field("chat_url", &self.chat_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<from MODEL_API_KEY>"))
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopConfig {
    /// Most model turns for one message.
    pub max_steps: u32,
    pub enable_tools: bool,
    pub enable_delegation: bool,
}

/// Defaults when the Agent leaves `agenticLoop` unset (KAOS's, seed 001).
pub const DEFAULT_MAX_STEPS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Conversations kept (by A2A `contextId`); the least recently used is dropped first.
    pub contexts: usize,
    /// Messages kept per conversation; the oldest are dropped first.
    pub messages: usize,
    /// Whether `/memory` serves the conversations read-only (`AGENT_DEBUG_MEMORY_ENDPOINTS`).
    pub debug_endpoints: bool,
}

/// OpenAI-compatible endpoints of the providers the runtime calls directly (without a ModelAPI).
pub const PROVIDER_ENDPOINTS: &[(&str, &str)] = &[
    ("openai", "https://api.openai.com/v1"),
    ("anthropic", "https://api.anthropic.com/v1"),
    ("google", "https://generativelanguage.googleapis.com/v1beta/openai"),
    ("mistral", "https://api.mistral.ai/v1"),
    ("groq", "https://api.groq.com/openai/v1"),
    ("deepseek", "https://api.deepseek.com/v1"),
    ("openrouter", "https://openrouter.ai/api/v1"),
];

/// A setting the runtime cannot start with. The message names the variable and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
    #[error("{variable} is {value:?}: {expected}")]
    Invalid { variable: String, value: String, expected: &'static str },
    #[error("{0}")]
    Model(String),
    #[error("the configuration file {path} cannot be used: {why}")]
    File { path: String, why: String },
}

/// The parts of `agent.yaml` the runtime reads (the rest of it repeats the environment).
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: FreeForm,
}

/// `spec.config`, as given. The runtime reads `skills` (the card's) and `memory`.
#[derive(Debug, Default, Deserialize)]
struct FreeForm {
    #[serde(default)]
    skills: Option<Vec<Skill>>,
    #[serde(default)]
    memory: Option<MemoryFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemoryFile {
    max_contexts: Option<usize>,
    max_messages: Option<usize>,
}

impl Config {
    /// Reads the configuration from the environment (`var`) and the text of `AGENT_CONFIG_FILE`
    /// (`file`, `None` when the variable is unset).
    pub fn from_sources(var: impl Fn(&str) -> Option<String>, file: Option<&str>) -> Result<Config, ConfigError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let name =
            var("AGENT_NAME").ok_or(ConfigError::Missing("AGENT_NAME", "the operator sets it to the Agent's name"))?;
        let file: ConfigFile = match file {
            Some(text) => serde_norway::from_str(text).map_err(|e| ConfigError::File {
                path: var("AGENT_CONFIG_FILE").unwrap_or_default(),
                why: e.to_string(),
            })?,
            None => ConfigFile::default(),
        };
        let port: u16 = parse(&var, "AGENT_PORT", "a port number from 1 to 65535")?.unwrap_or(8000);
        let host: IpAddr = parse(&var, "AGENT_BIND_ADDRESS", "an IP address such as 0.0.0.0")?
            .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        let description = var("AGENT_DESCRIPTION");
        let agent_type = var("AGENT_TYPE");
        let memory = file.config.memory.unwrap_or_default();
        Ok(Config {
            model: model(&var)?,
            agentic_loop: LoopConfig {
                max_steps: parse(&var, "AGENTIC_LOOP_MAX_STEPS", "a number of steps from 1 to 1000")?
                    .filter(|n| *n >= 1)
                    .unwrap_or(DEFAULT_MAX_STEPS),
                enable_tools: parse(&var, "AGENTIC_LOOP_ENABLE_TOOLS", "true or false")?.unwrap_or(true),
                enable_delegation: parse(&var, "AGENTIC_LOOP_ENABLE_DELEGATION", "true or false")?.unwrap_or(true),
            },
            mcp_servers: match var("MCP_SERVERS") {
                Some(json) => serde_json::from_str(&json).map_err(|_| ConfigError::Invalid {
                    variable: "MCP_SERVERS".into(),
                    value: json,
                    expected: "a JSON object of server names to URLs, as the operator writes it",
                })?,
                None => BTreeMap::new(),
            },
            peers: peers(&var)?,
            skills: file
                .config
                .skills
                .unwrap_or_else(|| vec![default_skill(&name, description.as_deref(), agent_type.as_deref())]),
            memory: MemoryConfig {
                contexts: memory.max_contexts.unwrap_or(1000).max(1),
                messages: memory.max_messages.unwrap_or(200).max(2),
                debug_endpoints: parse(&var, "AGENT_DEBUG_MEMORY_ENDPOINTS", "true or false")?.unwrap_or(false),
            },
            listen: SocketAddr::new(host, port),
            namespace: var("AGENT_NAMESPACE"),
            instructions: var("AGENT_INSTRUCTIONS"),
            description,
            agent_type,
            name,
        })
    }
}

fn parse<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    variable: &str,
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    var(variable)
        .map(|value| {
            value.trim().parse().map_err(|_| ConfigError::Invalid { variable: variable.into(), value, expected })
        })
        .transpose()
}

fn model(var: &impl Fn(&str) -> Option<String>) -> Result<ModelConfig, ConfigError> {
    let name = var("MODEL_NAME").ok_or(ConfigError::Missing(
        "MODEL_NAME",
        "the agent has no model to answer with: set spec.model.name on the Agent",
    ))?;
    let base = match (var("MODEL_API_URL"), var("MODEL_PROVIDER")) {
        (Some(url), _) => url,
        (None, Some(provider)) => match PROVIDER_ENDPOINTS.iter().find(|(p, _)| *p == provider) {
            Some((_, url)) => url.to_string(),
            None => {
                return Err(ConfigError::Model(format!(
                    "the runtime does not know where provider {provider:?} serves an OpenAI-compatible API: \
                     reference a ModelAPI in spec.model.modelAPIRef (LiteLLM speaks to every provider), \
                     or use one of {}",
                    PROVIDER_ENDPOINTS.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ")
                )));
            }
        },
        (None, None) => {
            return Err(ConfigError::Model(
                "the agent has no model endpoint: set spec.model.modelAPIRef to a ModelAPI, or spec.model.provider \
                 (e.g. openai) with spec.model.apiKeySecretRef"
                    .into(),
            ));
        }
    };
    Ok(ModelConfig {
        chat_url: chat_completions_url(&base)?,
        api_key: var("MODEL_API_KEY"),
        max_tokens: parse(var, "MODEL_MAX_TOKENS", "a positive number of tokens")?,
        temperature: parse(var, "MODEL_TEMPERATURE", "a number from 0 to 2")?,
        name,
    })
}

/// The Chat Completions URL of an OpenAI-compatible base URL: a base with a path (`…/v1`,
/// `…/openai`) gets `/chat/completions`; a bare host (a LiteLLM proxy, Ollama) gets
/// `/v1/chat/completions`, which both serve.
pub fn chat_completions_url(base: &str) -> Result<String, ConfigError> {
    let invalid = |expected| ConfigError::Invalid { variable: "MODEL_API_URL".into(), value: redact(base), expected };
    let (scheme, rest) = base.split_once("://").ok_or_else(|| invalid("an http:// or https:// URL"))?;
    if scheme != "http" && scheme != "https" {
        return Err(invalid("an http:// or https:// URL"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid("a URL with a host"));
    }
    if authority.contains('@') {
        return Err(invalid("a URL without credentials: the key goes in a Secret (MODEL_API_KEY)"));
    }
    let path = rest[authority.len()..].trim_end_matches('/');
    if path.ends_with("/chat/completions") {
        return Ok(base.trim_end_matches('/').to_string());
    }
    let suffix = if path.is_empty() { "/v1/chat/completions" } else { "/chat/completions" };
    Ok(format!("{scheme}://{authority}{path}{suffix}"))
}

/// A URL as it may be printed: the part before `@` (credentials) removed.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.find('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let after = rest.split_once('@').map(|(_, host)| host).unwrap_or(rest);
            format!("{scheme}://<credentials removed>@{after}")
        }
        _ => url.to_string(),
    }
}

/// `PEER_AGENTS` and each peer's `PEER_AGENT_<NAME>_CARD_URL`.
fn peers(var: &impl Fn(&str) -> Option<String>) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(names) = var("PEER_AGENTS") else { return Ok(BTreeMap::new()) };
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let variable = format!("PEER_AGENT_{}_CARD_URL", name.to_uppercase().replace('-', "_"));
            match var(&variable) {
                Some(url) => Ok((name.to_string(), url)),
                None => Err(ConfigError::Invalid {
                    variable,
                    value: String::new(),
                    expected: "the peer's agent card URL (PEER_AGENTS names the peer, so the operator sets it)",
                }),
            }
        })
        .collect()
}

/// The card's one skill when `config.skills` names none: what the Agent says it does.
fn default_skill(name: &str, description: Option<&str>, agent_type: Option<&str>) -> Skill {
    Skill {
        id: name.to_string(),
        name: name.to_string(),
        description: description.unwrap_or("Answers messages with its model and tools").to_string(),
        tags: agent_type.map(|t| vec![t.to_string()]).unwrap_or_else(|| vec!["assistant".into()]),
        examples: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)], file: Option<&str>) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_sources(|name| vars.get(name).cloned(), file)
    }

    const MINIMAL: &[(&str, &str)] = &[
        ("AGENT_NAME", "helper"),
        ("MODEL_NAME", "gpt-4o"),
        ("MODEL_API_URL", "http://gw.team-a.svc.cluster.local:8000"),
    ];

    #[test]
    fn the_operators_variables_are_read() {
        let config = read(
            &[
                ("AGENT_NAME", "research"),
                ("AGENT_NAMESPACE", "team-a"),
                ("AGENT_PORT", "9000"),
                ("AGENT_INSTRUCTIONS", "Be brief."),
                ("AGENT_DESCRIPTION", "Finds papers"),
                ("MODEL_PROVIDER", "openai"),
                ("MODEL_NAME", "gpt-4o"),
                ("MODEL_MAX_TOKENS", "4096"),
                ("MODEL_TEMPERATURE", "0.2"),
                ("MODEL_API_KEY", "sk-secret"),
                ("AGENTIC_LOOP_MAX_STEPS", "8"),
                ("AGENTIC_LOOP_ENABLE_DELEGATION", "false"),
                ("MCP_SERVERS", r#"{"fetch":"http://fetch.team-a.svc.cluster.local:8000/mcp"}"#),
                ("PEER_AGENTS", "writer-bot"),
                (
                    "PEER_AGENT_WRITER_BOT_CARD_URL",
                    "http://writer-bot.team-a.svc.cluster.local/.well-known/agent-card.json",
                ),
                ("AGENT_DEBUG_MEMORY_ENDPOINTS", "true"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.model.chat_url, "https://api.openai.com/v1/chat/completions");
        assert_eq!((config.model.max_tokens, config.model.temperature), (Some(4096), Some(0.2)));
        assert_eq!(config.agentic_loop, LoopConfig { max_steps: 8, enable_tools: true, enable_delegation: false });
        assert_eq!(config.mcp_servers["fetch"], "http://fetch.team-a.svc.cluster.local:8000/mcp");
        assert!(config.peers["writer-bot"].ends_with("/.well-known/agent-card.json"));
        assert!(config.memory.debug_endpoints);
        assert_eq!(config.skills[0].description, "Finds papers");
        assert!(!format!("{config:?}").contains("sk-secret"), "the key is never printed");
    }

    #[test]
    fn a_model_api_url_wins_over_the_provider() {
        let config = read(&[MINIMAL, &[("MODEL_PROVIDER", "openai")]].concat(), None).unwrap();
        assert_eq!(config.model.chat_url, "http://gw.team-a.svc.cluster.local:8000/v1/chat/completions");
        assert_eq!(config.listen, "[::]:8000".parse().unwrap());
        assert_eq!(config.agentic_loop.max_steps, DEFAULT_MAX_STEPS);
    }

    #[test]
    fn chat_urls_follow_the_base_urls_path() {
        let url = |base| chat_completions_url(base).unwrap();
        assert_eq!(url("http://ollama:11434"), "http://ollama:11434/v1/chat/completions");
        assert_eq!(url("https://gw.example.com/v1/"), "https://gw.example.com/v1/chat/completions");
        assert_eq!(url("https://gw.example.com/openai"), "https://gw.example.com/openai/chat/completions");
        assert_eq!(url("http://127.0.0.1:9/v1/chat/completions"), "http://127.0.0.1:9/v1/chat/completions");
        assert!(chat_completions_url("gw:8000").unwrap_err().to_string().contains("http://"));
    }

    #[test]
    fn credentials_in_a_model_url_are_refused_and_never_printed() {
        let error = chat_completions_url("https://user:sk-live@gw.example.com/v1").unwrap_err().to_string();
        assert!(error.contains("without credentials"), "{error}");
        assert!(!error.contains("sk-live"), "{error}");
    }

    #[test]
    fn missing_or_unusable_settings_say_what_to_set() {
        let error = read(&[("AGENT_NAME", "a")], None).unwrap_err().to_string();
        assert!(error.contains("MODEL_NAME") && error.contains("spec.model.name"), "{error}");
        let error = read(&[("AGENT_NAME", "a"), ("MODEL_NAME", "m")], None).unwrap_err().to_string();
        assert!(error.contains("modelAPIRef"), "{error}");
        let error = read(&[("AGENT_NAME", "a"), ("MODEL_NAME", "m"), ("MODEL_PROVIDER", "bedrock")], None).unwrap_err();
        assert!(error.to_string().contains("\"bedrock\"") && error.to_string().contains("ModelAPI"), "{error}");
        let error = read(&[MINIMAL, &[("AGENT_PORT", "http")]].concat(), None).unwrap_err().to_string();
        assert_eq!(error, "AGENT_PORT is \"http\": a port number from 1 to 65535");
        let error = read(&[MINIMAL, &[("PEER_AGENTS", "b")]].concat(), None).unwrap_err().to_string();
        assert!(error.contains("PEER_AGENT_B_CARD_URL"), "{error}");
        let error = read(&[MINIMAL, &[("MCP_SERVERS", "fetch")]].concat(), None).unwrap_err().to_string();
        assert!(error.contains("MCP_SERVERS"), "{error}");
    }

    #[test]
    fn the_file_names_skills_and_memory_bounds() {
        let file = "name: helper\nconfig:\n  skills:\n  - {id: triage, name: Triage, description: Sorts tickets, tags: [support]}\n  memory: {maxContexts: 10, maxMessages: 20}\n";
        let config = read(MINIMAL, Some(file)).unwrap();
        assert_eq!(config.skills[0].id, "triage");
        assert_eq!((config.memory.contexts, config.memory.messages), (10, 20));
        let error = read(MINIMAL, Some("config: [1")).unwrap_err().to_string();
        assert!(error.contains("configuration file"), "{error}");
    }
}

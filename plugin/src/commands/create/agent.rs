//! `kubectl agents create agent NAME [flags]`.

use std::process::ExitCode;

use agents_api::Agent;
use dialoguer::{Confirm, Input, Select};
use serde_json::{Map, Value, json};

use super::{Common, Destination, env_entries, interactive, parse_env, parse_secret_key, submit};
use crate::error::Explained;

#[derive(clap::Args, Debug, Default)]
pub struct AgentArgs {
    /// The Agent's name.
    pub name: String,
    /// The container image to run (default: the reference runtime, which answers with --model).
    #[arg(long, conflicts_with = "build")]
    pub image: Option<String>,
    /// An AgentBuild whose image to run instead of --image.
    #[arg(long, value_name = "AGENTBUILD")]
    pub build: Option<String>,
    /// The model, e.g. gpt-4o.
    #[arg(long)]
    pub model: Option<String>,
    /// The model's provider, e.g. openai, anthropic, ollama.
    #[arg(long)]
    pub provider: Option<String>,
    /// The Secret key holding the provider's API key, as SECRET:KEY.
    #[arg(long, value_name = "SECRET:KEY", value_parser = parse_secret_key)]
    pub api_key_secret: Option<(String, String)>,
    /// A ModelAPI whose endpoint the agent calls (instead of an API key).
    #[arg(long, value_name = "MODELAPI", conflicts_with = "api_key_secret")]
    pub model_api: Option<String>,
    /// What the agent does.
    #[arg(long)]
    pub description: Option<String>,
    /// The system prompt.
    #[arg(long)]
    pub instructions: Option<String>,
    /// Number of pods (leave unset to let kubectl scale or an HPA own it).
    #[arg(long)]
    pub replicas: Option<i32>,
    /// The port the agent serves on (default 8000).
    #[arg(long)]
    pub port: Option<i32>,
    /// Do not create a Service for the agent.
    #[arg(long)]
    pub no_expose: bool,
    /// Peer agents it may call (repeatable).
    #[arg(long = "peer", value_name = "AGENT")]
    pub peers: Vec<String>,
    /// MCPServers whose tools it may use (repeatable).
    #[arg(long = "mcp", value_name = "MCPSERVER")]
    pub mcp_servers: Vec<String>,
    /// Extra environment variables, NAME=VALUE (repeatable; reference secrets in a manifest instead).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    #[command(flatten)]
    pub common: Common,
}

pub async fn run(destination: Destination<'_>, mut agent: AgentArgs) -> anyhow::Result<ExitCode> {
    let runs_the_runtime = agent.image.is_none() && agent.build.is_none();
    if runs_the_runtime && agent.model.is_none() {
        if !interactive() {
            return Err(Explained(
                "say what the agent answers with: --model NAME with --model-api MODELAPI (or --provider openai and \
                 --api-key-secret SECRET:KEY) to run the reference runtime, or --image IMAGE to run your own; \
                 on a terminal, run it without flags for a wizard"
                    .into(),
            )
            .into());
        }
        wizard(&mut agent)?;
    }
    check_runtime_model(&agent)?;
    let (code, created) = submit::<Agent>(destination, manifest(&agent), &agent.common).await?;
    if let (Some(created), Destination::Cluster(session)) = (created, destination) {
        for problem in crate::secrets::missing(&session.client, &session.namespace, &created).await {
            eprintln!("{} {problem}", crate::style::warning_label());
        }
    }
    Ok(code)
}

/// The reference runtime reaches its model through a ModelAPI or a provider it knows: said here
/// too, so a client-side dry run does not print what the API server would refuse.
fn check_runtime_model(args: &AgentArgs) -> Result<(), Explained> {
    let runs_the_runtime = args.image.is_none() && args.build.is_none();
    let direct = args.provider.as_deref().is_some_and(|p| agents_api::agent::RUNTIME_PROVIDERS.contains(&p));
    if runs_the_runtime && args.model.is_some() && args.model_api.is_none() && !direct {
        return Err(Explained(format!(
            "the reference runtime calls its model through --model-api MODELAPI (a ModelAPI in the namespace), or directly \
             with --provider one of {}; or pass --image to run your own",
            agents_api::agent::RUNTIME_PROVIDERS.join(", ")
        )));
    }
    Ok(())
}

/// The Agent manifest: only what was given, so the API server's defaults apply to the rest.
pub fn manifest(args: &AgentArgs) -> Value {
    let mut spec = Map::new();
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            spec.insert(key.into(), value);
        }
    };
    set("description", args.description.clone().map(Value::from));
    set("instructions", args.instructions.clone().map(Value::from));
    set("image", args.image.clone().map(Value::from));
    set("buildRef", args.build.as_ref().map(|b| json!({"name": b})));
    if args.model.is_some() || args.provider.is_some() || args.api_key_secret.is_some() || args.model_api.is_some() {
        let mut model = Map::new();
        model.insert("name".into(), args.model.clone().unwrap_or_else(|| "default".into()).into());
        if let Some(provider) = &args.provider {
            model.insert("provider".into(), provider.clone().into());
        }
        if let Some((secret, key)) = &args.api_key_secret {
            model.insert("apiKeySecretRef".into(), json!({"name": secret, "key": key}));
        }
        if let Some(gateway) = &args.model_api {
            model.insert("modelAPIRef".into(), json!({"name": gateway}));
        }
        set("model", Some(Value::Object(model)));
    }
    set("replicas", args.replicas.map(Value::from));
    set("port", args.port.map(Value::from));
    set("expose", args.no_expose.then_some(Value::Bool(false)));
    if !args.peers.is_empty() {
        set("peers", Some(args.peers.iter().map(|p| json!({"name": p})).collect()));
    }
    if !args.mcp_servers.is_empty() {
        set("mcpServers", Some(args.mcp_servers.iter().map(|m| json!({"name": m})).collect()));
    }
    if !args.env.is_empty() {
        set("env", Some(env_entries(&args.env)));
    }
    json!({
        "apiVersion": agents_api::API_VERSION,
        "kind": "Agent",
        "metadata": {"name": args.name},
        "spec": spec,
    })
}

/// Providers offered by the wizard, with a model to suggest for each.
const PROVIDERS: &[(&str, &str)] = &[
    ("openai", "gpt-4o"),
    ("anthropic", "claude-sonnet-4"),
    ("google", "gemini-2.5-pro"),
    ("azure-openai", "gpt-4o"),
    ("bedrock", "anthropic.claude-sonnet-4"),
    ("ollama", "llama3.2"),
];

/// Asks for what the flags did not say. Every question has a flag, so scripts never see it.
fn wizard(args: &mut AgentArgs) -> anyhow::Result<()> {
    eprintln!("Creating agent {:?}. (Every answer has a flag: see `kubectl agents create agent --help`.)", args.name);
    if args.image.is_none() && args.build.is_none() {
        let runs = [
            "the reference runtime (answers with its model, tools and peers)",
            "a container image of my own",
            "the image an AgentBuild built",
        ];
        match Select::new().with_prompt("What does the agent run?").items(runs).default(0).interact()? {
            1 => args.image = Some(Input::new().with_prompt("Container image").interact_text()?),
            2 => args.build = Some(Input::new().with_prompt("AgentBuild name").interact_text()?),
            _ => {}
        }
    }
    let runs_the_runtime = args.image.is_none() && args.build.is_none();
    if args.model.is_none() && args.model_api.is_none() && runs_the_runtime {
        let gateway: String = Input::new()
            .with_prompt("ModelAPI to call (empty to call a provider directly)")
            .allow_empty(true)
            .interact_text()?;
        if !gateway.trim().is_empty() {
            args.model_api = Some(gateway.trim().to_string());
            args.model = Some(Input::new().with_prompt("Model").default("gpt-4o".to_string()).interact_text()?);
        }
    }
    if args.model.is_none() {
        let offered: Vec<(&str, &str)> = PROVIDERS
            .iter()
            .copied()
            .filter(|(p, _)| !runs_the_runtime || agents_api::agent::RUNTIME_PROVIDERS.contains(p))
            .collect();
        let mut labels: Vec<&str> = offered.iter().map(|(p, _)| *p).collect();
        if !runs_the_runtime {
            labels.push("none");
        }
        let choice = Select::new().with_prompt("Model provider").items(&labels).default(0).interact()?;
        if let Some((provider, suggestion)) = offered.get(choice) {
            args.provider = Some(provider.to_string());
            args.model = Some(Input::new().with_prompt("Model").default(suggestion.to_string()).interact_text()?);
            if *provider != "ollama" && args.api_key_secret.is_none() {
                let answer: String = Input::new()
                    .with_prompt("Secret holding the API key, as SECRET:KEY (empty for none)")
                    .allow_empty(true)
                    .validate_with(
                        |text: &String| {
                            if text.is_empty() { Ok(()) } else { parse_secret_key(text).map(|_| ()) }
                        },
                    )
                    .interact_text()?;
                args.api_key_secret = parse_secret_key(&answer).ok();
            }
        }
    }
    if runs_the_runtime && args.instructions.is_none() {
        let instructions: String = Input::new()
            .with_prompt("Instructions (the system prompt; empty for none)")
            .allow_empty(true)
            .interact_text()?;
        args.instructions = Some(instructions).filter(|i| !i.trim().is_empty());
    }
    if args.replicas.is_none() {
        args.replicas = Some(Input::new().with_prompt("Replicas").default(1).interact_text()?);
    }
    if !args.no_expose {
        args.no_expose = !Confirm::new()
            .with_prompt("Expose it as a Service (for peers and workflows)?")
            .default(true)
            .interact()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_holds_only_what_was_given() {
        let args = AgentArgs {
            name: "research".into(),
            image: Some("ghcr.io/x/agent:v1".into()),
            model: Some("gpt-4o".into()),
            provider: Some("openai".into()),
            api_key_secret: Some(("openai".into(), "api-key".into())),
            replicas: Some(2),
            no_expose: true,
            peers: vec!["writer".into()],
            env: vec![("LOG_LEVEL".into(), "debug".into())],
            ..Default::default()
        };
        let manifest = manifest(&args);
        assert_eq!(manifest["metadata"]["name"], "research");
        let spec = &manifest["spec"];
        assert_eq!(spec["image"], "ghcr.io/x/agent:v1");
        assert_eq!(
            spec["model"],
            json!({"name": "gpt-4o", "provider": "openai", "apiKeySecretRef": {"name": "openai", "key": "api-key"}})
        );
        assert_eq!(spec["replicas"], 2);
        assert_eq!(spec["expose"], false);
        assert_eq!(spec["peers"], json!([{"name": "writer"}]));
        assert_eq!(spec["env"], json!([{"name": "LOG_LEVEL", "value": "debug"}]));
        assert!(spec.get("port").is_none() && spec.get("description").is_none());
        let _: Agent = serde_json::from_value(manifest).expect("a valid Agent");
    }

    #[test]
    fn a_runtime_agent_needs_a_way_to_its_model() {
        let runtime = |model_api: Option<&str>, provider: Option<&str>| AgentArgs {
            name: "helper".into(),
            model: Some("gpt-4o".into()),
            model_api: model_api.map(String::from),
            provider: provider.map(String::from),
            mcp_servers: vec!["time".into()],
            ..Default::default()
        };
        assert!(check_runtime_model(&runtime(Some("gateway"), None)).is_ok());
        assert!(check_runtime_model(&runtime(None, Some("openai"))).is_ok());
        let refused = check_runtime_model(&runtime(None, Some("bedrock"))).unwrap_err().to_string();
        assert!(refused.contains("--model-api") && refused.contains("openai, anthropic"), "{refused}");
        let manifest = manifest(&runtime(Some("gateway"), None));
        assert!(manifest["spec"].get("image").is_none());
        assert_eq!(manifest["spec"]["mcpServers"], json!([{"name": "time"}]));
        assert_eq!(manifest["spec"]["model"], json!({"name": "gpt-4o", "modelAPIRef": {"name": "gateway"}}));
    }
}

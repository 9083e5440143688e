//! `kubectl agents create agent NAME [flags]`.

use std::process::ExitCode;

use agents_api::Agent;
use dialoguer::{Confirm, Input, Select};
use serde_json::{Map, Value, json};

use super::{Common, env_entries, interactive, parse_env, parse_secret_key, submit};
use crate::error::Explained;
use crate::session::Session;

#[derive(clap::Args, Debug, Default)]
pub struct AgentArgs {
    /// The Agent's name.
    pub name: String,
    /// The container image to run.
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
    /// Extra environment variables, NAME=VALUE (repeatable; reference secrets in a manifest instead).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    #[command(flatten)]
    pub common: Common,
}

pub async fn run(session: &Session, mut agent: AgentArgs) -> anyhow::Result<ExitCode> {
    if agent.image.is_none() && agent.build.is_none() {
        if !interactive() {
            return Err(Explained(
                "say what the agent runs: pass --image IMAGE (or --build AGENTBUILD); on a terminal, run it without flags for a wizard"
                    .into(),
            )
            .into());
        }
        wizard(&mut agent)?;
    }
    let (code, created) = submit::<Agent>(session, manifest(&agent), &agent.common).await?;
    if let Some(created) = created {
        for problem in crate::secrets::missing(&session.client, &session.namespace, &created).await {
            eprintln!("{} {problem}", crate::style::warning_label());
        }
    }
    Ok(code)
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
    let image: String = Input::new()
        .with_prompt("Container image (empty to run the image of an AgentBuild)")
        .allow_empty(true)
        .interact_text()?;
    if image.trim().is_empty() {
        args.build = Some(Input::new().with_prompt("AgentBuild name").interact_text()?);
    } else {
        args.image = Some(image.trim().to_string());
    }
    if args.model.is_none() {
        let labels: Vec<&str> = PROVIDERS.iter().map(|(p, _)| *p).chain(["none"]).collect();
        let choice = Select::new().with_prompt("Model provider").items(&labels).default(0).interact()?;
        if let Some((provider, suggestion)) = PROVIDERS.get(choice) {
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
}

//! `kubectl agents create agent NAME [flags]`: a short wizard on a terminal when no flags are
//! given, flags otherwise. `--dry-run=client -o yaml` prints the manifest.

use std::io::IsTerminal;
use std::process::ExitCode;

use agents_api::{Agent, AgentWorkflow};
use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use dialoguer::{Confirm, Input, Select};
use kube::api::{Api, PostParams};
use serde_json::{Map, Value, json};

use crate::error::Explained;
use crate::output::{self, Format};
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub kind: Kind,
}

#[derive(Subcommand, Debug)]
pub enum Kind {
    /// An Agent: a Deployment running an image, a Service reaching it.
    #[command(visible_alias = "ag")]
    Agent(AgentArgs),
    /// An AgentWorkflow: steps that call agents (and approval steps), run as an Argo DAG.
    #[command(visible_alias = "awf")]
    Workflow(WorkflowArgs),
}

#[derive(clap::Args, Debug, Default)]
pub struct WorkflowArgs {
    /// The AgentWorkflow's name.
    pub name: String,
    /// A step calling an agent, after the steps it depends on: NAME=AGENT[:DEP1,DEP2] (repeatable, in order).
    #[arg(long = "step", value_name = "NAME=AGENT[:DEPS]", value_parser = parse_step)]
    pub steps: Vec<StepFlag>,
    /// An approval step: NAME[:DEP1,DEP2] (repeatable).
    #[arg(long = "approval", value_name = "NAME[:DEPS]", value_parser = parse_approval)]
    pub approvals: Vec<StepFlag>,
    /// An argument and its default, NAME=VALUE (repeatable).
    #[arg(long = "arg", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub arguments: Vec<(String, String)>,
    /// Run on this cron schedule, e.g. "0 */6 * * *".
    #[arg(long)]
    pub schedule: Option<String>,
    /// client: print without sending; server: validate on the API server without storing.
    #[arg(long, value_enum, default_value_t, num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: DryRun,
    /// Print the created object instead of a one-line summary.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Format>,
}

/// One `--step` or `--approval` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFlag {
    pub name: String,
    /// `None` for an approval step.
    pub agent: Option<String>,
    pub depends_on: Vec<String>,
}

fn split_deps(text: &str) -> (&str, Vec<String>) {
    match text.split_once(':') {
        Some((head, deps)) => (head, deps.split(',').filter(|d| !d.is_empty()).map(str::to_string).collect()),
        None => (text, Vec::new()),
    }
}

fn parse_step(text: &str) -> Result<StepFlag, String> {
    let (head, depends_on) = split_deps(text);
    match head.split_once('=') {
        Some((name, agent)) if !name.is_empty() && !agent.is_empty() => {
            Ok(StepFlag { name: name.into(), agent: Some(agent.into()), depends_on })
        }
        _ => Err(format!("{text:?} is not NAME=AGENT[:DEP1,DEP2], e.g. summarize=writer:research")),
    }
}

fn parse_approval(text: &str) -> Result<StepFlag, String> {
    let (name, depends_on) = split_deps(text);
    if name.is_empty() || name.contains('=') {
        return Err(format!("{text:?} is not NAME[:DEP1,DEP2], e.g. review:summarize"));
    }
    Ok(StepFlag { name: name.into(), agent: None, depends_on })
}

/// The AgentWorkflow manifest: the steps in the order given (approvals after agent steps).
pub fn workflow_manifest(args: &WorkflowArgs) -> Value {
    let steps: Vec<Value> = args
        .steps
        .iter()
        .chain(&args.approvals)
        .map(|step| {
            let mut value = json!({"name": step.name});
            match &step.agent {
                Some(agent) => value["agentRef"] = json!({"name": agent}),
                None => value["type"] = json!("Approval"),
            }
            if !step.depends_on.is_empty() {
                value["dependsOn"] = json!(step.depends_on);
            }
            value
        })
        .collect();
    let mut spec = json!({"steps": steps});
    if !args.arguments.is_empty() {
        spec["arguments"] = args.arguments.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
    }
    if let Some(cron) = &args.schedule {
        spec["schedule"] = json!({"cron": cron});
    }
    json!({
        "apiVersion": agents_api::API_VERSION,
        "kind": "AgentWorkflow",
        "metadata": {"name": args.name},
        "spec": spec,
    })
}

async fn create_workflow(session: &Session, args: WorkflowArgs) -> anyhow::Result<ExitCode> {
    if args.steps.is_empty() && args.approvals.is_empty() {
        return Err(Explained(
            "give the workflow its steps: --step NAME=AGENT[:DEPS] (repeatable), --approval NAME[:DEPS]".into(),
        )
        .into());
    }
    let manifest = workflow_manifest(&args);
    if args.dry_run == DryRun::Client {
        return print_kind(&manifest, "agentworkflow", args.output.unwrap_or(Format::Yaml), " (dry run)");
    }
    let object: AgentWorkflow = serde_json::from_value(manifest).context("building the AgentWorkflow")?;
    let api: Api<AgentWorkflow> = Api::namespaced(session.client.clone(), &session.namespace);
    let params = PostParams { dry_run: args.dry_run == DryRun::Server, field_manager: Some("kubectl-agents".into()) };
    let created = match api.create(&params, &object).await {
        Err(kube::Error::Api(status)) if status.code == 409 => {
            return Err(Explained(format!(
                "agentworkflow {:?} already exists in namespace {:?}: change it with `kubectl agents apply -f`, or pick another name",
                args.name, session.namespace
            ))
            .into());
        }
        other => other?,
    };
    let mut created = serde_json::to_value(&created)?;
    if let Some(meta) = created.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let suffix = if args.dry_run == DryRun::Server { " (server dry run)" } else { "" };
    print_kind(&created, "agentworkflow", args.output.unwrap_or(Format::Table), suffix)
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    #[default]
    None,
    /// Print what would be sent; contact nothing.
    Client,
    /// Ask the API server to validate it without storing it.
    Server,
}

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
    /// client: print without sending; server: validate on the API server without storing.
    #[arg(long, value_enum, default_value_t, num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: DryRun,
    /// Print the created object instead of a one-line summary.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Format>,
}

fn parse_secret_key(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((secret, key)) if !secret.is_empty() && !key.is_empty() => Ok((secret.into(), key.into())),
        _ => Err(format!("{text:?} is not SECRET:KEY, e.g. openai:api-key")),
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.into(), value.into())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let mut agent = match args.kind {
        Kind::Agent(agent) => agent,
        Kind::Workflow(workflow) => return create_workflow(session, workflow).await,
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if agent.image.is_none() && agent.build.is_none() {
        if !interactive {
            return Err(Explained(
                "say what the agent runs: pass --image IMAGE (or --build AGENTBUILD); on a terminal, run it without flags for a wizard"
                    .into(),
            )
            .into());
        }
        wizard(&mut agent)?;
    }
    let manifest = manifest(&agent);
    if agent.dry_run == DryRun::Client {
        return print(&manifest, agent.output.unwrap_or(Format::Yaml), " (dry run)");
    }
    let object: Agent = serde_json::from_value(manifest.clone()).context("building the Agent")?;
    let api: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
    let params = PostParams { dry_run: agent.dry_run == DryRun::Server, field_manager: Some("kubectl-agents".into()) };
    let created = match api.create(&params, &object).await {
        Err(kube::Error::Api(status)) if status.code == 409 => {
            return Err(Explained(format!(
                "agent {:?} already exists in namespace {:?}: change it with `kubectl agents apply -f`, or pick another name",
                agent.name, session.namespace
            ))
            .into());
        }
        other => other?,
    };
    let mut created = serde_json::to_value(&created)?;
    if let Some(meta) = created.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let suffix = if agent.dry_run == DryRun::Server { " (server dry run)" } else { "" };
    let code = print(&created, agent.output.unwrap_or(Format::Table), suffix)?;
    for problem in crate::secrets::missing(&session.client, &session.namespace, &object).await {
        eprintln!("{} {problem}", crate::style::warning_label());
    }
    Ok(code)
}

fn print(object: &Value, format: Format, suffix: &str) -> anyhow::Result<ExitCode> {
    print_kind(object, "agent", format, suffix)
}

fn print_kind(object: &Value, kind: &str, format: Format, suffix: &str) -> anyhow::Result<ExitCode> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match format {
        Format::Json | Format::Yaml => output::print_value(object, format)?,
        Format::Name => println!("{kind}.agents.dev/{name}"),
        Format::Table | Format::Wide => println!("{kind}.agents.dev/{name} created{suffix}"),
    }
    Ok(ExitCode::SUCCESS)
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
        set("env", Some(args.env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect()));
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

    #[test]
    fn a_workflow_is_scaffolded_from_step_flags() {
        let args = WorkflowArgs {
            name: "pipeline".into(),
            steps: vec![parse_step("research=researcher").unwrap(), parse_step("write=writer:research").unwrap()],
            approvals: vec![parse_approval("review:write").unwrap()],
            arguments: vec![("topic".into(), "k8s".into())],
            schedule: Some("0 */6 * * *".into()),
            ..Default::default()
        };
        let manifest = workflow_manifest(&args);
        assert_eq!(
            manifest["spec"]["steps"],
            json!([
                {"name": "research", "agentRef": {"name": "researcher"}},
                {"name": "write", "agentRef": {"name": "writer"}, "dependsOn": ["research"]},
                {"name": "review", "type": "Approval", "dependsOn": ["write"]},
            ])
        );
        assert_eq!(manifest["spec"]["schedule"]["cron"], "0 */6 * * *");
        assert_eq!(manifest["spec"]["arguments"], json!([{"name": "topic", "value": "k8s"}]));
        let _: AgentWorkflow = serde_json::from_value(manifest).expect("a valid AgentWorkflow");
        assert!(parse_step("research").unwrap_err().contains("NAME=AGENT"));
        assert_eq!(parse_step("a=b:c,d").unwrap().depends_on, ["c", "d"]);
        assert!(parse_approval("x=y").is_err());
    }

    #[test]
    fn secret_keys_and_env_pairs_are_checked() {
        assert_eq!(parse_secret_key("openai:api-key"), Ok(("openai".into(), "api-key".into())));
        assert!(parse_secret_key("openai").unwrap_err().contains("SECRET:KEY"));
        assert!(parse_env("=x").is_err());
    }
}

//! `kubectl agents create modelapi NAME --mode proxy|hosted|external [flags]`.

use std::process::ExitCode;

use agents_api::ModelAPI;
use clap::ValueEnum;
use dialoguer::{Input, Select};
use serde_json::{Map, Value, json};

use super::{Common, Destination, env_entries, interactive, parse_env, parse_secret_key, submit};
use crate::error::Explained;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A LiteLLM proxy in front of providers.
    Proxy,
    /// Ollama serving open models in the cluster.
    Hosted,
    /// An endpoint that already runs elsewhere.
    External,
}

#[derive(clap::Args, Debug, Default)]
pub struct ModelApiArgs {
    /// The ModelAPI's name.
    pub name: String,
    /// What runs.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// A model to serve (repeatable). Proxy: NAME or NAME=PROVIDER/MODEL (e.g.
    /// gpt-4o=openai/gpt-4o; `openai/*` passes any of OpenAI's models through, `*` any model,
    /// without a key). Hosted: an Ollama model (llama3.2).
    #[arg(long = "model", value_name = "MODEL")]
    pub models: Vec<String>,
    /// Proxy: the Secret key with the provider's API key for every --model, as SECRET:KEY.
    /// External: the key Agents send to the endpoint.
    #[arg(long, value_name = "SECRET:KEY", value_parser = parse_secret_key)]
    pub api_key_secret: Option<(String, String)>,
    /// Proxy: the Secret key with the proxy's master key, as SECRET:KEY. The proxy then answers
    /// only requests that carry it, and Agents using the ModelAPI are given it.
    #[arg(long, value_name = "SECRET:KEY", value_parser = parse_secret_key)]
    pub master_key_secret: Option<(String, String)>,
    /// Proxy: your own LiteLLM config, as CONFIGMAP or CONFIGMAP:KEY (instead of --model).
    #[arg(long, value_name = "CONFIGMAP[:KEY]", conflicts_with = "models")]
    pub config_map: Option<String>,
    /// External: the endpoint's URL.
    #[arg(long)]
    pub url: Option<String>,
    /// Hosted: keep models on a PersistentVolumeClaim of this size (e.g. 20Gi) instead of an emptyDir.
    #[arg(long, value_name = "SIZE")]
    pub storage: Option<String>,
    /// The server's image, instead of the pinned default.
    #[arg(long)]
    pub image: Option<String>,
    /// Number of pods (default 1).
    #[arg(long)]
    pub replicas: Option<i32>,
    /// The port it serves on (default 8000 for proxy, 11434 for hosted).
    #[arg(long)]
    pub port: Option<i32>,
    /// Extra environment variables, NAME=VALUE (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    #[command(flatten)]
    pub common: Common,
}

pub async fn run(destination: Destination<'_>, mut args: ModelApiArgs) -> anyhow::Result<ExitCode> {
    if args.mode.is_none() {
        if !interactive() {
            return Err(Explained(
                "say what runs: pass --mode proxy (with --model), --mode hosted (with --model) or --mode external (with --url); on a terminal, run it without flags for a wizard"
                    .into(),
            )
            .into());
        }
        wizard(&mut args)?;
    }
    let manifest = manifest(&args)?;
    Ok(submit::<ModelAPI>(destination, manifest, &args.common).await?.0)
}

/// The ModelAPI manifest: only what was given. Missing pieces a mode needs are reported here,
/// with the flag that gives them (the API server would say it too, in the schema's words).
pub fn manifest(args: &ModelApiArgs) -> anyhow::Result<Value> {
    let mode = args.mode.unwrap_or(Mode::Proxy);
    let mut spec = Map::new();
    let key = args.api_key_secret.as_ref().map(|(name, key)| json!({"name": name, "key": key}));
    if args.master_key_secret.is_some() && mode != Mode::Proxy {
        // Dropping it silently would leave the user believing the endpoint is guarded.
        return Err(Explained(
            "--master-key-secret guards a LiteLLM proxy: use it with --mode proxy (an external endpoint's key is --api-key-secret)"
                .into(),
        )
        .into());
    }
    match mode {
        Mode::Proxy => {
            spec.insert("mode".into(), "Proxy".into());
            let proxy = match &args.config_map {
                Some(reference) => {
                    let (name, key) = reference.split_once(':').unwrap_or((reference, "config.yaml"));
                    json!({"configMapRef": {"name": name, "key": key}})
                }
                None if args.models.is_empty() => {
                    return Err(Explained(
                        "a proxy needs models: pass --model NAME=PROVIDER/MODEL (repeatable; --model '*' passes any model through) or --config-map CONFIGMAP"
                            .into(),
                    )
                    .into());
                }
                None => {
                    if key.is_some() {
                        refuse_key_on_wildcard(&args.models)?;
                    }
                    let models: Vec<Value> = args
                        .models
                        .iter()
                        .map(|m| {
                            let mut entry = match m.split_once('=') {
                                Some((name, model)) => json!({"name": name, "model": model}),
                                None => json!({"name": m}),
                            };
                            if let Some(key) = &key {
                                entry["apiKeySecretRef"] = key.clone();
                            }
                            entry
                        })
                        .collect();
                    json!({"models": models})
                }
            };
            let mut proxy = proxy;
            if let Some((name, key)) = &args.master_key_secret {
                proxy["masterKeySecretRef"] = json!({"name": name, "key": key});
            }
            spec.insert("proxy".into(), proxy);
        }
        Mode::Hosted => {
            spec.insert("mode".into(), "Hosted".into());
            if args.models.is_empty() {
                return Err(Explained(
                    "a hosted ModelAPI needs models for Ollama to pull: pass --model llama3.2 (repeatable)".into(),
                )
                .into());
            }
            let mut hosted = json!({"models": args.models});
            if let Some(size) = &args.storage {
                hosted["storage"] = json!({"size": size});
            }
            spec.insert("hosted".into(), hosted);
        }
        Mode::External => {
            spec.insert("mode".into(), "External".into());
            let Some(url) = &args.url else {
                return Err(Explained("an external ModelAPI needs the endpoint: pass --url https://…".into()).into());
            };
            let mut external = json!({"url": url});
            if let Some(key) = &key {
                external["apiKeySecretRef"] = key.clone();
            }
            if !args.models.is_empty() {
                external["models"] = json!(args.models);
            }
            spec.insert("external".into(), external);
        }
    }
    let mut set = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            spec.insert(field.into(), value);
        }
    };
    set("image", args.image.clone().map(Value::from));
    set("replicas", args.replicas.map(Value::from));
    set("port", args.port.map(Value::from));
    set("env", (!args.env.is_empty()).then(|| env_entries(&args.env)));
    Ok(json!({
        "apiVersion": agents_api::API_VERSION,
        "kind": "ModelAPI",
        "metadata": {"name": args.name},
        "spec": spec,
    }))
}

/// LiteLLM takes the provider from the start of the model; where a `*` stands there, the request
/// names the provider and a key would go to whichever it names. The API server refuses such a
/// spec too (the same test as the schema's rule); here the user is told in the flags' words.
fn refuse_key_on_wildcard(models: &[String]) -> Result<(), Explained> {
    let provider_is_open = |model: &str| model.split('/').next().is_some_and(|provider| provider.contains('*'));
    match models.iter().find(|m| provider_is_open(m.split_once('=').map_or(m.as_str(), |(_, model)| model))) {
        Some(model) => Err(Explained(format!(
            "--model {model:?} with --api-key-secret would send the key to whatever provider a request names \
             (deepseek/..., anthropic/...): name the provider the key belongs to, e.g. --model 'openai/*' \
             (any openai/... model), or leave out --api-key-secret and give each provider its own key in \
             spec.env from a Secret (OPENAI_API_KEY, ...) with `kubectl agents apply -f`"
        ))),
        None => Ok(()),
    }
}

/// Asks for what the flags did not say. Every question has a flag, so scripts never see it.
fn wizard(args: &mut ModelApiArgs) -> anyhow::Result<()> {
    eprintln!(
        "Creating ModelAPI {:?}. (Every answer has a flag: see `kubectl agents create modelapi --help`.)",
        args.name
    );
    let modes = [
        "proxy: a LiteLLM proxy in front of providers",
        "hosted: Ollama in the cluster",
        "external: an endpoint that runs elsewhere",
    ];
    let mode = [Mode::Proxy, Mode::Hosted, Mode::External]
        [Select::new().with_prompt("Mode").items(modes).default(0).interact()?];
    args.mode = Some(mode);
    let list = |prompt: &str, default: &str| -> anyhow::Result<Vec<String>> {
        let text: String = Input::new().with_prompt(prompt).default(default.to_string()).interact_text()?;
        Ok(text.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect())
    };
    let key = |prompt: &str| -> anyhow::Result<Option<(String, String)>> {
        let answer: String = Input::new()
            .with_prompt(prompt)
            .allow_empty(true)
            .validate_with(|text: &String| if text.is_empty() { Ok(()) } else { parse_secret_key(text).map(|_| ()) })
            .interact_text()?;
        Ok(parse_secret_key(&answer).ok())
    };
    match mode {
        Mode::Proxy if args.models.is_empty() && args.config_map.is_none() => {
            args.models = list(
                "Models, comma-separated NAME=PROVIDER/MODEL ('openai/*' for any of a provider's)",
                "gpt-4o=openai/gpt-4o",
            )?;
            if args.api_key_secret.is_none() {
                args.api_key_secret = key("Secret holding the provider's API key, as SECRET:KEY (empty for none)")?;
            }
        }
        Mode::Hosted if args.models.is_empty() => args.models = list("Models to pull, comma-separated", "llama3.2")?,
        Mode::External if args.url.is_none() => {
            args.url = Some(Input::new().with_prompt("Endpoint URL").interact_text()?);
            if args.api_key_secret.is_none() {
                args.api_key_secret = key("Secret holding the endpoint's key, as SECRET:KEY (empty for none)")?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(mode: Mode) -> ModelApiArgs {
        ModelApiArgs { name: "gateway".into(), mode: Some(mode), ..Default::default() }
    }

    #[test]
    fn a_proxy_lists_its_models_each_with_the_key() {
        let manifest = manifest(&ModelApiArgs {
            models: vec!["gpt-4o=openai/gpt-4o".into(), "openai/*".into()],
            api_key_secret: Some(("openai".into(), "api-key".into())),
            master_key_secret: Some(("gateway-master".into(), "key".into())),
            ..args(Mode::Proxy)
        })
        .unwrap();
        let key = json!({"name": "openai", "key": "api-key"});
        assert_eq!(
            manifest["spec"],
            json!({"mode": "Proxy", "proxy": {
                "models": [
                    {"name": "gpt-4o", "model": "openai/gpt-4o", "apiKeySecretRef": key},
                    {"name": "openai/*", "apiKeySecretRef": key},
                ],
                "masterKeySecretRef": {"name": "gateway-master", "key": "key"},
            }})
        );
        let _: ModelAPI = serde_json::from_value(manifest).expect("a valid ModelAPI");
    }

    #[test]
    fn a_key_on_a_wildcard_provider_is_refused_before_sending() {
        for model in ["*", "any=*", "*/gpt-4o", "x=op*/gpt-4o"] {
            let error = manifest(&ModelApiArgs {
                models: vec!["gpt-4o=openai/gpt-4o".into(), model.into()],
                api_key_secret: Some(("openai".into(), "api-key".into())),
                ..args(Mode::Proxy)
            })
            .unwrap_err()
            .to_string();
            assert!(error.starts_with(&format!("--model {model:?} with --api-key-secret")), "{model}: {error}");
            assert!(error.contains("--model 'openai/*'"), "{error}");
        }
        // Without a key the wildcard is what it was: any model, to its provider's own key.
        let open = manifest(&ModelApiArgs { models: vec!["*".into()], ..args(Mode::Proxy) }).unwrap();
        assert_eq!(open["spec"]["proxy"], json!({"models": [{"name": "*"}]}));
        // A `*` past the provider names no provider: `openai/*` and a model of it keep their key.
        let scoped = manifest(&ModelApiArgs {
            models: vec!["all=openai/*".into(), "openai/gpt-*".into()],
            api_key_secret: Some(("openai".into(), "api-key".into())),
            ..args(Mode::Proxy)
        });
        assert!(scoped.is_ok(), "{scoped:?}");
    }

    #[test]
    fn a_master_key_is_for_a_proxy_only() {
        let master = || Some(("gateway-master".to_string(), "key".to_string()));
        let own = manifest(&ModelApiArgs {
            config_map: Some("litellm:own.yaml".into()),
            master_key_secret: master(),
            ..args(Mode::Proxy)
        })
        .unwrap();
        assert_eq!(
            own["spec"]["proxy"],
            json!({"configMapRef": {"name": "litellm", "key": "own.yaml"},
                   "masterKeySecretRef": {"name": "gateway-master", "key": "key"}})
        );
        let external = ModelApiArgs {
            url: Some("https://llm.example".into()),
            master_key_secret: master(),
            ..args(Mode::External)
        };
        let error = manifest(&external).unwrap_err().to_string();
        assert!(error.contains("use it with --mode proxy"), "{error}");
        let hosted =
            ModelApiArgs { models: vec!["llama3.2".into()], master_key_secret: master(), ..args(Mode::Hosted) };
        assert!(manifest(&hosted).is_err());
    }

    #[test]
    fn each_mode_asks_for_what_it_needs() {
        assert!(manifest(&args(Mode::Proxy)).unwrap_err().to_string().contains("--model"));
        assert!(manifest(&args(Mode::Hosted)).unwrap_err().to_string().contains("--model llama3.2"));
        assert!(manifest(&args(Mode::External)).unwrap_err().to_string().contains("--url"));
        let hosted = manifest(&ModelApiArgs {
            models: vec!["llama3.2".into()],
            storage: Some("20Gi".into()),
            ..args(Mode::Hosted)
        })
        .unwrap();
        assert_eq!(hosted["spec"]["hosted"], json!({"models": ["llama3.2"], "storage": {"size": "20Gi"}}));
        let own = manifest(&ModelApiArgs { config_map: Some("litellm".into()), ..args(Mode::Proxy) }).unwrap();
        assert_eq!(own["spec"]["proxy"], json!({"configMapRef": {"name": "litellm", "key": "config.yaml"}}));
    }
}

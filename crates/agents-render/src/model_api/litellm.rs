//! Mode Proxy: a LiteLLM proxy. Its `config.yaml` lists the models; provider keys are read from
//! env vars (`os.environ/NAME`, LiteLLM's own syntax) that come from `secretKeyRef`s, and so is
//! the master key that callers must send, when the spec names one.

use agents_api::model_api::ProxyModel;
use agents_api::{ModelAPI, SecretKeyRef};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, EnvVarSource, HTTPGetAction, KeyToPath, Probe,
    SecretKeySelector, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use crate::{hash, server};

/// A pinned LiteLLM release; `spec.image` overrides it.
pub const DEFAULT_IMAGE: &str = "ghcr.io/berriai/litellm:main-v1.74.9-stable";
pub const PORT: i32 = 8000;
/// Where the config is mounted in the container.
const CONFIG_DIR: &str = "/etc/litellm";
/// The file LiteLLM reads.
pub const CONFIG_FILE: &str = "config.yaml";

/// Makes LiteLLM read the model cost map of its own release instead of fetching the newest from
/// GitHub as it imports. The fetch is what would reach outside the cluster at every start: in an
/// air-gapped cluster it stalls the start up to its 5 s timeout (then falls back to the same
/// local copy), and where it succeeds the proxy's prices and context windows change under a
/// pinned image. Set unless `spec.env` names it; an empty value there brings the fetch back
/// (LiteLLM takes any non-empty value as "local").
const LOCAL_COST_MAP: (&str, &str) = ("LITELLM_LOCAL_MODEL_COST_MAP", "True");

/// The variable LiteLLM reads its master key from when its config sets none (a user's own config
/// may: `general_settings.master_key` wins). With a master key and no database, LiteLLM accepts
/// that key alone: 401 without a key, 400 "No connected db." with another.
const MASTER_KEY: &str = "LITELLM_MASTER_KEY";

/// A variable read from a Secret by the kubelet: the value is never copied.
fn secret(name: &str, key: &SecretKeyRef) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: key.name.clone(),
                key: key.key.clone(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The env var carrying the key of the `index`th model.
fn key_var(index: usize) -> String {
    format!("MODEL_{index}_API_KEY")
}

/// The ConfigMap to create (none when the user brings their own) and the pod.
pub fn render(model_api: &ModelAPI, port: i32, meta: &ObjectMeta) -> (Option<ConfigMap>, server::Pod) {
    let spec = &model_api.spec;
    let proxy = spec.proxy.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let (config_map, volume_source) = match &proxy.config_map_ref {
        Some(own) => (
            None,
            ConfigMapVolumeSource {
                name: own.name.clone(),
                items: Some(vec![KeyToPath { key: own.key.clone(), path: CONFIG_FILE.into(), ..Default::default() }]),
                ..Default::default()
            },
        ),
        None => (
            Some(ConfigMap {
                metadata: meta.clone(),
                data: Some([(CONFIG_FILE.to_string(), config(&proxy.models))].into()),
                ..Default::default()
            }),
            ConfigMapVolumeSource { name: name.clone(), ..Default::default() },
        ),
    };
    // A change of the config (or of which ConfigMap is used) rolls the pods.
    let config_hash = match &config_map {
        Some(cm) => hash::of(&cm.data),
        None => hash::of(&proxy.config_map_ref),
    };
    let mut env = vec![EnvVar { name: "HOME".into(), value: Some("/tmp".into()), ..Default::default() }];
    if !spec.env.iter().any(|var| var.name == LOCAL_COST_MAP.0) {
        env.push(EnvVar { name: LOCAL_COST_MAP.0.into(), value: Some(LOCAL_COST_MAP.1.into()), ..Default::default() });
    }
    env.extend(
        proxy
            .models
            .iter()
            .enumerate()
            .filter_map(|(index, m)| Some(secret(&key_var(index), m.api_key_secret_ref.as_ref()?))),
    );
    env.extend(proxy.master_key_secret_ref.as_ref().map(|key| secret(MASTER_KEY, key)));
    env.extend(spec.env.iter().cloned());
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..Default::default()
        }),
        period_seconds: Some(10),
        ..Default::default()
    };
    let container = Container {
        image: Some(spec.image.clone().unwrap_or_else(|| DEFAULT_IMAGE.into())),
        args: Some(vec!["--config".into(), format!("{CONFIG_DIR}/{CONFIG_FILE}"), "--port".into(), port.to_string()]),
        env: Some(env),
        resources: spec.resources.clone(),
        readiness_probe: Some(probe("/health/readiness")),
        liveness_probe: Some(Probe { initial_delay_seconds: Some(30), ..probe("/health/liveliness") }),
        volume_mounts: Some(vec![VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let pod = server::Pod {
        container,
        port,
        volumes: vec![Volume { name: "config".into(), config_map: Some(volume_source), ..Default::default() }],
        replicas: spec.replicas,
        annotations: [(hash::CONFIG_HASH_ANNOTATION.to_string(), config_hash)].into(),
    };
    (config_map, pod)
}

/// LiteLLM's `config.yaml` for the model list. Keys are never in it: only the names of the env
/// vars that hold them.
fn config(models: &[ProxyModel]) -> String {
    let model_list: Vec<Value> = models
        .iter()
        .enumerate()
        .map(|(index, model)| {
            let mut params = json!({ "model": model.model.clone().unwrap_or_else(|| model.name.clone()) });
            if model.api_key_secret_ref.is_some() {
                params["api_key"] = json!(format!("os.environ/{}", key_var(index)));
            }
            if let Some(base) = &model.api_base {
                params["api_base"] = json!(base);
            }
            json!({ "model_name": model.name, "litellm_params": params })
        })
        .collect();
    serde_norway::to_string(&json!({ "model_list": model_list })).expect("JSON values serialise to YAML")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_api::children;
    use crate::model_api::fixtures::model_api;

    const PROXY: &str = "
mode: Proxy
proxy:
  models:
  - name: gpt-4o
    model: openai/gpt-4o
    apiKeySecretRef: {name: openai, key: api-key}
  - name: local
    model: ollama/llama3.2
    apiBase: http://ollama.models:11434
  - name: '*'
";

    #[test]
    fn the_config_lists_each_model_and_names_key_variables_not_keys() {
        let rendered = children(&model_api(PROXY)).unwrap();
        let config = &rendered.config_map.unwrap().data.unwrap()[CONFIG_FILE];
        let parsed: Value = serde_norway::from_str(config).unwrap();
        assert_eq!(
            parsed,
            json!({"model_list": [
                {"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o", "api_key": "os.environ/MODEL_0_API_KEY"}},
                {"model_name": "local", "litellm_params": {"model": "ollama/llama3.2", "api_base": "http://ollama.models:11434"}},
                {"model_name": "*", "litellm_params": {"model": "*"}},
            ]})
        );
        let pod = rendered.deployment.unwrap().spec.template.spec.unwrap();
        let env = pod.containers[0].env.clone().unwrap();
        let key = env.iter().find(|e| e.name == "MODEL_0_API_KEY").unwrap();
        assert_eq!(key.value, None);
        let selector = key.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
        assert_eq!((selector.name.as_str(), selector.key.as_str()), ("openai", "api-key"));
    }

    /// The `name` variables of the proxy's container rendered from `yaml`.
    fn env_named(yaml: &str, name: &str) -> Vec<EnvVar> {
        let pod = children(&model_api(yaml)).unwrap().deployment.unwrap().spec.template.spec.unwrap();
        pod.containers[0].env.clone().unwrap().into_iter().filter(|e| e.name == name).collect()
    }

    #[test]
    fn the_master_key_is_read_from_its_secret_by_the_kubelet() {
        assert_eq!(env_named(PROXY, MASTER_KEY), []);
        let guarded = format!("{PROXY}  masterKeySecretRef: {{name: gateway-master, key: master-key}}\n");
        let [key] = env_named(&guarded, MASTER_KEY).try_into().expect("one LITELLM_MASTER_KEY");
        assert_eq!(key.value, None);
        let selector = key.value_from.unwrap().secret_key_ref.unwrap();
        assert_eq!((selector.name.as_str(), selector.key.as_str()), ("gateway-master", "master-key"));
        // A user's own config is guarded the same way: LiteLLM reads the variable unless the
        // config sets general_settings.master_key.
        let own = "mode: Proxy\nproxy: {configMapRef: {name: mine}, masterKeySecretRef: {name: m, key: k}}\n";
        assert_eq!(env_named(own, MASTER_KEY).len(), 1);
    }

    #[test]
    fn a_providers_wildcard_matches_only_that_providers_models() {
        let rendered = children(&model_api(
            "mode: Proxy\nproxy: {models: [{name: 'openai/*', apiKeySecretRef: {name: openai, key: api-key}}]}\n",
        ))
        .unwrap();
        let parsed: Value = serde_norway::from_str(&rendered.config_map.unwrap().data.unwrap()[CONFIG_FILE]).unwrap();
        // LiteLLM matches `model_name` as a pattern (`openai/(.*)`) and puts the match into the
        // model: a request for deepseek/x matches nothing, so the key never leaves for deepseek.
        assert_eq!(
            parsed["model_list"],
            json!([{"model_name": "openai/*", "litellm_params": {"model": "openai/*", "api_key": "os.environ/MODEL_0_API_KEY"}}])
        );
    }

    #[test]
    fn the_proxy_reads_the_cost_map_of_its_release_unless_told_otherwise() {
        let env_of = |yaml: &str| {
            let pod = children(&model_api(yaml)).unwrap().deployment.unwrap().spec.template.spec.unwrap();
            let env = pod.containers[0].env.clone().unwrap();
            env.into_iter().filter(|e| e.name == LOCAL_COST_MAP.0).map(|e| e.value).collect::<Vec<_>>()
        };
        assert_eq!(env_of(PROXY), [Some("True".to_string())]);
        // The user's own value, once: a second entry of the same name would hide the first.
        let fetch = format!("{PROXY}env: [{{name: {}, value: ''}}]\n", LOCAL_COST_MAP.0);
        assert_eq!(env_of(&fetch), [Some(String::new())]);
    }

    #[test]
    fn a_users_config_map_is_mounted_as_it_is() {
        let rendered =
            children(&model_api("mode: Proxy\nproxy: {configMapRef: {name: my-litellm, key: litellm.yaml}}\n"))
                .unwrap();
        assert!(rendered.config_map.is_none());
        let pod = rendered.deployment.unwrap().spec.template.spec.unwrap();
        let volume = pod.volumes.unwrap().into_iter().find(|v| v.name == "config").unwrap().config_map.unwrap();
        assert_eq!(volume.name, "my-litellm");
        assert_eq!(volume.items.unwrap()[0].key, "litellm.yaml");
    }

    #[test]
    fn a_config_change_rolls_the_pods() {
        let hash_of = |yaml: &str| {
            let deployment = children(&model_api(yaml)).unwrap().deployment.unwrap();
            deployment.spec.template.metadata.unwrap().annotations.unwrap()[hash::CONFIG_HASH_ANNOTATION].clone()
        };
        assert_ne!(hash_of(PROXY), hash_of(&PROXY.replace("gpt-4o\n", "gpt-4.1\n")));
        assert_eq!(hash_of(PROXY), hash_of(PROXY));
    }
}

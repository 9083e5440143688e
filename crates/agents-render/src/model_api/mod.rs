//! A ModelAPI's children and status.
//!
//! | mode | children | port |
//! | --- | --- | --- |
//! | Proxy | ConfigMap `config.yaml` (unless the user brings one), Deployment (LiteLLM), Service | 8000 |
//! | Hosted | Deployment (Ollama), Service, PersistentVolumeClaim when `hosted.storage` is set | 11434 |
//! | External | none: the status carries the URL | — |

mod litellm;
mod ollama;

use agents_api::model_api::ConfigMapKeyRef;
use agents_api::{ModelAPI, ModelAPIMode, ModelAPIStatus, SecretKeyRef};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

pub use litellm::{DEFAULT_IMAGE as LITELLM_IMAGE, PORT as PROXY_PORT};
pub use ollama::{DEFAULT_IMAGE as OLLAMA_IMAGE, PORT as HOSTED_PORT};

use crate::agent::Incomplete;
use crate::server::Children;
use crate::{labels, server};

/// The labels of a ModelAPI's children and pods.
pub fn labels(name: &str) -> std::collections::BTreeMap<String, String> {
    labels::server_labels(labels::MODEL_API, "modelapi", name)
}

/// The labels that select a ModelAPI's pods.
pub fn selector(name: &str) -> std::collections::BTreeMap<String, String> {
    [(labels::MODEL_API.to_string(), name.to_string())].into()
}

/// The port the server listens on and its Service exposes.
pub fn port(model_api: &ModelAPI) -> Option<i32> {
    match model_api.spec.mode {
        ModelAPIMode::Proxy => Some(model_api.spec.port.unwrap_or(litellm::PORT)),
        ModelAPIMode::Hosted => Some(model_api.spec.port.unwrap_or(ollama::PORT)),
        ModelAPIMode::External => None,
    }
}

/// The user's own LiteLLM config a Proxy ModelAPI names (`spec.proxy.configMapRef`).
pub fn config_map_ref(model_api: &ModelAPI) -> Option<&ConfigMapKeyRef> {
    let proxy = model_api.spec.proxy.as_ref().filter(|_| model_api.spec.mode == ModelAPIMode::Proxy)?;
    proxy.config_map_ref.as_ref()
}

/// Why the ConfigMap `reference` names cannot configure the proxy (`found` is what the cluster
/// holds under its name): it does not exist, or lacks the key. The pods wait for it, and start
/// once it is there.
pub fn missing_config(reference: &ConfigMapKeyRef, found: Option<&ConfigMap>) -> Option<String> {
    let (name, key) = (&reference.name, &reference.key);
    let Some(config_map) = found else {
        return Some(format!(
            "ConfigMap {name} (spec.proxy.configMapRef) does not exist: create it with the LiteLLM config under the \
             key {key}; the proxy starts once it exists"
        ));
    };
    let keys: Vec<&String> = config_map
        .data
        .iter()
        .flat_map(|d| d.keys())
        .chain(config_map.binary_data.iter().flat_map(|d| d.keys()))
        .collect();
    if keys.contains(&key) {
        return None;
    }
    let has = if keys.is_empty() {
        "no keys".to_string()
    } else {
        keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    };
    Some(format!(
        "ConfigMap {name} has no key {key} (spec.proxy.configMapRef.key); it has {has}: add the LiteLLM config \
         under {key}, or name the key that holds it"
    ))
}

pub fn children(model_api: &ModelAPI) -> Result<Children, Incomplete> {
    let name = model_api.metadata.name.clone().unwrap_or_default();
    let meta = server::child_meta(model_api, labels(&name))?;
    let Some(port) = port(model_api) else {
        return Ok(Children::default());
    };
    let service = Some(server::service(meta.clone(), selector(&name), port));
    Ok(match model_api.spec.mode {
        ModelAPIMode::Proxy => {
            let (config_map, pod) = litellm::render(model_api, port, &meta);
            Children {
                config_map,
                deployment: Some(server::deployment(meta, selector(&name), pod)),
                service,
                claim: None,
            }
        }
        ModelAPIMode::Hosted => {
            let (claim, pod) = ollama::render(model_api, port, &meta);
            Children {
                config_map: None,
                deployment: Some(server::deployment(meta, selector(&name), pod)),
                service,
                claim,
            }
        }
        ModelAPIMode::External => Children::default(),
    })
}

/// The URL Agents call: the Service's, or the external one.
pub fn endpoint(model_api: &ModelAPI) -> Option<String> {
    match (&model_api.spec.external, port(model_api)) {
        (Some(external), _) if model_api.spec.mode == ModelAPIMode::External => Some(external.url.clone()),
        (_, Some(port)) => server::service_url(&model_api.metadata, port),
        _ => None,
    }
}

/// The key a caller must send, which each Agent using the ModelAPI receives as `MODEL_API_KEY`:
/// an External endpoint's, or a Proxy's master key. A Secret reference, never the value.
pub fn caller_key(model_api: &ModelAPI) -> Option<&SecretKeyRef> {
    let spec = &model_api.spec;
    match spec.mode {
        ModelAPIMode::Proxy => spec.proxy.as_ref()?.master_key_secret_ref.as_ref(),
        ModelAPIMode::External => spec.external.as_ref()?.api_key_secret_ref.as_ref(),
        ModelAPIMode::Hosted => None,
    }
}

/// The models the ModelAPI serves, when its spec names them.
pub fn models(model_api: &ModelAPI) -> Vec<String> {
    let spec = &model_api.spec;
    match spec.mode {
        ModelAPIMode::Proxy => spec.proxy.iter().flat_map(|p| p.models.iter().map(|m| m.name.clone())).collect(),
        ModelAPIMode::Hosted => spec.hosted.iter().flat_map(|h| h.models.clone()).collect(),
        ModelAPIMode::External => spec.external.iter().flat_map(|e| e.models.clone()).collect(),
    }
}

/// The whole status; unchanged input gives a status equal to the current one.
pub fn status(model_api: &ModelAPI, observed: server::Observed<'_>, now: &Time) -> ModelAPIStatus {
    let assessment = server::assess(observed);
    let existing = model_api.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    ModelAPIStatus {
        phase: Some(assessment.0),
        endpoint: endpoint(model_api),
        models: models(model_api),
        ready_replicas: observed
            .runs_pods
            .then(|| observed.deployment.and_then(|d| d.status.as_ref()).and_then(|s| s.ready_replicas).unwrap_or(0)),
        children: observed.children.to_vec(),
        observed_generation: model_api.metadata.generation,
        conditions: server::ready_condition(existing, &assessment, model_api.metadata.generation, now),
    }
}

/// The name of a Hosted ModelAPI's claim.
pub fn claim_name(meta: &ObjectMeta) -> String {
    format!("{}-models", meta.name.as_deref().unwrap_or_default())
}

#[cfg(test)]
pub(crate) mod fixtures {
    use agents_api::ModelAPI;

    /// A ModelAPI as the API server returns it, from a spec in YAML.
    pub fn model_api(spec_yaml: &str) -> ModelAPI {
        let spec: serde_json::Value = serde_norway::from_str(spec_yaml).expect("valid YAML");
        serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1",
            "kind": "ModelAPI",
            "metadata": {"name": "gateway", "namespace": "team-a", "uid": "9", "generation": 2},
            "spec": spec,
        }))
        .expect("a valid ModelAPI")
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::model_api;
    use super::*;

    #[test]
    fn a_config_map_the_proxy_names_must_exist_and_hold_its_key() {
        let own = model_api("mode: Proxy\nproxy: {configMapRef: {name: litellm}}\n");
        let reference = config_map_ref(&own).expect("a reference");
        assert_eq!(reference.key, "config.yaml");
        let absent = missing_config(reference, None).unwrap();
        assert!(absent.starts_with("ConfigMap litellm (spec.proxy.configMapRef) does not exist"), "{absent}");
        let mut config_map =
            ConfigMap { data: Some([("other.yaml".to_string(), String::new())].into()), ..Default::default() };
        let keyless = missing_config(reference, Some(&config_map)).unwrap();
        assert!(keyless.contains("has no key config.yaml") && keyless.contains("it has other.yaml"), "{keyless}");
        config_map.data = Some([("config.yaml".to_string(), "model_list: []".to_string())].into());
        assert_eq!(missing_config(reference, Some(&config_map)), None);
        let listed = model_api("mode: Proxy\nproxy: {models: [{name: gpt-4o, model: openai/gpt-4o}]}\n");
        assert!(config_map_ref(&listed).is_none());
    }

    #[test]
    fn endpoints_follow_the_mode() {
        let proxy = model_api("mode: Proxy\nproxy: {models: [{name: gpt-4o, model: openai/gpt-4o}]}\n");
        assert_eq!(endpoint(&proxy).as_deref(), Some("http://gateway.team-a.svc.cluster.local:8000"));
        let hosted = model_api("mode: Hosted\nhosted: {models: [llama3.2]}\nport: 9000\n");
        assert_eq!(endpoint(&hosted).as_deref(), Some("http://gateway.team-a.svc.cluster.local:9000"));
        let external = model_api("mode: External\nexternal: {url: 'https://llm.example.com/v1'}\n");
        assert_eq!(endpoint(&external).as_deref(), Some("https://llm.example.com/v1"));
    }

    #[test]
    fn an_external_endpoint_runs_nothing_and_is_ready() {
        let external = model_api("mode: External\nexternal: {url: 'https://llm.example.com/v1', models: [gpt-4o]}\n");
        assert_eq!(children(&external).unwrap(), Children::default());
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let status = status(&external, server::Observed { runs_pods: false, ..Default::default() }, &now);
        assert_eq!(status.phase, Some(agents_api::ServerPhase::Ready));
        assert_eq!(status.models, ["gpt-4o"]);
        assert_eq!(status.ready_replicas, None);
    }

    #[test]
    fn children_are_owned_by_the_model_api_and_selected_by_its_label() {
        let proxy = model_api("mode: Proxy\nproxy: {models: [{name: '*'}]}\n");
        let children = children(&proxy).unwrap();
        let listed: Vec<_> = children.refs().into_iter().map(|r| format!("{} {}", r.kind, r.name)).collect();
        assert_eq!(listed, ["ConfigMap gateway", "Deployment gateway", "Service gateway"]);
        let deployment = children.deployment.unwrap();
        let owner = &deployment.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("ModelAPI", "gateway", Some(true)));
        assert_eq!(deployment.spec.selector.match_labels, Some(selector("gateway")));
        let service = children.service.unwrap().spec.unwrap();
        assert_eq!(service.ports.unwrap()[0].port, 8000);
        assert!(children.config_map.is_some());
        assert!(children.claim.is_none());
    }
}

//! What a pod reads from objects the operator does not own: the ConfigMaps and Secrets its pod
//! template names (env, envFrom, volumes). Kubernetes does not restart a pod when one of them
//! changes: env is read once, at the start, and a program reads a mounted file once too, mostly.
//! So the pod template carries a hash of their contents, and a change rolls the pods.
//!
//! The operator keeps a digest of each ConfigMap (and, when it may read them, each Secret) from a
//! watch; these functions say which of them a pod reads and stamp the template.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, PodSpec, Secret};
use sha2::{Digest, Sha256};

/// Annotation on pod templates: the hash of the ConfigMaps and Secrets the pods read.
pub const INPUTS_HASH_ANNOTATION: &str = "agents.dev/inputs-hash";

/// An object a pod reads, by kind and name (in the pod's namespace).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Input {
    ConfigMap(String),
    Secret(String),
}

impl Input {
    pub fn name(&self) -> &str {
        match self {
            Input::ConfigMap(name) | Input::Secret(name) => name,
        }
    }
}

/// Every ConfigMap and Secret named in `pod`: by env entries, envFrom and volumes (projected ones
/// included), in every container and init container.
pub fn of(pod: &PodSpec) -> BTreeSet<Input> {
    let mut inputs = BTreeSet::new();
    let containers = pod.containers.iter().chain(pod.init_containers.iter().flatten());
    for container in containers {
        for source in container.env.iter().flatten().filter_map(|env| env.value_from.as_ref()) {
            if let Some(key) = &source.config_map_key_ref {
                inputs.insert(Input::ConfigMap(key.name.clone()));
            }
            if let Some(key) = &source.secret_key_ref {
                inputs.insert(Input::Secret(key.name.clone()));
            }
        }
        for source in container.env_from.iter().flatten() {
            if let Some(config_map) = &source.config_map_ref {
                inputs.insert(Input::ConfigMap(config_map.name.clone()));
            }
            if let Some(secret) = &source.secret_ref {
                inputs.insert(Input::Secret(secret.name.clone()));
            }
        }
    }
    for volume in pod.volumes.iter().flatten() {
        if let Some(config_map) = &volume.config_map {
            inputs.insert(Input::ConfigMap(config_map.name.clone()));
        }
        if let Some(name) = volume.secret.as_ref().and_then(|secret| secret.secret_name.clone()) {
            inputs.insert(Input::Secret(name));
        }
        let projected = volume.projected.iter().flat_map(|projected| projected.sources.iter().flatten());
        for source in projected {
            if let Some(config_map) = &source.config_map {
                inputs.insert(Input::ConfigMap(config_map.name.clone()));
            }
            if let Some(secret) = &source.secret {
                inputs.insert(Input::Secret(secret.name.clone()));
            }
        }
    }
    inputs.retain(|input| !input.name().is_empty());
    inputs
}

/// Stamps the pod template with the hash of the digests of `inputs` that `digest` knows (an
/// object it does not know, missing or not followed, counts for nothing). Nothing known, no
/// annotation: a pod that reads nothing is not rolled when the operator starts following.
pub fn stamp(deployment: &mut Deployment, inputs: &BTreeSet<Input>, digest: impl Fn(&Input) -> Option<String>) {
    let known: BTreeMap<&Input, String> = inputs.iter().filter_map(|input| Some((input, digest(input)?))).collect();
    if known.is_empty() {
        return;
    }
    let known: Vec<(String, String)> =
        known.into_iter().map(|(input, digest)| (format!("{input:?}"), digest)).collect();
    let template = deployment.spec.template.metadata.get_or_insert_with(Default::default);
    template
        .annotations
        .get_or_insert_with(Default::default)
        .insert(INPUTS_HASH_ANNOTATION.into(), crate::hash::of(&known));
}

/// The digest of a ConfigMap's contents (its data and binary data, not its labels or annotations:
/// a relabelled ConfigMap rolls nothing).
pub fn config_map_digest(config_map: &ConfigMap) -> String {
    digest(config_map.metadata.uid.as_deref(), &(&config_map.data, &config_map.binary_data))
}

/// The digest of a Secret's contents. The object's UID is mixed in, so the pod template's hash
/// cannot be checked against guesses of a short password by anyone who may read Deployments
/// but not the Secret.
pub fn secret_digest(secret: &Secret) -> String {
    digest(secret.metadata.uid.as_deref(), &(&secret.data, &secret.string_data))
}

fn digest(salt: Option<&str>, contents: &impl serde::Serialize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.unwrap_or_default().as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(contents).expect("ConfigMap and Secret data serialise to JSON"));
    hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> PodSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_place_a_pod_names_a_config_map_or_secret_counts() {
        let pod = pod(json!({
            "initContainers": [{"name": "fetch", "envFrom": [{"secretRef": {"name": "init-secret"}}]}],
            "containers": [{
                "name": "agent",
                "env": [
                    {"name": "A", "value": "literal"},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "model-key", "key": "k"}}},
                    {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}},
                    {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "all-settings"}}],
            }],
            "volumes": [
                {"name": "config", "configMap": {"name": "litellm"}},
                {"name": "tls", "secret": {"secretName": "tls"}},
                {"name": "both", "projected": {"sources": [
                    {"configMap": {"name": "projected-cm"}},
                    {"secret": {"name": "projected-secret"}},
                    {"serviceAccountToken": {"path": "token"}},
                ]}},
                {"name": "scratch", "emptyDir": {}},
            ],
        }));
        let found: Vec<String> = of(&pod).iter().map(|input| format!("{input:?}")).collect();
        assert_eq!(
            found,
            [
                "ConfigMap(\"all-settings\")",
                "ConfigMap(\"litellm\")",
                "ConfigMap(\"projected-cm\")",
                "ConfigMap(\"settings\")",
                "Secret(\"init-secret\")",
                "Secret(\"model-key\")",
                "Secret(\"projected-secret\")",
                "Secret(\"tls\")",
            ]
        );
    }

    fn stamped(inputs: &BTreeSet<Input>, digests: &[(&str, &str)]) -> Option<String> {
        let mut deployment = Deployment::default();
        let digests: BTreeMap<String, String> = digests.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        stamp(&mut deployment, inputs, |input| digests.get(input.name()).cloned());
        deployment.spec.template.metadata?.annotations?.get(INPUTS_HASH_ANNOTATION).cloned()
    }

    #[test]
    fn the_hash_follows_the_contents_of_what_is_known() {
        let inputs: BTreeSet<Input> = [Input::ConfigMap("a".into()), Input::Secret("b".into())].into();
        assert_eq!(stamped(&inputs, &[]), None, "nothing known: no annotation, no roll");
        let first = stamped(&inputs, &[("a", "1")]).unwrap();
        assert_eq!(stamped(&inputs, &[("a", "1")]).unwrap(), first, "stable");
        assert_ne!(stamped(&inputs, &[("a", "2")]).unwrap(), first, "a changed ConfigMap");
        assert_ne!(stamped(&inputs, &[("a", "1"), ("b", "1")]).unwrap(), first, "a Secret appeared");
        assert_eq!(stamped(&inputs, &[("a", "1"), ("unread", "9")]).unwrap(), first, "what the pod does not read");
    }

    #[test]
    fn digests_see_contents_not_metadata() {
        let mut config_map: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "a", "uid": "u1"}, "data": {"k": "v"}})).unwrap();
        let before = config_map_digest(&config_map);
        config_map.metadata.labels = Some([("team".to_string(), "x".to_string())].into());
        assert_eq!(config_map_digest(&config_map), before);
        config_map.data.as_mut().unwrap().insert("k".into(), "w".into());
        assert_ne!(config_map_digest(&config_map), before);

        let secret = |uid: &str, value: &str| -> Secret {
            serde_json::from_value(json!({"metadata": {"name": "s", "uid": uid}, "data": {"key": value}})).unwrap()
        };
        assert_ne!(secret_digest(&secret("u1", "aHVudGVyMg==")), secret_digest(&secret("u1", "aHVudGVyMw==")));
        assert_ne!(
            secret_digest(&secret("u1", "aHVudGVyMg==")),
            secret_digest(&secret("u2", "aHVudGVyMg==")),
            "salted by the object's UID"
        );
    }
}

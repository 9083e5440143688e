//! The Secrets an Agent references, checked from the user's side: the operator never reads
//! Secrets, so a missing one would otherwise only show as pods that cannot start.

use agents_api::Agent;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

/// `(secret, key)` pairs the Agent's pods will read.
pub fn references(agent: &Agent) -> Vec<(String, String)> {
    let mut refs: Vec<(String, String)> = agent
        .spec
        .model
        .iter()
        .filter_map(|m| m.api_key_secret_ref.as_ref())
        .map(|r| (r.name.clone(), r.key.clone()))
        .collect();
    refs.extend(
        agent
            .spec
            .env
            .iter()
            .filter_map(|e| e.value_from.as_ref()?.secret_key_ref.as_ref())
            .filter(|r| r.optional != Some(true))
            .map(|r| (r.name.clone(), r.key.clone())),
    );
    refs.sort();
    refs.dedup();
    refs
}

/// One sentence per referenced Secret or key that is missing, saying how to create it. A Secret
/// the user may not read is not reported (it may well exist).
pub async fn missing(client: &kube::Client, namespace: &str, agent: &Agent) -> Vec<String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut problems = Vec::new();
    for (name, key) in references(agent) {
        match secrets.get_opt(&name).await {
            Ok(None) => problems.push(format!(
                "Secret {name:?} does not exist in namespace {namespace:?}: its pods cannot start until it does \
                 (kubectl create secret generic {name} -n {namespace} --from-literal={key}=...)"
            )),
            Ok(Some(secret)) => {
                let has_key = secret.data.iter().flatten().any(|(k, _)| *k == key)
                    || secret.string_data.iter().flatten().any(|(k, _)| *k == key);
                if !has_key {
                    problems.push(format!("Secret {name:?} has no key {key:?}: its pods cannot start until it does"));
                }
            }
            Err(e) => tracing::debug!("cannot read Secret {name}: {e}"),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_key_and_required_env_secrets_are_referenced() {
        let agent: Agent = serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "Agent", "metadata": {"name": "a"},
            "spec": {"image": "x:1", "model": {"name": "m", "apiKeySecretRef": {"name": "openai", "key": "api-key"}},
                "env": [
                    {"name": "GH", "valueFrom": {"secretKeyRef": {"name": "github", "key": "token"}}},
                    {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "maybe", "key": "k", "optional": true}}},
                    {"name": "PLAIN", "value": "x"},
                ]},
        }))
        .unwrap();
        assert_eq!(references(&agent), [("github".into(), "token".into()), ("openai".into(), "api-key".into())]);
    }
}

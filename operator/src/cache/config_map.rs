//! What the Agent controller keeps of the ConfigMap it renders for each Agent: its metadata (for
//! the plan) and a digest of each value, not the values. The ConfigMap holds the Agent's whole
//! configuration, its instructions included; kept as it is, each Agent would cost its size again
//! in the operator's memory only so that a hand edit is noticed. The digest is enough for that
//! (`agents_render::agent::drift::config_map`).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CachedConfigMap {
    pub metadata: ObjectMeta,
    /// Each key of `data` and the digest of its value.
    #[serde(default, rename = "data", deserialize_with = "digests")]
    digests: Box<[(String, u64)]>,
}

impl CachedConfigMap {
    /// Whether a value `desired` sets is another here (edited by hand): the rule of
    /// `agents_render::agent::drift::config_map`, on digests. Keys only the live one has are
    /// not drift.
    pub fn drifted_from(&self, desired: &ConfigMap) -> bool {
        desired.data.iter().flatten().any(|(key, value)| self.digest(key) != Some(digest(value)))
    }

    fn digest(&self, key: &str) -> Option<u64> {
        self.digests.iter().find(|(k, _)| k == key).map(|(_, digest)| *digest)
    }
}

/// A value's digest: compared only within this process, against a digest it made itself.
fn digest(value: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn digests<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Box<[(String, u64)]>, D::Error> {
    let data = Option::<BTreeMap<String, String>>::deserialize(deserializer)?;
    Ok(data.into_iter().flatten().map(|(key, value)| (key, digest(&value))).collect())
}

super::decoded_as!(CachedConfigMap, ConfigMap);

#[cfg(test)]
mod tests {
    use agents_render::agent::drift;
    use serde_json::json;

    use super::*;

    fn config_map(data: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "research", "namespace": "ns"}, "data": data})
    }

    #[test]
    fn drift_reads_as_on_the_whole_config_map() {
        let desired: ConfigMap = serde_json::from_value(config_map(json!({"agent.yaml": "name: research\n"}))).unwrap();
        for (live, drifted) in [
            (config_map(json!({"agent.yaml": "name: research\n"})), false),
            (config_map(json!({"agent.yaml": "name: research\n", "extra": "kept"})), false),
            (config_map(json!({"agent.yaml": "name: edited\n"})), true),
            (config_map(json!({"other": "name: research\n"})), true),
            (config_map(serde_json::Value::Null), true),
        ] {
            let full: ConfigMap = serde_json::from_value(live.clone()).unwrap();
            let cached: CachedConfigMap = serde_json::from_value(live.clone()).unwrap();
            assert_eq!(drift::config_map(&desired, &full), drifted, "{live}");
            assert_eq!(cached.drifted_from(&desired), drifted, "{live}");
            assert_eq!(cached.metadata, full.metadata);
        }
    }
}

//! Content hashes: on the pod template (a config change rolls the pods) and on every child (the
//! operator skips an apply whose result would not change anything).

use sha2::{Digest, Sha256};

/// Annotation on each child: the hash of what the operator last applied.
pub const SPEC_HASH_ANNOTATION: &str = "agents.dev/spec-hash";
/// Annotation on pod templates: the hash of the mounted configuration.
pub const CONFIG_HASH_ANNOTATION: &str = "agents.dev/config-hash";

/// First 16 hex digits of the SHA-256 of `value`'s JSON form. Stable across builds and
/// releases (unlike `std`'s hasher), so an operator upgrade does not roll every pod.
pub fn of(value: &impl serde::Serialize) -> String {
    let bytes = serde_json::to_vec(value).expect("desired objects serialise to JSON");
    let digest = Sha256::digest(&bytes);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Stamps `object` with the hash of its own content (computed without the stamp).
pub fn stamp<K>(mut object: K) -> K
where
    K: kube::Resource + serde::Serialize,
{
    let meta = object.meta_mut();
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(SPEC_HASH_ANNOTATION);
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
    let hash = of(&object);
    object.meta_mut().annotations.get_or_insert_with(Default::default).insert(SPEC_HASH_ANNOTATION.to_string(), hash);
    object
}

/// The hash a live object carries, if any.
pub fn stamped(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<&str> {
    meta.annotations.as_ref()?.get(SPEC_HASH_ANNOTATION).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[test]
    fn the_stamp_depends_on_content_only() {
        let mut a = ConfigMap::default();
        a.metadata.name = Some("x".into());
        let stamped_once = stamp(a.clone());
        let stamped_twice = stamp(stamped_once.clone());
        assert_eq!(stamped(&stamped_once.metadata), stamped(&stamped_twice.metadata));
        a.data = Some([("k".to_string(), "v".to_string())].into());
        assert_ne!(stamped(&stamp(a).metadata), stamped(&stamped_once.metadata));
    }
}

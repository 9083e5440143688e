//! The CRD manifests, generated from the Rust types. `operator/config/crd/` holds the committed
//! copy; a test fails when it differs from what the types generate.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI};

/// Every CRD of the API, labelled with the version of the crate that generated it (so
/// `kubectl agents version` can tell which API a cluster serves).
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![Agent::crd(), AgentBuild::crd(), AgentWorkflow::crd(), MCPServer::crd(), ModelAPI::crd()];
    for crd in &mut crds {
        crd.metadata.labels = Some(
            [
                ("app.kubernetes.io/part-of".to_string(), "kubectl-agents".to_string()),
                ("app.kubernetes.io/version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ]
            .into(),
        );
    }
    crds
}

/// The file name of a CRD in `operator/config/crd/`: `<group>_<plural>.yaml`, as kubebuilder names them.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// A CRD as YAML, with a header saying where it comes from.
pub fn to_yaml(crd: &CustomResourceDefinition) -> String {
    let body = serde_norway::to_string(crd).expect("a CRD serialises to YAML");
    format!("# Generated from crates/agents-api by `cargo test -p agents-api` with UPDATE_CRDS=1. Do not edit.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Fails when the committed CRDs differ from the types; `UPDATE_CRDS=1` rewrites them. The
    /// Helm chart carries the same files in its `crds/` (Helm's place for them), kept in step here.
    #[test]
    fn committed_crds_match_the_types() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dirs = [root.join("operator/config/crd"), root.join("charts/agents-operator/crds")];
        let update = std::env::var_os("UPDATE_CRDS").is_some();
        let mut stale = Vec::new();
        for crd in all() {
            let generated = to_yaml(&crd);
            for dir in &dirs {
                let path = dir.join(file_name(&crd));
                if update {
                    std::fs::create_dir_all(dir).unwrap();
                    std::fs::write(&path, &generated).unwrap();
                } else if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
                    stale.push(path.display().to_string());
                }
            }
        }
        assert!(
            stale.is_empty(),
            "CRD manifests are out of date with the Rust types: {stale:?}\nregenerate them with: UPDATE_CRDS=1 cargo test -p agents-api crd"
        );
    }
}

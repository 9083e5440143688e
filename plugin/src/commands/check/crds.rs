//! The agents.dev CRDs: installed, Established, serving this plugin's version, of its release.

use agents_render::labels;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use super::probe::{Probe, established, get_crd, not_checked, or_nothing, served_versions};
use super::{Check, PLUGIN_VERSION, Status};
use crate::manifests;

/// The agents.dev CRDs this plugin ships: present, Established, of the plugin's version.
pub(super) async fn agents_crds(client: &kube::Client) -> anyhow::Result<Vec<Check>> {
    let mut checks = Vec::new();
    for object in manifests::crds() {
        let found = get_crd(client, object.name()).await?;
        checks.push(agents_crd(object.name(), found));
    }
    Ok(checks)
}

fn agents_crd(name: &str, found: Probe<Option<CustomResourceDefinition>>) -> Check {
    let check = format!("CRD {name}");
    let crd = match found {
        Err(why) => return not_checked(&check, true, &why),
        Ok(None) => {
            return Check::new(check, true, Status::Fail, "not installed").hint(
                "run `kubectl agents install` (or `kubectl agents install --crds-only` when the operator runs outside the cluster)",
            );
        }
        Ok(Some(crd)) => crd,
    };
    if let Err(why) = established(&crd) {
        return Check::new(check, true, Status::Fail, format!("not Established: {why}"))
            .hint(format!("see `kubectl describe crd {name}`"));
    }
    let served = served_versions(&crd);
    if !served.iter().any(|v| v == agents_api::VERSION) {
        return Check::new(
            check,
            true,
            Status::Fail,
            format!("does not serve {} (serves: {})", agents_api::VERSION, or_nothing(&served)),
        )
        .hint(format!("this plugin speaks {}: run `kubectl agents install`", agents_api::API_VERSION));
    }
    let version = crd.metadata.labels.as_ref().and_then(|l| l.get(labels::VERSION)).cloned();
    match version {
        Some(v) if v == PLUGIN_VERSION => Check::new(check, true, Status::Ok, format!("Established, version {v}")),
        Some(v) => {
            Check::new(check, true, Status::Warn, format!("Established, version {v}; this plugin is {PLUGIN_VERSION}"))
                .hint(format!(
                    "`kubectl agents install` installs the CRDs of {PLUGIN_VERSION}, or use the plugin of version {v}"
                ))
        }
        None => Check::new(check, true, Status::Warn, format!("Established, but without a {} label", labels::VERSION))
            .hint(format!("installed by other means? `kubectl agents install` installs those of {PLUGIN_VERSION}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(labels: serde_json::Value, established: &str) -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "metadata": {"name": "agents.agents.dev", "labels": labels},
            "spec": {
                "group": "agents.dev", "scope": "Namespaced",
                "names": {"kind": "Agent", "plural": "agents"},
                "versions": [{"name": "v1alpha1", "served": true, "storage": true}],
            },
            "status": {"conditions": [{"type": "Established", "status": established, "message": "not yet"}]},
        }))
        .unwrap()
    }

    #[test]
    fn a_missing_crd_fails_with_the_install_hint() {
        let check = agents_crd("agents.agents.dev", Ok(None));
        assert_eq!(check.status, Status::Fail);
        assert!(check.hint.unwrap().contains("kubectl agents install"));
    }

    #[test]
    fn the_crd_version_is_compared_with_the_plugins() {
        let same = agents_crd("agents.agents.dev", Ok(Some(crd(json!({labels::VERSION: PLUGIN_VERSION}), "True"))));
        assert_eq!(same.status, Status::Ok, "{same:?}");
        let other = agents_crd("agents.agents.dev", Ok(Some(crd(json!({labels::VERSION: "0.0.1"}), "True"))));
        assert_eq!(other.status, Status::Warn);
        assert!(other.detail.contains("version 0.0.1; this plugin is"), "{other:?}");
        assert!(other.passes());
        let pending = agents_crd("agents.agents.dev", Ok(Some(crd(json!({}), "False"))));
        assert_eq!(pending.status, Status::Fail);
        assert_eq!(pending.detail, "not Established: not yet");
    }

    #[test]
    fn a_forbidden_probe_is_a_row_not_a_crash() {
        let check = agents_crd("agents.agents.dev", Err("forbidden: nope".into()));
        assert_eq!(check.status, Status::Unknown);
        assert_eq!(check.detail, "could not be checked: forbidden: nope");
        assert!(!check.passes());
    }
}

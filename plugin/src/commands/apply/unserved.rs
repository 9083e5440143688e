//! Why the cluster does not serve a manifest's kind, in the words of what it does serve: a
//! misspelt kind or a wrong version is named as such, and `kubectl agents install` is suggested
//! only when the agents.dev API is missing altogether.

use kube::core::GroupVersionKind;

/// What a group serves, as discovery found it.
pub struct Served {
    pub versions: Vec<String>,
    /// The kinds of the manifest's version, when the group serves that version.
    pub kinds: Vec<String>,
}

/// Asks the cluster what `gvk`'s group serves (None: not the group at all).
pub async fn discover(client: &kube::Client, gvk: &GroupVersionKind) -> Option<Served> {
    let group = kube::discovery::group(client, &gvk.group).await.ok()?;
    let versions = group.versions().map(String::from).collect();
    let kinds = group.versioned_resources(&gvk.version).into_iter().map(|(resource, _)| resource.kind).collect();
    Some(Served { versions, kinds })
}

/// The sentence that explains it.
pub fn explain(gvk: &GroupVersionKind, served: Option<&Served>) -> String {
    let api_version = gvk.api_version();
    let kind = &gvk.kind;
    let Some(served) = served else {
        return if gvk.group == agents_api::GROUP {
            format!("the cluster does not serve {api_version}: run `kubectl agents install`")
        } else {
            format!("the cluster does not serve the API group of {api_version} {kind}: is its CRD installed?")
        };
    };
    let in_group = |version: &str| match gvk.group.as_str() {
        "" => version.to_string(),
        group => format!("{group}/{version}"),
    };
    if !served.versions.contains(&gvk.version) {
        let served_versions: Vec<String> = served.versions.iter().map(|v| in_group(v)).collect();
        return format!(
            "the cluster does not serve apiVersion {api_version}; it serves {}: set apiVersion to one of them",
            served_versions.join(", ")
        );
    }
    let mut kinds = served.kinds.clone();
    kinds.sort();
    kinds.dedup();
    let closest = kinds
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(&candidate.to_lowercase(), &kind.to_lowercase()), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    let hint = match closest {
        Some((_, candidate)) => format!(" (did you mean {candidate}?)"),
        None => String::new(),
    };
    format!("{api_version} has no kind {kind}{hint}; it serves {}", kinds.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agents_dev() -> Served {
        Served {
            versions: vec!["v1alpha1".into()],
            kinds: ["Agent", "AgentBuild", "AgentWorkflow", "MCPServer", "ModelAPI"].map(String::from).to_vec(),
        }
    }

    #[test]
    fn a_misspelt_kind_is_named_with_the_closest_served_one() {
        let gvk = GroupVersionKind::gvk("agents.dev", "v1alpha1", "Agnet");
        assert_eq!(
            explain(&gvk, Some(&agents_dev())),
            "agents.dev/v1alpha1 has no kind Agnet (did you mean Agent?); it serves Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI"
        );
        let gvk = GroupVersionKind::gvk("agents.dev", "v1alpha1", "Robot");
        assert!(
            explain(&gvk, Some(&agents_dev())).starts_with("agents.dev/v1alpha1 has no kind Robot; it serves Agent,")
        );
    }

    #[test]
    fn a_wrong_version_names_the_served_ones() {
        let gvk = GroupVersionKind::gvk("agents.dev", "v1", "Agent");
        assert_eq!(
            explain(&gvk, Some(&agents_dev())),
            "the cluster does not serve apiVersion agents.dev/v1; it serves agents.dev/v1alpha1: set apiVersion to one of them"
        );
        let core = Served { versions: vec!["v1".into()], kinds: vec!["Secret".into()] };
        let gvk = GroupVersionKind::gvk("", "v2", "Secret");
        assert!(explain(&gvk, Some(&core)).contains("it serves v1:"));
    }

    #[test]
    fn install_is_suggested_only_when_the_group_is_missing() {
        let gvk = GroupVersionKind::gvk("agents.dev", "v1alpha1", "Agent");
        assert_eq!(explain(&gvk, None), "the cluster does not serve agents.dev/v1alpha1: run `kubectl agents install`");
        let gvk = GroupVersionKind::gvk("tekton.dev", "v1", "Pipeline");
        assert!(explain(&gvk, None).contains("is its CRD installed?"));
    }
}

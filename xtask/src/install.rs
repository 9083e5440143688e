//! The release's install files, pinning its images by tag and digest: a kustomize overlay of the
//! repository's `operator/config/default` at the release's tag, and a Helm values file for
//! `charts/agents-operator`. Pure: the caller writes them.
//!
//! The operator runs `image:tag@digest`; the Agents that run the reference runtime get it pinned
//! the same way, through the operator's `--agent-runtime-image`. `kubectl agents install` of a
//! release build of the plugin pins both identically (`plugin/src/manifests.rs`).

/// One image of the release, as the install paths name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// `ghcr.io/kubectl-agents/agents-operator`.
    pub repository: String,
    /// `v0.1.0`.
    pub tag: String,
    /// `sha256:…` of the image index.
    pub digest: String,
}

impl Pinned {
    /// `ghcr.io/kubectl-agents/agents-operator:v0.1.0@sha256:…`: the tag for people, the digest
    /// for the kubelet (which pulls by digest when both are given).
    pub fn reference(&self) -> String {
        format!("{}:{}@{}", self.repository, self.tag, self.digest)
    }
}

/// `# PARTIAL: …` lines for images that lack some platforms, else nothing.
fn partial_note(missing: &[String]) -> String {
    if missing.is_empty() {
        return String::new();
    }
    format!("# PARTIAL: the images have no {} manifest: nodes of that platform cannot run them.\n", missing.join(", "))
}

/// `kustomization.yaml`: `kubectl apply --server-side -k .` in a directory holding it installs
/// the release's `operator/config/default` with the images pinned.
pub fn kustomization(repository: &str, operator: &Pinned, runtime: &Pinned, missing: &[String]) -> String {
    let repository = repository.trim_end_matches('/');
    format!(
        "# The operator of kubectl-agents {tag}, its images pinned by digest; written by `cargo xtask release`.
# kubectl apply --server-side -k <directory holding this file>
{note}apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {repository}//operator/config/default?ref={tag}
images:
  - name: {operator_repository}
    newTag: {tag}
    digest: {operator_digest}
patches:
  # Agents without an image of their own run the release's runtime, by digest too.
  - target:
      kind: Deployment
      name: agents-operator
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: --agent-runtime-image={runtime}
",
        tag = operator.tag,
        note = partial_note(missing),
        operator_repository = operator.repository,
        operator_digest = operator.digest,
        runtime = runtime.reference(),
    )
}

/// `values-release.yaml` for `helm install … -f values-release.yaml` (the value names are the
/// chart's: `image.tag`, `image.digest`, `agentRuntime.image`).
pub fn helm_values(operator: &Pinned, runtime: &Pinned, missing: &[String]) -> String {
    format!(
        "# The images of kubectl-agents {tag}, pinned by digest; written by `cargo xtask release`.
# helm install agents-operator charts/agents-operator -f values-release.yaml
{note}image:
  tag: {tag}
  digest: {digest}
agentRuntime:
  image: {runtime}
",
        tag = operator.tag,
        note = partial_note(missing),
        digest = operator.digest,
        runtime = runtime.reference(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn pinned(name: &str, digit: char) -> Pinned {
        Pinned {
            repository: format!("ghcr.io/kubectl-agents/{name}"),
            tag: "v1.2.3".into(),
            digest: format!("sha256:{}", digit.to_string().repeat(64)),
        }
    }

    fn parse(yaml: &str) -> Value {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn the_overlay_pins_the_operator_and_the_runtime() {
        let (operator, runtime) = (pinned("agents-operator", '1'), pinned("agents-runtime", '2'));
        let overlay = parse(&kustomization("https://github.com/x/y/", &operator, &runtime, &[]));
        assert_eq!(overlay["resources"], json!(["https://github.com/x/y//operator/config/default?ref=v1.2.3"]));
        assert_eq!(
            overlay["images"],
            json!([{"name": "ghcr.io/kubectl-agents/agents-operator", "newTag": "v1.2.3", "digest": operator.digest}])
        );
        let patch = parse(overlay["patches"][0]["patch"].as_str().unwrap());
        assert_eq!(
            patch[0]["value"],
            format!("--agent-runtime-image=ghcr.io/kubectl-agents/agents-runtime:v1.2.3@sha256:{}", "2".repeat(64))
        );
    }

    #[test]
    fn the_helm_values_name_the_charts_values() {
        let (operator, runtime) = (pinned("agents-operator", '1'), pinned("agents-runtime", '2'));
        let values = parse(&helm_values(&operator, &runtime, &[]));
        assert_eq!(
            values,
            json!({
                "image": {"tag": "v1.2.3", "digest": operator.digest},
                "agentRuntime": {"image": runtime.reference()},
            })
        );
    }

    #[test]
    fn partial_images_say_what_they_lack() {
        let (operator, runtime) = (pinned("agents-operator", '1'), pinned("agents-runtime", '2'));
        let missing = ["linux/arm64".to_string()];
        for text in [kustomization("r", &operator, &runtime, &missing), helm_values(&operator, &runtime, &missing)] {
            assert!(text.contains("# PARTIAL: the images have no linux/arm64 manifest"), "{text}");
            parse(&text);
        }
    }
}

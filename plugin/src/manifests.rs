//! The CRDs and the operator's manifests, embedded from `operator/config` when the plugin is
//! built: `kubectl agents install` applies exactly what `kubectl apply -k operator/config/default`
//! applies (with `--follow-secrets`, `operator/config/follow-secrets`), at the plugin's own version
//! (the unit tests below hold both to that).

use std::any::TypeId;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Resource;
use kube::core::ApiResource;
use serde::Deserialize;

/// One file of `operator/config`, by its path under that directory.
#[derive(Debug, Clone, Copy)]
pub struct File {
    pub path: &'static str,
    pub text: &'static str,
}

macro_rules! config {
    ($path:literal) => {
        File { path: $path, text: include_str!(concat!("../../operator/config/", $path)) }
    };
}

/// The agents.dev CRDs: applied first, and Established before anything else is applied.
pub const CRDS: &[File] = &[
    config!("crd/agents.dev_agents.yaml"),
    config!("crd/agents.dev_agentbuilds.yaml"),
    config!("crd/agents.dev_agentworkflows.yaml"),
    config!("crd/agents.dev_mcpservers.yaml"),
    config!("crd/agents.dev_modelapis.yaml"),
];

/// The operator, in the order it is applied: its namespace, its identity and RBAC, the Deployment
/// that runs as that identity. Uninstall removes them in the reverse order.
pub const OPERATOR: &[File] = &[
    config!("manager/namespace.yaml"),
    config!("rbac/service_account.yaml"),
    config!("rbac/cluster_role.yaml"),
    config!("rbac/cluster_role_binding.yaml"),
    config!("rbac/leader_election_role.yaml"),
    config!("rbac/leader_election_role_binding.yaml"),
    config!("manager/deployment.yaml"),
];

/// Where the operator is installed.
pub const NAMESPACE: &str = "agents-system";
/// The operator's Deployment (and ServiceAccount, ClusterRole…).
pub const OPERATOR_NAME: &str = "agents-operator";
/// The label that finds the operator's Deployment wherever it was installed.
pub const OPERATOR_SELECTOR: &str = "app.kubernetes.io/name=agents-operator";

/// One object of the manifests.
#[derive(Debug, Clone)]
pub struct Object {
    /// The file it comes from, under `operator/config`.
    pub file: &'static str,
    pub value: serde_json::Value,
}

impl Object {
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"].as_str()
    }

    /// The API group: `apps` for `apps/v1`, empty for the core group.
    pub fn group(&self) -> &str {
        self.api_version().rsplit_once('/').map(|(group, _)| group).unwrap_or_default()
    }

    /// kubectl's name for it: `deployment.apps/agents-operator`, `namespace/agents-system`.
    pub fn label(&self) -> String {
        let group = self.group();
        let group = if group.is_empty() { String::new() } else { format!(".{group}") };
        format!("{}{group}/{}", self.kind().to_lowercase(), self.name())
    }

    /// Its resource, and whether it is namespaced, without asking the API server (every kind
    /// the manifests use is a built-in one).
    pub fn resource(&self) -> Option<(ApiResource, bool)> {
        fn typed<K>() -> (ApiResource, bool)
        where
            K: Resource<DynamicType = ()>,
            K::Scope: 'static,
        {
            (ApiResource::erase::<K>(&()), TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>())
        }
        let (resource, namespaced) = match self.kind() {
            "CustomResourceDefinition" => typed::<CustomResourceDefinition>(),
            "Namespace" => typed::<Namespace>(),
            "ServiceAccount" => typed::<ServiceAccount>(),
            "ClusterRole" => typed::<ClusterRole>(),
            "ClusterRoleBinding" => typed::<ClusterRoleBinding>(),
            "Role" => typed::<Role>(),
            "RoleBinding" => typed::<RoleBinding>(),
            "Deployment" => typed::<Deployment>(),
            _ => return None,
        };
        (resource.api_version == self.api_version()).then_some((resource, namespaced))
    }
}

/// The release's image digests (`sha256:…`), set by `cargo xtask release` when it builds the
/// plugin after the images: `install` then runs the operator and the reference runtime by tag
/// and digest, as the release's kustomize overlay does. Unset (any other build), by tag only.
const OPERATOR_IMAGE_DIGEST: Option<&str> = option_env!("AGENTS_OPERATOR_IMAGE_DIGEST");
const RUNTIME_IMAGE_DIGEST: Option<&str> = option_env!("AGENTS_RUNTIME_IMAGE_DIGEST");

/// The Deployment's lines that name the images (the unit tests hold deployment.yaml to them).
const OPERATOR_IMAGE_LINE: &str =
    concat!("image: ghcr.io/kubectl-agents/agents-operator:v", env!("CARGO_PKG_VERSION"), "\n");
const ARGS_LINE: &str = "args: [--log-format=json]\n";

/// `text` with the operator's image pinned to `operator` (`image:tag@digest`) and the runtime's
/// passed to the operator as `--agent-runtime-image=…:tag@digest`; other files unchanged.
fn pin<'a>(text: &'a str, operator: Option<&str>, runtime: Option<&str>) -> std::borrow::Cow<'a, str> {
    if !text.contains(OPERATOR_IMAGE_LINE) || (operator.is_none() && runtime.is_none()) {
        return text.into();
    }
    let version = env!("CARGO_PKG_VERSION");
    let mut text = text.to_string();
    if let Some(digest) = operator {
        text = text.replacen(OPERATOR_IMAGE_LINE, &format!("{}@{digest}\n", OPERATOR_IMAGE_LINE.trim_end()), 1);
    }
    if let Some(digest) = runtime {
        let runtime = format!("ghcr.io/kubectl-agents/agents-runtime:v{version}@{digest}");
        text = text.replacen(ARGS_LINE, &format!("args: [--log-format=json, --agent-runtime-image={runtime}]\n"), 1);
    }
    text.into()
}

/// A file's text as this build installs it (pinned by a release build).
fn text(file: &File) -> std::borrow::Cow<'static, str> {
    pin(file.text, OPERATOR_IMAGE_DIGEST, RUNTIME_IMAGE_DIGEST)
}

/// Every object of the files, in order.
pub fn parse(files: &[File]) -> anyhow::Result<Vec<Object>> {
    let mut objects = Vec::new();
    for file in files {
        for document in serde_norway::Deserializer::from_str(&text(file)) {
            let value = serde_json::Value::deserialize(document)
                .map_err(|e| anyhow::anyhow!("the embedded {} is not valid YAML: {e}", file.path))?;
            if !value.is_null() {
                objects.push(Object { file: file.path, value });
            }
        }
    }
    Ok(objects)
}

/// The CRDs' objects. The embedded files are checked by the unit tests, so this cannot fail.
pub fn crds() -> Vec<Object> {
    parse(CRDS).expect("the embedded CRDs parse (unit-tested)")
}

/// The operator's objects, in the order they are applied.
pub fn operator() -> Vec<Object> {
    parse(OPERATOR).expect("the embedded operator manifests parse (unit-tested)")
}

/// The files as one multi-document YAML stream, comments included (what `install --dry-run`
/// prints, ready for `kubectl apply --server-side -f -`).
pub fn yaml(files: &[File]) -> String {
    files.iter().map(file_yaml).collect()
}

fn file_yaml(file: &File) -> String {
    format!("---\n# operator/config/{}\n{}\n", file.path, text(file).trim_end())
}

/// The flag `install --follow-secrets` passes to the operator: pods roll when a Secret they read
/// changes.
pub const FOLLOW_SECRETS_FLAG: &str = "--follow-secrets";

/// The objects `follow_secrets` changes are not in the manifests, or not as it expects.
#[derive(Debug, thiserror::Error)]
#[error("the embedded operator manifests have no {kind} {OPERATOR_NAME} with a list at {path} for --follow-secrets")]
pub struct NoPlaceToFollowSecrets {
    kind: &'static str,
    path: &'static str,
}

/// The operator's objects as `operator/config/follow-secrets` builds them over
/// `operator/config/default`: the ClusterRole agents-operator may also list and watch Secrets (at
/// the end of its rules) and the operator runs with `--follow-secrets` (after its other args).
/// The unit tests hold this to the overlay's patches.
pub fn follow_secrets(mut objects: Vec<Object>) -> Result<Vec<Object>, NoPlaceToFollowSecrets> {
    let rule = serde_json::json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]});
    list_at(&mut objects, "ClusterRole", "/rules")?.push(rule);
    list_at(&mut objects, "Deployment", "/spec/template/spec/containers/0/args")?.push(FOLLOW_SECRETS_FLAG.into());
    Ok(objects)
}

/// The list at `path` in the operator's object of this kind.
fn list_at<'a>(
    objects: &'a mut [Object],
    kind: &'static str,
    path: &'static str,
) -> Result<&'a mut Vec<serde_json::Value>, NoPlaceToFollowSecrets> {
    objects
        .iter_mut()
        .find(|o| o.kind() == kind && o.name() == OPERATOR_NAME)
        .and_then(|o| o.value.pointer_mut(path))
        .and_then(serde_json::Value::as_array_mut)
        .ok_or(NoPlaceToFollowSecrets { kind, path })
}

/// What `install --follow-secrets --dry-run` prints first: how its stream differs from the files.
pub const FOLLOW_SECRETS_HEADER: &str = "\
# kubectl agents install --follow-secrets: what operator/config/follow-secrets builds. It differs
# from operator/config/default (and `install --dry-run`) in two objects, printed as they will be
# applied, without their files' comments: the ClusterRole agents-operator may also list and watch
# Secrets (its last rule), and the operator's container runs with --follow-secrets (its last arg),
# so that pods roll when a Secret they read changes.
";

/// `objects` (each parsed from one of `files`) as one multi-document YAML stream after `header`:
/// a file whose objects are unchanged as its text, comments included, like [`yaml`]; the objects
/// of a file that were changed as they are now.
pub fn yaml_of(header: &str, files: &[File], objects: &[Object]) -> anyhow::Result<String> {
    let mut stream = header.to_string();
    for file in files {
        let theirs: Vec<&Object> = objects.iter().filter(|o| o.file == file.path).collect();
        let original = parse(std::slice::from_ref(file))?;
        if original.iter().map(|o| &o.value).eq(theirs.iter().map(|o| &o.value)) {
            stream.push_str(&file_yaml(file));
            continue;
        }
        for object in theirs {
            let yaml = serde_norway::to_string(&object.value)?;
            stream.push_str(&format!("---\n# operator/config/{}, changed (see the top)\n{yaml}", file.path));
        }
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const VERSION: &str = env!("CARGO_PKG_VERSION");

    fn all() -> Vec<Object> {
        [crds(), operator()].concat()
    }

    #[test]
    fn every_embedded_manifest_parses_into_known_objects() {
        let objects = all();
        assert_eq!(objects.len(), CRDS.len() + OPERATOR.len(), "one object per file");
        for object in &objects {
            assert!(!object.name().is_empty(), "{} has no name", object.file);
            assert!(
                object.resource().is_some(),
                "{}: {} {} is not a known kind",
                object.file,
                object.api_version(),
                object.kind()
            );
        }
    }

    #[test]
    fn namespaced_objects_name_the_operator_namespace_and_cluster_ones_none() {
        for object in all() {
            let (_, namespaced) = object.resource().unwrap();
            let expected = namespaced.then_some(NAMESPACE);
            assert_eq!(object.namespace(), expected, "{} ({})", object.label(), object.file);
        }
    }

    #[test]
    fn crds_come_first_then_the_namespace_rbac_and_the_deployment() {
        assert!(crds().iter().all(|o| o.kind() == "CustomResourceDefinition" && o.group() == "apiextensions.k8s.io"));
        let kinds: Vec<String> = operator().iter().map(|o| o.kind().to_string()).collect();
        assert_eq!(kinds.first().map(String::as_str), Some("Namespace"));
        assert_eq!(kinds.last().map(String::as_str), Some("Deployment"));
        assert!(!kinds.iter().any(|k| k == "CustomResourceDefinition"));
        let position = |kind: &str| kinds.iter().position(|k| k == kind).unwrap();
        assert!(position("ServiceAccount") < position("Deployment"));
        assert!(position("ClusterRole") < position("ClusterRoleBinding"));
        assert!(position("Role") < position("RoleBinding"));
    }

    #[test]
    fn crds_carry_the_agents_group_and_the_plugin_version() {
        for crd in crds() {
            assert_eq!(crd.value["spec"]["group"], agents_api::GROUP, "{}", crd.file);
            assert_eq!(crd.value["metadata"]["labels"]["app.kubernetes.io/version"], VERSION, "{}", crd.file);
        }
    }

    /// A version bump must bump the image the Deployment runs and its version label, or
    /// `kubectl agents check` and `version` would report a mismatch right after an install.
    #[test]
    fn the_operator_deployment_runs_the_plugin_version() {
        let operator = operator();
        let deployment = operator.iter().find(|o| o.kind() == "Deployment").unwrap();
        assert_eq!(deployment.name(), OPERATOR_NAME);
        let labels = &deployment.value["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/version"], VERSION);
        let (key, value) = OPERATOR_SELECTOR.split_once('=').unwrap();
        assert_eq!(labels[key], value);
        let image = deployment.value["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap();
        assert!(image.ends_with(&format!(":v{VERSION}")), "the operator image {image} is not v{VERSION}");
        let namespace = operator.iter().find(|o| o.kind() == "Namespace").unwrap();
        assert_eq!(namespace.name(), NAMESPACE);
    }

    /// Every file the kustomizations list is embedded, and nothing else: a manifest added to
    /// operator/config must be added here too.
    #[test]
    fn the_embedded_files_are_those_the_kustomizations_list() {
        let kustomizations = [
            ("crd", include_str!("../../operator/config/crd/kustomization.yaml")),
            ("rbac", include_str!("../../operator/config/rbac/kustomization.yaml")),
            ("manager", include_str!("../../operator/config/manager/kustomization.yaml")),
        ];
        let mut listed = BTreeSet::new();
        for (dir, text) in kustomizations {
            let kustomization: serde_json::Value = serde_norway::from_str(text).unwrap();
            for resource in kustomization["resources"].as_array().unwrap() {
                listed.insert(format!("{dir}/{}", resource.as_str().unwrap()));
            }
        }
        let embedded: BTreeSet<String> = CRDS.iter().chain(OPERATOR).map(|f| f.path.to_string()).collect();
        assert_eq!(embedded, listed);
        let default: serde_json::Value =
            serde_norway::from_str(include_str!("../../operator/config/default/kustomization.yaml")).unwrap();
        assert_eq!(default["resources"], serde_json::json!(["../crd", "../rbac", "../manager"]));
    }

    /// A release build pins the images by digest in the Deployment only; the lines it rewrites
    /// are in deployment.yaml, once each, so pinning cannot silently do nothing.
    #[test]
    fn a_release_build_pins_the_images_by_digest() {
        let deployment = OPERATOR.iter().find(|f| f.path == "manager/deployment.yaml").unwrap();
        assert_eq!(deployment.text.matches(OPERATOR_IMAGE_LINE).count(), 1);
        assert_eq!(deployment.text.matches(ARGS_LINE).count(), 1);
        let (operator, runtime) = (format!("sha256:{}", "1".repeat(64)), format!("sha256:{}", "2".repeat(64)));
        let pinned = pin(deployment.text, Some(&operator), Some(&runtime));
        let pinned: serde_json::Value = serde_norway::from_str(&pinned).unwrap();
        let mut tagged: serde_json::Value = serde_norway::from_str(deployment.text).unwrap();
        let container = &mut tagged["spec"]["template"]["spec"]["containers"][0];
        container["image"] = format!("ghcr.io/kubectl-agents/agents-operator:v{VERSION}@{operator}").into();
        container["args"] = serde_json::json!([
            "--log-format=json",
            format!("--agent-runtime-image=ghcr.io/kubectl-agents/agents-runtime:v{VERSION}@{runtime}")
        ]);
        assert_eq!(pinned, tagged);
        for file in CRDS.iter().chain(OPERATOR).filter(|f| f.path != deployment.path) {
            assert_eq!(pin(file.text, Some(&operator), Some(&runtime)), file.text, "{}", file.path);
        }
        assert_eq!(pin(deployment.text, None, None), deployment.text);
        // What this build embeds: nothing, or digests.
        for digest in [OPERATOR_IMAGE_DIGEST, RUNTIME_IMAGE_DIGEST].into_iter().flatten() {
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            assert!(hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()), "not a digest: {digest}");
        }
    }

    #[test]
    fn labels_read_like_kubectl_names() {
        let labels: Vec<String> = all().iter().map(Object::label).collect();
        assert!(labels.contains(&"customresourcedefinition.apiextensions.k8s.io/agents.agents.dev".to_string()));
        assert!(labels.contains(&"namespace/agents-system".to_string()));
        assert!(labels.contains(&"deployment.apps/agents-operator".to_string()));
        assert!(labels.contains(&"clusterrole.rbac.authorization.k8s.io/agents-operator".to_string()));
    }

    fn values(objects: Vec<Object>) -> Vec<serde_json::Value> {
        objects.into_iter().map(|o| o.value).collect()
    }

    /// `install --follow-secrets` applies what operator/config/follow-secrets builds: the
    /// overlay's patches (JSON patches that each append to a list of one object of the default)
    /// applied here by hand to the embedded objects give the same objects.
    #[test]
    fn follow_secrets_changes_the_objects_as_the_overlay_patches_them() {
        let overlay: serde_json::Value =
            serde_norway::from_str(include_str!("../../operator/config/follow-secrets/kustomization.yaml")).unwrap();
        assert_eq!(overlay["resources"], serde_json::json!(["../default"]));
        let patches = overlay["patches"].as_array().unwrap();
        assert_eq!(patches.len(), 2);
        let mut expected = operator();
        for patch in patches {
            let target = &patch["target"];
            let object = expected.iter_mut().find(|o| o.kind() == target["kind"] && o.name() == target["name"]);
            let object = object.unwrap_or_else(|| panic!("the overlay patches {target}, which is not embedded"));
            let operations: Vec<serde_json::Value> = serde_norway::from_str(patch["patch"].as_str().unwrap()).unwrap();
            for operation in operations {
                assert_eq!(operation["op"], "add", "{operation}");
                let path = operation["path"].as_str().unwrap().strip_suffix("/-").expect("an append");
                object.value.pointer_mut(path).unwrap().as_array_mut().unwrap().push(operation["value"].clone());
            }
        }
        let followed = values(follow_secrets(operator()).unwrap());
        assert_eq!(followed, values(expected));
        assert_ne!(followed, values(operator()));
        let deployment = followed.iter().find(|o| o["kind"] == "Deployment").unwrap();
        let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].as_array().unwrap();
        assert_eq!(args.last().unwrap(), FOLLOW_SECRETS_FLAG);
    }

    #[test]
    fn follow_secrets_without_the_operator_says_what_it_lacks() {
        let error = follow_secrets(crds()).unwrap_err().to_string();
        assert!(error.contains("no ClusterRole agents-operator with a list at /rules"), "{error}");
        let without_deployment: Vec<Object> = operator().into_iter().filter(|o| o.kind() != "Deployment").collect();
        let error = follow_secrets(without_deployment).unwrap_err().to_string();
        assert!(error.contains("no Deployment agents-operator"), "{error}");
    }

    /// The `--follow-secrets` dry run is the objects that will be applied, valid YAML; the files
    /// it does not change keep their text (a diff with the plain dry run shows the two changes
    /// only), the two it changes say so, and the first lines say how.
    #[test]
    fn the_follow_secrets_dry_run_stream_is_what_is_applied() {
        let files = [CRDS, OPERATOR].concat();
        let applied = [crds(), follow_secrets(operator()).unwrap()].concat();
        let stream = yaml_of(FOLLOW_SECRETS_HEADER, &files, &applied).unwrap();
        assert!(stream.starts_with("# kubectl agents install --follow-secrets:"), "{stream}");
        let objects: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&stream)
            .map(|d| serde_json::Value::deserialize(d).unwrap())
            .filter(|v| !v.is_null())
            .collect();
        assert_eq!(objects, values(applied));
        let changed: Vec<&File> = files.iter().filter(|f| !stream.contains(&file_yaml(f))).collect();
        let changed: Vec<&str> = changed.iter().map(|f| f.path).collect();
        assert_eq!(changed, ["rbac/cluster_role.yaml", "manager/deployment.yaml"]);
        for path in changed {
            assert!(stream.contains(&format!("# operator/config/{path}, changed (see the top)\n")), "{path}");
        }
        // Nothing changed: the plain dry run's stream.
        assert_eq!(yaml_of("", &files, &all()).unwrap(), yaml(&files));
    }

    #[test]
    fn the_dry_run_stream_holds_every_object() {
        let text = yaml(&[CRDS, OPERATOR].concat());
        let objects: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&text)
            .map(|d| serde_json::Value::deserialize(d).unwrap())
            .filter(|v| !v.is_null())
            .collect();
        let expected: Vec<serde_json::Value> = all().into_iter().map(|o| o.value).collect();
        assert_eq!(objects, expected);
    }
}

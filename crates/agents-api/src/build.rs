//! `AgentBuild`: an agent's container image, built from a git repository inside the cluster by a
//! Tekton PipelineRun (clone, build, push), whose pushed digest Agents with `buildRef` run.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::refs::SecretKeyRef;

/// Annotation whose new value asks for a new run of an unchanged spec (`kubectl agents build NAME`
/// sets it to the time of the request).
pub const REBUILD_ANNOTATION: &str = "agents.dev/rebuild";

/// The longest AgentBuild name: its runs are named `<name>-<10 hex digits>`, and Tekton copies a
/// run's name into a label (63 characters at most).
pub const MAX_NAME_LENGTH: usize = 52;

/// The desired state of an AgentBuild. Changing it (except `historyLimit`) starts a new run.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agents.dev",
    version = "v1alpha1",
    kind = "AgentBuild",
    namespaced,
    status = "AgentBuildStatus",
    shortname = "ab",
    category = "agents",
    derive = "PartialEq",
    doc = "An agent's container image, built from a git repository in the cluster by a Tekton PipelineRun (clone, build, push).",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Image", type_ = "string", json_path = ".status.image"),
    printcolumn(name = "Run", type_ = "string", json_path = ".status.runName", priority = 1),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.reason", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")
        .message("metadata.name: an AgentBuild's runs are named after it: use at most 52 lowercase letters, digits and '-', starting with a letter")
)]
#[serde(rename_all = "camelCase")]
pub struct AgentBuildSpec {
    /// Where the source comes from.
    pub git: GitSource,

    /// Path of the Dockerfile, relative to `git.contextDir`.
    #[serde(default = "default_dockerfile")]
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = (
        "!self.startsWith('/') && !self.split('/').exists(p, p == '..')",
        "must be a path inside the repository, such as Dockerfile or docker/Dockerfile (no leading '/', no '..')"
    ))]
    pub dockerfile: String,

    /// Registry and repository to push to, without a tag, e.g. `ghcr.io/org/agent`.
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = (
        "self.matches('^[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)+$')",
        "must be a registry and repository without a tag, such as ghcr.io/org/agent (put the tag in spec.tag)"
    ))]
    pub image: String,

    /// Tag to push, e.g. `v1`.
    #[serde(default = "default_tag")]
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = (
        "self.matches('^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$')",
        "must be an image tag: letters, digits, '_', '.' and '-', not starting with '.' or '-' (at most 128)"
    ))]
    pub tag: String,

    /// A Secret key holding a Docker config JSON (the `.dockerconfigjson` of a
    /// `kubernetes.io/dockerconfigjson` Secret) with credentials for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_secret_ref: Option<SecretKeyRef>,

    /// `--build-arg`s for the Dockerfile. Values are visible in the PipelineRun: not for secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub build_args: Vec<BuildArg>,

    /// Longest time a run may take, e.g. `30m` or `1h30m`.
    #[serde(default = "default_timeout")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = (
        "self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+s)?$') && self != ''",
        "must be a duration such as 30m, 1h or 1h30m"
    ))]
    pub timeout: String,

    /// How many finished runs to keep (the newest); older ones are deleted with their pods.
    #[serde(default = "default_history_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub history_limit: i32,
}

/// A git repository at a revision.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.tokenSecretRef) || self.url.startsWith('https://')")
    .message("git.tokenSecretRef authenticates over HTTPS only: use an https:// URL")
    .field_path(".tokenSecretRef"))]
// The URL's rules sit on the object, not the field: a field's rejection quotes the value, and
// this value may hold a secret. An ssh user (`ssh://git@host/…`) is not one; a password or an
// http(s) user is.
#[x_kube(validation = Rule::new("!self.url.matches('^https?://[^/?#]*@') && !self.url.matches('^ssh://[^/?#@]*:[^/?#]*@')")
    .message("git.url must not carry credentials (user:token@): the clone step's parameters would hold them in clear; put the token in a Secret and name it in git.tokenSecretRef")
    .field_path(".url"))]
#[x_kube(validation = Rule::new("self.url.matches('^(https?|ssh)://[^\\\\s/@]+(@[^\\\\s/]+)?/[^\\\\s]+$') || self.url.matches('^[a-zA-Z0-9._-]+@[^\\\\s:/]+:[^\\\\s]+$')")
    .message("must be a git repository URL such as https://github.com/org/repo.git or git@github.com:org/repo.git")
    .field_path(".url"))]
pub struct GitSource {
    /// The repository's URL: `https://host/path`, `http://host/path`, `ssh://host/path` or `git@host:path`.
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,

    /// Branch, tag or commit to build.
    #[serde(default = "default_revision")]
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = (
        "self.matches('^[^\\\\s~^:?*\\\\[\\\\\\\\]+$') && !self.startsWith('-')",
        "must be a branch, tag or commit such as main, v1.2.0 or a commit hash"
    ))]
    pub revision: String,

    /// Directory of the repository to build in (the Docker build context).
    #[serde(default = "default_context_dir")]
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = (
        "!self.startsWith('/') && !self.split('/').exists(p, p == '..')",
        "must be a directory inside the repository, such as . or agents/research (no leading '/', no '..')"
    ))]
    pub context_dir: String,

    /// For private repositories: a Secret key holding a token (e.g. a GitHub personal access
    /// token), used over HTTPS and never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeyRef>,
}

/// One `--build-arg NAME=VALUE`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct BuildArg {
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = (
        "self.matches('^[A-Za-z_][A-Za-z0-9_]*$')",
        "must be a build argument name: letters, digits and '_', not starting with a digit"
    ))]
    pub name: String,
    #[serde(default)]
    #[schemars(length(max = 4096))]
    pub value: String,
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}

fn default_tag() -> String {
    "latest".into()
}

fn default_timeout() -> String {
    "1h".into()
}

fn default_history_limit() -> i32 {
    3
}

fn default_revision() -> String {
    "main".into()
}

fn default_context_dir() -> String {
    ".".into()
}

/// Where a build is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub enum BuildPhase {
    /// Accepted; its run has not started (or Tekton is not installed: the reason says so).
    Pending,
    /// Its run is cloning, building or pushing.
    Running,
    /// The image was pushed; `status.digest` names it.
    Succeeded,
    /// The run failed; `status.reason` and `status.message` say why.
    Failed,
}

impl BuildPhase {
    pub const ALL: [BuildPhase; 4] =
        [BuildPhase::Pending, BuildPhase::Running, BuildPhase::Succeeded, BuildPhase::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            BuildPhase::Pending => "Pending",
            BuildPhase::Running => "Running",
            BuildPhase::Succeeded => "Succeeded",
            BuildPhase::Failed => "Failed",
        }
    }

    /// Whether the run is over.
    pub fn is_finished(self) -> bool {
        matches!(self, BuildPhase::Succeeded | BuildPhase::Failed)
    }

    /// kstatus' reading of the phase: building the spec's image is the reconcile.
    pub fn progress(self) -> crate::conditions::Progress {
        use crate::conditions::Progress;
        match self {
            BuildPhase::Pending | BuildPhase::Running => Progress::Reconciling,
            BuildPhase::Succeeded => Progress::Current,
            BuildPhase::Failed => Progress::Stalled,
        }
    }
}

impl std::fmt::Display for BuildPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a step (clone, build, push) of the current run is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum StepState {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// The run ended before this step ran.
    Skipped,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "Pending",
            StepState::Running => "Running",
            StepState::Succeeded => "Succeeded",
            StepState::Failed => "Failed",
            StepState::Skipped => "Skipped",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, StepState::Succeeded | StepState::Failed | StepState::Skipped)
    }
}

impl std::fmt::Display for StepState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of the current run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildStep {
    /// `clone`, `build` or `push`.
    pub name: String,
    pub state: StepState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Why it failed or waits, as the container runtime said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The observed state of an AgentBuild: its current run, and the last image it pushed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentBuildStatus {
    /// The current run's phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BuildPhase>,
    /// The current run: a `tekton.dev/v1` PipelineRun in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    /// The current run's steps, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<BuildStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Why the current run failed or waits (CamelCase, e.g. `TektonNotInstalled`, `CloneFailed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What happened, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Digest of the image the last successful run pushed (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The last successfully pushed image, by digest (`registry/repo:tag@sha256:…`): what Agents
    /// with `buildRef` run. It stays while a newer run is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The generation of the spec the current run builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Vec<Condition>,
}

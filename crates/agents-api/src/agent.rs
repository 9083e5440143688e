//! `Agent`: an AI agent that runs as a Deployment, is reached through a Service, and whose
//! status says whether it can serve.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements, Toleration};
use k8s_openapi::api::networking::v1::{NetworkPolicyEgressRule, NetworkPolicyIngressRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::Progress;
use crate::linked::{ChildRef, DependencyRef};
use crate::refs::{LocalRef, SecretKeyRef};
use crate::schema::{free_form_object, int_or_string};

/// Providers the reference runtime calls directly (without a ModelAPI): those whose own endpoint
/// speaks the OpenAI-compatible Chat Completions API. agents-runtime holds their URLs; its test
/// `providers.rs` checks that both lists agree.
pub const RUNTIME_PROVIDERS: [&str; 7] = ["openai", "anthropic", "google", "mistral", "groq", "deepseek", "openrouter"];

/// The reference runtime (no image of the Agent's own) reaches its model through a ModelAPI or a
/// provider it knows.
fn runtime_provider_rule() -> String {
    let providers: Vec<String> = RUNTIME_PROVIDERS.iter().map(|p| format!("'{p}'")).collect();
    format!(
        "has(self.image) || has(self.buildRef) || !has(self.model) || has(self.model.modelAPIRef) \
         || (has(self.model.provider) && self.model.provider in [{}])",
        providers.join(", ")
    )
}

fn runtime_provider_message() -> String {
    format!(
        "the reference runtime (an Agent without spec.image or spec.buildRef) calls its model through spec.model.modelAPIRef \
         (a ModelAPI: LiteLLM reaches every provider), or directly when spec.model.provider is one of {}",
        RUNTIME_PROVIDERS.join(", ")
    )
}

/// Port the agent's container listens on unless `spec.port` says otherwise.
pub const DEFAULT_PORT: i32 = 8000;

/// The desired state of an Agent.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agents.dev",
    version = "v1alpha1",
    kind = "Agent",
    namespaced,
    status = "AgentStatus",
    shortname = "ag",
    category = "agents",
    derive = "PartialEq",
    doc = "An AI agent: a Deployment running its image, a Service reaching it, and a status saying whether it can serve.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".status.replicas"),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas", priority = 1),
    printcolumn(name = "Model", type_ = "string", json_path = ".spec.model.name"),
    printcolumn(name = "Image", type_ = "string", json_path = ".status.image", priority = 1),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoint", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    validation = Rule::new("self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")
        .message("metadata.name: an Agent's name becomes its Service's DNS name: use at most 63 lowercase letters, digits and '-', starting with a letter"),
    validation = Rule::new("!has(self.spec.peers) || self.spec.peers.all(p, p.name != self.metadata.name)")
        .message("an Agent cannot list itself in spec.peers")
        .field_path(".spec.peers")
)]
#[x_kube(
    validation = Rule::new("!has(self.image) || !has(self.buildRef)")
        .message("set at most one of spec.image (the container image to run) or spec.buildRef (an AgentBuild whose image to run); with neither, the agent runs the reference runtime"),
    validation = Rule::new("has(self.image) || has(self.buildRef) || has(self.model)")
        .message("an Agent without spec.image or spec.buildRef runs the reference runtime, which needs spec.model: the model it answers with, e.g. model: {name: gpt-4o, modelAPIRef: {name: gateway}}"),
    validation = Rule::new(runtime_provider_rule())
        .message(runtime_provider_message().as_str())
        .field_path(".model"),
    validation = Rule::new("!has(self.autoscaling) || !has(self.replicas)")
        .message("spec.replicas and spec.autoscaling cannot both be set: with autoscaling the HorizontalPodAutoscaler owns the replica count, so remove spec.replicas")
        .field_path(".replicas"),
    validation = Rule::new("!has(self.monitoring) || self.expose")
        .message("spec.monitoring needs spec.expose: the ServiceMonitor scrapes the agent's Service")
        .field_path(".monitoring")
)]
#[serde(rename_all = "camelCase")]
pub struct AgentSpec {
    /// What the agent does, for people and for peers reading its card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,

    /// A free label for the kind of agent (e.g. `assistant`, `researcher`), passed as `AGENT_TYPE`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub agent_type: Option<String>,

    /// The system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32768))]
    pub instructions: Option<String>,

    /// The container image to run. At most one of `image` and `buildRef`; with neither, the
    /// agent runs the reference runtime (agents-runtime) of the operator's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = Rule::new(crate::schema::image_reference_rule()).message(crate::schema::IMAGE_REFERENCE_MESSAGE))]
    pub image: Option<String>,

    /// An AgentBuild whose most recent successful image this agent runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_ref: Option<LocalRef>,

    /// The model the agent talks to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,

    /// Extra environment variables; a name set here replaces the operator's own variable.
    /// Reference secrets with `valueFrom.secretKeyRef`, never with a literal value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), schema_with = "crate::schema::env")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub env: Vec<EnvVar>,

    /// Free-form agent configuration, rendered into the agent's ConfigMap (the `config` key of
    /// `agent.yaml`, mounted at `/etc/agent`). A change rolls the pods. Not for secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,

    /// Feature flags, passed to the agent in its configuration file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, bool>,

    /// The agent's reasoning loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentic_loop: Option<AgenticLoop>,

    /// MCPServers whose tools the agent may use, passed as `MCP_SERVERS`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub mcp_servers: Vec<LocalRef>,

    /// Agents this agent may call, passed as `PEER_AGENTS` and `PEER_AGENT_<NAME>_CARD_URL`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub peers: Vec<LocalRef>,

    /// Number of pods. 0 stops the agent. Leave it unset to let `kubectl scale`, an HPA or KEDA
    /// own the count: the operator then never writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: Option<i32>,

    /// CPU and memory for the agent's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resources")]
    pub resources: Option<Box<ResourceRequirements>>,

    /// Port the agent serves HTTP (and A2A) on.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// Whether the agent gets a Service (port 80 to `port`), so peers and workflows can reach it.
    #[serde(default = "default_true")]
    pub expose: bool,

    /// HTTP probes; without it the pod is ready as soon as it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Box<HealthCheck>>,

    /// A HorizontalPodAutoscaler that owns the replica count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Box<Autoscaling>>,

    /// A PodDisruptionBudget for the agent's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption_budget: Option<Box<DisruptionBudget>>,

    /// A NetworkPolicy around the agent's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<Box<NetworkPolicySpec>>,

    /// A Prometheus ServiceMonitor, created when the cluster serves that CRD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Box<Monitoring>>,

    /// Nodes the pods may run on (e.g. GPU nodes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    #[x_kube(validation = Rule::new(crate::schema::node_selector_rule())
        .message("each node selector is a label: a key such as kubernetes.io/arch or nvidia.com/gpu.present, a value of at most 63 letters, digits, '-', '_' and '.'"))]
    pub node_selector: BTreeMap<String, String>,

    /// Taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), schema_with = "crate::schema::tolerations")]
    pub tolerations: Vec<Toleration>,
}

fn default_port() -> i32 {
    DEFAULT_PORT
}

fn default_true() -> bool {
    true
}

/// The model an agent uses and how it authenticates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.apiKeySecretRef) || !has(self.modelAPIRef)")
    .message("set model.apiKeySecretRef or model.modelAPIRef, not both: a ModelAPI holds its own provider keys"))]
pub struct ModelSpec {
    /// Provider of the model, in lowercase: openai, anthropic, google, azure-openai, bedrock,
    /// ollama, ... Passed as `MODEL_PROVIDER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    #[x_kube(validation = (
        "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
        "must be a provider name in lowercase, such as openai, anthropic or ollama"
    ))]
    pub provider: Option<String>,

    /// Model name, e.g. `gpt-4o` or `claude-sonnet-4`. Passed as `MODEL_NAME`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// Upper bound of tokens per completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000000))]
    pub max_tokens: Option<i64>,

    /// Sampling temperature, from 0 (deterministic) to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 2.0))]
    pub temperature: Option<f64>,

    /// A ModelAPI (in-cluster gateway) whose endpoint the agent calls, as `MODEL_API_URL`.
    #[serde(default, rename = "modelAPIRef", skip_serializing_if = "Option::is_none")]
    pub model_api_ref: Option<LocalRef>,

    /// The provider API key, as `MODEL_API_KEY` (a `secretKeyRef`; the value is never copied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,
}

/// How the agent reasons.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgenticLoop {
    /// Most reasoning steps per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_steps: Option<i32>,
    /// Whether the agent may call tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_tools: Option<bool>,
    /// Whether the agent may delegate to its peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_delegation: Option<bool>,
}

/// HTTP readiness and liveness probes on the agent's port.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// Path answering 200 when the agent can serve.
    #[serde(default = "default_health_path")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = ("self.startsWith('/')", "must be an absolute HTTP path such as /health"))]
    pub path: String,
    /// Seconds between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub interval_seconds: Option<i32>,
    /// Seconds before a probe times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<i32>,
    /// Seconds to wait after start before probing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub initial_delay_seconds: Option<i32>,
    /// Failed probes in a row before the pod is restarted (liveness) or taken out (readiness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub failure_threshold: Option<i32>,
}

fn default_health_path() -> String {
    "/health".into()
}

/// A HorizontalPodAutoscaler (`autoscaling/v2`) for the agent, as seed 002 configures one. With
/// no target set it aims at 80% CPU, as an HPA without metrics does.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minReplicas) || self.minReplicas <= self.maxReplicas")
    .message("autoscaling.minReplicas must not exceed autoscaling.maxReplicas"))]
pub struct Autoscaling {
    /// Fewest pods (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: Option<i32>,
    /// Most pods.
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// Average CPU utilisation to aim for, in percent of the pods' CPU requests (over 100 when
    /// limits let them burst). 80 when no target is set.
    #[serde(default, rename = "targetCPUUtilization", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub target_cpu_utilization: Option<i32>,
    /// Average memory utilisation to aim for, in percent of the pods' memory requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub target_memory_utilization: Option<i32>,
    /// Average A2A requests per second per pod to aim for: a quantity such as `10`, `"2.5"` or
    /// `500m` (one every two seconds). The HPA reads the custom metric `a2a_requests_per_second`,
    /// which needs Prometheus scraping the agent (`monitoring`) and the Prometheus Adapter rule of
    /// `operator/config/monitoring/prometheus-adapter.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::requests_per_second")]
    pub target_requests_per_second: Option<k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    /// How fast to scale up and down (stabilisation windows and policies), as a
    /// HorizontalPodAutoscaler's `behavior`; unset parts take the HPA's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::autoscaling_behavior")]
    pub behavior: Option<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior>,
}

/// Exactly one of `minAvailable` and `maxUnavailable` (a number or a percentage).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.minAvailable) != has(self.maxUnavailable)")
    .message("set exactly one of disruptionBudget.minAvailable or disruptionBudget.maxUnavailable"))]
pub struct DisruptionBudget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "int_or_string")]
    pub min_available: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "int_or_string")]
    pub max_unavailable: Option<IntOrString>,
}

/// Traffic allowed to and from the agent's pods; everything else is denied. DNS is always
/// allowed out when `egress` is restricted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Who may connect to the agent. Empty: nobody (the Service included).
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::ingress_rules")]
    pub ingress: Vec<NetworkPolicyIngressRule>,
    /// Where the agent may connect. Unset: anywhere; a list, even empty, restricts egress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::egress_rules")]
    pub egress: Option<Vec<NetworkPolicyEgressRule>>,
}

/// A ServiceMonitor scraping the agent's Service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// Path of the metrics endpoint.
    #[serde(default = "default_metrics_path")]
    #[x_kube(validation = ("self.startsWith('/')", "must be an absolute HTTP path such as /metrics"))]
    #[schemars(length(max = 1024))]
    pub path: String,
    /// Scrape interval, a Prometheus duration such as `30s` or `1m`.
    #[serde(default = "default_scrape_interval")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = ("self.matches('^[0-9]+(ms|s|m|h)$')", "must be a duration such as 30s or 1m"))]
    pub interval: String,
}

fn default_metrics_path() -> String {
    "/metrics".into()
}

fn default_scrape_interval() -> String {
    "30s".into()
}

/// One word summing up the agent's state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub enum AgentPhase {
    /// Accepted; its pods are being created.
    Pending,
    /// A dependency (build, model API, tool server, peer) is missing or not ready.
    Waiting,
    /// Every desired pod is ready and up to date.
    Ready,
    /// Some pods are ready, fewer than desired.
    Degraded,
    /// It cannot run as specified; the Ready condition says why.
    Failed,
    /// Scaled to zero on purpose.
    Stopped,
}

impl AgentPhase {
    pub const ALL: [AgentPhase; 6] = [
        AgentPhase::Pending,
        AgentPhase::Waiting,
        AgentPhase::Ready,
        AgentPhase::Degraded,
        AgentPhase::Failed,
        AgentPhase::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentPhase::Pending => "Pending",
            AgentPhase::Waiting => "Waiting",
            AgentPhase::Ready => "Ready",
            AgentPhase::Degraded => "Degraded",
            AgentPhase::Failed => "Failed",
            AgentPhase::Stopped => "Stopped",
        }
    }

    /// The status of the `Ready` condition: the agent is what its spec asks, serving or scaled to
    /// zero on purpose (so kstatus reads a Stopped agent as current).
    pub fn ready_condition(self) -> bool {
        matches!(self, AgentPhase::Ready | AgentPhase::Stopped)
    }

    /// kstatus' reading of the phase, `reason` being the `Ready` condition's. As kstatus reads a
    /// Deployment: in progress while an update rolls out (`RolloutInProgress`), stalled once the
    /// Deployment's progress deadline passed (`RolloutFailed`), even with some pods ready.
    pub fn progress(self, reason: &str) -> Progress {
        use crate::conditions::reasons::ROLLOUT_FAILED;
        match self {
            AgentPhase::Failed => Progress::Stalled,
            AgentPhase::Degraded if reason == ROLLOUT_FAILED => Progress::Stalled,
            AgentPhase::Pending | AgentPhase::Waiting | AgentPhase::Degraded => Progress::Reconciling,
            AgentPhase::Ready if reason == crate::conditions::reasons::ROLLOUT_IN_PROGRESS => Progress::Reconciling,
            AgentPhase::Ready | AgentPhase::Stopped => Progress::Current,
        }
    }
}

impl std::fmt::Display for AgentPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// Written at every change of phase, often for a hundred Agents at once (a shared ModelAPI turning
// Ready), and the API server decodes, validates and encodes the whole Agent for each write: so it
// holds only what is not found elsewhere (docs/api/agent.md, `status`).
/// The observed state of an Agent. Its children are not listed: they are named after the Agent and
/// owned by it (`kubectl agents describe` shows them).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<AgentPhase>,
    /// Pods the Deployment has (scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Pods that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// In-cluster URL of the agent's Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The image the pods run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Label selector of the agent's pods (scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// When the pods' health checks last changed their answer, as the cluster reported it (the
    /// Deployment's count of ready pods changed). Kubernetes records a readiness probe's result
    /// only when it changes: every check since then has answered the same, `readyReplicas` says how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_health_check: Option<Time>,
    /// Deprecated and never written: earlier operators listed the Agent's children here. Kept so
    /// that an older operator's status writes are accepted while the operator is upgraded; this
    /// one's first status write removes the list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildRef>,
    /// What the Agent uses (its build, model API, tool servers and peers), as resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyRef>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Vec<Condition>,
}

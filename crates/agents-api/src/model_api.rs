//! `ModelAPI`: the model endpoint Agents call. A LiteLLM proxy in front of providers (`Proxy`),
//! Ollama serving open models in the cluster (`Hosted`), or a gateway that already runs
//! elsewhere (`External`).

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::phase::ServerPhase;
use crate::refs::SecretKeyRef;

/// The desired state of a ModelAPI.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agents.dev",
    version = "v1alpha1",
    kind = "ModelAPI",
    plural = "modelapis",
    namespaced,
    status = "ModelAPIStatus",
    shortname = "mapi",
    category = "agents",
    derive = "PartialEq",
    doc = "A model endpoint for Agents: a LiteLLM proxy, an Ollama server, or an external gateway.",
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoint"),
    printcolumn(name = "Models", type_ = "string", json_path = ".status.models", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")
        .message("metadata.name: a ModelAPI's name becomes its Service's DNS name: use at most 63 lowercase letters, digits and '-', starting with a letter")
)]
#[x_kube(
    validation = Rule::new("self.mode != 'Proxy' || has(self.proxy)")
        .message("mode Proxy needs spec.proxy: list the models to serve in spec.proxy.models, or name your own LiteLLM config with spec.proxy.configMapRef"),
    validation = Rule::new("self.mode != 'Hosted' || has(self.hosted)")
        .message("mode Hosted needs spec.hosted.models: the models Ollama pulls when it starts, such as llama3.2"),
    validation = Rule::new("self.mode != 'External' || has(self.external)")
        .message("mode External needs spec.external.url: the URL of the model gateway or provider endpoint"),
    validation = Rule::new("[has(self.proxy), has(self.hosted), has(self.external)].filter(x, x).size() <= 1")
        .message("set only the section of the chosen mode: spec.proxy for Proxy, spec.hosted for Hosted, spec.external for External"),
    // Two values of one variable: server-side apply refuses the Deployment, and the Agents would
    // be handed a key the proxy does not check.
    validation = Rule::new("!has(self.proxy) || !has(self.proxy.masterKeySecretRef) || !has(self.env) || !self.env.exists(e, e.name == 'LITELLM_MASTER_KEY')")
        .message("spec.proxy.masterKeySecretRef sets LITELLM_MASTER_KEY, and the Agents using this ModelAPI get the same key: remove LITELLM_MASTER_KEY from spec.env")
        .field_path(".env"),
    validation = Rule::new("self.mode != 'External' || (!has(self.image) && !has(self.replicas) && !has(self.resources) && !has(self.port) && !has(self.env))")
        .message("mode External runs nothing in the cluster: remove spec.image, spec.replicas, spec.resources, spec.port and spec.env"),
    // The models' claim is ReadWriteOnce: a second pod on another node could never mount it.
    validation = Rule::new("self.mode != 'Hosted' || !has(self.hosted) || !has(self.hosted.storage) || !has(self.replicas) || self.replicas <= 1")
        .message("hosted.storage is one ReadWriteOnce claim, which only one pod can mount: set spec.replicas to 1, or remove hosted.storage so each pod pulls its models into its own emptyDir")
        .field_path(".replicas")
)]
#[serde(rename_all = "camelCase")]
pub struct ModelAPISpec {
    /// What runs: `Proxy` (LiteLLM), `Hosted` (Ollama) or `External` (nothing; a URL).
    pub mode: ModelAPIMode,

    /// The LiteLLM proxy's models (mode Proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxySpec>,

    /// The models Ollama serves (mode Hosted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted: Option<HostedSpec>,

    /// The endpoint that already runs elsewhere (mode External).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalSpec>,

    /// The server's image; defaults to a pinned LiteLLM (Proxy) or Ollama (Hosted) release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = Rule::new(crate::schema::image_reference_rule()).message(crate::schema::IMAGE_REFERENCE_MESSAGE))]
    pub image: Option<String>,

    /// Number of pods (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,

    /// CPU and memory for the server's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resources")]
    pub resources: Option<ResourceRequirements>,

    /// Port the server listens on and its Service exposes (default 8000 for Proxy, 11434 for Hosted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,

    /// Extra environment variables for the server. Reference secrets with `valueFrom.secretKeyRef`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), schema_with = "crate::schema::env")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub env: Vec<EnvVar>,
}

/// What a ModelAPI runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ModelAPIMode {
    Proxy,
    Hosted,
    External,
}

/// A LiteLLM proxy: its model list, or the user's own LiteLLM configuration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.models) && size(self.models) > 0) != has(self.configMapRef)")
    .message("set exactly one of proxy.models (the models to serve) or proxy.configMapRef (a ConfigMap holding your own LiteLLM config)"))]
pub struct ProxySpec {
    /// The models the proxy serves. An entry named `*` passes any model through; one named
    /// `PROVIDER/*` (e.g. `openai/*`) any model of that provider.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["name".into()]),
        validation = Rule::new("self.all(m, m.name != '*' || !has(m.apiBase))")
            .message("the wildcard entry '*' passes models to their providers' default endpoints: remove its apiBase"),
        // LiteLLM takes the provider from the start of the model; where a `*` stands there, the
        // request names the provider, and the key would go to whichever it names.
        validation = Rule::new("self.all(m, !has(m.apiKeySecretRef) || !(has(m.model) ? m.model : m.name).matches('^[^/]*[*]'))")
            .message("a key on the wildcard '*' would go to whatever provider a request names (deepseek/..., anthropic/...): name the provider the key belongs to, e.g. {name: 'openai/*', apiKeySecretRef: ...} serves openai/... models only; or remove apiKeySecretRef from '*' and give each provider its own key in spec.env (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)")
    )]
    pub models: Vec<ProxyModel>,

    /// A ConfigMap (in this namespace) with a complete LiteLLM config, used as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeyRef>,

    /// The proxy's master key (LiteLLM's `LITELLM_MASTER_KEY`): when set, the proxy answers only
    /// requests that carry it, and each Agent using this ModelAPI receives it as `MODEL_API_KEY`
    /// through a `secretKeyRef`. Unset, any pod that reaches the Service may use the models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key_secret_ref: Option<SecretKeyRef>,
}

/// One model of a LiteLLM proxy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
// The URL's rules sit on the object, not the field: a field's rejection quotes the value, and
// this value may hold a secret.
#[x_kube(validation = Rule::new("!has(self.apiBase) || !self.apiBase.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')")
    .message("apiBase must not carry credentials (user:password@): the LiteLLM config in the ModelAPI's ConfigMap would hold them in clear; put the key in a Secret and name it in apiKeySecretRef")
    .field_path(".apiBase"))]
#[x_kube(validation = Rule::new("!has(self.apiBase) || self.apiBase.matches('^https?://[^\\\\s]+$')")
    .message("must be an http:// or https:// URL")
    .field_path(".apiBase"))]
pub struct ProxyModel {
    /// The name Agents ask for (`model_name` in LiteLLM), `*` for any, or `PROVIDER/*` for any
    /// of one provider's models (`openai/*`).
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = (
        "self == '*' || self.matches('^[A-Za-z0-9][-A-Za-z0-9_.]*/[*]$') || self.matches('^[A-Za-z0-9][-A-Za-z0-9_.:/@]*$')",
        "must be a model name such as gpt-4o or claude-sonnet-4 (letters, digits, '-', '_', '.', ':', '/', '@'), '*' for any model, or a provider's wildcard such as openai/* for any of its models"
    ))]
    pub name: String,

    /// The provider's model in LiteLLM's `provider/model` form, e.g. `openai/gpt-4o`; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = (
        "self == '*' || self.matches('^[A-Za-z0-9][-A-Za-z0-9_.:/@*]*$')",
        "must be a LiteLLM model such as openai/gpt-4o or anthropic/claude-sonnet-4"
    ))]
    pub model: Option<String>,

    /// The provider API key (reaches the pod as a `secretKeyRef`; never copied). On a wildcard,
    /// only where the provider is named (`openai/*`), so the key goes to that provider alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,

    /// The provider's base URL, for self-hosted or regional endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub api_base: Option<String>,
}

/// A key of a ConfigMap in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = (
        "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",
        "must be the name of a ConfigMap in this namespace: lowercase letters, digits, '-' and '.'"
    ))]
    pub name: String,
    /// Key holding the LiteLLM config (default `config.yaml`).
    #[serde(default = "default_config_key")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = ("self.matches('^[-._a-zA-Z0-9]+$')", "must be a key of the ConfigMap: letters, digits, '-', '_' and '.'"))]
    pub key: String,
}

fn default_config_key() -> String {
    "config.yaml".into()
}

/// Ollama in the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.models) && size(self.models) > 0")
    .message("hosted.models must name at least one model for Ollama to pull, such as llama3.2"))]
pub struct HostedSpec {
    /// Models pulled when the server starts; it is ready only once all are pulled.
    #[serde(default)]
    #[schemars(length(max = 32), inner(length(min = 1, max = 128)))]
    #[x_kube(validation = Rule::new("self.all(m, m.matches('^[a-z0-9][-a-z0-9_.]*(/[a-z0-9][-a-z0-9_.]*)*(:[A-Za-z0-9][-A-Za-z0-9_.]*)?$'))")
        .message("each model must be an Ollama model name such as llama3.2 or qwen2.5:7b"))]
    pub models: Vec<String>,

    /// Where the models are kept: a PersistentVolumeClaim when set, an emptyDir (lost with the pod) otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<ModelStorage>,
}

/// A PersistentVolumeClaim for Ollama's models.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelStorage {
    /// Size of the claim, e.g. `20Gi`.
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = Rule::new("isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))")
        .message("must be a size: a quantity such as 20Gi or 500Mi"))]
    pub size: String,
    /// StorageClass of the claim; the cluster's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = (
        "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",
        "must be the name of a StorageClass (kubectl get storageclass): lowercase letters, digits, '-' and '.'"
    ))]
    pub storage_class_name: Option<String>,
}

/// A model endpoint that runs outside this ModelAPI.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
// The URL's rules sit on the object, not the field: a field's rejection quotes the value, and
// this value may hold a secret.
#[x_kube(validation = Rule::new("!self.url.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')")
    .message("spec.external.url must not carry credentials (user:password@): every Agent using this ModelAPI would receive them in clear as MODEL_API_URL; put the key in a Secret and name it in spec.external.apiKeySecretRef")
    .field_path(".url"))]
#[x_kube(validation = Rule::new("self.url.matches('^https?://[^\\\\s/]+(/[^\\\\s]*)?$')")
    .message("must be an http:// or https:// URL such as https://llm-gateway.platform.svc:8080/v1")
    .field_path(".url"))]
pub struct ExternalSpec {
    /// The endpoint's base URL, given to Agents as `MODEL_API_URL`.
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,

    /// A key for the endpoint; Agents receive it as `MODEL_API_KEY` through a `secretKeyRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,

    /// The models the endpoint serves, if you want them listed in status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub models: Vec<String>,
}

/// The observed state of a ModelAPI.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelAPIStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ServerPhase>,
    /// The URL Agents call, as `MODEL_API_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The models served, when the spec names them (not known for a user's own LiteLLM config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Pods that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// The objects the operator created for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<crate::ChildRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Vec<Condition>,
}

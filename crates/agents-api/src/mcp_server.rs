//! `MCPServer`: a Model Context Protocol tool server that Agents reach over HTTP, run from a
//! PyPI or npm package (through a stdio-to-HTTP bridge), from an image, or from Python functions
//! written in the spec (seed 001's `toolsString`).

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::phase::ServerPhase;

/// Port the tool server (or its bridge) listens on unless `spec.port` says otherwise.
pub const DEFAULT_MCP_PORT: i32 = 8000;

/// The most characters `spec.inlineTools.python` may hold: 32 Ki. Even at the 6 bytes a
/// character can take once JSON-escaped (`<` is `\u003c` to kubectl), the source (192 KiB at
/// worst) fits in the 256 KiB of annotations that `kubectl apply` fills with the whole object,
/// and the ConfigMap that carries it (at most 128 KiB of UTF-8 plus the wrapper) stays far below
/// the 1 MiB an object may have.
/// A longer program belongs in a package or an image.
pub const MAX_INLINE_PYTHON: usize = 32 * 1024;

/// The desired state of an MCPServer.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agents.dev",
    version = "v1alpha1",
    kind = "MCPServer",
    plural = "mcpservers",
    namespaced,
    status = "MCPServerStatus",
    shortname = "mcp",
    category = "agents",
    derive = "PartialEq",
    doc = "An MCP tool server for Agents, run from a PyPI or npm package, from an image, or from Python functions written in the spec.",
    printcolumn(name = "Source", type_ = "string", json_path = ".status.source"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoint"),
    printcolumn(name = "Tools", type_ = "string", json_path = ".status.tools", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")
        .message("metadata.name: an MCPServer's name becomes its Service's DNS name: use at most 63 lowercase letters, digits and '-', starting with a letter")
)]
#[x_kube(
    validation = Rule::new("(has(self.package) ? 1 : 0) + (has(self.image) ? 1 : 0) + (has(self.inlineTools) ? 1 : 0) == 1")
        .message("set exactly one of spec.package (a PyPI or npm package run with uvx or npx) or spec.image (a container image serving MCP over HTTP) or spec.inlineTools (Python functions written in the spec, each served as a tool)"),
    validation = Rule::new("has(self.image) || (!has(self.command) && !has(self.args))")
        .message("spec.command and spec.args are for spec.image; a package takes its arguments in spec.package.args, and inline tools take none"),
    validation = Rule::new("!has(self.package) || self.transport == 'streamable-http'")
        .message("a package server is bridged from stdio to streamable HTTP: remove spec.transport or set it to streamable-http"),
    validation = Rule::new("!has(self.package) || !has(self.path) || self.path == '/mcp'")
        .message("a package server's bridge serves /mcp and nothing else: remove spec.path (it is for spec.image)"),
    validation = Rule::new("!has(self.inlineTools) || self.transport == 'streamable-http'")
        .message("inline tools are served over streamable HTTP only: remove spec.transport or set it to streamable-http"),
    validation = Rule::new("!has(self.inlineTools) || !has(self.path) || self.path == '/mcp'")
        .message("inline tools are served at /mcp and nothing else: remove spec.path (it is for spec.image)")
)]
#[serde(rename_all = "camelCase")]
pub struct MCPServerSpec {
    /// A package run from its registry: `uvx` for PyPI, `npx` for npm. Exactly one of `package`,
    /// `image` and `inlineTools`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<McpPackage>,

    /// An image that serves MCP over HTTP itself. Exactly one of `package`, `image` and `inlineTools`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = Rule::new(crate::schema::image_reference_rule()).message(crate::schema::IMAGE_REFERENCE_MESSAGE))]
    pub image: Option<String>,

    /// Tools written in the spec (seed 001's `toolsString`): Python functions served as MCP tools
    /// by the official MCP Python SDK. Exactly one of `package`, `image` and `inlineTools`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_tools: Option<InlineTools>,

    /// The image's entrypoint, replacing its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub command: Option<Vec<String>>,

    /// Arguments to the image's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub args: Option<Vec<String>>,

    /// The MCP transport the server speaks on `port` and `path`. Package servers are bridged to
    /// `streamable-http`; an image may speak `sse` instead.
    #[serde(default)]
    pub transport: McpTransport,

    /// Port the server listens on and its Service exposes.
    #[serde(default = "default_mcp_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// HTTP path of the MCP endpoint (default `/mcp` for streamable HTTP, `/sse` for SSE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = ("self.startsWith('/')", "must be an absolute HTTP path such as /mcp"))]
    pub path: Option<String>,

    /// Environment of the server. Reference secrets with `valueFrom.secretKeyRef`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), schema_with = "crate::schema::env")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub env: Vec<EnvVar>,

    /// Number of pods (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,

    /// CPU and memory for the server's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resources")]
    pub resources: Option<ResourceRequirements>,
}

fn default_mcp_port() -> i32 {
    DEFAULT_MCP_PORT
}

/// A package from PyPI or npm.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.runtime != 'uvx' || self.name.matches('^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')")
        .message("package.name must be a PyPI project name such as mcp-server-fetch (letters, digits, '-', '_', '.'); put the version in package.version"),
    validation = Rule::new("self.runtime != 'npx' || self.name.matches('^(@[a-z0-9][-a-z0-9._~]*/)?[a-z0-9][-a-z0-9._~]*$')")
        .message("package.name must be an npm package name such as @modelcontextprotocol/server-everything (lowercase, optionally @scope/); put the version in package.version")
)]
pub struct McpPackage {
    /// `uvx` runs a PyPI package, `npx` an npm package.
    pub runtime: PackageRuntime,
    /// The package's name, without a version.
    #[schemars(length(min = 1, max = 214))]
    pub name: String,
    /// An exact version to pin (recommended: otherwise the newest is fetched at every start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = (
        "self.matches('^[0-9A-Za-z][-0-9A-Za-z.+_]*$')",
        "must be an exact version such as 1.2.3 or 2025.4.7 (no ranges or operators)"
    ))]
    pub version: Option<String>,
    /// Arguments passed to the package's command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub args: Vec<String>,
}

/// Tools written in the spec (seed 001's `toolsString`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InlineTools {
    /// The source of a Python module (Python 3.12, its standard library and the `mcp` SDK with its
    /// dependencies, such as httpx and pydantic, are available). Each public function defined at
    /// its top level (not imported into it, name not starting with `_`) becomes one tool: the
    /// function's name is the tool's, its docstring the description, its type hints the input
    /// schema. At most 32 Ki characters.
    #[schemars(length(min = 1, max = MAX_INLINE_PYTHON))]
    #[x_kube(validation = Rule::new(r"self.matches('(?m)^(async[ \\t]+)?def[ \\t]+\\pL')")
        .message("must define at least one public function at the top level (a line starting with def NAME( or async def NAME(, NAME not starting with _): each becomes a tool"))]
    pub python: String,
}

/// How a package is run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackageRuntime {
    Uvx,
    Npx,
}

/// The MCP transport a server speaks over HTTP.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum McpTransport {
    #[default]
    #[serde(rename = "streamable-http")]
    StreamableHttp,
    #[serde(rename = "sse")]
    Sse,
}

/// The observed state of an MCPServer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MCPServerStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ServerPhase>,
    /// The URL Agents receive in `MCP_SERVERS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Where the server comes from: `uvx:NAME@VERSION`, `npx:NAME@VERSION`, the image, or
    /// `inline:python`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The tools the server offers, as its `tools/list` answered (see docs/servers.md); unset until known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
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

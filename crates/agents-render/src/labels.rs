//! Labels on every object the operator creates: the recommended `app.kubernetes.io/*` set, and
//! one label per owner kind that selects its pods and finds its children.

use std::collections::BTreeMap;

/// Selects an Agent's pods and labels all its children.
pub const AGENT: &str = "agents.dev/agent";
/// Names the AgentBuild a PipelineRun (and, through Tekton, its TaskRun and pod) belongs to.
pub const BUILD: &str = "agents.dev/build";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The release of kubectl-agents an object belongs to: on the CRDs, the operator's Deployment and
/// its leader Lease, where the plugin reads it (`kubectl agents version`, `check`, `status`).
pub const VERSION: &str = "app.kubernetes.io/version";
pub const MANAGER: &str = "agents-operator";

/// `MANAGED_BY=MANAGER`: the label selector of the operator's watches on children.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY}={MANAGER}")
}

/// The labels that select the pods of the Agent `name` (immutable once a Deployment exists).
pub fn agent_selector(name: &str) -> BTreeMap<String, String> {
    [(AGENT.to_string(), name.to_string())].into()
}

/// All labels of an Agent's children and pods.
pub fn agent_labels(name: &str) -> BTreeMap<String, String> {
    let mut labels = agent_selector(name);
    labels.extend(
        [
            ("app.kubernetes.io/name", "agent"),
            ("app.kubernetes.io/instance", name),
            ("app.kubernetes.io/component", "agent"),
            ("app.kubernetes.io/part-of", "kubectl-agents"),
            (MANAGED_BY, MANAGER),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    labels
}

/// All labels of an AgentBuild's PipelineRuns (Tekton copies them onto TaskRuns and pods).
pub fn build_labels(name: &str) -> BTreeMap<String, String> {
    [
        (BUILD, name),
        ("app.kubernetes.io/name", "agent-build"),
        ("app.kubernetes.io/instance", name),
        ("app.kubernetes.io/component", "build"),
        ("app.kubernetes.io/part-of", "kubectl-agents"),
        (MANAGED_BY, MANAGER),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into()
}

/// A selector map as a label-selector string (`k=v,k2=v2`).
pub fn to_selector_string(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Selects a ModelAPI's pods and labels its children.
pub const MODEL_API: &str = "agents.dev/modelapi";
/// Selects an MCPServer's pods and labels its children.
pub const MCP_SERVER: &str = "agents.dev/mcpserver";

/// All labels of a server's (ModelAPI's, MCPServer's) children and pods; `selector_key` is the
/// kind's selector label and `component` the kind in lowercase.
pub fn server_labels(selector_key: &str, component: &str, name: &str) -> BTreeMap<String, String> {
    [
        (selector_key, name),
        ("app.kubernetes.io/name", component),
        ("app.kubernetes.io/instance", name),
        ("app.kubernetes.io/component", component),
        ("app.kubernetes.io/part-of", "kubectl-agents"),
        (MANAGED_BY, MANAGER),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into()
}

//! What an object's status says it is made of and what it uses (seed 001's "linked resources"),
//! so that `kubectl get -o yaml` alone tells the story: the children the operator created for a
//! ModelAPI or an MCPServer (which vary with its mode), and each dependency of an Agent as the
//! operator resolved it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An object the operator created for this one (its owner reference points back), in the same
/// namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub struct ChildRef {
    /// `Deployment`, `Service`, `ConfigMap`, …
    pub kind: String,
    pub name: String,
}

impl ChildRef {
    pub fn new(kind: &str, name: &str) -> Self {
        ChildRef { kind: kind.into(), name: name.into() }
    }
}

/// An object this one uses, in the same namespace, as the operator found it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct DependencyRef {
    /// `AgentBuild`, `ModelAPI`, `MCPServer` or `Agent` (a peer).
    pub kind: String,
    pub name: String,
    /// Whether it can be used now; when it is not, the `Ready` condition says why.
    pub ready: bool,
    /// The URL it is called at, once ready (a ModelAPI, an MCPServer, a peer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The image it produced, once ready (an AgentBuild).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

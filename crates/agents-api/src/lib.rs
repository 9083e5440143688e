//! The `agents.dev/v1alpha1` API shared by the operator and the plugin: the custom resource
//! types, their validation rules (in the schema, enforced by the API server), condition helpers
//! and the CRD manifests generated from the types.

pub mod agent;
pub mod build;
pub mod conditions;
pub mod crd;
pub mod linked;
pub mod mcp_server;
pub mod model_api;
pub mod phase;
pub mod refs;
mod schema;
pub mod workflow;

pub use agent::{Agent, AgentPhase, AgentSpec, AgentStatus};
pub use build::{AgentBuild, AgentBuildSpec, AgentBuildStatus, BuildPhase};
pub use linked::{ChildRef, DependencyRef};
pub use mcp_server::{MCPServer, MCPServerSpec, MCPServerStatus};
pub use model_api::{ModelAPI, ModelAPIMode, ModelAPISpec, ModelAPIStatus};
pub use phase::ServerPhase;
pub use refs::{LocalRef, SecretKeyRef};
pub use workflow::{AgentWorkflow, AgentWorkflowSpec, AgentWorkflowStatus, WorkflowPhase};

/// API group of every kind this project defines.
pub const GROUP: &str = "agents.dev";
/// The one served (and stored) version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every object of the API.
pub const API_VERSION: &str = "agents.dev/v1alpha1";

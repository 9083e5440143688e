//! Desired state: pure functions from a custom resource (and the observed state of what it depends
//! on) to the child objects the operator applies and the status it reports. No I/O, so the plugin
//! can show what the operator will create, and every rule is unit-tested.

pub mod agent;
pub mod build;
pub mod hash;
pub mod inputs;
pub mod labels;
pub mod mcp_server;
pub mod model_api;
pub mod pods;
pub mod rollout;
pub mod security;
pub mod server;
pub mod workflow;

/// The field manager of everything the operator applies.
pub const FIELD_MANAGER: &str = "agents-operator";

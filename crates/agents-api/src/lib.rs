//! The `agents.dev/v1alpha1` API shared by the operator and the plugin.

/// API group of every kind this project defines.
pub const GROUP: &str = "agents.dev";
/// The one served (and stored) version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every object of the API.
pub const API_VERSION: &str = "agents.dev/v1alpha1";

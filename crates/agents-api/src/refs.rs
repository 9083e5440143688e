//! References from one object to another. Secrets are always referenced, never inlined.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A key of a Secret in the same namespace.
// The rules sit on the reference, not its fields: a field's rejection quotes the value, and an
// API key pasted as a Secret's name must not be printed back.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, KubeSchema)]
#[x_kube(validation = Rule::new("self.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')")
    .message("must be the name of a Secret in this namespace: lowercase letters, digits, '-' and '.'")
    .field_path(".name"))]
#[x_kube(validation = Rule::new("self.key.matches('^[-._a-zA-Z0-9]+$')")
    .message("must be a key of the Secret: letters, digits, '-', '_' and '.'")
    .field_path(".key"))]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret whose value is used.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A reference by name to another object of this API in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, KubeSchema)]
pub struct LocalRef {
    /// Name of the referenced object.
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = (
        "self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
        "must be the name of an object in this namespace: lowercase letters, digits and '-', starting with a letter"
    ))]
    pub name: String,
}

impl LocalRef {
    pub fn new(name: impl Into<String>) -> Self {
        LocalRef { name: name.into() }
    }
}

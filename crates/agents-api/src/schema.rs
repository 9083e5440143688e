//! Schemas the derive cannot express: free-form objects, int-or-string, condition lists.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An object whose fields the API server keeps as given.
pub fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// A number of pods or a percentage (`25%`). A CEL rule checks the string form: structural
/// schemas cannot give the two alternatives their own types.
pub fn int_or_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-int-or-string": true,
        "x-kubernetes-validations": [{
            "rule": "type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",
            "message": "must be a number of pods or a percentage such as 25%",
        }],
    })
}

/// Standard conditions, one per type (a list map, so server-side apply merges by type).
pub fn conditions(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>();
    json_schema!({
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    })
}

//! Schemas the derive cannot express: free-form objects, int-or-string, condition lists.

use schemars::{Schema, SchemaGenerator, json_schema};

mod env;
mod network_policy;
mod resources;

pub use env::env;
pub use network_policy::{egress_rules, ingress_rules};
pub use resources::resources;

/// An object whose fields the API server keeps as given.
pub fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// A number of pods or a percentage of them (`25%`), as a PodDisruptionBudget takes it: at
/// least 0, at most 100%. A CEL rule checks the string form: structural schemas cannot give the
/// two alternatives their own types.
pub fn int_or_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-int-or-string": true,
        "maxLength": 16,
        "x-kubernetes-validations": [{
            "rule": "type(self) == int ? self >= 0 : self.matches('^0*([0-9]{1,2}|100)%$')",
            "message": "must be a number of pods or a percentage from 0% to 100%, such as 25%",
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

/// A container image reference in the grammar the kubelet parses (distribution's reference
/// grammar): an optional registry (with a dot, a port, or `localhost`), a lower-case repository,
/// an optional tag and an optional digest. What fails it would never pull (InvalidImageName).
pub const IMAGE_REFERENCE: &str = concat!(
    // A registry: a host with a dot, or with a port, or localhost; then '/'.
    "^((([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+(:[0-9]+)?",
    "|([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]):[0-9]+|localhost(:[0-9]+)?)/)?",
    // The repository: lower-case components separated by '/'.
    "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*",
    "(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?",
    "(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
);

/// The message of an image reference that fails [`IMAGE_REFERENCE`].
pub const IMAGE_REFERENCE_MESSAGE: &str = "must be an image reference such as ghcr.io/org/agent:v1: a lower-case repository, \
     then a tag of letters, digits, '_', '.' or '-' (at most 128) and/or a digest (@sha256:...), with no spaces";

/// The CEL rule of an image reference field.
pub fn image_reference_rule() -> String {
    format!("self.matches('{}')", IMAGE_REFERENCE.replace('\\', "\\\\"))
}

/// A label key or a taint key: an optional DNS prefix and a name of at most 63 characters.
const QUALIFIED_NAME: &str = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/// A label value: empty, or at most 63 characters of letters, digits, '-', '_' and '.'.
const LABEL_VALUE: &str = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";

/// Taints the pods tolerate, checked as a Pod checks them, each rule naming its entry.
pub fn tolerations(generator: &mut SchemaGenerator) -> Schema {
    list_with_rules::<k8s_openapi::api::core::v1::Toleration>(
        generator,
        &[
            ("/properties/key", 317),
            ("/properties/value", 63),
            ("/properties/operator", 16),
            ("/properties/effect", 32),
        ],
        serde_json::json!([
            {
                "rule": format!("!has(self.key) || self.key == '' || self.key.matches('{QUALIFIED_NAME}')"),
                "message": "a taint key is a label key such as nvidia.com/gpu: an optional DNS prefix and '/', then letters, digits, '-', '_' and '.'",
                "fieldPath": ".key",
            },
            {
                "rule": "!has(self.operator) || self.operator in ['Equal', 'Exists']",
                "message": "operator is Equal (the default) or Exists",
                "fieldPath": ".operator",
            },
            {
                "rule": "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
                "message": "a toleration without a key tolerates every taint, and needs operator: Exists",
            },
            {
                "rule": "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
                "message": "operator Exists takes no value: remove it, or use operator Equal",
            },
            {
                "rule": format!("!has(self.value) || self.value.matches('{LABEL_VALUE}')"),
                "message": "a toleration's value is a label value: at most 63 letters, digits, '-', '_' and '.'",
                "fieldPath": ".value",
            },
            {
                "rule": "!has(self.effect) || self.effect in ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute']",
                "message": "effect is NoSchedule, PreferNoSchedule or NoExecute (or empty for all three)",
                "fieldPath": ".effect",
            },
            {
                "rule": "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
                "message": "tolerationSeconds applies only to effect NoExecute",
            },
        ]),
    )
}

/// The CEL rule of a node selector: label keys and values, as a Pod's nodeSelector takes them.
pub fn node_selector_rule() -> String {
    format!("self.all(key, key.matches('{QUALIFIED_NAME}') && self[key].matches('{LABEL_VALUE}'))")
}

/// A list of a Kubernetes type with CEL `rules` on each entry, so a rejection names the entry
/// (`spec.env[2]`). Its strings at the JSON pointers in `lengths` get a `maxLength`: bounded
/// strings keep the rules' estimated cost within the API server's budget. The field's own
/// attributes add the list's length and merge key.
fn list_with_rules<T: schemars::JsonSchema>(
    generator: &mut SchemaGenerator,
    lengths: &[(&str, usize)],
    rules: serde_json::Value,
) -> Schema {
    let mut item = serde_json::Value::from(generator.subschema_for::<T>());
    for (pointer, length) in lengths {
        match item.pointer_mut(pointer).and_then(serde_json::Value::as_object_mut) {
            Some(property) => {
                property.insert("maxLength".into(), (*length).into());
            }
            // The generated CRDs are compared with the committed ones in a test, so this shows there.
            None => panic!("no property at {pointer} to bound"),
        }
    }
    item["x-kubernetes-validations"] = rules;
    json_schema!({
        "type": "array",
        "items": item,
    })
}

/// A per-pod rate the HPA aims at (`autoscaling.targetRequestsPerSecond`): a positive quantity, as
/// an HPA's `averageValue` takes it. Checked here so a typo is refused with the Agent rather than
/// when the operator applies the HPA.
pub fn requests_per_second(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-int-or-string": true,
        "maxLength": 64,
        "x-kubernetes-validations": [{
            "rule": "isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0'))",
            "message": "must be a positive quantity of requests per second per pod, such as 10, \"2.5\" or 500m",
        }],
    })
}

/// The seconds an HPA takes (its API server's `MaxPeriodSeconds` and `MaxStabilizationWindowSeconds`).
const MAX_POLICY_PERIOD: i32 = 1800;
const MAX_STABILIZATION_WINDOW: i32 = 3600;

/// An HPA's `behavior` (Kubernetes' own type, so it reads as `kubectl explain hpa.spec.behavior`
/// does), with the API server's checks of an HPA as CEL rules on each direction and policy: the
/// operator applies it verbatim, and a mistake found only then would leave the HPA stale.
pub fn autoscaling_behavior(generator: &mut SchemaGenerator) -> Schema {
    let mut behavior = serde_json::Value::from(
        generator.subschema_for::<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior>(),
    );
    let policy_rules = serde_json::json!([
        {
            "rule": "self.type in ['Pods', 'Percent']",
            "message": "a scaling policy's type is Pods (a number of pods) or Percent (of the current pods)",
            "fieldPath": ".type",
        },
        {
            "rule": "self.value > 0",
            "message": "a scaling policy's value must be greater than 0: the most pods (or percent) to add or remove per period",
            "fieldPath": ".value",
        },
        {
            "rule": format!("self.periodSeconds >= 1 && self.periodSeconds <= {MAX_POLICY_PERIOD}"),
            "message": format!("a scaling policy's periodSeconds must be from 1 to {MAX_POLICY_PERIOD} (30 minutes)"),
            "fieldPath": ".periodSeconds",
        },
    ]);
    let direction_rules = serde_json::json!([
        {
            "rule": format!("!has(self.stabilizationWindowSeconds) || (self.stabilizationWindowSeconds >= 0 \
                     && self.stabilizationWindowSeconds <= {MAX_STABILIZATION_WINDOW})"),
            "message": format!("stabilizationWindowSeconds must be from 0 to {MAX_STABILIZATION_WINDOW} (one hour)"),
            "fieldPath": ".stabilizationWindowSeconds",
        },
        {
            "rule": "!has(self.selectPolicy) || self.selectPolicy in ['Max', 'Min', 'Disabled']",
            "message": "selectPolicy is Max (the default: the policy allowing the biggest change), Min or Disabled (no scaling this way)",
            "fieldPath": ".selectPolicy",
        },
        {
            "rule": "!has(self.policies) || self.policies.size() > 0",
            "message": "policies must list at least one policy, or be left out for the HPA's default",
            "fieldPath": ".policies",
        },
        {
            "rule": "!has(self.tolerance) || (isQuantity(string(self.tolerance)) && !quantity(string(self.tolerance)).isLessThan(quantity('0')))",
            "message": "tolerance must be a quantity of at least 0, such as 0.05 or 50m (5%)",
            "fieldPath": ".tolerance",
        },
    ]);
    for direction in ["scaleUp", "scaleDown"] {
        let rules = property(&mut behavior, &format!("/properties/{direction}"));
        rules["x-kubernetes-validations"] = direction_rules.clone();
        property(rules, "/properties/selectPolicy")["maxLength"] = 16.into();
        property(rules, "/properties/tolerance")["maxLength"] = 64.into();
        let policy = property(rules, "/properties/policies/items");
        policy["x-kubernetes-validations"] = policy_rules.clone();
        property(policy, "/properties/type")["maxLength"] = 16.into();
    }
    // The derive's Option<T> schemas are nullable; this one, written by hand, says so itself.
    behavior["nullable"] = true.into();
    Schema::try_from(behavior).expect("an object schema stays one")
}

/// `text` as a CEL string literal, for a `messageExpression` that puts it after a value.
fn cel_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A `messageExpression` naming the first key of `map` that meets `condition` (of `k`), between
/// `before` and `after`: a rule on a map's keys sits on the map, whose own path cannot name one.
fn first_key(map: &str, condition: &str, before: &str, after: &str) -> String {
    format!("{} + {map}.filter(k, {condition})[0] + {}", cel_string(before), cel_string(after))
}

/// The (sub)schema at `pointer`.
fn property<'a>(schema: &'a mut serde_json::Value, pointer: &str) -> &'a mut serde_json::Value {
    match schema.pointer_mut(pointer) {
        Some(property) => property,
        // The generated CRDs are compared with the committed ones in a test, so this shows there.
        None => panic!("no schema at {pointer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message quoting `'` or `\` stays one CEL string literal (the API server refuses a CRD
    /// whose messageExpression does not compile).
    #[test]
    fn text_becomes_one_cel_string_literal() {
        assert_eq!(cel_string(r"a 'b' \c"), r"'a \'b\' \\c'");
        assert_eq!(first_key("self", "k == 'x'", "'", "' is bad"), r"'\'' + self.filter(k, k == 'x')[0] + '\' is bad'");
    }
}

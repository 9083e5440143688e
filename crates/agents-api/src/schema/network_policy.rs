//! An Agent's network policy rules (Kubernetes' own NetworkPolicyIngressRule and EgressRule),
//! checked as the API server checks a NetworkPolicy (`ValidateNetworkPolicyPort`,
//! `ValidateNetworkPolicyPeer`, `ValidateIPBlock` in pkg/apis/networking/validation, and
//! `ValidateLabelSelector`): the operator copies them into the NetworkPolicy verbatim, and a
//! mistake found only then would leave the agent's pods behind a stale policy.
//!
//! Each rule sits on the object it checks with a `fieldPath`, so a rejection names the entry
//! (`spec.networkPolicy.ingress[0].ports[1].port`). Every list and string is bounded: the rules
//! run once per entry of every enclosing list, and the API server sums their estimated cost.

use schemars::{Schema, SchemaGenerator};
use serde_json::{Value, json};

use super::{LABEL_VALUE, QUALIFIED_NAME, first_key, property};

/// Rules per direction, and entries per list inside a rule or a selector.
const MAX_RULES: usize = 16;
const MAX_PORTS: usize = 32;
const MAX_PEERS: usize = 8;
const MAX_EXCEPT: usize = 32;
const MAX_EXPRESSIONS: usize = 8;
const MAX_VALUES: usize = 16;
const MAX_LABELS: usize = 16;

/// `ingress`: who may connect to the agent.
pub fn ingress_rules(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<k8s_openapi::api::networking::v1::NetworkPolicyIngressRule>();
    rules(item.into(), "from", false)
}

/// `egress`: where the agent may connect (unset: anywhere, hence nullable).
pub fn egress_rules(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<k8s_openapi::api::networking::v1::NetworkPolicyEgressRule>();
    rules(item.into(), "to", true)
}

fn rules(mut rule: Value, peers: &str, nullable: bool) -> Schema {
    let ports = property(&mut rule, "/properties/ports");
    ports["maxItems"] = MAX_PORTS.into();
    port(property(ports, "/items"));
    let peers = property(&mut rule, &format!("/properties/{peers}"));
    peers["maxItems"] = MAX_PEERS.into();
    peer(property(peers, "/items"));
    let mut list = json!({"type": "array", "maxItems": MAX_RULES, "items": rule});
    if nullable {
        list["nullable"] = true.into();
    }
    Schema::try_from(list).expect("an array schema is an object")
}

/// A port (or range of ports) a rule allows.
fn port(port: &mut Value) {
    property(port, "/properties/protocol")["maxLength"] = 16.into();
    property(port, "/properties/port")["maxLength"] = 64.into();
    port["x-kubernetes-validations"] = json!([
        {
            "rule": "!has(self.protocol) || self.protocol in ['TCP', 'UDP', 'SCTP']",
            "message": "protocol is TCP (the default), UDP or SCTP",
            "fieldPath": ".protocol",
        },
        {
            // An int-or-string: a number, or a container port's name (an IANA service name).
            "rule": "!has(self.port) || type(self.port) == null_type || (type(self.port) == int \
                     ? self.port >= 1 && self.port <= 65535 \
                     : string(self.port).size() <= 15 && string(self.port).matches('^[a-z0-9]+(-[a-z0-9]+)*$') \
                     && string(self.port).matches('[a-z]'))",
            "message": "port is a number from 1 to 65535, or the name of a container's port such as http \
                        (at most 15 lowercase letters, digits and '-', with at least one letter)",
            "fieldPath": ".port",
        },
        {
            "rule": "!has(self.endPort) || (has(self.port) && type(self.port) == int)",
            "message": "endPort ends a range of ports that port starts: set port to a number, or remove endPort",
            "fieldPath": ".endPort",
        },
        {
            "rule": "!has(self.endPort) || !has(self.port) || type(self.port) != int \
                     || (self.endPort >= self.port && self.endPort <= 65535)",
            "message": "endPort must be from port to 65535",
            "fieldPath": ".endPort",
        },
    ]);
}

/// A peer: pods, namespaces or an IP block.
fn peer(peer: &mut Value) {
    peer["x-kubernetes-validations"] = json!([
        {
            "rule": "has(self.podSelector) || has(self.namespaceSelector) || has(self.ipBlock)",
            "message": "a peer sets podSelector, namespaceSelector (or both), or ipBlock: an empty one selects nothing",
        },
        {
            "rule": "!has(self.ipBlock) || !(has(self.podSelector) || has(self.namespaceSelector))",
            "message": "a peer with ipBlock takes no podSelector or namespaceSelector: list them as separate peers",
        },
    ]);
    ip_block(property(peer, "/properties/ipBlock"));
    selector(property(peer, "/properties/podSelector"));
    selector(property(peer, "/properties/namespaceSelector"));
}

/// A CIDR in the API server's strict form (since Kubernetes 1.36): no bits set past the prefix
/// length, no leading zeros, no IPv4-mapped IPv6 address (`isCIDR` refuses the last two).
fn network(c: &str) -> String {
    format!("(isCIDR({c}) && cidr({c}) == cidr({c}).masked())")
}

const NETWORK_MESSAGE: &str = "a network such as 10.0.0.0/8 or 2001:db8::/32: no bits set past the prefix length \
     (10.0.0.0/8, not 10.1.2.3/8) and no leading zeros";

fn ip_block(block: &mut Value) {
    property(block, "/properties/cidr")["maxLength"] = 64.into();
    let except = property(block, "/properties/except");
    except["maxItems"] = MAX_EXCEPT.into();
    property(except, "/items")["maxLength"] = 64.into();
    block["x-kubernetes-validations"] = json!([
        {
            "rule": network("self.cidr"),
            "message": format!("cidr must be {NETWORK_MESSAGE}"),
            "fieldPath": ".cidr",
        },
        {
            "rule": format!("!has(self.except) || self.except.all(e, {})", network("e")),
            "message": format!("each except entry must be {NETWORK_MESSAGE}"),
            "fieldPath": ".except",
        },
        {
            "rule": "!has(self.except) || !isCIDR(self.cidr) || self.except.all(e, !isCIDR(e) \
                     || (cidr(self.cidr).containsCIDR(cidr(e)) && cidr(e).prefixLength() > cidr(self.cidr).prefixLength()))",
            "message": "each except entry must lie strictly inside cidr, such as 10.1.0.0/16 inside 10.0.0.0/8",
            "fieldPath": ".except",
        },
    ]);
}

/// A label key: `QUALIFIED_NAME`, with a prefix of at most 253 characters.
fn label_key(k: &str) -> String {
    format!("({k}.matches('{QUALIFIED_NAME}') && {k}.indexOf('/') <= 253)")
}

const LABEL_KEY_MESSAGE: &str = "a label key such as app.kubernetes.io/name: an optional DNS prefix and '/', \
     then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

/// A label selector (of pods or of namespaces), as `ValidateLabelSelector` checks one.
fn selector(selector: &mut Value) {
    let labels = property(selector, "/properties/matchLabels");
    labels["maxProperties"] = MAX_LABELS.into();
    property(labels, "/additionalProperties")["maxLength"] = 63.into();
    let good_label = format!("{} && self[k].matches('{LABEL_VALUE}')", label_key("k"));
    labels["x-kubernetes-validations"] = json!([{
        "rule": format!("self.all(k, {good_label})"),
        "messageExpression": first_key(
            "self",
            &format!("!({good_label})"),
            "matchLabels[",
            &format!("] is not a label: the key is {LABEL_KEY_MESSAGE}; the value at most 63 of the same, or empty"),
        ),
        "message": format!("each matchLabels entry is a label: {LABEL_KEY_MESSAGE}; the value at most 63 of the same, or empty"),
    }]);
    let expressions = property(selector, "/properties/matchExpressions");
    expressions["maxItems"] = MAX_EXPRESSIONS.into();
    let expression = property(expressions, "/items");
    property(expression, "/properties/key")["maxLength"] = 317.into();
    property(expression, "/properties/operator")["maxLength"] = 16.into();
    let values = property(expression, "/properties/values");
    values["maxItems"] = MAX_VALUES.into();
    property(values, "/items")["maxLength"] = 63.into();
    expression["x-kubernetes-validations"] = json!([
        {
            "rule": label_key("self.key"),
            "message": format!("key must be {LABEL_KEY_MESSAGE}"),
            "fieldPath": ".key",
        },
        {
            "rule": "self.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist']",
            "message": "operator is In, NotIn, Exists or DoesNotExist",
            "fieldPath": ".operator",
        },
        {
            "rule": "!(self.operator in ['In', 'NotIn']) || (has(self.values) && self.values.size() > 0)",
            "message": "operators In and NotIn need values: list at least one",
            "fieldPath": ".values",
        },
        {
            "rule": "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || self.values.size() == 0",
            "message": "operators Exists and DoesNotExist take no values: remove them",
            "fieldPath": ".values",
        },
        {
            "rule": format!("!has(self.values) || self.values.all(v, v.matches('{LABEL_VALUE}'))"),
            "message": "each value is a label value: at most 63 letters, digits, '-', '_' and '.', \
                        starting and ending with a letter or digit, or empty",
            "fieldPath": ".values",
        },
    ]);
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The Agent's `spec.networkPolicy` as its CRD declares it.
    fn network_policy_schema() -> Value {
        let crd = crate::crd::all().into_iter().find(|c| c.spec.names.kind == "Agent").unwrap();
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["networkPolicy"].clone()
    }

    /// Every list and string under a rule of `schema`, unbounded: `path` names them.
    fn unbounded(schema: &Value, path: &str, under_rule: bool, found: &mut Vec<String>) {
        let under_rule = under_rule || schema.get("x-kubernetes-validations").is_some();
        let bounded = |key: &str| schema.get(key).is_some() || schema.get("enum").is_some();
        match schema.get("type").and_then(Value::as_str) {
            Some("array") if under_rule && !bounded("maxItems") => found.push(path.to_string()),
            Some("string") if under_rule && !bounded("maxLength") => found.push(path.to_string()),
            _ => {}
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                unbounded(property, &format!("{path}.{name}"), under_rule, found);
            }
        }
        if let Some(items) = schema.get("items") {
            unbounded(items, &format!("{path}[]"), under_rule, found);
        }
        if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            unbounded(values, &format!("{path}[*]"), under_rule, found);
        }
    }

    /// The API server sums each rule's estimated cost over the most entries every enclosing list
    /// may have, and refuses the CRD past its budget: an unbounded list or string under a rule
    /// would be estimated at the largest request. (The end-to-end tests install the CRD for real.)
    #[test]
    fn every_list_and_string_the_rules_read_is_bounded() {
        let schema = network_policy_schema();
        let mut found = Vec::new();
        // The rules sit on the rules' entries, so every list of rules counts as under one.
        for direction in ["ingress", "egress"] {
            let rules = &schema["properties"][direction];
            assert!(rules["maxItems"].is_u64(), "{direction} has no maxItems");
            unbounded(&rules["items"], &format!("networkPolicy.{direction}[]"), true, &mut found);
        }
        assert!(found.is_empty(), "unbounded under a rule: {found:?}");
    }
}

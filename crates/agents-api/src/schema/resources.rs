//! A container's compute resources, checked as the API server checks a Pod's container
//! (`ValidateContainerResourceRequirements` and `ValidateContainerResourceName` in Kubernetes'
//! pkg/apis/core/validation): what fails here would make the Deployment refuse the pod template.
//!
//! Rules on resource names sit on the `requests` and `limits` maps, whose rejections name the
//! key (a `messageExpression`) and never quote a value.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::json;

use super::{QUALIFIED_NAME, first_key};

/// A resource name a container may ask for: a standard one without a domain (`cpu`, `memory`,
/// `ephemeral-storage`, `hugepages-<size>`), any name in the `kubernetes.io/` domains, or an
/// extended resource by its full name. An extended resource's name with `requests.` before it
/// must still be a label key (its quota's name), hence the shorter domain and the refused prefix.
fn valid_name(k: &str) -> String {
    format!(
        "({k}.matches('{QUALIFIED_NAME}') && {k}.indexOf('/') <= 253 && ({k}.contains('/') \
         ? {k}.contains('kubernetes.io/') || (!{k}.startsWith('requests.') && {k}.indexOf('/') <= 244) \
         : {k} in ['cpu', 'memory', 'ephemeral-storage'] || {k}.startsWith('hugepages-')))"
    )
}

/// An extended resource (a device plugin's, such as `nvidia.com/gpu`): outside the
/// `kubernetes.io/` domains, counted in whole units and never overcommitted.
fn extended(k: &str) -> String {
    format!("({k}.contains('/') && !{k}.contains('kubernetes.io/'))")
}

/// What the API server does not let a request differ from its limit: extended resources and
/// hugepages.
fn not_overcommitted(k: &str) -> String {
    format!("({k}.startsWith('hugepages-') || {})", extended(k))
}

/// A hugepages amount: a whole multiple of the page size its name gives (`hugepages-2Mi`).
fn whole_pages(k: &str, amount: &str) -> String {
    let size = format!("{k}.substring(10)");
    format!(
        "(isQuantity({size}) && quantity({size}).isInteger() && quantity({size}).asInteger() > 0 \
         && (!isQuantity({amount}) || (quantity({amount}).isInteger() \
         && quantity({amount}).asInteger() % quantity({size}).asInteger() == 0)))"
    )
}

/// The rules of one map (`requests` or `limits`): its names, and the amounts a name constrains.
fn quantities(map: &str) -> serde_json::Value {
    let amount = "string(self[k])";
    let name = valid_name("k");
    let fractional_unit = format!("{} && isQuantity({amount}) && !quantity({amount}).isInteger()", extended("k"));
    let bad_pages = format!("k.startsWith('hugepages-') && !{}", whole_pages("k", amount));
    json!({
        "type": "object",
        "maxProperties": 16,
        "additionalProperties": {
            "x-kubernetes-int-or-string": true,
            "maxLength": 64,
            "x-kubernetes-validations": [
                {
                    "rule": "isQuantity(string(self))",
                    // The API server's rejection names the field and quotes the value before this.
                    "message": "must be a quantity: a number with an optional suffix, such as 500m, 2, 512Mi or 1Gi",
                },
                {
                    "rule": "!isQuantity(string(self)) || !quantity(string(self)).isLessThan(quantity('0'))",
                    "message": "must not be negative",
                },
            ],
        },
        "x-kubernetes-validations": [
            {
                "rule": format!("self.all(k, {name})"),
                "messageExpression": first_key(
                    "self",
                    &format!("!{name}"),
                    "'",
                    "' is not a resource a container can ask for: use cpu, memory, ephemeral-storage, hugepages-<size>, \
                     or an extended resource by its full name, such as nvidia.com/gpu (a lower-case domain, '/', then at most \
                     63 letters, digits, '-', '_' and '.')",
                ),
                "message": format!("{map} names a resource a container cannot ask for: use cpu, memory, ephemeral-storage, \
                                    hugepages-<size>, or an extended resource by its full name, such as nvidia.com/gpu"),
            },
            {
                "rule": format!("self.all(k, !({fractional_unit}))"),
                "messageExpression": first_key(
                    "self",
                    &fractional_unit,
                    "'",
                    "' is an extended resource, counted in whole units: use a whole number such as 1",
                ),
                "message": "an extended resource is counted in whole units: use a whole number such as 1",
            },
            {
                "rule": format!("self.all(k, !({bad_pages}))"),
                "messageExpression": first_key(
                    "self",
                    &bad_pages,
                    "'",
                    "' is hugepages-<page size>: name a page size such as 2Mi or 1Gi, and ask for a whole number of pages, \
                     such as 4Mi for hugepages-2Mi",
                ),
                "message": "hugepages-<page size>: name a page size such as 2Mi or 1Gi, and ask for a whole number of pages, \
                            such as 4Mi for hugepages-2Mi",
            },
        ],
    })
}

/// Compute resources, as a container takes them: names a Pod accepts, each value a quantity
/// (checked with the API server's own parser, so `lots` is refused here rather than by the
/// Deployment), each request at most its limit, extended resources and hugepages not
/// overcommitted, hugepages with cpu or memory. `claims` (dynamic resource allocation) is left
/// out: agents do not use it.
pub fn resources(_: &mut SchemaGenerator) -> Schema {
    let request = "string(self.requests[k])";
    let limit = "string(self.limits[k])";
    let comparable = format!("isQuantity({request}) && isQuantity({limit})");
    let above_limit = format!(
        "!{} && has(self.limits) && k in self.limits && {comparable} \
         && quantity({request}).compareTo(quantity({limit})) > 0",
        not_overcommitted("k")
    );
    let overcommitted = format!(
        "{} && !(has(self.limits) && k in self.limits && (!({comparable}) \
         || quantity({request}).compareTo(quantity({limit})) == 0))",
        not_overcommitted("k")
    );
    let has_pages = |map: &str| format!("(has(self.{map}) && self.{map}.exists(k, k.startsWith('hugepages-')))");
    let has_cpu_or_memory = |map: &str| format!("(has(self.{map}) && ('cpu' in self.{map} || 'memory' in self.{map}))");
    json_schema!({
        "description": "Compute resources of the container: requests and limits of cpu, memory and the like.",
        "type": "object",
        "properties": {
            "limits": quantities("limits"),
            "requests": quantities("requests"),
        },
        "x-kubernetes-validations": [
            {
                "rule": format!("!has(self.requests) || !self.requests.exists(k, {above_limit})"),
                "messageExpression": first_key(
                    "self.requests",
                    &above_limit,
                    "requests[",
                    "] is above its limit: lower the request or raise the limit",
                ),
                "message": "each request must be at most its limit: lower requests or raise limits",
            },
            {
                "rule": format!("!has(self.requests) || !self.requests.exists(k, {overcommitted})"),
                "messageExpression": first_key(
                    "self.requests",
                    &overcommitted,
                    "requests[",
                    "] needs a limit equal to it: extended resources and hugepages cannot be overcommitted \
                     (or set only the limit: the request defaults to it)",
                ),
                "message": "a request of an extended resource or of hugepages needs a limit equal to it (or set only the limit: \
                            the request defaults to it)",
            },
            {
                "rule": format!(
                    "!({} || {}) || {} || {}",
                    has_pages("requests"),
                    has_pages("limits"),
                    has_cpu_or_memory("requests"),
                    has_cpu_or_memory("limits")
                ),
                "message": "hugepages need a cpu or memory request or limit too, such as limits: {memory: 1Gi}",
            },
        ],
    })
}

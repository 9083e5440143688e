//! Environment variables of a container, checked as the API server checks a Pod's (`ValidateEnv`
//! in Kubernetes' pkg/apis/core/validation): what fails here would make the Deployment refuse the
//! pod template.

use schemars::{Schema, SchemaGenerator};

use super::{QUALIFIED_NAME, list_with_rules};

/// The pod fields an environment variable may read (`fieldRef.fieldPath`), besides one label or
/// annotation (`metadata.labels['KEY']`); `spec.host` is the old name of `spec.nodeName`.
const POD_FIELDS: &str = "['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.host', \
     'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs']";

/// The container resources an environment variable may read (`resourceFieldRef.resource`),
/// besides `requests.hugepages-<size>` and `limits.hugepages-<size>`.
const CONTAINER_RESOURCES: &str = "['limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'requests.cpu', \
     'requests.memory', 'requests.ephemeral-storage']";

/// `fieldRef`: API version v1 (the default) and a pod field, or one label or annotation by a
/// label key (an annotation's compared in lower case, as the API server does).
fn field_ref_rule() -> String {
    let key = QUALIFIED_NAME.trim_start_matches('^').trim_end_matches('$');
    let subscript = |map: &str| format!("\"^metadata\\\\.{map}\\\\['{key}'\\\\]$\"");
    format!(
        "!has(self.valueFrom) || !has(self.valueFrom.fieldRef) || ((!has(self.valueFrom.fieldRef.apiVersion) \
         || self.valueFrom.fieldRef.apiVersion in ['', 'v1']) && (self.valueFrom.fieldRef.fieldPath in {POD_FIELDS} \
         || self.valueFrom.fieldRef.fieldPath.matches({}) \
         || self.valueFrom.fieldRef.fieldPath.lowerAscii().matches({})))",
        subscript("labels"),
        subscript("annotations"),
    )
}

/// `resourceFieldRef.divisor`: what the API server's canonical form of it may be. A spelling in
/// binary units (`1024Ki`) is canonically binary, any other decimal, and an exponent (`1e3`) stays
/// one; zero means no divisor.
fn divisor_rule() -> String {
    let d = "string(self.valueFrom.resourceFieldRef.divisor)";
    format!(
        "!has(self.valueFrom) || !has(self.valueFrom.resourceFieldRef) || !has(self.valueFrom.resourceFieldRef.divisor) \
         || (isQuantity({d}) && (quantity({d}).compareTo(quantity('0')) == 0 || (!{d}.matches('[0-9][eE][-+]?[0-9]') \
         && (self.valueFrom.resourceFieldRef.resource.endsWith('.cpu') ? ['1m', '1'] \
         : {d}.matches('[KMGTPE]i$') ? ['1', '1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei'] : ['1', '1k', '1M', '1G', '1T', '1P', '1E']) \
         .exists(q, quantity({d}).compareTo(quantity(q)) == 0))))"
    )
}

/// Extra environment variables, checked as the Deployment would check them: a name of printable
/// characters without '=', a literal value or one source, references that name a real key, and
/// pod fields and container resources a container can read. The rules sit on each entry, so a
/// rejection names it (`spec.env[2]`) and never quotes a value.
pub fn env(generator: &mut SchemaGenerator) -> Schema {
    list_with_rules::<k8s_openapi::api::core::v1::EnvVar>(
        generator,
        &[
            ("/properties/name", 256),
            ("/properties/valueFrom/properties/secretKeyRef/properties/name", 253),
            ("/properties/valueFrom/properties/secretKeyRef/properties/key", 253),
            ("/properties/valueFrom/properties/configMapKeyRef/properties/name", 253),
            ("/properties/valueFrom/properties/configMapKeyRef/properties/key", 253),
            ("/properties/valueFrom/properties/fieldRef/properties/apiVersion", 16),
            ("/properties/valueFrom/properties/fieldRef/properties/fieldPath", 512),
            ("/properties/valueFrom/properties/resourceFieldRef/properties/resource", 64),
            ("/properties/valueFrom/properties/resourceFieldRef/properties/containerName", 63),
            ("/properties/valueFrom/properties/resourceFieldRef/properties/divisor", 32),
        ],
        serde_json::json!([
            {
                "rule": "self.name.matches('^[ -<>-~]+$')",
                "message": "an environment variable's name is printable ASCII without '=', such as LOG_LEVEL",
                "fieldPath": ".name",
            },
            {
                "rule": "!has(self.value) || !has(self.valueFrom)",
                "message": "set value or valueFrom, not both",
            },
            {
                "rule": "!has(self.valueFrom) || [has(self.valueFrom.secretKeyRef), has(self.valueFrom.configMapKeyRef), \
                         has(self.valueFrom.fieldRef), has(self.valueFrom.resourceFieldRef)].filter(x, x).size() == 1",
                "message": "valueFrom takes exactly one of secretKeyRef, configMapKeyRef, fieldRef or resourceFieldRef",
                "fieldPath": ".valueFrom",
            },
            {
                "rule": "!has(self.valueFrom) || !has(self.valueFrom.secretKeyRef) || \
                         (self.valueFrom.secretKeyRef.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$') \
                         && self.valueFrom.secretKeyRef.name.size() <= 253)",
                "message": "must be the name of a Secret in this namespace: lowercase letters, digits, '-' and '.'",
                "fieldPath": ".valueFrom.secretKeyRef.name",
            },
            {
                "rule": "!has(self.valueFrom) || !has(self.valueFrom.secretKeyRef) || self.valueFrom.secretKeyRef.key.matches('^[-._a-zA-Z0-9]+$')",
                "message": "must be a key of the Secret: letters, digits, '-', '_' and '.'",
                "fieldPath": ".valueFrom.secretKeyRef.key",
            },
            {
                "rule": "!has(self.valueFrom) || !has(self.valueFrom.configMapKeyRef) || \
                         (self.valueFrom.configMapKeyRef.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$') \
                         && self.valueFrom.configMapKeyRef.key.matches('^[-._a-zA-Z0-9]+$'))",
                "message": "must name a ConfigMap in this namespace (lowercase letters, digits, '-' and '.') and one of its keys (letters, digits, '-', '_' and '.')",
                "fieldPath": ".valueFrom.configMapKeyRef",
            },
            {
                "rule": field_ref_rule(),
                "message": format!(
                    "fieldRef reads one of the pod's fields {}, or one label or annotation, such as \
                     metadata.labels['app.kubernetes.io/name'] (apiVersion v1, the default)",
                    POD_FIELDS.replace('\'', "")
                ),
                "fieldPath": ".valueFrom.fieldRef",
            },
            {
                "rule": format!(
                    "!has(self.valueFrom) || !has(self.valueFrom.resourceFieldRef) \
                     || self.valueFrom.resourceFieldRef.resource in {CONTAINER_RESOURCES} \
                     || self.valueFrom.resourceFieldRef.resource.startsWith('requests.hugepages-') \
                     || self.valueFrom.resourceFieldRef.resource.startsWith('limits.hugepages-')"
                ),
                "message": format!(
                    "resourceFieldRef.resource is one of {}, requests.hugepages-<size> or limits.hugepages-<size>",
                    CONTAINER_RESOURCES.replace('\'', "")
                ),
                "fieldPath": ".valueFrom.resourceFieldRef.resource",
            },
            {
                "rule": divisor_rule(),
                "message": "resourceFieldRef.divisor is 1m or 1 for cpu, and 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi \
                            or 1Ei for memory, ephemeral-storage and hugepages",
                "fieldPath": ".valueFrom.resourceFieldRef.divisor",
            },
        ]),
    )
}

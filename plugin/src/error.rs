//! Turns failures into one line that says what is wrong and what to do.

use kube::core::Status;

/// The kubeconfig could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("no usable kubeconfig: {0}. Point KUBECONFIG or --kubeconfig at one, or pick a context with --context")]
pub struct NoKubeconfig(pub String);

/// A failure a command has already explained (its message is the whole story).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Explained(pub String);

/// The user-facing sentence for an error: the first cause we recognise, else the error chain.
pub fn explain(error: &anyhow::Error) -> String {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<Explained>() {
            return e.0.clone();
        }
        if let Some(e) = cause.downcast_ref::<NoKubeconfig>() {
            return e.to_string();
        }
        if let Some(sentence) = cause.downcast_ref::<kube::Error>().and_then(explain_kube) {
            return sentence;
        }
    }
    format!("{error:#}")
}

fn explain_kube(error: &kube::Error) -> Option<String> {
    match error {
        kube::Error::Api(status) => Some(explain_status(status)),
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(format!(
            "cannot reach the Kubernetes API server ({error}): is the cluster running, and is the right context selected (--context, --kubeconfig)?"
        )),
        _ => None,
    }
}

/// An API error as a sentence, with the field-level causes of a rejected object.
pub fn explain_status(status: &Status) -> String {
    match status.code {
        401 => format!(
            "the API server does not accept your credentials ({}): log in again or check the kubeconfig",
            status.message
        ),
        403 => format!("forbidden: {}. Ask for the RBAC permission, or use another --context", status.message),
        // The path of a resource the server does not serve: for this plugin, the agents.dev API
        // (a missing object says `... "name" not found` instead).
        404 if status.message.contains("could not find the requested resource")
            || status.message.trim() == "404 page not found" =>
        {
            "the agents.dev CRDs are not installed in this cluster: run `kubectl agents install`".into()
        }
        422 => invalid(status),
        _ => status.message.clone(),
    }
}

/// `Agent "x" is invalid:` followed by one `field: message` line per cause.
fn invalid(status: &Status) -> String {
    let causes: Vec<String> = status
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| {
                    let field = c.field.trim_start_matches("<nil>");
                    if field.is_empty() { format!("  - {}", c.message) } else { format!("  - {field}: {}", c.message) }
                })
                .collect()
        })
        .unwrap_or_default();
    if causes.is_empty() {
        return status.message.clone();
    }
    let kind = status.details.as_ref().map(|d| d.kind.as_str()).unwrap_or("object");
    let name = status.details.as_ref().map(|d| d.name.as_str()).unwrap_or("");
    format!("{kind} {name:?} is invalid:\n{}", causes.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(value: serde_json::Value) -> Status {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_missing_crd_says_how_to_install_it() {
        let e = anyhow::Error::new(kube::Error::Api(Box::new(status(serde_json::json!({
            "code": 404, "message": "the server could not find the requested resource", "reason": "NotFound"
        })))));
        assert_eq!(explain(&e), "the agents.dev CRDs are not installed in this cluster: run `kubectl agents install`");
    }

    #[test]
    fn an_unserved_api_path_also_means_missing_crds() {
        let e = anyhow::Error::new(kube::Error::Api(Box::new(status(serde_json::json!({
            "code": 404, "message": "404 page not found\n", "reason": "NotFound"
        })))));
        assert!(explain(&e).starts_with("the agents.dev CRDs are not installed"));
        let missing_object = anyhow::Error::new(kube::Error::Api(Box::new(status(serde_json::json!({
            "code": 404, "message": "agents.agents.dev \"x\" not found", "reason": "NotFound"
        })))));
        assert_eq!(explain(&missing_object), "agents.agents.dev \"x\" not found");
    }

    #[test]
    fn a_rejected_object_lists_each_field() {
        let e = anyhow::Error::new(kube::Error::Api(Box::new(status(serde_json::json!({
            "code": 422, "reason": "Invalid", "message": "Agent.agents.dev \"a\" is invalid: ...",
            "details": {"name": "a", "kind": "Agent", "causes": [
                {"reason": "FieldValueInvalid", "message": "Invalid value: 5000: must be at most 1000", "field": "spec.replicas"},
                {"reason": "FieldValueInvalid", "message": "set at most one of spec.image or spec.buildRef", "field": "<nil>"},
            ]},
        })))));
        assert_eq!(
            explain(&e),
            "Agent \"a\" is invalid:\n  - spec.replicas: Invalid value: 5000: must be at most 1000\n  - set at most one of spec.image or spec.buildRef"
        );
    }
}

//! Reconcile errors. Variant names are metric labels: keep them short and stable.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Render(#[from] agents_render::agent::Incomplete),

    #[error("could not {action} {kind} {name}: {}", readable(source))]
    Apply {
        action: &'static str,
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },

    /// An AgentWorkflow that cannot be rendered.
    #[error("{0}")]
    Workflow(String),

    #[error("could not write the status of {name}: {}", readable(source))]
    Status {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// What the API server said, as the sentence it wrote (status and Events show this; kube's own
/// rendering appends a debug dump of the whole Status).
fn readable(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Render(_) | Error::Workflow(_) => "render",
            Error::Apply { .. } => "apply",
            Error::Status { .. } => "status",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_servers_refusal_reads_as_its_own_sentence() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "code": 422, "reason": "Invalid",
            "message": "Deployment.apps \"a\" is invalid: spec.template.spec.containers[0].image: Required value",
        }))
        .unwrap();
        let error = Error::Apply {
            action: "apply",
            kind: "Deployment",
            name: "a".into(),
            source: kube::Error::Api(Box::new(status)),
        };
        assert_eq!(
            error.to_string(),
            "could not apply Deployment a: Deployment.apps \"a\" is invalid: spec.template.spec.containers[0].image: Required value"
        );
    }
}

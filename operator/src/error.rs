//! Reconcile errors. Variant names are metric labels: keep them short and stable.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Render(#[from] agents_render::agent::Incomplete),

    #[error("could not {action} {kind} {name}: {source}")]
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

    #[error("could not write the status of {name}: {source}")]
    Status {
        name: String,
        #[source]
        source: kube::Error,
    },
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

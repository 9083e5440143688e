//! An AgentWorkflow's Argo objects and status.
//!
//! | object | when |
//! | --- | --- |
//! | Argo `Workflow` `<name>-<id>` | one per run request (`kubectl agents workflow run`) |
//! | Argo `CronWorkflow` `<name>` | `spec.schedule` is set; Argo starts the runs |
//!
//! Every step is checked first (`dag::check`): a cycle or a bad placeholder fails the workflow
//! and nothing is run.

pub mod argo;
pub mod dag;
pub mod decide;
pub mod resolve;
pub mod run;
pub mod schedule;
pub mod status;

pub use argo::{RunRequest, cron, run as render_run};
pub use dag::{Dag, Invalid, check};
pub use run::Run;
pub use status::AgentState;

/// The Agents a workflow's steps call, sorted and without repeats.
pub fn referenced_agents(workflow: &agents_api::AgentWorkflow) -> std::collections::BTreeSet<String> {
    workflow.spec.steps.iter().filter_map(|s| s.agent_ref.as_ref()).map(|r| r.name.clone()).collect()
}

#[cfg(test)]
pub(crate) mod fixtures {
    use agents_api::AgentWorkflow;
    use agents_api::workflow::AgentWorkflowSpec;

    pub fn spec(yaml: &str) -> AgentWorkflowSpec {
        serde_norway::from_str(yaml).expect("a valid spec")
    }

    /// An AgentWorkflow called `pipeline` as the API server returns it.
    pub fn workflow(spec_yaml: &str) -> AgentWorkflow {
        let spec: serde_json::Value = serde_norway::from_str(spec_yaml).expect("valid YAML");
        serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1",
            "kind": "AgentWorkflow",
            "metadata": {"name": "pipeline", "namespace": "team-a", "uid": "u-1", "generation": 2},
            "spec": spec,
        }))
        .expect("a valid AgentWorkflow")
    }
}

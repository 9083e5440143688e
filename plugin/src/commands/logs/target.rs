//! Whose pods `logs` shows: one Agent by name, or the Agents a label selector matches; and what
//! to say when they have none.

use agents_api::{Agent, AgentPhase};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::session::Session;

pub(super) enum Target {
    One(Box<Agent>),
    Selected { selector: String, names: Vec<String> },
}

impl Target {
    /// The Agent named, or the Agents `selector` matches (every Agent without one). `None` when
    /// a selector matches nothing, which is not an error (kubectl says so and exits 0).
    pub(super) async fn find(
        session: &Session,
        name: Option<&str>,
        selector: Option<&str>,
    ) -> anyhow::Result<Option<Target>> {
        let agents: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
        if let Some(name) = name {
            let agent = agents.get_opt(name).await?.ok_or_else(|| crate::commands::get::not_found(session, name))?;
            return Ok(Some(Target::One(Box::new(agent))));
        }
        let selector = selector.unwrap_or_default().to_string();
        let mut names: Vec<String> =
            agents.list(&ListParams::default().labels(&selector)).await?.items.iter().map(|a| a.name_any()).collect();
        if names.is_empty() {
            return Ok(None);
        }
        names.sort();
        Ok(Some(Target::Selected { selector, names }))
    }

    /// The pods' label selector: the Agents' own label, not the selector given (pods carry the
    /// operator's labels, not the Agent's).
    pub(super) fn pod_selector(&self) -> String {
        let label = agents_render::labels::AGENT;
        match self {
            Target::One(agent) => format!("{label}={}", agent.name_any()),
            Target::Selected { names, .. } => format!("{label} in ({})", names.join(",")),
        }
    }

    /// `agent "research"`, or `the agents matching team=t (a, b)`, for messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Target::One(agent) => format!("agent {:?}", agent.name_any()),
            Target::Selected { selector, names } => format!("the agents matching {selector} ({})", names.join(", ")),
        }
    }

    /// Why there is nothing to show, and what to do about it.
    pub(super) fn no_pods(&self, waiting: bool) -> String {
        let agent = match self {
            Target::One(agent) => agent,
            Target::Selected { .. } if waiting => {
                return format!("{} have no pods. Waiting for them to appear (Ctrl-C to stop)", self.describe());
            }
            Target::Selected { .. } => {
                return format!("{} have no pods: see `kubectl agents status`", self.describe());
            }
        };
        let name = agent.name_any();
        let phase = agent.status.as_ref().and_then(|s| s.phase);
        let stopped = agent.spec.replicas == Some(0) || phase == Some(AgentPhase::Stopped);
        let state = match phase {
            _ if stopped => "it is stopped (replicas: 0)".to_string(),
            Some(phase) => format!("it is {phase}"),
            None => "the operator has not reported on it yet".to_string(),
        };
        if waiting {
            return format!("agent {name:?} has no pods: {state}. Waiting for them to appear (Ctrl-C to stop)");
        }
        let hint = if stopped {
            format!("Start it with `kubectl agents scale {name} --replicas 1`")
        } else {
            format!("See `kubectl agents describe {name}`")
        };
        format!("agent {name:?} has no pods: {state}. {hint}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_pods_says_why() {
        let mut agent: Agent = serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "Agent",
            "metadata": {"name": "research"}, "spec": {"image": "x", "replicas": 0},
        }))
        .unwrap();
        let one = |agent: &Agent| Target::One(Box::new(agent.clone()));
        assert_eq!(
            one(&agent).no_pods(false),
            "agent \"research\" has no pods: it is stopped (replicas: 0). Start it with `kubectl agents scale research --replicas 1`"
        );
        assert!(
            one(&agent).no_pods(true).ends_with("stopped (replicas: 0). Waiting for them to appear (Ctrl-C to stop)")
        );
        agent.spec.replicas = Some(2);
        assert!(one(&agent).no_pods(false).contains("the operator has not reported on it yet"));
        let selected = Target::Selected { selector: "team=t".into(), names: vec!["a".into(), "b".into()] };
        assert_eq!(selected.pod_selector(), "agents.dev/agent in (a,b)");
        assert_eq!(
            selected.no_pods(false),
            "the agents matching team=t (a, b) have no pods: see `kubectl agents status`"
        );
    }
}

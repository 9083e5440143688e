//! The Agents an AgentWorkflow's steps call, looked up: one rule for the operator (its Agent
//! cache) and `kubectl agents render` (the manifests it was given, or the cluster).

use std::collections::BTreeMap;
use std::sync::Arc;

use agents_api::{Agent, AgentWorkflow};

use super::AgentState;

/// The state of every Agent the steps call, `find` looking one up by name in the workflow's
/// namespace.
pub fn agents(workflow: &AgentWorkflow, find: impl Fn(&str) -> Option<Arc<Agent>>) -> BTreeMap<String, AgentState> {
    super::referenced_agents(workflow)
        .into_iter()
        .map(|name| {
            let state = AgentState::of(find(&name).as_deref());
            (name, state)
        })
        .collect()
}

/// The URL of each Ready Agent: what the steps call. Runs start only once every Agent has one.
pub fn endpoints(agents: &BTreeMap<String, AgentState>) -> BTreeMap<String, String> {
    agents
        .iter()
        .filter_map(|(name, state)| match state {
            AgentState::Ready(url) => Some((name.clone(), url.clone())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::fixtures::workflow;

    #[test]
    fn each_called_agent_is_looked_up_once_and_only_ready_ones_have_an_endpoint() {
        let pipeline = workflow(
            "steps:\n- {name: a, agentRef: {name: research}, input: x}\n\
             - {name: b, agentRef: {name: writer}, input: y, dependsOn: [a]}\n\
             - {name: c, agentRef: {name: research}, input: z, dependsOn: [b]}\n",
        );
        let ready: Agent = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "research", "namespace": "team-a"}, "spec": {},
            "status": {"phase": "Ready", "endpoint": "http://research.team-a.svc.cluster.local"},
        }))
        .unwrap();
        let ready = Arc::new(ready);
        let found = agents(&pipeline, |name| (name == "research").then(|| ready.clone()));
        assert_eq!(
            found,
            BTreeMap::from([
                ("research".to_string(), AgentState::Ready("http://research.team-a.svc.cluster.local".into())),
                ("writer".to_string(), AgentState::Missing),
            ])
        );
        assert_eq!(
            endpoints(&found),
            BTreeMap::from([("research".to_string(), "http://research.team-a.svc.cluster.local".to_string())])
        );
    }
}

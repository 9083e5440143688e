//! Resolves an Agent's references against the operator's caches, and finds the Agents to
//! reconcile when something they reference changes.

use std::sync::Arc;

use agents_api::{Agent, AgentBuild, MCPServer, ModelAPI};
use agents_render::agent::dependencies::Dependencies;
use agents_render::agent::resolve::{self, Lookup};
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

/// The caches references are resolved against, and the image Agents without one run.
pub struct Referenced {
    pub agents: Store<Agent>,
    pub builds: Store<AgentBuild>,
    pub model_apis: Store<ModelAPI>,
    pub mcp_servers: Store<MCPServer>,
    /// `--agent-runtime-image`: `None` runs this release's runtime image.
    pub runtime_image: Option<String>,
}

fn find<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<Arc<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    store.get(&ObjectRef::new(name).within(namespace))
}

impl Lookup for Referenced {
    fn agent(&self, namespace: &str, name: &str) -> Option<Arc<Agent>> {
        find(&self.agents, namespace, name)
    }
    fn build(&self, namespace: &str, name: &str) -> Option<Arc<AgentBuild>> {
        find(&self.builds, namespace, name)
    }
    fn model_api(&self, namespace: &str, name: &str) -> Option<Arc<ModelAPI>> {
        find(&self.model_apis, namespace, name)
    }
    fn mcp_server(&self, namespace: &str, name: &str) -> Option<Arc<MCPServer>> {
        find(&self.mcp_servers, namespace, name)
    }
}

/// Every reference, looked up in the caches (`agents_render::agent::resolve`: the rule
/// `kubectl agents render` follows too).
pub fn resolve(agent: &Agent, referenced: &Referenced) -> Dependencies {
    resolve::resolve(agent, referenced, referenced.runtime_image.clone())
}

/// The Agents in `namespace` that `references` (a predicate on an Agent) says depend on the
/// changed object: they are reconciled when it changes.
fn dependents(
    agents: &Store<Agent>,
    namespace: Option<String>,
    references: impl Fn(&Agent) -> bool,
) -> Vec<ObjectRef<Agent>> {
    agents
        .state()
        .iter()
        .filter(|a| a.namespace() == namespace && references(a))
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

/// The Agents whose `buildRef` names `changed`: its status names the image they run.
pub fn users_of_build(changed: &AgentBuild, agents: &Store<Agent>) -> Vec<ObjectRef<Agent>> {
    let name = changed.name_any();
    dependents(agents, changed.namespace(), |a| a.spec.build_ref.as_ref().is_some_and(|b| b.name == name))
}

/// The Agents whose `model.modelAPIRef` names `changed`.
pub fn users_of_model_api(changed: &ModelAPI, agents: &Store<Agent>) -> Vec<ObjectRef<Agent>> {
    let name = changed.name_any();
    dependents(agents, changed.namespace(), |a| {
        a.spec.model.as_ref().and_then(|m| m.model_api_ref.as_ref()).is_some_and(|r| r.name == name)
    })
}

/// The Agents whose `mcpServers` list `changed`.
pub fn users_of_mcp_server(changed: &MCPServer, agents: &Store<Agent>) -> Vec<ObjectRef<Agent>> {
    let name = changed.name_any();
    dependents(agents, changed.namespace(), |a| a.spec.mcp_servers.iter().any(|r| r.name == name))
}

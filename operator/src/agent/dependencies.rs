//! Resolves an Agent's references against the operator's caches, and finds the Agents to
//! reconcile when something they reference changes.

use agents_api::{Agent, AgentBuild, MCPServer, ModelAPI, ModelAPIMode};
use agents_render::agent::dependencies::{self, Dependencies};
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

/// Every reference is looked up in the caches, in the Agent's namespace only (references carry no
/// namespace): its build (the image its last successful run pushed, by digest), its ModelAPI,
/// its MCPServers and its peers.
pub fn resolve(agent: &Agent, referenced: &Referenced) -> Dependencies {
    let namespace = agent.namespace().unwrap_or_default();
    let spec = &agent.spec;
    let model_api = spec.model.as_ref().and_then(|m| m.model_api_ref.as_ref()).map(|r| {
        let found = referenced.model_apis.get(&ObjectRef::new(&r.name).within(&namespace));
        (r.name.clone(), found)
    });
    let model_api_key = model_api
        .as_ref()
        .and_then(|(_, found)| found.as_deref())
        .filter(|m| m.spec.mode == ModelAPIMode::External)
        .and_then(|m| m.spec.external.as_ref()?.api_key_secret_ref.clone());
    Dependencies {
        build: spec.build_ref.as_ref().map(|r| {
            let found = referenced.builds.get(&ObjectRef::new(&r.name).within(&namespace));
            (r.name.clone(), agents_render::build::dependency(found.as_deref()))
        }),
        model_api: model_api.map(|(name, found)| (name, dependencies::model_api(found.as_deref()))),
        mcp_servers: spec
            .mcp_servers
            .iter()
            .map(|r| {
                let found = referenced.mcp_servers.get(&ObjectRef::new(&r.name).within(&namespace));
                (r.name.clone(), dependencies::mcp_server(found.as_deref()))
            })
            .collect(),
        peers: spec
            .peers
            .iter()
            .map(|r| {
                let peer = referenced.agents.get(&ObjectRef::new(&r.name).within(&namespace));
                (r.name.clone(), dependencies::peer(peer.as_deref()))
            })
            .collect(),
        model_api_key,
        runtime_image: referenced.runtime_image.clone(),
    }
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

/// The Agents that list `changed` as a peer.
pub fn dependents_of(changed: &Agent, agents: &Store<Agent>) -> Vec<ObjectRef<Agent>> {
    let name = changed.name_any();
    dependents(agents, changed.namespace(), |a| a.spec.peers.iter().any(|p| p.name == name))
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

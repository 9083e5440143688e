//! Resolves an Agent's references against the operator's caches.

use agents_api::Agent;
use agents_render::agent::dependencies::{self, Dependencies, Dependency};
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

/// Peers are looked up in the Agent cache. ModelAPI, MCPServer and AgentBuild references are
/// reported as not supported by this operator version: the Agent waits and says so, rather
/// than running without what it asked for.
pub fn resolve(agent: &Agent, agents: &Store<Agent>) -> Dependencies {
    let namespace = agent.namespace().unwrap_or_default();
    let spec = &agent.spec;
    Dependencies {
        build: spec.build_ref.as_ref().map(|r| (r.name.clone(), Dependency::NotSupported)),
        model_api: spec
            .model
            .as_ref()
            .and_then(|m| m.model_api_ref.as_ref())
            .map(|r| (r.name.clone(), Dependency::NotSupported)),
        mcp_servers: spec.mcp_servers.iter().map(|r| (r.name.clone(), Dependency::NotSupported)).collect(),
        peers: spec
            .peers
            .iter()
            .map(|r| {
                let peer = agents.get(&ObjectRef::new(&r.name).within(&namespace));
                (r.name.clone(), dependencies::peer(peer.as_deref()))
            })
            .collect(),
    }
}

/// The Agents that list `changed` as a peer: they are reconciled when it changes.
pub fn dependents_of(changed: &Agent, agents: &Store<Agent>) -> Vec<ObjectRef<Agent>> {
    let name = changed.name_any();
    let namespace = changed.namespace();
    agents
        .state()
        .iter()
        .filter(|a| a.namespace() == namespace && a.spec.peers.iter().any(|p| p.name == name))
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

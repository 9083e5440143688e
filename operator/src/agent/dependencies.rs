//! Resolves an Agent's references against the operator's caches.

use agents_api::{Agent, AgentBuild};
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

/// The Agent's `buildRef`, looked up in the AgentBuild cache: the image its last successful run
/// pushed, by digest (see `agents_render::build::dependency`).
pub fn resolve_build(agent: &Agent, builds: &Store<AgentBuild>) -> Option<(String, Dependency)> {
    let build_ref = agent.spec.build_ref.as_ref()?;
    let namespace = agent.namespace().unwrap_or_default();
    let build = builds.get(&ObjectRef::new(&build_ref.name).within(&namespace));
    Some((build_ref.name.clone(), agents_render::build::dependency(build.as_deref())))
}

/// The Agents whose `buildRef` names `changed`: they are reconciled when it changes.
pub fn builders_of(changed: &AgentBuild, agents: &Store<Agent>) -> Vec<ObjectRef<Agent>> {
    let name = changed.name_any();
    let namespace = changed.namespace();
    agents
        .state()
        .iter()
        .filter(|a| a.namespace() == namespace && a.spec.build_ref.as_ref().is_some_and(|b| b.name == name))
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

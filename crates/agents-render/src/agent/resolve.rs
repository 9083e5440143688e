//! An Agent's references resolved to the state of what they name. One rule for both binaries:
//! the operator looks references up in its caches, `kubectl agents render` in the manifests it
//! was given (or in the cluster).

use std::collections::BTreeMap;
use std::sync::Arc;

use agents_api::{Agent, AgentBuild, MCPServer, ModelAPI};

use super::dependencies::{self, Dependencies};

/// Where references are looked up. A reference carries no namespace: it names an object in the
/// Agent's own namespace.
pub trait Lookup {
    fn agent(&self, namespace: &str, name: &str) -> Option<Arc<Agent>>;
    fn build(&self, namespace: &str, name: &str) -> Option<Arc<AgentBuild>>;
    fn model_api(&self, namespace: &str, name: &str) -> Option<Arc<ModelAPI>>;
    fn mcp_server(&self, namespace: &str, name: &str) -> Option<Arc<MCPServer>>;
}

/// A namespace and a name: where an object is held in [`Objects`].
pub type ObjectKey = (String, String);

pub fn object_key(namespace: &str, name: &str) -> ObjectKey {
    (namespace.to_string(), name.to_string())
}

/// Objects held in memory, by namespace and name: what `kubectl agents render` (and the tests)
/// look references up in, where the operator looks in its caches.
#[derive(Default, Debug)]
pub struct Objects {
    pub agents: BTreeMap<ObjectKey, Arc<Agent>>,
    pub builds: BTreeMap<ObjectKey, Arc<AgentBuild>>,
    pub model_apis: BTreeMap<ObjectKey, Arc<ModelAPI>>,
    pub mcp_servers: BTreeMap<ObjectKey, Arc<MCPServer>>,
}

impl Lookup for Objects {
    fn agent(&self, namespace: &str, name: &str) -> Option<Arc<Agent>> {
        self.agents.get(&object_key(namespace, name)).cloned()
    }
    fn build(&self, namespace: &str, name: &str) -> Option<Arc<AgentBuild>> {
        self.builds.get(&object_key(namespace, name)).cloned()
    }
    fn model_api(&self, namespace: &str, name: &str) -> Option<Arc<ModelAPI>> {
        self.model_apis.get(&object_key(namespace, name)).cloned()
    }
    fn mcp_server(&self, namespace: &str, name: &str) -> Option<Arc<MCPServer>> {
        self.mcp_servers.get(&object_key(namespace, name)).cloned()
    }
}

/// Every reference of the Agent, looked up: its build (the image its last successful run pushed,
/// by digest), its ModelAPI (and the key it asks callers for), its MCPServers and its peers.
/// `runtime_image` is what an Agent with neither `image` nor `buildRef` runs (`None`: this
/// release's).
pub fn resolve(agent: &Agent, lookup: &impl Lookup, runtime_image: Option<String>) -> Dependencies {
    let namespace = agent.metadata.namespace.as_deref().unwrap_or_default();
    let spec = &agent.spec;
    let model_api = spec
        .model
        .as_ref()
        .and_then(|m| m.model_api_ref.as_ref())
        .map(|r| (r.name.clone(), lookup.model_api(namespace, &r.name)));
    let model_api_key =
        model_api.as_ref().and_then(|(_, found)| crate::model_api::caller_key(found.as_deref()?).cloned());
    Dependencies {
        build: spec.build_ref.as_ref().map(|r| {
            let found = lookup.build(namespace, &r.name);
            (r.name.clone(), crate::build::dependency(found.as_deref()))
        }),
        model_api: model_api.map(|(name, found)| (name, dependencies::model_api(found.as_deref()))),
        mcp_servers: spec
            .mcp_servers
            .iter()
            .map(|r| (r.name.clone(), dependencies::mcp_server(lookup.mcp_server(namespace, &r.name).as_deref())))
            .collect(),
        peers: spec
            .peers
            .iter()
            .map(|r| (r.name.clone(), dependencies::peer(lookup.agent(namespace, &r.name).as_deref())))
            .collect(),
        model_api_key,
        runtime_image,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::agent::Dependency;
    use crate::agent::fixtures::agent;

    /// Adds the object `kind` `namespace/name` with `rest` (its spec and status) to `map`.
    fn put<K: serde::de::DeserializeOwned>(
        map: &mut BTreeMap<(String, String), Arc<K>>,
        kind: &str,
        (namespace, name): (&str, &str),
        rest: serde_json::Value,
    ) {
        let mut value = json!({"apiVersion": "agents.dev/v1alpha1", "kind": kind,
                               "metadata": {"name": name, "namespace": namespace}});
        value.as_object_mut().unwrap().extend(rest.as_object().unwrap().clone());
        map.insert(object_key(namespace, name), Arc::new(serde_json::from_value(value).unwrap()));
    }

    #[test]
    fn references_are_looked_up_in_the_agents_namespace() {
        let research = agent(
            "model: {provider: openai, name: gpt-4o, modelAPIRef: {name: gateway}}\n\
             mcpServers: [{name: search}, {name: absent}]\npeers: [{name: writer}]\nbuildRef: {name: img}\n",
        );
        let mut objects = Objects::default();
        let external = json!({"spec": {"mode": "External", "external": {"url": "https://llm.example.com/v1",
                              "apiKeySecretRef": {"name": "llm", "key": "token"}}},
                              "status": {"phase": "Ready", "endpoint": "https://llm.example.com/v1"}});
        put(&mut objects.model_apis, "ModelAPI", ("team-a", "gateway"), external);
        let search = json!({"spec": {"image": "ghcr.io/x/search:1"}, "status": {"phase": "Pending"}});
        put(&mut objects.mcp_servers, "MCPServer", ("team-a", "search"), search);
        // The same name in another namespace is not the peer.
        put(&mut objects.agents, "Agent", ("team-b", "writer"), json!({"spec": {}}));

        let deps = resolve(&research, &objects, Some("mirror/runtime:1".into()));
        assert_eq!(deps.model_api, Some(("gateway".into(), Dependency::Ready("https://llm.example.com/v1".into()))));
        assert_eq!(deps.model_api_key.as_ref().map(|k| (k.name.as_str(), k.key.as_str())), Some(("llm", "token")));
        assert_eq!(deps.mcp_servers["search"], Dependency::NotReady("it is not serving".into()));
        assert_eq!(deps.mcp_servers["absent"], Dependency::Missing);
        assert_eq!(deps.peers["writer"], Dependency::Missing);
        assert_eq!(deps.build, Some(("img".into(), Dependency::Missing)));
        assert_eq!(deps.runtime_image.as_deref(), Some("mirror/runtime:1"));

        put(&mut objects.agents, "Agent", ("team-a", "writer"), json!({"spec": {}}));
        let deps = resolve(&research, &objects, None);
        assert_eq!(deps.peers["writer"], Dependency::Ready("http://writer.team-a.svc.cluster.local".into()));
    }

    #[test]
    fn a_proxy_passes_on_its_master_key_never_a_provider_key() {
        let research = agent("model: {provider: openai, name: gpt-4o, modelAPIRef: {name: gateway}}\n");
        let key_of = |proxy: serde_json::Value| {
            let mut objects = Objects::default();
            let model_api = json!({"spec": {"mode": "Proxy", "proxy": proxy},
                "status": {"phase": "Ready", "endpoint": "http://gateway.team-a.svc.cluster.local:8000"}});
            put(&mut objects.model_apis, "ModelAPI", ("team-a", "gateway"), model_api);
            let deps = resolve(&research, &objects, None);
            assert_eq!(deps.model_api_url(), Some("http://gateway.team-a.svc.cluster.local:8000"));
            deps.model_api_key.map(|k| (k.name, k.key))
        };
        let provider_key = json!({"name": "openai", "key": "api-key"});
        let open = json!({"models": [{"name": "gpt-4o", "apiKeySecretRef": provider_key}]});
        assert_eq!(key_of(open), None);
        let guarded = json!({"models": [{"name": "gpt-4o", "apiKeySecretRef": provider_key}],
                             "masterKeySecretRef": {"name": "gateway-master", "key": "key"}});
        assert_eq!(key_of(guarded), Some(("gateway-master".into(), "key".into())));
    }
}

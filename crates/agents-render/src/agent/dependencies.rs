//! What an Agent depends on, as the operator observed it: its build, its model API, its tool
//! servers and its peers. The Deployment is rendered only when all of them are ready.

use std::collections::BTreeMap;

use agents_api::{Agent, DependencyRef, MCPServer, ModelAPI, SecretKeyRef, ServerPhase};
use kube::ResourceExt;

/// The observed state of one dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependency {
    /// Usable: its URL (or, for a build, the image it produced).
    Ready(String),
    /// It exists but cannot be used yet; why.
    NotReady(String),
    /// No object of that name in the namespace.
    Missing,
    /// This operator version does not resolve references of that kind yet.
    NotSupported,
}

/// Every dependency of one Agent, by kind, keyed by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    pub build: Option<(String, Dependency)>,
    pub model_api: Option<(String, Dependency)>,
    pub mcp_servers: BTreeMap<String, Dependency>,
    pub peers: BTreeMap<String, Dependency>,
    /// The key the ModelAPI asks its callers to send (an External endpoint's, a Proxy's master
    /// key); the Agent's pod gets it once that ModelAPI is ready.
    pub model_api_key: Option<SecretKeyRef>,
    /// The image an Agent with neither `image` nor `buildRef` runs: the operator's
    /// `--agent-runtime-image`, or `None` for this release's [`runtime_image`](crate::agent::release_runtime_image).
    pub runtime_image: Option<String>,
}

impl Dependencies {
    pub fn all_ready(&self) -> bool {
        self.iter().all(|(_, _, d)| matches!(d, Dependency::Ready(_)))
    }

    /// `(kind, name, state)` of every dependency, builds first.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str, &Dependency)> {
        let build = self.build.iter().map(|(n, d)| ("AgentBuild", n.as_str(), d));
        let model = self.model_api.iter().map(|(n, d)| ("ModelAPI", n.as_str(), d));
        let mcp = self.mcp_servers.iter().map(|(n, d)| ("MCPServer", n.as_str(), d));
        let peers = self.peers.iter().map(|(n, d)| ("Agent", n.as_str(), d));
        build.chain(model).chain(mcp).chain(peers)
    }

    /// Each dependency as the status lists it: what it resolved to once ready (a build's image,
    /// the others' URL).
    pub fn refs(&self) -> Vec<DependencyRef> {
        self.iter()
            .map(|(kind, name, state)| {
                let resolved = match state {
                    Dependency::Ready(value) => Some(value.clone()),
                    _ => None,
                };
                let (endpoint, image) =
                    if kind == "AgentBuild" { (None, resolved.clone()) } else { (resolved.clone(), None) };
                DependencyRef { kind: kind.into(), name: name.into(), ready: resolved.is_some(), endpoint, image }
            })
            .collect()
    }

    /// One sentence per dependency that is not ready, naming it and why.
    pub fn blockers(&self) -> Vec<String> {
        self.iter()
            .filter_map(|(kind, name, state)| match state {
                Dependency::Ready(_) => None,
                Dependency::NotReady(why) => Some(format!("{kind} {name} is not ready: {why}")),
                Dependency::Missing => Some(format!("{kind} {name} does not exist in this namespace")),
                Dependency::NotSupported => Some(format!(
                    "{kind} {name} cannot be resolved: this operator version does not support {kind} references yet"
                )),
            })
            .collect()
    }

    /// Whether the only blocker is the build (the Agent then waits for an image, reason BuildNotSucceeded).
    pub fn only_build_blocks(&self) -> bool {
        let build_blocks = self.build.as_ref().is_some_and(|(_, d)| !matches!(d, Dependency::Ready(_)));
        build_blocks && self.iter().skip(1).all(|(_, _, d)| matches!(d, Dependency::Ready(_)))
    }

    /// The image a ready build produced.
    pub fn built_image(&self) -> Option<&str> {
        match &self.build {
            Some((_, Dependency::Ready(image))) => Some(image),
            _ => None,
        }
    }

    pub fn model_api_url(&self) -> Option<&str> {
        match &self.model_api {
            Some((_, Dependency::Ready(url))) => Some(url),
            _ => None,
        }
    }
}

/// A ModelAPI is usable once it serves (Ready, or Degraded with some pods ready) and its status
/// carries the endpoint: the URL Agents receive is the one its controller published.
pub fn model_api(model_api: Option<&ModelAPI>) -> Dependency {
    let Some(model_api) = model_api else { return Dependency::Missing };
    server_dependency(model_api, model_api.status.as_ref().map(|s| (s.phase, s.endpoint.clone())))
}

/// An MCPServer is usable on the same terms as a ModelAPI.
pub fn mcp_server(mcp: Option<&MCPServer>) -> Dependency {
    let Some(mcp) = mcp else { return Dependency::Missing };
    server_dependency(mcp, mcp.status.as_ref().map(|s| (s.phase, s.endpoint.clone())))
}

fn server_dependency<K: kube::Resource>(
    object: &K,
    state: Option<(Option<ServerPhase>, Option<String>)>,
) -> Dependency {
    if object.meta().deletion_timestamp.is_some() {
        return Dependency::NotReady("it is being deleted".into());
    }
    let Some((phase, endpoint)) = state else {
        return Dependency::NotReady(format!("the operator has not reported on {} yet", object.name_any()));
    };
    // Neither the server's condition message nor its phase on the way up (Stopped, Pending): each
    // change is one more status write for every Agent that uses it, and with 100 Agents on one
    // ModelAPI a scale-up's Pending wave delayed the Ready one. Only a failure, which someone must
    // fix, is named; `kubectl agents describe` shows the phase.
    match (crate::server::serves(phase), endpoint) {
        (true, Some(url)) => Dependency::Ready(url),
        _ if phase == Some(ServerPhase::Failed) => Dependency::NotReady("it has failed".into()),
        _ => Dependency::NotReady("it is not serving".into()),
    }
}

/// A peer is usable once it exists and has a Service: its readiness is not awaited, so two
/// agents that list each other both come up.
pub fn peer(peer: Option<&Agent>) -> Dependency {
    match peer {
        None => Dependency::Missing,
        Some(agent) => match super::endpoint(agent) {
            Some(url) => Dependency::Ready(url),
            None => Dependency::NotReady("it has spec.expose: false, so it has no Service to call".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blockers_name_each_dependency_and_why() {
        let deps = Dependencies {
            model_api: Some(("litellm".into(), Dependency::NotSupported)),
            peers: [
                ("writer".to_string(), Dependency::Missing),
                ("critic".to_string(), Dependency::Ready("http://critic".into())),
            ]
            .into(),
            ..Default::default()
        };
        assert!(!deps.all_ready());
        assert_eq!(
            deps.blockers(),
            [
                "ModelAPI litellm cannot be resolved: this operator version does not support ModelAPI references yet",
                "Agent writer does not exist in this namespace",
            ]
        );
    }

    #[test]
    fn servers_are_usable_once_they_serve_and_publish_an_endpoint() {
        let model_api = |status: serde_json::Value| -> ModelAPI {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "gateway", "namespace": "a"},
                "spec": {"mode": "External", "external": {"url": "https://x"}},
                "status": status,
            }))
            .unwrap()
        };
        assert_eq!(super::model_api(None), Dependency::Missing);
        assert_eq!(
            super::model_api(Some(&model_api(serde_json::json!({"phase": "Ready", "endpoint": "https://x"})))),
            Dependency::Ready("https://x".into())
        );
        assert_eq!(
            super::model_api(Some(&model_api(serde_json::json!({"phase": "Degraded", "endpoint": "http://g"})))),
            Dependency::Ready("http://g".into())
        );
        let pending = model_api(serde_json::json!({
            "phase": "Pending",
            "endpoint": "http://g",
            "conditions": [{"type": "Ready", "status": "False", "reason": "PodsStarting", "message": "0/1 pods ready",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        }));
        assert_eq!(super::model_api(Some(&pending)), Dependency::NotReady("it is not serving".into()));
        let stopped = model_api(serde_json::json!({"phase": "Stopped", "endpoint": "http://g"}));
        assert_eq!(super::model_api(Some(&stopped)), Dependency::NotReady("it is not serving".into()));
        let failed = model_api(serde_json::json!({"phase": "Failed", "endpoint": "http://g"}));
        assert_eq!(super::model_api(Some(&failed)), Dependency::NotReady("it has failed".into()));
    }

    #[test]
    fn only_a_pending_build_is_reported_as_such() {
        let mut deps =
            Dependencies { build: Some(("b".into(), Dependency::NotReady("running".into()))), ..Default::default() };
        assert!(deps.only_build_blocks());
        deps.peers.insert("x".into(), Dependency::Missing);
        assert!(!deps.only_build_blocks());
    }
}

//! `describe modelapi|mcpserver`: what the server runs, where Agents reach it, its children and
//! the Agents that use it.

use agents_api::mcp_server::McpTransport;
use agents_api::{Agent, MCPServer, ModelAPI, ModelAPIMode, ServerPhase};
use agents_render::{labels, mcp_server, model_api};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::ResourceExt;
use kube::api::Api;

use super::{Page, mark};
use crate::commands::get::{Listed, not_found_kind};
use crate::output;
use crate::session::Session;

/// What the page shows of a server kind besides what every object has.
pub(super) trait Described: Listed {
    /// The label selecting its pods.
    const POD_LABEL: &'static str;
    fn phase(&self) -> Option<ServerPhase>;
    fn endpoint(&self) -> Option<String>;
    fn conditions(&self) -> &[Condition];
    /// `(label, value)` lines summing up the spec.
    fn spec_lines(&self) -> Vec<(&'static str, String)>;
    /// Whether an Agent references it.
    fn used_by(&self, agent: &Agent) -> bool;
    /// Whether the operator runs it in the cluster (a Deployment and a Service), or only points
    /// at it (an External ModelAPI).
    fn runs_in_cluster(&self) -> bool;
}

impl Page {
    /// Writes the server's page; returns the label selecting its pods, for its Events.
    pub(super) async fn server<K: Described>(&mut self, session: &Session, name: &str) -> anyhow::Result<&'static str> {
        let api: Api<K> = Api::namespaced(session.client.clone(), &session.namespace);
        let server = api.get_opt(name).await?.ok_or_else(|| not_found_kind(session, K::SINGULAR, name))?;
        self.field("Name", server.name_any());
        self.field("Namespace", server.namespace().unwrap_or_default());
        let phase = crate::style::phase_word(server.phase().map(|p| p.as_str()), self.colour);
        match agents_api::conditions::find(server.conditions(), agents_api::conditions::types::READY) {
            Some(c) => self.field("Phase", format!("{phase} ({}: {})", c.reason, c.message)),
            None => self.field("Phase", format!("{phase} (the operator has not reported yet: is it running?)")),
        }
        self.field("Endpoint", output::or_none(server.endpoint()));
        self.section("Spec");
        for (label, value) in server.spec_lines() {
            self.field(&format!("  {label}"), value);
        }
        self.conditions(server.conditions().iter());
        self.server_children(session, &server).await;
        self.users(session, &server).await;
        self.pods(session, K::POD_LABEL, name).await;
        Ok(K::POD_LABEL)
    }

    async fn server_children<K: Described>(&mut self, session: &Session, server: &K) {
        self.section("Children");
        let name = server.name_any();
        let uid = server.uid().unwrap_or_default();
        let owned = |meta: &ObjectMeta| meta.owner_references.iter().flatten().any(|r| r.uid == uid);
        let client = &session.client;
        let ns = &session.namespace;
        let mut rows = Vec::new();
        let deployment =
            self.read("Deployment", Api::<Deployment>::namespaced(client.clone(), ns).get_opt(&name).await);
        // What it runs is listed even when missing; for an External one, only what is there.
        let expected = server.runs_in_cluster();
        match deployment.flatten() {
            Some(d) => {
                let s = d.status.clone().unwrap_or_default();
                let state = format!("{}/{} ready", s.ready_replicas.unwrap_or(0), d.spec.replicas.unwrap_or(1));
                rows.push(vec!["Deployment".into(), name.clone(), mark(owned(&d.metadata), state)]);
            }
            None if expected => rows.push(vec!["Deployment".into(), name.clone(), "missing".into()]),
            None => {}
        }
        let service = self.read("Service", Api::<Service>::namespaced(client.clone(), ns).get_opt(&name).await);
        match service.flatten() {
            Some(s) => {
                let port = s.spec.as_ref().and_then(|s| s.ports.as_ref()).and_then(|p| p.first()).map(|p| p.port);
                let state = mark(owned(&s.metadata), format!("port {}", output::or_none(port)));
                rows.push(vec!["Service".into(), name.clone(), state]);
            }
            None if expected => rows.push(vec!["Service".into(), name.clone(), "missing".into()]),
            None => {}
        }
        let config = self.read("ConfigMap", Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(&name).await);
        if let Some(c) = config.flatten().filter(|c| owned(&c.metadata)) {
            let keys: Vec<String> = c.data.iter().flatten().map(|(k, _)| k.clone()).collect();
            rows.push(vec!["ConfigMap".into(), name.clone(), keys.join(", ")]);
        }
        let claim_name = format!("{name}-models");
        let claim = self.read(
            "PersistentVolumeClaim",
            Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns).get_opt(&claim_name).await,
        );
        if let Some(c) = claim.flatten().filter(|c| owned(&c.metadata)) {
            let phase = c.status.and_then(|s| s.phase).unwrap_or_else(|| "Pending".into());
            rows.push(vec!["PersistentVolumeClaim".into(), claim_name, phase]);
        }
        self.table(vec!["KIND", "NAME", "STATE"], rows, "none: it runs nothing in the cluster");
    }

    /// The Agents that reference this server, with their phase.
    async fn users<K: Described>(&mut self, session: &Session, server: &K) {
        self.section("Used by");
        let agents: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
        let Some(list) = self.read("Agents", agents.list(&Default::default()).await) else { return };
        let rows = list
            .items
            .iter()
            .filter(|a| server.used_by(a))
            .map(|a| {
                let phase = a.status.as_ref().and_then(|s| s.phase).map(|p| p.to_string());
                vec![format!("agent/{}", a.name_any()), output::or_none(phase)]
            })
            .collect();
        self.table(vec!["AGENT", "PHASE"], rows, "no Agent in this namespace references it");
    }
}

impl Described for ModelAPI {
    const POD_LABEL: &'static str = labels::MODEL_API;

    fn phase(&self) -> Option<ServerPhase> {
        self.status.as_ref()?.phase
    }

    fn endpoint(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.endpoint.clone()).or_else(|| model_api::endpoint(self))
    }

    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default()
    }

    fn spec_lines(&self) -> Vec<(&'static str, String)> {
        let spec = &self.spec;
        let mut lines = vec![("Mode", format!("{:?}", spec.mode))];
        match spec.mode {
            ModelAPIMode::Proxy => {
                lines.push(("Image", spec.image.clone().unwrap_or_else(|| model_api::LITELLM_IMAGE.into())));
                let proxy = spec.proxy.as_ref();
                if let Some(own) = proxy.and_then(|p| p.config_map_ref.as_ref()) {
                    lines.push(("Config", format!("your ConfigMap {} (key {})", own.name, own.key)));
                }
                for model in proxy.iter().flat_map(|p| p.models.iter()) {
                    let target = model.model.clone().unwrap_or_else(|| model.name.clone());
                    let key = model
                        .api_key_secret_ref
                        .as_ref()
                        .map(|k| format!(", key from Secret {}/{}", k.name, k.key))
                        .unwrap_or_default();
                    lines.push(("Model", format!("{} -> {target}{key}", model.name)));
                }
                lines.push(("Master key", master_key(proxy.and_then(|p| p.master_key_secret_ref.as_ref()))));
            }
            ModelAPIMode::Hosted => {
                lines.push(("Image", spec.image.clone().unwrap_or_else(|| model_api::OLLAMA_IMAGE.into())));
                let hosted = spec.hosted.as_ref();
                lines.push(("Models", hosted.map(|h| h.models.join(", ")).unwrap_or_default()));
                let storage = hosted.and_then(|h| h.storage.as_ref());
                lines.push((
                    "Storage",
                    storage
                        .map(|s| format!("PersistentVolumeClaim of {}", s.size))
                        .unwrap_or_else(|| "emptyDir (models are pulled again when a pod is replaced)".into()),
                ));
            }
            ModelAPIMode::External => {
                let external = spec.external.as_ref();
                lines.push(("URL", external.map(|e| e.url.clone()).unwrap_or_default()));
                if let Some(key) = external.and_then(|e| e.api_key_secret_ref.as_ref()) {
                    lines.push(("Key", format!("Secret {}/{} (given to Agents as MODEL_API_KEY)", key.name, key.key)));
                }
            }
        }
        if spec.mode != ModelAPIMode::External {
            lines.push(("Replicas", spec.replicas.unwrap_or(1).to_string()));
        }
        lines
    }

    fn runs_in_cluster(&self) -> bool {
        self.spec.mode != ModelAPIMode::External
    }

    fn used_by(&self, agent: &Agent) -> bool {
        let name = self.name_any();
        agent.spec.model.as_ref().and_then(|m| m.model_api_ref.as_ref()).is_some_and(|r| r.name == name)
    }
}

/// Who may call a proxy: the Secret holding its master key (never the value), or that it is open.
fn master_key(reference: Option<&agents_api::SecretKeyRef>) -> String {
    match reference {
        Some(key) => format!(
            "Secret {}/{} (callers must send it; Agents using this ModelAPI get it as MODEL_API_KEY)",
            key.name, key.key
        ),
        None => "none: any pod that reaches the Service may use the models (set spec.proxy.masterKeySecretRef to guard them)"
            .into(),
    }
}

impl Described for MCPServer {
    const POD_LABEL: &'static str = labels::MCP_SERVER;

    fn phase(&self) -> Option<ServerPhase> {
        self.status.as_ref()?.phase
    }

    fn endpoint(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.endpoint.clone()).or_else(|| mcp_server::endpoint(self))
    }

    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default()
    }

    fn spec_lines(&self) -> Vec<(&'static str, String)> {
        let spec = &self.spec;
        let transport = match spec.transport {
            McpTransport::StreamableHttp => "streamable HTTP",
            McpTransport::Sse => "SSE",
        };
        let mut lines = vec![("Source", mcp_server::source(self))];
        if let Some(package) = &spec.package {
            if !package.args.is_empty() {
                lines.push(("Arguments", package.args.join(" ")));
            }
            lines.push(("Transport", format!("stdio, bridged to {transport} on port {}", spec.port)));
        } else {
            lines.push(("Transport", format!("{transport} on port {}", spec.port)));
        }
        if !spec.env.is_empty() {
            lines.push(("Env", spec.env.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")));
        }
        let tools = self.status.as_ref().and_then(|s| s.tools.clone());
        lines.push(("Tools", tools.map(|t| t.join(", ")).unwrap_or_else(|| "not known yet".into())));
        lines.push(("Replicas", spec.replicas.unwrap_or(1).to_string()));
        lines
    }

    fn runs_in_cluster(&self) -> bool {
        true
    }

    fn used_by(&self, agent: &Agent) -> bool {
        let name = self.name_any();
        agent.spec.mcp_servers.iter().any(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(proxy: serde_json::Value) -> ModelAPI {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "ModelAPI", "metadata": {"name": "gateway"},
            "spec": {"mode": "Proxy", "proxy": proxy},
        }))
        .unwrap()
    }

    fn master_key_line(model_api: &ModelAPI) -> String {
        let lines = model_api.spec_lines();
        lines.into_iter().find(|(label, _)| *label == "Master key").map(|(_, value)| value).unwrap_or_default()
    }

    #[test]
    fn a_proxy_says_who_may_call_it() {
        let open = proxy(serde_json::json!({"models": [{"name": "*"}]}));
        assert!(master_key_line(&open).starts_with("none: any pod that reaches the Service"), "{open:?}");
        let guarded = proxy(serde_json::json!({
            "configMapRef": {"name": "own", "key": "config.yaml"},
            "masterKeySecretRef": {"name": "gateway-master", "key": "key"},
        }));
        assert!(master_key_line(&guarded).starts_with("Secret gateway-master/key (callers must send it"));
    }
}

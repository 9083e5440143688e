//! `describe agent`: the spec, the children, the dependencies and the Secrets of an Agent.

use std::fmt::Write as _;

use agents_api::{Agent, AgentBuild, MCPServer, ModelAPI, ServerPhase};
use agents_render::agent::dependencies::{self, Dependency};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::{Resource, ResourceExt};

use super::super::invoke::channel::{Channel, Via};
use super::super::invoke::exchange;
use super::{Page, mark};
use crate::output;
use crate::session::Session;
use crate::style;

/// How long `describe` waits for an agent's card.
const CARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Page {
    pub(super) fn summary(&mut self, agent: &Agent) {
        let status = agent.status.clone().unwrap_or_default();
        self.field("Name", agent.name_any());
        self.field("Namespace", agent.namespace().unwrap_or_default());
        let created = agent.meta().creation_timestamp.as_ref();
        self.field(
            "Created",
            format!(
                "{} ({} ago)",
                created.map(|t| t.0.to_string()).unwrap_or_default(),
                output::age(created, self.now)
            ),
        );
        let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY);
        let phase = style::phase(status.phase, self.colour);
        match ready {
            Some(c) => self.field("Phase", format!("{phase} ({}: {})", c.reason, c.message)),
            None => self.field("Phase", format!("{phase} (the operator has not reported yet: is it running?)")),
        }
        self.field("Ready", super::super::get::ready(agent));
        self.field("Endpoint", output::or_none(status.endpoint));
        self.field("Image", output::or_none(status.image.or_else(|| agent.spec.image.clone())));
    }

    pub(super) fn spec(&mut self, agent: &Agent) {
        let spec = &agent.spec;
        self.section("Spec");
        let mut lines: Vec<(&str, String)> = Vec::new();
        if let Some(description) = &spec.description {
            lines.push(("Description", description.clone()));
        }
        match (&spec.image, &spec.build_ref) {
            (Some(image), _) => lines.push(("Image", image.clone())),
            (None, Some(build)) => lines.push(("Build", format!("AgentBuild {}", build.name))),
            (None, None) => lines.push(("Runs", "the reference runtime (agents-runtime)".into())),
        }
        if let Some(model) = &spec.model {
            let mut text = match &model.provider {
                Some(provider) => format!("{provider}/{}", model.name),
                None => model.name.clone(),
            };
            if let Some(tokens) = model.max_tokens {
                let _ = write!(text, ", max tokens {tokens}");
            }
            if let Some(t) = model.temperature {
                let _ = write!(text, ", temperature {t}");
            }
            if let Some(key) = &model.api_key_secret_ref {
                let _ = write!(text, ", key from Secret {}/{}", key.name, key.key);
            }
            if let Some(gateway) = &model.model_api_ref {
                let _ = write!(text, ", through ModelAPI {}", gateway.name);
            }
            lines.push(("Model", text));
        }
        lines.push((
            "Replicas",
            match (&spec.autoscaling, spec.replicas) {
                (Some(a), _) => format!(
                    "autoscaled, {} to {} (HorizontalPodAutoscaler)",
                    a.min_replicas.unwrap_or(1),
                    a.max_replicas
                ),
                (None, Some(0)) => "0 (stopped)".into(),
                (None, Some(n)) => n.to_string(),
                (None, None) => "not set: whoever scales the Deployment owns the count".into(),
            },
        ));
        lines.push((
            "Port",
            if spec.expose {
                format!("{} (Service port 80)", spec.port)
            } else {
                format!("{} (not exposed)", spec.port)
            },
        ));
        if let Some(check) = &spec.health_check {
            let every = check.interval_seconds.map(|s| format!(" every {s}s")).unwrap_or_default();
            lines.push(("Health check", format!("GET {}{every}", check.path)));
        }
        if let Some(l) = &spec.agentic_loop {
            let on = |b: Option<bool>| if b == Some(true) { "on" } else { "off" };
            lines.push((
                "Agentic loop",
                format!(
                    "max steps {}, tools {}, delegation {}",
                    output::or_none(l.max_steps),
                    on(l.enable_tools),
                    on(l.enable_delegation)
                ),
            ));
        }
        let features: Vec<&str> = spec.features.iter().filter(|(_, on)| **on).map(|(f, _)| f.as_str()).collect();
        if !features.is_empty() {
            lines.push(("Features", features.join(", ")));
        }
        if let Some(config) = &spec.config {
            lines.push(("Config keys", config.keys().cloned().collect::<Vec<_>>().join(", ")));
        }
        if !spec.env.is_empty() {
            lines.push(("Env", spec.env.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")));
        }
        for (label, value) in lines {
            let _ = writeln!(self.text, "  {:<14}{value}", format!("{label}:"));
        }
    }

    /// The skills of the agent's card, read through a port-forward as `invoke` reads it; only
    /// for an agent with a ready pod.
    pub(super) async fn skills(&mut self, session: &Session, agent: &Agent) {
        if agent.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0) == 0 {
            return;
        }
        self.section("Skills");
        let read = async {
            let mut channel = Channel::open(session, agent, Via::PortForward).await?;
            exchange::card(&mut channel, &agent.name_any()).await
        };
        let card = match tokio::time::timeout(CARD_TIMEOUT, read).await {
            Ok(Ok(card)) => card,
            Ok(Err(e)) => {
                let _ = writeln!(self.text, "  (no agent card: {})", crate::error::explain(&e));
                return;
            }
            Err(_) => {
                let _ = writeln!(self.text, "  (no agent card: no answer within {} seconds)", CARD_TIMEOUT.as_secs());
                return;
            }
        };
        let rows = card
            .skills
            .iter()
            .map(|skill| vec![skill.id.clone(), skill.name.clone(), skill.tags.join(","), skill.description.clone()])
            .collect();
        self.table(vec!["ID", "NAME", "TAGS", "DESCRIPTION"], rows, "(its agent card lists no skills)");
    }

    pub(super) async fn children(&mut self, session: &Session, agent: &Agent) {
        self.section("Children");
        let name = agent.name_any();
        let uid = agent.uid().unwrap_or_default();
        let client = &session.client;
        let ns = &session.namespace;
        let mut rows = Vec::new();
        let owned = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            meta.owner_references.iter().flatten().any(|r| r.uid == uid)
        };
        let mut add = |kind: &str, state: Option<String>| {
            rows.push(vec![kind.to_string(), name.clone(), state.unwrap_or_else(|| "missing".into())]);
        };

        let account =
            self.read("ServiceAccount", Api::<ServiceAccount>::namespaced(client.clone(), ns).get_opt(&name).await);
        add("ServiceAccount", account.flatten().map(|a| mark(owned(&a.metadata), "present".into())));
        let config = self.read("ConfigMap", Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(&name).await);
        add(
            "ConfigMap",
            config.flatten().map(|c| {
                let bytes: usize = c.data.iter().flatten().map(|(_, v)| v.len()).sum();
                mark(owned(&c.metadata), format!("agent.yaml, {bytes} bytes"))
            }),
        );
        let deployment =
            self.read("Deployment", Api::<Deployment>::namespaced(client.clone(), ns).get_opt(&name).await);
        add(
            "Deployment",
            deployment.flatten().map(|d| {
                let s = d.status.clone().unwrap_or_default();
                mark(
                    owned(&d.metadata),
                    format!(
                        "{}/{} ready, {} up to date",
                        s.ready_replicas.unwrap_or(0),
                        d.spec.replicas.unwrap_or(1),
                        s.updated_replicas.unwrap_or(0)
                    ),
                )
            }),
        );
        if agent.spec.expose {
            let service = self.read("Service", Api::<Service>::namespaced(client.clone(), ns).get_opt(&name).await);
            add(
                "Service",
                service.flatten().map(|s| {
                    let ip = s.spec.as_ref().and_then(|s| s.cluster_ip.clone()).unwrap_or_default();
                    mark(owned(&s.metadata), format!("ClusterIP {ip}, port 80 -> {}", agent.spec.port))
                }),
            );
        }
        if agent.spec.autoscaling.is_some() {
            let hpa =
                self.read("HPA", Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns).get_opt(&name).await);
            add(
                "HorizontalPodAutoscaler",
                hpa.flatten().map(|h| {
                    let current = h.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0);
                    format!("{} to {}, now {current}", h.spec.min_replicas.unwrap_or(1), h.spec.max_replicas)
                }),
            );
        }
        if agent.spec.disruption_budget.is_some() {
            let pdb = self.read(
                "PodDisruptionBudget",
                Api::<PodDisruptionBudget>::namespaced(client.clone(), ns).get_opt(&name).await,
            );
            add(
                "PodDisruptionBudget",
                pdb.flatten().map(|p| {
                    let allowed = p.status.as_ref().and_then(|s| s.disruptions_allowed).unwrap_or(0);
                    format!("{allowed} disruptions allowed")
                }),
            );
        }
        if agent.spec.network_policy.is_some() {
            let policy =
                self.read("NetworkPolicy", Api::<NetworkPolicy>::namespaced(client.clone(), ns).get_opt(&name).await);
            add("NetworkPolicy", policy.flatten().map(|_| "present".into()));
        }
        self.table(vec!["KIND", "NAME", "STATE"], rows, "none");
    }

    pub(super) async fn dependencies(&mut self, session: &Session, agent: &Agent) {
        let spec = &agent.spec;
        let model_api = spec.model.as_ref().and_then(|m| m.model_api_ref.as_ref());
        if spec.peers.is_empty() && spec.mcp_servers.is_empty() && model_api.is_none() && spec.build_ref.is_none() {
            return;
        }
        self.section("Dependencies");
        let agents: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
        let mut rows = Vec::new();
        for peer in &spec.peers {
            let found = self.read("peer Agent", agents.get_opt(&peer.name).await).flatten();
            rows.push(vec!["Agent".into(), peer.name.clone(), state(&dependencies::peer(found.as_ref()))]);
        }
        if let Some(gateway) = model_api {
            let api: Api<ModelAPI> = Api::namespaced(session.client.clone(), &session.namespace);
            let found = self.read("ModelAPI", api.get_opt(&gateway.name).await).flatten();
            let phase = found.as_ref().and_then(|m| m.status.as_ref()?.phase);
            rows.push(vec![
                "ModelAPI".into(),
                gateway.name.clone(),
                server_state(&dependencies::model_api(found.as_ref()), phase),
            ]);
        }
        let servers: Api<MCPServer> = Api::namespaced(session.client.clone(), &session.namespace);
        for server in &spec.mcp_servers {
            let found = self.read("MCPServer", servers.get_opt(&server.name).await).flatten();
            let phase = found.as_ref().and_then(|m| m.status.as_ref()?.phase);
            rows.push(vec![
                "MCPServer".into(),
                server.name.clone(),
                server_state(&dependencies::mcp_server(found.as_ref()), phase),
            ]);
        }
        if let Some(build) = &spec.build_ref {
            let api: Api<AgentBuild> = Api::namespaced(session.client.clone(), &session.namespace);
            let found = self.read("AgentBuild", api.get_opt(&build.name).await).flatten();
            rows.push(vec![
                "AgentBuild".into(),
                build.name.clone(),
                state(&agents_render::build::dependency(found.as_ref())),
            ]);
        }
        self.table(vec!["KIND", "NAME", "STATE"], rows, "none");
    }

    pub(super) async fn secrets(&mut self, session: &Session, agent: &Agent) {
        let references = crate::secrets::references(agent);
        if references.is_empty() {
            return;
        }
        self.section("Secrets");
        let missing = crate::secrets::missing(&session.client, &session.namespace, agent).await;
        let rows = references
            .into_iter()
            .map(|(name, key)| {
                let problem = missing.iter().find(|m| m.starts_with(&format!("Secret {name:?}")));
                let state = match problem {
                    Some(p) if p.contains("no key") => "key missing".to_string(),
                    Some(_) => "missing".to_string(),
                    None => "present (or not readable by you)".to_string(),
                };
                vec![name, key, state]
            })
            .collect();
        self.table(vec!["SECRET", "KEY", "STATE"], rows, "none");
        self.problems.extend(missing);
    }
}

/// A server the Agent waits for, with its phase: the Agent's status does not carry it (each
/// change would be a status write for every Agent using that server).
fn server_state(dependency: &Dependency, phase: Option<ServerPhase>) -> String {
    match (dependency, phase) {
        (Dependency::NotReady(_), Some(phase)) => format!("{} (phase {phase})", state(dependency)),
        _ => state(dependency),
    }
}

fn state(dependency: &Dependency) -> String {
    match dependency {
        Dependency::Ready(url) => format!("ready: {url}"),
        Dependency::NotReady(why) => format!("not ready: {why}"),
        Dependency::Missing => "missing".into(),
        Dependency::NotSupported => "not resolved by this operator version yet".into(),
    }
}

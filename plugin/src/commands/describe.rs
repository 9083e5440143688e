//! `kubectl agents describe [KIND] NAME`: one readable page: what the spec asks, what the
//! status says, the children and their state, the dependencies, the pods and recent Events.
//! What cannot be read (RBAC, say) is listed at the end instead of aborting the page.

use std::fmt::Write as _;
use std::process::ExitCode;

use agents_api::Agent;
use agents_render::agent::dependencies::{self, Dependency};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};

use crate::error::Explained;
use crate::kinds::split_kind;
use crate::output;
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `[KIND] NAME`: what to describe.
    #[arg(value_name = "KIND|NAME", required = true)]
    pub names: Vec<String>,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let (kind, names) = split_kind(&args.names);
    let [name] = names else {
        return Err(Explained("describe one agent at a time: kubectl agents describe NAME".into()).into());
    };
    if kind == crate::kinds::Kind::AgentWorkflow {
        return super::workflow::kind::describe(session, name).await;
    }
    let agents: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
    let agent = agents.get_opt(name).await?.ok_or_else(|| super::get::not_found(session, name))?;
    let mut page = Page { text: String::new(), problems: Vec::new(), colour: style::colour_enabled_on_stdout() };
    page.summary(&agent);
    page.spec(&agent);
    page.conditions(&agent);
    page.children(session, &agent).await;
    page.dependencies(session, &agent).await;
    page.secrets(session, &agent).await;
    page.pods(session, &agent).await;
    page.events(session, &agent).await;
    print!("{}", page.text);
    if !page.problems.is_empty() {
        println!("\nWarnings:");
        for problem in &page.problems {
            println!("  {problem}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

struct Page {
    text: String,
    problems: Vec<String>,
    colour: bool,
}

impl Page {
    fn field(&mut self, label: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.text, "{:<14}{value}", format!("{label}:"));
    }

    fn section(&mut self, title: &str) {
        let _ = writeln!(self.text, "\n{title}:");
    }

    fn table(&mut self, header: Vec<&str>, rows: Vec<Vec<String>>, empty: &str) {
        if rows.is_empty() {
            let _ = writeln!(self.text, "  {empty}");
            return;
        }
        let mut table = output::table(header);
        for row in rows {
            table.add_row(row);
        }
        for line in table.lines() {
            let _ = writeln!(self.text, "  {}", line.trim_end());
        }
    }

    /// Runs a read; a failure becomes a line at the end of the page.
    fn read<T>(&mut self, what: &str, result: Result<T, kube::Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.problems.push(format!("{what}: {}", crate::error::explain(&anyhow::Error::new(e))));
                None
            }
        }
    }

    fn summary(&mut self, agent: &Agent) {
        let status = agent.status.clone().unwrap_or_default();
        self.field("Name", agent.name_any());
        self.field("Namespace", agent.namespace().unwrap_or_default());
        let created = agent.meta().creation_timestamp.as_ref();
        self.field(
            "Created",
            format!("{} ({} ago)", created.map(|t| t.0.to_string()).unwrap_or_default(), output::age(created)),
        );
        let ready = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY);
        let phase = style::phase(status.phase, self.colour);
        match ready {
            Some(c) => self.field("Phase", format!("{phase} ({}: {})", c.reason, c.message)),
            None => self.field("Phase", format!("{phase} (the operator has not reported yet: is it running?)")),
        }
        self.field("Ready", super::get::ready(agent));
        self.field("Endpoint", output::or_none(status.endpoint));
        self.field("Image", output::or_none(status.image.or_else(|| agent.spec.image.clone())));
    }

    fn spec(&mut self, agent: &Agent) {
        let spec = &agent.spec;
        self.section("Spec");
        let mut lines: Vec<(&str, String)> = Vec::new();
        if let Some(description) = &spec.description {
            lines.push(("Description", description.clone()));
        }
        match (&spec.image, &spec.build_ref) {
            (Some(image), _) => lines.push(("Image", image.clone())),
            (None, Some(build)) => lines.push(("Build", format!("AgentBuild {}", build.name))),
            _ => {}
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

    fn conditions(&mut self, agent: &Agent) {
        self.section("Conditions");
        let rows = agent
            .status
            .iter()
            .flat_map(|s| s.conditions.iter())
            .map(|c| {
                vec![
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone(),
                    output::age(Some(&c.last_transition_time)),
                    c.message.clone(),
                ]
            })
            .collect();
        self.table(vec!["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], rows, "none reported yet");
    }

    async fn children(&mut self, session: &Session, agent: &Agent) {
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

    async fn dependencies(&mut self, session: &Session, agent: &Agent) {
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
        let unresolved = "not resolved by this operator version yet".to_string();
        if let Some(gateway) = model_api {
            rows.push(vec!["ModelAPI".into(), gateway.name.clone(), unresolved.clone()]);
        }
        for server in &spec.mcp_servers {
            rows.push(vec!["MCPServer".into(), server.name.clone(), unresolved.clone()]);
        }
        if let Some(build) = &spec.build_ref {
            rows.push(vec!["AgentBuild".into(), build.name.clone(), unresolved]);
        }
        self.table(vec!["KIND", "NAME", "STATE"], rows, "none");
    }

    async fn secrets(&mut self, session: &Session, agent: &Agent) {
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

    async fn pods(&mut self, session: &Session, agent: &Agent) {
        self.section("Pods");
        let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
        let selector = format!("{}={}", agents_render::labels::AGENT, agent.name_any());
        let Some(list) = self.read("Pods", pods.list(&ListParams::default().labels(&selector)).await) else { return };
        let rows = list
            .items
            .iter()
            .map(|pod| {
                let status = pod.status.clone().unwrap_or_default();
                let containers = status.container_statuses.clone().unwrap_or_default();
                let ready = containers.iter().filter(|c| c.ready).count();
                let restarts: i32 = containers.iter().map(|c| c.restart_count).sum();
                vec![
                    pod.name_any(),
                    format!("{ready}/{}", pod.spec.as_ref().map(|s| s.containers.len()).unwrap_or(0)),
                    status.phase.unwrap_or_default(),
                    restarts.to_string(),
                    output::age(pod.meta().creation_timestamp.as_ref()),
                    output::or_none(pod.spec.as_ref().and_then(|s| s.node_name.clone())),
                ]
            })
            .collect();
        self.table(vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"], rows, "none");
    }

    /// Events about the Agent, its children (same name) and its ReplicaSets and pods (prefixed).
    async fn events(&mut self, session: &Session, agent: &Agent) {
        self.section("Events");
        let name = agent.name_any();
        let events: Api<Event> = Api::namespaced(session.client.clone(), &session.namespace);
        let Some(list) = self.read("Events", events.list(&ListParams::default()).await) else { return };
        let prefix = format!("{name}-");
        let mut about: Vec<&Event> = list
            .items
            .iter()
            .filter(|e| {
                let regarding = e.regarding.as_ref().and_then(|r| r.name.as_deref()).unwrap_or_default();
                regarding == name || regarding.starts_with(&prefix)
            })
            .collect();
        about.sort_by_key(|e| event_time(e));
        let rows = about
            .iter()
            .rev()
            .take(15)
            .rev()
            .map(|e| {
                let regarding = e.regarding.as_ref();
                let object = format!(
                    "{}/{}",
                    regarding.and_then(|r| r.kind.clone()).unwrap_or_default().to_lowercase(),
                    regarding.and_then(|r| r.name.clone()).unwrap_or_default()
                );
                vec![
                    output::age(event_time(e).as_ref()),
                    e.type_.clone().unwrap_or_default(),
                    e.reason.clone().unwrap_or_default(),
                    object,
                    e.note.clone().unwrap_or_default(),
                ]
            })
            .collect();
        self.table(vec!["AGE", "TYPE", "REASON", "OBJECT", "MESSAGE"], rows, "none");
    }
}

fn event_time(event: &Event) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time> {
    event
        .series
        .as_ref()
        .map(|s| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(s.last_observed_time.0))
        .or_else(|| event.event_time.as_ref().map(|t| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t.0)))
        .or_else(|| event.deprecated_last_timestamp.clone())
        .or_else(|| event.metadata.creation_timestamp.clone())
}

/// A child that exists but belongs to someone else says so.
fn mark(owned: bool, state: String) -> String {
    if owned { state } else { format!("{state} (NOT owned by this agent)") }
}

fn state(dependency: &Dependency) -> String {
    match dependency {
        Dependency::Ready(url) => format!("ready: {url}"),
        Dependency::NotReady(why) => format!("not ready: {why}"),
        Dependency::Missing => "missing".into(),
        Dependency::NotSupported => "not resolved by this operator version yet".into(),
    }
}

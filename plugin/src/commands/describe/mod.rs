//! `kubectl agents describe [KIND] NAME… | -l SELECTOR`: one readable page per object: what the
//! spec asks, what the status says, the children and their state, the dependencies, the pods and
//! recent Events.
//! `agent.rs` and `server.rs` write what is particular to their kinds.
//! What cannot be read (RBAC, say) is listed at the end instead of aborting the page.

mod agent;
mod server;

use std::fmt::Write as _;
use std::process::ExitCode;

use agents_api::{Agent, MCPServer, ModelAPI};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, ListParams};
use kube::{Resource, ResourceExt};

use crate::error::Explained;
use crate::kinds::{Kind, split_kind};
use crate::output;
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `[KIND] NAME…`: what to describe.
    #[arg(value_name = "KIND|NAME", required_unless_present = "selector")]
    pub names: Vec<String>,
    /// Describe every resource of the kind whose labels match, e.g. team=research (instead of names).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let (kind, names) = split_kind(&args.names);
    let names: Vec<String> = match (names.is_empty(), &args.selector) {
        (true, None) => {
            return Err(Explained(format!(
                "name the {} to describe: kubectl agents describe {} NAME, or select them with -l KEY=VALUE",
                kind.kind(),
                kind.names()[0]
            ))
            .into());
        }
        (false, Some(_)) => {
            return Err(Explained("give names or a selector (-l), not both: a selector picks the names".into()).into());
        }
        (false, None) => names.to_vec(),
        (true, Some(selector)) => {
            let api: Api<DynamicObject> =
                Api::namespaced_with(session.client.clone(), &session.namespace, &kind.resource());
            let mut found: Vec<String> =
                api.list(&ListParams::default().labels(selector)).await?.items.iter().map(|o| o.name_any()).collect();
            found.sort();
            found
        }
    };
    if names.is_empty() {
        eprintln!("No resources found in {} namespace.", session.namespace);
    }
    let mut code = ExitCode::SUCCESS;
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            // kubectl separates the pages of several objects with a blank line.
            println!();
        }
        if describe(session, kind, name).await? != ExitCode::SUCCESS {
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// Prints the page of one object.
async fn describe(session: &Session, kind: Kind, name: &str) -> anyhow::Result<ExitCode> {
    let colour = style::colour_enabled_on_stdout();
    print!("{}", page(session, kind, name, colour, Timestamp::now()).await?);
    Ok(ExitCode::SUCCESS)
}

/// The page of one object, its ages read at `now`; what could not be read is listed at its end.
pub(super) async fn page(
    session: &Session,
    kind: Kind,
    name: &str,
    colour: bool,
    now: Timestamp,
) -> anyhow::Result<String> {
    let mut page = Page { text: String::new(), problems: Vec::new(), colour, now };
    let pod_label = match kind {
        Kind::Agent => {
            let agents: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
            let agent = agents.get_opt(name).await?.ok_or_else(|| super::get::not_found(session, name))?;
            page.summary(&agent);
            page.spec(&agent);
            page.conditions(agent.status.iter().flat_map(|s| s.conditions.iter()));
            page.skills(session, &agent).await;
            page.children(session, &agent).await;
            page.dependencies(session, &agent).await;
            page.secrets(session, &agent).await;
            page.pods(session, agents_render::labels::AGENT, name).await;
            agents_render::labels::AGENT
        }
        Kind::ModelAPI => page.server::<ModelAPI>(session, name).await?,
        Kind::MCPServer => page.server::<MCPServer>(session, name).await?,
        // A build's page is its runs and steps, as `kubectl agents build` draws them.
        Kind::AgentBuild => {
            let build = super::build::get(session, name).await?;
            let runs = super::build::runs_of(session, name).await;
            return Ok(super::build::describe::page(&build, runs.as_deref().map_err(crate::error::explain), colour));
        }
        // A workflow's page is its status with the DAG of its last run.
        Kind::AgentWorkflow => {
            let workflow = super::workflow::get(session, name).await?;
            let has_run = workflow.status.as_ref().is_some_and(|s| s.last_run.is_some());
            let run = if has_run { Some(super::workflow::get_run(session, &workflow, None).await?) } else { None };
            let options = output::RowOptions { wide: false, colour, now };
            return Ok(super::workflow::status::page(&workflow, run.as_ref(), &options));
        }
    };
    page.events(session, pod_label, name).await;
    if !page.problems.is_empty() {
        page.text.push_str("\nWarnings:\n");
        for problem in &page.problems {
            let _ = writeln!(page.text, "  {problem}");
        }
    }
    Ok(page.text)
}

struct Page {
    text: String,
    problems: Vec<String>,
    colour: bool,
    /// What ages are read against.
    now: Timestamp,
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

    fn conditions<'a>(&mut self, conditions: impl Iterator<Item = &'a Condition>) {
        self.section("Conditions");
        // Reconciling and Stalled repeat Ready's reason and message for kstatus (Flux, `kubectl
        // wait`); the phase line says the same to a reader.
        let for_machines = [agents_api::conditions::types::RECONCILING, agents_api::conditions::types::STALLED];
        let rows = conditions
            .filter(|c| !for_machines.contains(&c.type_.as_str()))
            .map(|c| {
                vec![
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone(),
                    output::age(Some(&c.last_transition_time), self.now),
                    c.message.clone(),
                ]
            })
            .collect();
        self.table(vec!["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], rows, "none reported yet");
    }

    /// The pods whose `label` is `name` (each kind labels its pods with its own selector label).
    async fn pods(&mut self, session: &Session, label: &str, name: &str) {
        self.section("Pods");
        let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
        let selector = format!("{label}={name}");
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
                    pod_status(pod),
                    restarts.to_string(),
                    output::age(pod.meta().creation_timestamp.as_ref(), self.now),
                    output::or_none(pod.spec.as_ref().and_then(|s| s.node_name.clone())),
                ]
            })
            .collect();
        self.table(vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"], rows, "none");
    }

    /// Events about the object and its children (they share its name), and about the ReplicaSets
    /// and pods `label` selects. Each is asked for by name (a field selector), so a namespace with
    /// thousands of Events costs no more than an empty one.
    async fn events(&mut self, session: &Session, label: &str, name: &str) {
        self.section("Events");
        let client = &session.client;
        let namespace = &session.namespace;
        let selected = ListParams::default().labels(&format!("{label}={name}"));
        let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let (replica_sets, pods) =
            futures::future::join(replica_sets.list_metadata(&selected), pods.list_metadata(&selected)).await;
        let mut names = vec![name.to_string()];
        names.extend(
            self.read("ReplicaSets", replica_sets)
                .into_iter()
                .flat_map(|list| list.items)
                .filter_map(|o| o.metadata.name),
        );
        names.extend(self.read("Pods", pods).into_iter().flat_map(|list| list.items).filter_map(|o| o.metadata.name));
        let events: Api<Event> = Api::namespaced(client.clone(), namespace);
        // A few at a time: an Agent with many replicas must not send the API server a burst.
        let lists: Vec<_> = futures::stream::iter(names.iter().map(|regarding| {
            let events = events.clone();
            let by_name = ListParams::default().fields(&format!("regarding.name={regarding}"));
            async move { events.list(&by_name).await }
        }))
        .buffer_unordered(8)
        .collect()
        .await;
        let mut about: Vec<Event> = Vec::new();
        for list in lists {
            let Some(list) = self.read("Events", list) else { return };
            about.extend(list.items);
        }
        about.sort_by_key(event_time);
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
                    output::age(event_time(e).as_ref(), self.now),
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

/// A pod's STATUS as `kubectl get pods` prints it: why a container waits or ended
/// (`CrashLoopBackOff`, `ImagePullBackOff`, `OOMKilled`), `Terminating`, else the phase.
fn pod_status(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let status = pod.status.clone().unwrap_or_default();
    let containers = status.container_statuses.unwrap_or_default();
    let why = containers.iter().rev().find_map(|c| {
        let state = c.state.as_ref()?;
        let waiting = state.waiting.as_ref().and_then(|w| w.reason.clone());
        let ended =
            state.terminated.as_ref().map(|t| t.reason.clone().unwrap_or_else(|| format!("ExitCode:{}", t.exit_code)));
        waiting.or(ended)
    });
    why.or(status.reason).or(status.phase).unwrap_or_default()
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
pub(super) fn mark(owned: bool, state: String) -> String {
    if owned { state } else { format!("{state} (NOT owned by this agent)") }
}

//! `agents-testenv run-agent NAME`: plays the pod of an Agent that runs the reference runtime,
//! for as long as it is asked to, so a demo cluster has an agent that really answers
//! `kubectl agents invoke`. It is [`pods::start_runtime`] kept in the foreground: when the pod
//! goes (a rollout, a restart, a scale to zero and back) the runtime is stopped and started again
//! for the pod that replaces it. It plays one pod, the first running one: with more replicas,
//! `invoke` may reach a pod nothing plays.
//!
//! In-cluster Service URLs in the Agent's environment (its peers, MCP servers, a ModelAPI that
//! runs in the cluster) are mapped to the pods behind those Services when it starts
//! ([`pods::cluster_urls`]); something answers there only if another process plays that pod too
//! (another `run-agent` for a peer). An External ModelAPI's URL is used as written.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use agents_api::Agent;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use crate::Error;
use crate::pods::{self, PodProcess};

/// How often the served pod and the runtime are checked on: a replaced pod is followed within
/// about this long.
const SUPERVISE: Duration = Duration::from_millis(500);
/// How often the API server is asked again while the Agent does not exist yet.
const AGENT_POLL: Duration = Duration::from_millis(250);

/// What to play.
#[derive(Debug, Clone)]
pub struct RunAgent {
    /// The Agent.
    pub name: String,
    pub namespace: String,
    /// The `agents-runtime` binary to run.
    pub runtime: PathBuf,
    /// How long to wait for the Agent to exist and for a running pod of it.
    pub timeout: Duration,
    /// Where the runtime's log and its copy of `agent.yaml` go.
    pub dir: PathBuf,
}

/// What happened, for the caller to tell its user.
#[derive(Debug, Clone)]
pub enum Event {
    /// The Agent does not exist yet: waiting for it (up to the timeout).
    WaitingForAgent { name: String, namespace: String, timeout: Duration },
    /// The runtime serves the pod: `invoke` reaches it from now on.
    Serving { name: String, pod: String, address: SocketAddr, pid: u32, log: PathBuf, mapped: usize },
    /// The served pod went away; the runtime was stopped and the next pod is awaited.
    PodGone { name: String, pod: String },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::WaitingForAgent { name, namespace, timeout } => {
                write!(f, "waiting up to {timeout:?} for agent/{name} to be created in namespace {namespace}")
            }
            Event::Serving { name, pod, address, pid, log, mapped } => write!(
                f,
                "agent/{name}: agents-runtime (pid {pid}) serves pod {pod} at {address}; \
                 {mapped} in-cluster URLs mapped; log {}",
                log.display()
            ),
            Event::PodGone { name, pod } => {
                write!(f, "agent/{name}: pod {pod} is gone; runtime stopped, waiting for the next pod")
            }
        }
    }
}

/// The `agents-runtime` beside this program's executable: cargo builds both into
/// `target/<profile>/`.
pub fn runtime_beside_this_executable() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("find", std::path::Path::new("this executable"), e))?;
    Ok(exe.with_file_name("agents-runtime"))
}

/// Plays the Agent's pod until `shutdown` completes (then the runtime is killed), or fails: the
/// Agent is missing or does not run the reference runtime, no pod runs within the timeout, or the
/// runtime exits by itself.
pub async fn run(
    client: &kube::Client,
    options: &RunAgent,
    shutdown: impl Future<Output = ()>,
    mut report: impl FnMut(Event),
) -> Result<(), Error> {
    if !options.runtime.is_file() {
        return Err(Error::RuntimeMissing { path: options.runtime.clone() });
    }
    tokio::pin!(shutdown);
    loop {
        let served = tokio::select! {
            () = &mut shutdown => return Ok(()),
            started = start(client, options, &mut report) => started?,
        };
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            gone = supervise(client, options, served) => report(gone?),
        }
    }
}

/// Waits for the Agent and a running pod of it, and starts the runtime for that pod.
async fn start(client: &kube::Client, options: &RunAgent, report: &mut impl FnMut(Event)) -> Result<Served, Error> {
    let RunAgent { name, namespace, .. } = options;
    let agent = existing_agent(client, options, report).await?;
    // The operator's rule (`agents_render::agent::runs_the_runtime`), field by field to name it.
    if agent.spec.image.is_some() {
        return Err(Error::NotTheRuntime { name: name.clone(), field: "spec.image" });
    }
    if agent.spec.build_ref.is_some() {
        return Err(Error::NotTheRuntime { name: name.clone(), field: "spec.buildRef" });
    }
    let selector = agents_render::labels::to_selector_string(&agents_render::labels::agent_selector(name));
    let (pod, ip) = pods::running_pod(client, namespace, &selector, options.timeout).await?;
    let urls = pods::cluster_urls(client, namespace).await?;
    let process =
        pods::start_runtime_in(client, namespace, name, (&pod, ip), &options.runtime, &urls, &options.dir).await?;
    report(Event::Serving {
        name: name.clone(),
        pod: pod.clone(),
        address: process.address,
        pid: process.id(),
        log: process.log.clone(),
        mapped: urls.len(),
    });
    Ok(Served { pod, process })
}

/// The Agent, waiting up to the timeout for it to be created.
async fn existing_agent(
    client: &kube::Client,
    options: &RunAgent,
    report: &mut impl FnMut(Event),
) -> Result<Agent, Error> {
    let RunAgent { name, namespace, timeout, .. } = options;
    let agents: Api<Agent> = Api::namespaced(client.clone(), namespace);
    // No deadline for a timeout too long to add to the clock.
    let deadline = Instant::now().checked_add(*timeout);
    let mut told = false;
    loop {
        let found = agents.get_opt(name).await.map_err(|e| Error::kube(format!("read agent {namespace}/{name}"), e))?;
        if let Some(agent) = found {
            return Ok(agent);
        }
        if deadline.is_some_and(|deadline| Instant::now() > deadline) {
            return Err(Error::NoAgent { name: name.clone(), namespace: namespace.clone(), waited: *timeout });
        }
        if !told {
            report(Event::WaitingForAgent { name: name.clone(), namespace: namespace.clone(), timeout: *timeout });
            told = true;
        }
        tokio::time::sleep(AGENT_POLL).await;
    }
}

/// The runtime and the pod it plays.
struct Served {
    pod: String,
    process: PodProcess,
}

/// Returns when the pod stops running (the runtime is then stopped); fails when the runtime exits.
async fn supervise(client: &kube::Client, options: &RunAgent, mut served: Served) -> Result<Event, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &options.namespace);
    loop {
        served.process.check_running()?;
        let pod = pods
            .get_opt(&served.pod)
            .await
            .map_err(|e| Error::kube(format!("read the pod {}/{}", options.namespace, served.pod), e))?;
        if pod.as_ref().and_then(pods::running).is_none() {
            // Dropping the process stops it: its address is the old pod's.
            return Ok(Event::PodGone { name: options.name.clone(), pod: served.pod });
        }
        tokio::time::sleep(SUPERVISE).await;
    }
}

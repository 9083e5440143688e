//! `kubectl agents logs NAME|-l SELECTOR [-f] [--since 5m] [--tail N] [-c CONTAINER] [--timestamps]
//! [--previous]`: the logs of every replica of an agent (or of every agent a label selector
//! matches, as stern tails several), each line prefixed with its pod.
//!
//! Without `-f`, each pod's log is fetched (up to `--max-log-requests` at once) and printed pod by
//! pod, in name order. With `-f`, a watch on the agent's pods starts one follow stream per started
//! container and stops it when its pod goes, so the new pods of a rollout join and the old ones
//! leave. A stream that ends while its pod remains is resumed after a pause, from the timestamp of
//! the last line printed, skipping what was printed already. Every line reaches stdout whole,
//! through one [`Printer`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Stdout, Write};
use std::pin::pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::channel::mpsc;
use futures::{AsyncBufReadExt, SinkExt, StreamExt};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::{AbortHandle, JoinSet};

mod follow;
mod lines;
mod target;

use follow::*;
use lines::*;
use target::Target;

use crate::error::Explained;
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The agent whose pods to show.
    #[arg(required_unless_present = "selector", conflicts_with = "selector")]
    pub name: Option<String>,
    /// The pods of every agent whose labels match, e.g. team=research (instead of a name); with
    /// -f, the agents matched when it starts.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Keep streaming new lines, and follow the pods that come and go (e.g. in a rollout) until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only lines newer than this, e.g. 30s, 5m or 2h.
    #[arg(long, value_name = "DURATION", value_parser = crate::flags::parse_duration)]
    pub since: Option<Duration>,
    /// Only the last N lines of each container (-1: all of them).
    #[arg(
        long,
        value_name = "N",
        default_value_t = -1,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i64).range(-1..)
    )]
    pub tail: i64,
    /// Only this container (default: every container of each pod; the agent's own is "agent").
    #[arg(short = 'c', long, value_name = "NAME")]
    pub container: Option<String>,
    /// Start each line with its timestamp (RFC 3339, from the container runtime).
    #[arg(long)]
    pub timestamps: bool,
    /// The logs of each container's previous instance (the one that ended before a restart).
    #[arg(short = 'p', long, conflicts_with = "follow")]
    pub previous: bool,
    /// How many log streams may be open at once; following more pods than that is an error.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_log_requests: u32,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let Some(target) = Target::find(session, args.name.as_deref(), args.selector.as_deref()).await? else {
        eprintln!("No resources found in {} namespace.", session.namespace);
        return Ok(ExitCode::SUCCESS);
    };
    let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
    let mut printer = Printer::stdout();
    let colour = style::colour_enabled_on_stdout();
    let result = tokio::select! {
        biased;
        // Polled first, so the handler is in place before the first line is printed.
        signal = tokio::signal::ctrl_c() => signal.context("listening for Ctrl-C"),
        result = async {
            if args.follow {
                follow(&pods, &target, &args, colour, &mut printer).await
            } else {
                print_once(&pods, &target, &args, colour, &mut printer).await
            }
        } => result,
    };
    let result = result.and_then(|()| printer.flush().map_err(anyhow::Error::from));
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The reader went away (`| head`): nothing is wrong.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            let _ = printer.flush();
            Err(e)
        }
    }
}

/// Every pod's log once, pod by pod in name order.
async fn print_once(
    pods: &Api<Pod>,
    agent: &Target,
    args: &Args,
    colour: bool,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let params = ListParams::default().labels(&agent.pod_selector());
    let mut listed = pods.list(&params).await.context("listing the agent's pods")?.items;
    if listed.is_empty() {
        eprintln!("{}", agent.no_pods(false));
        return Ok(());
    }
    listed.sort_by_key(|pod| pod.name_any());
    let mut sources = Vec::new();
    for pod in &listed {
        let show_container = shows_container(pod, args.container.as_deref());
        for container in containers(pod, args.container.as_deref()) {
            match not_started(pod, &container, args.previous) {
                Some(why) => eprintln!("pod {}: {why}", pod.name_any()),
                None => sources.push(Source::new(&pod.name_any(), &container, show_container, colour)),
            }
        }
    }
    if let Some(wanted) = &args.container
        && !listed.iter().any(|pod| !containers(pod, Some(wanted)).is_empty())
    {
        return Err(no_such_container(agent, wanted, &listed).into());
    }
    let base = LogParams {
        tail_lines: tail_lines(args.tail),
        since_seconds: args.since.map(since_seconds),
        timestamps: args.timestamps,
        previous: args.previous,
        ..LogParams::default()
    };
    // Fetched concurrently, printed in order as each one's turn comes.
    let mut fetched = futures::stream::iter(sources)
        .map(|source| {
            let params = LogParams { container: Some(source.container.clone()), ..base.clone() };
            async move {
                let lines = fetch(pods, &source.pod, &params).await;
                (source, lines)
            }
        })
        .buffered(args.max_log_requests as usize);
    while let Some((source, lines)) = fetched.next().await {
        match lines {
            Ok(lines) => {
                for line in &lines {
                    printer.line(&source.prefix, None, line)?;
                }
            }
            // The API server's answer when the container has no such log (yet): say so, go on.
            Err(LogError::Api(status)) if status.code == 400 => eprintln!("pod {}: {}", source.pod, status.message),
            Err(LogError::Api(status)) => {
                return Err(anyhow::Error::new(kube::Error::Api(status)))
                    .with_context(|| format!("reading the log of pod {}", source.pod));
            }
            Err(LogError::Other(e)) => return Err(e.context(format!("reading the log of pod {}", source.pod))),
        }
    }
    Ok(())
}

enum LogError {
    Api(Box<kube::core::Status>),
    Other(anyhow::Error),
}

/// One container's whole log, line by line (invalid UTF-8 replaced, not fatal).
async fn fetch(pods: &Api<Pod>, pod: &str, params: &LogParams) -> Result<Vec<String>, LogError> {
    let reader = pods.log_stream(pod, params).await.map_err(|e| match e {
        kube::Error::Api(status) => LogError::Api(status),
        e => LogError::Other(e.into()),
    })?;
    let mut reader = pin!(reader);
    let mut lines = Vec::new();
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer).await.map_err(|e| LogError::Other(e.into()))?;
        if read == 0 {
            return Ok(lines);
        }
        lines.push(String::from_utf8_lossy(trim_end_of_line(&buffer)).into_owned());
    }
}

/// The containers of `pod` to show: `wanted` if the pod has it (init containers included), else
/// all its regular containers.
fn containers(pod: &Pod, wanted: Option<&str>) -> Vec<String> {
    let Some(spec) = pod.spec.as_ref() else { return Vec::new() };
    match wanted {
        Some(wanted) => {
            let mut all = spec.containers.iter().chain(spec.init_containers.iter().flatten());
            all.find(|c| c.name == wanted).map(|c| vec![c.name.clone()]).unwrap_or_default()
        }
        None => spec.containers.iter().map(|c| c.name.clone()).collect(),
    }
}

/// Prefixes name the container when one was asked for, or when the pod has several.
fn shows_container(pod: &Pod, wanted: Option<&str>) -> bool {
    wanted.is_some() || pod.spec.as_ref().is_some_and(|s| s.containers.len() > 1)
}

/// Why `container` has no log to read yet, if it has none.
fn not_started(pod: &Pod, container: &str, previous: bool) -> Option<String> {
    let status = pod.status.as_ref();
    let statuses = status
        .into_iter()
        .flat_map(|s| s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()));
    let found: Option<&ContainerStatus> = statuses.into_iter().find(|s| s.name == container);
    let ended_before = |s: &ContainerStatus| s.last_state.as_ref().is_some_and(|l| l.terminated.is_some());
    match found {
        Some(s) if previous => {
            (!ended_before(s)).then(|| format!("container {container:?} has no previous instance (it never restarted)"))
        }
        Some(s) => {
            let state = s.state.clone().unwrap_or_default();
            if state.running.is_some() || state.terminated.is_some() || ended_before(s) {
                None
            } else {
                let reason = state.waiting.and_then(|w| w.reason).unwrap_or_else(|| "waiting".into());
                Some(format!("container {container:?} has not started yet ({reason})"))
            }
        }
        None => {
            let phase = status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into());
            Some(format!("container {container:?} has not started yet (pod {phase})"))
        }
    }
}

fn tail_lines(tail: i64) -> Option<i64> {
    (tail >= 0).then_some(tail)
}

/// `--since` in whole seconds, at least one (the API's minimum).
fn since_seconds(since: Duration) -> i64 {
    i64::try_from(since.as_secs() + u64::from(since.subsec_nanos() > 0)).unwrap_or(i64::MAX).max(1)
}

fn no_such_container(target: &Target, wanted: &str, pods: &[Pod]) -> Explained {
    let names: BTreeSet<String> = pods.iter().flat_map(|pod| containers(pod, None)).collect();
    let names: Vec<String> = names.into_iter().collect();
    Explained(format!(
        "no pod of {} has a container {wanted:?}; their containers: {}",
        target.describe(),
        names.join(", ")
    ))
}

fn too_many_streams(max: u32) -> Explained {
    Explained(format!(
        "reached the maximum of {max} concurrent log streams: use --max-log-requests to raise the limit (or -c to follow one container)"
    ))
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_containers_that_ran_have_logs() {
        let running = pod(serde_json::json!({
            "metadata": {"name": "research-1"},
            "spec": {"containers": [{"name": "agent"}, {"name": "proxy"}], "initContainers": [{"name": "setup"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "agent", "ready": true, "restartCount": 1, "image": "a", "imageID": "",
                 "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1}}},
                {"name": "proxy", "ready": false, "restartCount": 0, "image": "p", "imageID": "",
                 "state": {"waiting": {"reason": "ContainerCreating"}}},
            ]},
        }));
        assert_eq!(containers(&running, None), ["agent", "proxy"]);
        assert_eq!(containers(&running, Some("setup")), ["setup"]);
        assert!(containers(&running, Some("nope")).is_empty());
        assert!(shows_container(&running, None));
        assert_eq!(not_started(&running, "agent", false), None);
        assert_eq!(not_started(&running, "agent", true), None);
        assert_eq!(
            not_started(&running, "proxy", false).as_deref(),
            Some("container \"proxy\" has not started yet (ContainerCreating)")
        );
        assert!(not_started(&running, "proxy", true).unwrap().contains("no previous instance"));

        let pending = pod(serde_json::json!({
            "metadata": {"name": "research-2"},
            "spec": {"containers": [{"name": "agent"}]},
            "status": {"phase": "Pending"},
        }));
        assert!(!shows_container(&pending, None));
        assert!(shows_container(&pending, Some("agent")));
        assert_eq!(
            not_started(&pending, "agent", false).as_deref(),
            Some("container \"agent\" has not started yet (pod Pending)")
        );
    }

    #[test]
    fn durations_become_whole_seconds() {
        assert_eq!(since_seconds(Duration::from_secs(300)), 300);
        assert_eq!(since_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(since_seconds(Duration::ZERO), 1);
        assert_eq!(tail_lines(-1), None);
        assert_eq!(tail_lines(0), Some(0));
    }

    #[test]
    fn the_stream_limit_names_its_flag() {
        assert!(too_many_streams(50).to_string().contains("--max-log-requests"));
    }
}

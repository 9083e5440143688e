//! `kubectl agents logs NAME [-f] [--since 5m] [--tail N] [-c CONTAINER] [--timestamps] [--previous]`:
//! the logs of every replica of an agent, each line prefixed with its pod.
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

use agents_api::{Agent, AgentPhase};
use anyhow::Context;
use futures::channel::mpsc;
use futures::{AsyncBufReadExt, SinkExt, StreamExt};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::{AbortHandle, JoinSet};

use crate::error::Explained;
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The agent whose pods to show.
    pub name: String,
    /// Keep streaming new lines, and follow the pods that come and go (e.g. in a rollout) until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only lines newer than this, e.g. 30s, 5m or 2h.
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse_duration)]
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
    let agents: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
    let agent = agents.get_opt(&args.name).await?.ok_or_else(|| super::get::not_found(session, &args.name))?;
    let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
    let mut printer = Printer::stdout();
    let colour = style::colour_enabled_on_stdout();
    let result = tokio::select! {
        biased;
        // Polled first, so the handler is in place before the first line is printed.
        signal = tokio::signal::ctrl_c() => signal.context("listening for Ctrl-C"),
        result = async {
            if args.follow {
                follow(&pods, &agent, &args, colour, &mut printer).await
            } else {
                print_once(&pods, &agent, &args, colour, &mut printer).await
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

fn selector(agent: &str) -> String {
    format!("{}={agent}", agents_render::labels::AGENT)
}

/// Every pod's log once, pod by pod in name order.
async fn print_once(
    pods: &Api<Pod>,
    agent: &Agent,
    args: &Args,
    colour: bool,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let params = ListParams::default().labels(&selector(&args.name));
    let mut listed = pods.list(&params).await.context("listing the agent's pods")?.items;
    if listed.is_empty() {
        eprintln!("{}", no_pods(agent, false));
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
        return Err(no_such_container(&args.name, wanted, &listed).into());
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

/// What a stream sends to the printer.
enum Message {
    Line {
        prefix: Arc<str>,
        timestamp: Option<String>,
        text: String,
    },
    /// Following cannot go on (e.g. the logs are forbidden).
    Failed(anyhow::Error),
}

/// Follows the agent's pods until Ctrl-C (handled by the caller) or a fatal error.
async fn follow(
    pods: &Api<Pod>,
    agent: &Agent,
    args: &Args,
    colour: bool,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let (sender, mut receiver) = mpsc::channel(256);
    let mut streams = Streams::new(pods.clone(), args, colour, sender);
    let config = watcher::Config::default().labels(&selector(&args.name));
    let mut events = pin!(watcher(pods.clone(), config).default_backoff());
    // The pods named since the watch (re)started its listing; those missing from it are gone.
    let mut listing: BTreeSet<String> = BTreeSet::new();
    let mut listed = false;
    loop {
        tokio::select! {
            Some(message) = receiver.next() => {
                let mut next = Some(message);
                while let Some(message) = next {
                    match message {
                        Message::Line { prefix, timestamp, text } => printer.line(&prefix, timestamp.as_deref(), &text)?,
                        Message::Failed(e) => return Err(e),
                    }
                    next = receiver.try_recv().ok();
                }
                printer.flush()?;
            }
            event = events.next() => match event {
                Some(Ok(watcher::Event::Init)) => listing.clear(),
                Some(Ok(watcher::Event::InitApply(pod))) => {
                    listing.insert(pod.name_any());
                    streams.pod(&pod)?;
                }
                Some(Ok(watcher::Event::InitDone)) => {
                    streams.retain(&listing);
                    if !listed && listing.is_empty() {
                        eprintln!("{}", no_pods(agent, true));
                    }
                    listed = true;
                }
                Some(Ok(watcher::Event::Apply(pod))) => streams.pod(&pod)?,
                Some(Ok(watcher::Event::Delete(pod))) => streams.gone(&pod),
                // Before the first listing, a failure is the answer (e.g. pods are forbidden).
                Some(Err(e)) if !listed => return Err(e).context("watching the agent's pods"),
                // An established watch that broke (e.g. a read timeout) is simply restarted.
                Some(Err(e @ watcher::Error::WatchFailed(_))) => tracing::debug!(error = %e, "the pod watch broke"),
                Some(Err(e)) => eprintln!("warning: watching the pods of agent {:?}: {e} (retrying)", args.name),
                None => return Ok(()),
            },
            Some(_) = streams.tasks.join_next(), if !streams.tasks.is_empty() => {}
        }
    }
}

/// The log streams being followed, by pod and container.
struct Streams<'a> {
    pods: Api<Pod>,
    args: &'a Args,
    colour: bool,
    sender: mpsc::Sender<Message>,
    tasks: JoinSet<()>,
    by_pod: BTreeMap<String, PodStreams>,
}

struct PodStreams {
    uid: Option<String>,
    containers: BTreeMap<String, AbortHandle>,
}

impl<'a> Streams<'a> {
    fn new(pods: Api<Pod>, args: &'a Args, colour: bool, sender: mpsc::Sender<Message>) -> Self {
        Streams { pods, args, colour, sender, tasks: JoinSet::new(), by_pod: BTreeMap::new() }
    }

    fn count(&self) -> usize {
        self.by_pod.values().map(|p| p.containers.len()).sum()
    }

    /// A pod appeared or changed: start a stream for each of its started containers not followed yet.
    fn pod(&mut self, pod: &Pod) -> anyhow::Result<()> {
        let name = pod.name_any();
        let uid = pod.uid();
        // The same name, another pod (e.g. a StatefulSet's replacement).
        if self.by_pod.get(&name).is_some_and(|p| p.uid != uid) {
            self.stop(&name);
        }
        let show_container = shows_container(pod, self.args.container.as_deref());
        for container in containers(pod, self.args.container.as_deref()) {
            let followed = self.by_pod.get(&name).is_some_and(|p| p.containers.contains_key(&container));
            if followed || not_started(pod, &container, false).is_some() {
                continue;
            }
            if self.count() >= self.args.max_log_requests as usize {
                return Err(too_many_streams(self.args.max_log_requests).into());
            }
            let source = Source::new(&name, &container, show_container, self.colour);
            let params = LogParams {
                container: Some(container.clone()),
                follow: true,
                tail_lines: tail_lines(self.args.tail),
                since_seconds: self.args.since.map(since_seconds),
                // Always asked for: the resume point. Printed only with --timestamps.
                timestamps: true,
                ..LogParams::default()
            };
            let task = stream(self.pods.clone(), source, params, self.args.timestamps, self.sender.clone());
            let handle = self.tasks.spawn(task);
            tracing::debug!(pod = %name, %container, "following");
            self.by_pod
                .entry(name.clone())
                .or_insert_with(|| PodStreams { uid: uid.clone(), containers: BTreeMap::new() })
                .containers
                .insert(container, handle);
        }
        Ok(())
    }

    /// A pod was deleted.
    fn gone(&mut self, pod: &Pod) {
        let name = pod.name_any();
        if self.by_pod.get(&name).is_some_and(|p| p.uid == pod.uid()) {
            self.stop(&name);
        }
    }

    /// After a (re)listing: the pods it did not name are gone.
    fn retain(&mut self, listed: &BTreeSet<String>) {
        let gone: Vec<String> = self.by_pod.keys().filter(|name| !listed.contains(*name)).cloned().collect();
        for name in gone {
            self.stop(&name);
        }
    }

    fn stop(&mut self, pod: &str) {
        if let Some(streams) = self.by_pod.remove(pod) {
            tracing::debug!(%pod, "stopped following");
            streams.containers.values().for_each(AbortHandle::abort);
        }
    }
}

/// The first pause before a stream that ended is resumed; it doubles up to [`RESUME_MAX`] while
/// resumed streams bring nothing new, so a container that stopped is not polled in a tight loop.
const RESUME_MIN: Duration = Duration::from_secs(1);
const RESUME_MAX: Duration = Duration::from_secs(30);

/// Follows one container's log until aborted (its pod went), resuming it when it ends.
async fn stream(
    pods: Api<Pod>,
    source: Source,
    base: LogParams,
    show_timestamps: bool,
    mut sender: mpsc::Sender<Message>,
) {
    let prefix: Arc<str> = source.prefix.into();
    let mut resume = Resume::default();
    let mut pause = RESUME_MIN;
    loop {
        let mut printed = false;
        match pods.log_stream(&source.pod, &resume.params(&base)).await {
            Ok(reader) => {
                let mut reader = pin!(reader);
                let mut catch_up = resume.catch_up();
                let mut buffer = Vec::new();
                loop {
                    buffer.clear();
                    match reader.read_until(b'\n', &mut buffer).await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!(pod = %source.pod, container = %source.container, error = %e, "log stream failed");
                            break;
                        }
                    }
                    let line = String::from_utf8_lossy(trim_end_of_line(&buffer));
                    let (timestamp, text) = split_timestamp(&line);
                    if let Some(at) = timestamp.and_then(|t| t.parse::<Timestamp>().ok()) {
                        if catch_up.already_printed(at) {
                            continue;
                        }
                        resume.printed(at);
                    }
                    printed = true;
                    let timestamp = timestamp.filter(|_| show_timestamps).map(str::to_string);
                    let message = Message::Line { prefix: prefix.clone(), timestamp, text: text.to_string() };
                    if sender.send(message).await.is_err() {
                        return;
                    }
                }
            }
            Err(kube::Error::Api(status)) if matches!(status.code, 401 | 403) => {
                let error = anyhow::Error::new(kube::Error::Api(status))
                    .context(format!("reading the log of pod {}", source.pod));
                let _ = sender.send(Message::Failed(error)).await;
                return;
            }
            // Not started yet, just deleted, or the connection failed: try again after the pause.
            Err(e) => tracing::debug!(pod = %source.pod, container = %source.container, error = %e, "no log stream"),
        }
        if printed {
            pause = RESUME_MIN;
        }
        tracing::debug!(pod = %source.pod, container = %source.container, ?pause, "log stream ended, resuming");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RESUME_MAX);
    }
}

/// Where a followed stream is, so that a new connection resumes after the last line printed.
#[derive(Debug, Default, Clone, PartialEq)]
struct Resume {
    /// The newest timestamp printed ...
    last: Option<Timestamp>,
    /// ... and how many lines carrying exactly that timestamp were printed.
    at_last: usize,
}

impl Resume {
    fn printed(&mut self, at: Timestamp) {
        match self.last {
            Some(last) if at == last => self.at_last += 1,
            Some(last) if at < last => {}
            _ => {
                self.last = Some(at);
                self.at_last = 1;
            }
        }
    }

    /// The first connection asks for what the user asked for; later ones for everything since the
    /// second of the last line printed (the API takes whole seconds), the overlap skipped by
    /// [`CatchUp`].
    fn params(&self, base: &LogParams) -> LogParams {
        match self.last {
            None => base.clone(),
            Some(last) => LogParams {
                since_time: Some(floor_to_second(last)),
                since_seconds: None,
                tail_lines: None,
                ..base.clone()
            },
        }
    }

    fn catch_up(&self) -> CatchUp {
        CatchUp { last: self.last, skip_at_last: self.at_last }
    }
}

/// Skips the start of a resumed stream that was printed already: the lines older than the last
/// one printed, and as many lines of its very timestamp as were printed. Once a line is new, so
/// is everything after it.
#[derive(Debug)]
struct CatchUp {
    last: Option<Timestamp>,
    skip_at_last: usize,
}

impl CatchUp {
    fn already_printed(&mut self, at: Timestamp) -> bool {
        let Some(last) = self.last else { return false };
        if at < last {
            return true;
        }
        if at == last && self.skip_at_last > 0 {
            self.skip_at_last -= 1;
            return true;
        }
        self.last = None;
        false
    }
}

fn floor_to_second(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

/// `2025-01-02T03:04:05.123456789Z text` as the timestamp and the text (the whole line when it
/// does not start with a timestamp).
fn split_timestamp(line: &str) -> (Option<&str>, &str) {
    match line.split_once(' ') {
        Some((stamp, text)) if stamp.parse::<Timestamp>().is_ok() => (Some(stamp), text),
        _ => match line.parse::<Timestamp>() {
            // A timestamped empty line.
            Ok(_) => (Some(line), ""),
            Err(_) => (None, line),
        },
    }
}

fn trim_end_of_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Prints log lines; the only writer of stdout, so lines are never mixed.
struct Printer {
    out: BufWriter<Stdout>,
}

impl Printer {
    fn stdout() -> Self {
        Printer { out: BufWriter::new(std::io::stdout()) }
    }

    fn line(&mut self, prefix: &str, timestamp: Option<&str>, text: &str) -> std::io::Result<()> {
        self.out.write_all(format_line(prefix, timestamp, text).as_bytes())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// `[pod] text`, or `[pod] timestamp text`, with its newline.
fn format_line(prefix: &str, timestamp: Option<&str>, text: &str) -> String {
    match timestamp {
        Some(timestamp) => format!("{prefix} {timestamp} {text}\n"),
        None => format!("{prefix} {text}\n"),
    }
}

/// One container of one pod, and how its lines are prefixed.
struct Source {
    pod: String,
    container: String,
    prefix: String,
}

impl Source {
    fn new(pod: &str, container: &str, show_container: bool, colour: bool) -> Self {
        let label = label(pod, container, show_container);
        Source { pod: pod.to_string(), container: container.to_string(), prefix: style::keyed(&label, pod, colour) }
    }
}

/// `[pod]`, or `[pod/container]` when the container is named.
fn label(pod: &str, container: &str, show_container: bool) -> String {
    if show_container { format!("[{pod}/{container}]") } else { format!("[{pod}]") }
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

/// Why there is nothing to show, and what to do about it.
fn no_pods(agent: &Agent, waiting: bool) -> String {
    let name = agent.name_any();
    let phase = agent.status.as_ref().and_then(|s| s.phase);
    let stopped = agent.spec.replicas == Some(0) || phase == Some(AgentPhase::Stopped);
    let state = match phase {
        _ if stopped => "it is stopped (replicas: 0)".to_string(),
        Some(phase) => format!("it is {phase}"),
        None => "the operator has not reported on it yet".to_string(),
    };
    if waiting {
        return format!("agent {name:?} has no pods: {state}. Waiting for them to appear (Ctrl-C to stop)");
    }
    let hint = if stopped {
        format!("Start it with `kubectl agents scale {name} --replicas 1`")
    } else {
        format!("See `kubectl agents describe {name}`")
    };
    format!("agent {name:?} has no pods: {state}. {hint}")
}

fn no_such_container(agent: &str, wanted: &str, pods: &[Pod]) -> Explained {
    let names: BTreeSet<String> = pods.iter().flat_map(|pod| containers(pod, None)).collect();
    let names: Vec<String> = names.into_iter().collect();
    Explained(format!("no pod of agent {agent:?} has a container {wanted:?}; its containers: {}", names.join(", ")))
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

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn lines_are_prefixed_with_their_pod_and_if_asked_their_container() {
        assert_eq!(label("research-1", "agent", false), "[research-1]");
        assert_eq!(label("research-1", "agent", true), "[research-1/agent]");
        assert_eq!(format_line("[research-1]", None, "hello"), "[research-1] hello\n");
        assert_eq!(
            format_line("[research-1]", Some("2025-01-02T03:04:05.5Z"), "hello"),
            "[research-1] 2025-01-02T03:04:05.5Z hello\n"
        );
        assert_eq!(Source::new("research-1", "agent", false, false).prefix, "[research-1]");
    }

    #[test]
    fn timestamps_are_split_from_the_text() {
        assert_eq!(
            split_timestamp("2025-01-02T03:04:05.123456789Z agent started"),
            (Some("2025-01-02T03:04:05.123456789Z"), "agent started")
        );
        assert_eq!(split_timestamp("2025-01-02T03:04:05Z"), (Some("2025-01-02T03:04:05Z"), ""));
        assert_eq!(split_timestamp("no stamp here"), (None, "no stamp here"));
        assert_eq!(split_timestamp(""), (None, ""));
        assert_eq!(trim_end_of_line(b"line\r\n"), b"line");
        assert_eq!(trim_end_of_line(b"partial"), b"partial");
    }

    #[test]
    fn a_fresh_stream_asks_for_what_the_user_asked() {
        let base = LogParams { follow: true, tail_lines: Some(10), since_seconds: Some(300), ..LogParams::default() };
        let params = Resume::default().params(&base);
        assert_eq!((params.tail_lines, params.since_seconds, params.since_time), (Some(10), Some(300), None));
        let mut catch_up = Resume::default().catch_up();
        assert!(!catch_up.already_printed(at("2025-01-02T03:04:05Z")));
    }

    #[test]
    fn a_resumed_stream_starts_at_the_second_of_the_last_line_and_skips_what_was_printed() {
        let mut resume = Resume::default();
        resume.printed(at("2025-01-02T03:04:04.9Z"));
        resume.printed(at("2025-01-02T03:04:05.25Z"));
        resume.printed(at("2025-01-02T03:04:05.25Z"));
        // An older line arriving late does not move the resume point back.
        resume.printed(at("2025-01-02T03:04:05.1Z"));
        assert_eq!(resume, Resume { last: Some(at("2025-01-02T03:04:05.25Z")), at_last: 2 });

        let base = LogParams { follow: true, tail_lines: Some(10), since_seconds: Some(300), ..LogParams::default() };
        let params = resume.params(&base);
        assert_eq!(params.since_time, Some(at("2025-01-02T03:04:05Z")));
        assert_eq!((params.tail_lines, params.since_seconds, params.follow), (None, None, true));

        // The new connection replays the second: skip what was printed, keep what is new.
        let mut catch_up = resume.catch_up();
        assert!(catch_up.already_printed(at("2025-01-02T03:04:05.1Z")));
        assert!(catch_up.already_printed(at("2025-01-02T03:04:05.25Z")));
        assert!(catch_up.already_printed(at("2025-01-02T03:04:05.25Z")));
        assert!(!catch_up.already_printed(at("2025-01-02T03:04:05.25Z")), "a third line of that instant is new");
        assert!(!catch_up.already_printed(at("2025-01-02T03:04:05.1Z")), "after a new line, everything is new");
    }

    #[test]
    fn resuming_skips_nothing_newer() {
        let mut resume = Resume::default();
        resume.printed(at("2025-01-02T03:04:05Z"));
        let mut catch_up = resume.catch_up();
        assert!(!catch_up.already_printed(at("2025-01-02T03:04:06Z")));
        assert_eq!(floor_to_second(at("2025-01-02T03:04:05.999Z")), at("2025-01-02T03:04:05Z"));
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
    fn no_pods_says_why() {
        let mut agent: Agent = serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "Agent",
            "metadata": {"name": "research"}, "spec": {"image": "x", "replicas": 0},
        }))
        .unwrap();
        assert_eq!(
            no_pods(&agent, false),
            "agent \"research\" has no pods: it is stopped (replicas: 0). Start it with `kubectl agents scale research --replicas 1`"
        );
        assert!(no_pods(&agent, true).ends_with("stopped (replicas: 0). Waiting for them to appear (Ctrl-C to stop)"));
        agent.spec.replicas = Some(2);
        assert!(no_pods(&agent, false).contains("the operator has not reported on it yet"));
    }

    #[test]
    fn the_stream_limit_names_its_flag() {
        assert!(too_many_streams(50).to_string().contains("--max-log-requests"));
    }
}

//! `logs -f`: one stream per started container of the agent's pods, joined and left as pods come
//! and go, resumed from the last printed second when a stream ends early.

use super::*;

/// What a stream sends to the printer.
pub(super) enum Message {
    Line {
        prefix: Arc<str>,
        timestamp: Option<String>,
        text: String,
    },
    /// Following cannot go on (e.g. the logs are forbidden).
    Failed(anyhow::Error),
}

/// Follows the agent's pods until Ctrl-C (handled by the caller) or a fatal error.
pub(super) async fn follow(
    pods: &Api<Pod>,
    agent: &Target,
    args: &Args,
    colour: bool,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let (sender, mut receiver) = mpsc::channel(256);
    let mut streams = Streams::new(pods.clone(), args, colour, sender);
    let config = watcher::Config::default().labels(&agent.pod_selector());
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
                        eprintln!("{}", agent.no_pods(true));
                    }
                    listed = true;
                }
                Some(Ok(watcher::Event::Apply(pod))) => streams.pod(&pod)?,
                Some(Ok(watcher::Event::Delete(pod))) => streams.gone(&pod),
                // Before the first listing, a failure is the answer (e.g. pods are forbidden).
                Some(Err(e)) if !listed => return Err(e).context("watching the agent's pods"),
                // An established watch that broke (e.g. a read timeout) is simply restarted.
                Some(Err(e @ watcher::Error::WatchFailed(_))) => tracing::debug!(error = %e, "the pod watch broke"),
                Some(Err(e)) => eprintln!("warning: watching the pods of {}: {e} (retrying)", agent.describe()),
                None => return Ok(()),
            },
            Some(_) = streams.tasks.join_next(), if !streams.tasks.is_empty() => {}
        }
    }
}

/// The log streams being followed, by pod and container.
pub(super) struct Streams<'a> {
    pub(super) pods: Api<Pod>,
    pub(super) args: &'a Args,
    pub(super) colour: bool,
    pub(super) sender: mpsc::Sender<Message>,
    pub(super) tasks: JoinSet<()>,
    pub(super) by_pod: BTreeMap<String, PodStreams>,
}

pub(super) struct PodStreams {
    pub(super) uid: Option<String>,
    pub(super) containers: BTreeMap<String, AbortHandle>,
}

impl<'a> Streams<'a> {
    pub(super) fn new(pods: Api<Pod>, args: &'a Args, colour: bool, sender: mpsc::Sender<Message>) -> Self {
        Streams { pods, args, colour, sender, tasks: JoinSet::new(), by_pod: BTreeMap::new() }
    }

    pub(super) fn count(&self) -> usize {
        self.by_pod.values().map(|p| p.containers.len()).sum()
    }

    /// A pod appeared or changed: start a stream for each of its started containers not followed yet.
    pub(super) fn pod(&mut self, pod: &Pod) -> anyhow::Result<()> {
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
    pub(super) fn gone(&mut self, pod: &Pod) {
        let name = pod.name_any();
        if self.by_pod.get(&name).is_some_and(|p| p.uid == pod.uid()) {
            self.stop(&name);
        }
    }

    /// After a (re)listing: the pods it did not name are gone.
    pub(super) fn retain(&mut self, listed: &BTreeSet<String>) {
        let gone: Vec<String> = self.by_pod.keys().filter(|name| !listed.contains(*name)).cloned().collect();
        for name in gone {
            self.stop(&name);
        }
    }

    pub(super) fn stop(&mut self, pod: &str) {
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
pub(super) async fn stream(
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
pub(super) struct Resume {
    /// The newest timestamp printed ...
    pub(super) last: Option<Timestamp>,
    /// ... and how many lines carrying exactly that timestamp were printed.
    pub(super) at_last: usize,
}

impl Resume {
    pub(super) fn printed(&mut self, at: Timestamp) {
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
    pub(super) fn params(&self, base: &LogParams) -> LogParams {
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

    pub(super) fn catch_up(&self) -> CatchUp {
        CatchUp { last: self.last, skip_at_last: self.at_last }
    }
}

/// Skips the start of a resumed stream that was printed already: the lines older than the last
/// one printed, and as many lines of its very timestamp as were printed. Once a line is new, so
/// is everything after it.
#[derive(Debug)]
pub(super) struct CatchUp {
    pub(super) last: Option<Timestamp>,
    pub(super) skip_at_last: usize,
}

impl CatchUp {
    pub(super) fn already_printed(&mut self, at: Timestamp) -> bool {
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

pub(super) fn floor_to_second(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
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
}

//! `kubectl agents build logs NAME [RUN]`: the logs of a run's steps, in order, each line
//! prefixed with its step. Also the log reading `build NAME` streams while it waits.

use std::process::ExitCode;

use agents_render::build::tekton::RunStatus;
use agents_render::build::{STEPS, step_container};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, LogParams};

use crate::error::Explained;
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The AgentBuild.
    pub name: String,
    /// The run (a PipelineRun, see `kubectl agents build list NAME`); the current one by default.
    pub run: Option<String>,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let build = super::get(session, &args.name).await?;
    let run = match args.run {
        Some(run) => run,
        None => build.status.as_ref().and_then(|s| s.run_name.clone()).ok_or_else(|| {
            Explained(format!(
                "agentbuild {:?} has no run yet: start one with `kubectl agents build {}`",
                args.name, args.name
            ))
        })?,
    };
    let pod = pod_of(session, &run).await?.ok_or_else(|| {
        Explained(format!(
            "run {run} has no pod (yet): it has not started, or its pod was deleted; `kubectl agents build list {}` shows the runs",
            args.name
        ))
    })?;
    let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
    let colour = style::colour_enabled_on_stdout();
    for step in STEPS {
        let prefix = style::keyed(&format!("[{step}]"), step, colour);
        match read(&pods, &pod, step, None).await {
            Ok(lines) => lines.iter().for_each(|(_, text)| println!("{prefix} {text}")),
            // A step that never ran has no log.
            Err(kube::Error::Api(status)) if status.code == 400 => {}
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading the log of step {step}"))),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The pod of a run's TaskRun, once Tekton created it.
pub async fn pod_of(session: &Session, run: &str) -> anyhow::Result<Option<String>> {
    let task_run = super::task_run_of(session, run).await?;
    Ok(task_run.and_then(|t| RunStatus::of(&t).pod_name).filter(|p| !p.is_empty()))
}

/// A step's whole log (newer than `after` when given), as `(timestamp, text)` lines.
pub async fn read(
    pods: &Api<Pod>,
    pod: &str,
    step: &str,
    after: Option<Timestamp>,
) -> Result<Vec<(Option<Timestamp>, String)>, kube::Error> {
    let params = LogParams { container: Some(step_container(step)), timestamps: true, ..LogParams::default() };
    let text = pods.logs(pod, &params).await?;
    Ok(text
        .lines()
        .map(split_timestamp)
        .filter(|(at, _)| match (after, at) {
            (Some(after), Some(at)) => *at > after,
            _ => true,
        })
        .collect())
}

/// Follows a running step's log, handing each line to `print`, until the stream ends or `stop`
/// resolves (the step finished: a runtime without an end of stream is not waited for). Returns
/// the timestamp of the last line printed.
pub async fn follow(
    pods: &Api<Pod>,
    pod: &str,
    step: &str,
    stop: impl std::future::Future<Output = ()>,
    print: &impl Fn(&str),
) -> Result<Option<Timestamp>, kube::Error> {
    let params =
        LogParams { container: Some(step_container(step)), timestamps: true, follow: true, ..LogParams::default() };
    let reader = pods.log_stream(pod, &params).await?;
    let mut lines = std::pin::pin!(reader.lines());
    let mut stop = std::pin::pin!(stop);
    let mut last = None;
    loop {
        tokio::select! {
            line = lines.next() => match line {
                Some(Ok(line)) => {
                    let (at, text) = split_timestamp(&line);
                    last = at.or(last);
                    print(&text);
                }
                _ => return Ok(last),
            },
            () = &mut stop => return Ok(last),
        }
    }
}

/// `2025-01-02T03:04:05.123456789Z text` as the timestamp and the text.
fn split_timestamp(line: &str) -> (Option<Timestamp>, String) {
    if let Some((stamp, text)) = line.split_once(' ')
        && let Ok(at) = stamp.parse::<Timestamp>()
    {
        return (Some(at), text.to_string());
    }
    match line.parse::<Timestamp>() {
        // A timestamped empty line.
        Ok(at) => (Some(at), String::new()),
        Err(_) => (None, line.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_split_from_the_text() {
        let (at, text) = split_timestamp("2026-01-01T00:00:02.5Z cloned abc");
        assert_eq!((at.map(|t| t.as_second()), text.as_str()), (Some(1_767_225_602), "cloned abc"));
        assert_eq!(split_timestamp("no timestamp here"), (None, "no timestamp here".to_string()));
        assert_eq!(split_timestamp("2026-01-01T00:00:02Z").1, "");
    }
}

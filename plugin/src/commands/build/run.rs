//! `kubectl agents build NAME [--repo URL --image REPO ...]`: creates or updates the AgentBuild
//! from the flags given, asks for a new run (the `agents.dev/rebuild` annotation), and follows it:
//! each step's progress and its log on stderr, the pushed image by digest on stdout. Exits 0 only
//! when the run succeeded.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use agents_api::build::{BuildStep, REBUILD_ANNOTATION, StepState};
use agents_api::conditions::reasons;
use agents_api::{AgentBuild, AgentBuildSpec, AgentBuildStatus, BuildPhase, SecretKeyRef};
use agents_render::build::STEPS;
use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::logs;
use super::progress::{self, Display, changes};
use crate::error::Explained;
use crate::flags::parse_duration;
use crate::session::Session;
use crate::style;

/// Field manager of what the plugin writes.
const MANAGER: &str = "kubectl-agents";

#[derive(clap::Args, Debug, Default)]
#[group(id = "run_args")]
pub struct Args {
    /// The AgentBuild to run; it is created when it does not exist and --repo and --image are given.
    #[arg(value_name = "NAME", required = true)]
    pub name: Option<String>,
    /// Git repository URL (https://…, ssh://… or git@host:path).
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// Branch, tag or commit to build (default main).
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    /// Directory of the repository to build in (default .).
    #[arg(long, value_name = "DIR")]
    pub context_dir: Option<String>,
    /// Path of the Dockerfile in that directory (default Dockerfile).
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<String>,
    /// Registry and repository to push to, without a tag (e.g. ghcr.io/org/agent).
    #[arg(long, value_name = "REGISTRY/REPOSITORY")]
    pub image: Option<String>,
    /// Tag to push (default latest).
    #[arg(long)]
    pub tag: Option<String>,
    /// Secret (and key, default "token") holding a token for a private repository.
    #[arg(long, value_name = "SECRET[:KEY]")]
    pub token_secret: Option<String>,
    /// Secret (and key, default ".dockerconfigjson") holding registry credentials.
    #[arg(long, value_name = "SECRET[:KEY]")]
    pub push_secret: Option<String>,
    /// A Dockerfile build argument (repeat the flag); replaces the build's list. Not for secrets.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
    /// Longest time the run may take (e.g. 30m; default 1h).
    #[arg(long, value_name = "DURATION")]
    pub build_timeout: Option<String>,
    /// How many finished runs to keep (default 3).
    #[arg(long, value_name = "N")]
    pub keep: Option<i32>,
    /// Start the run and return at once.
    #[arg(long)]
    pub no_wait: bool,
    /// Show the steps' progress but not their logs.
    #[arg(short, long)]
    pub quiet: bool,
    /// How long to wait for the run (default: the build's timeout plus 10 minutes).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// `SECRET[:KEY]` as a reference, `default_key` when no key is given.
pub fn secret_ref(text: &str, default_key: &str) -> Result<SecretKeyRef, Explained> {
    let (name, key) = text.split_once(':').unwrap_or((text, default_key));
    if name.is_empty() || key.is_empty() {
        return Err(Explained(format!("{text:?} is not a Secret reference: use SECRET or SECRET:KEY")));
    }
    Ok(SecretKeyRef { name: name.into(), key: key.into() })
}

/// The spec fields the flags set, as a merge patch (and, for a new build, as its whole spec).
pub fn spec_patch(args: &Args) -> Result<Value, Explained> {
    let mut git = serde_json::Map::new();
    let mut spec = serde_json::Map::new();
    let put = |map: &mut serde_json::Map<String, Value>, key: &str, value: Option<Value>| {
        if let Some(value) = value {
            map.insert(key.into(), value);
        }
    };
    put(&mut git, "url", args.repo.clone().map(Value::from));
    put(&mut git, "revision", args.revision.clone().map(Value::from));
    put(&mut git, "contextDir", args.context_dir.clone().map(Value::from));
    if let Some(token) = &args.token_secret {
        git.insert("tokenSecretRef".into(), serde_json::to_value(secret_ref(token, "token")?).expect("serialisable"));
    }
    if !git.is_empty() {
        spec.insert("git".into(), Value::Object(git));
    }
    put(&mut spec, "dockerfile", args.dockerfile.clone().map(Value::from));
    put(&mut spec, "image", args.image.clone().map(Value::from));
    put(&mut spec, "tag", args.tag.clone().map(Value::from));
    put(&mut spec, "timeout", args.build_timeout.clone().map(Value::from));
    put(&mut spec, "historyLimit", args.keep.map(Value::from));
    if let Some(push) = &args.push_secret {
        spec.insert(
            "pushSecretRef".into(),
            serde_json::to_value(secret_ref(push, ".dockerconfigjson")?).expect("serialisable"),
        );
    }
    if !args.build_args.is_empty() {
        let parsed = args
            .build_args
            .iter()
            .map(|arg| match arg.split_once('=') {
                Some((name, value)) if !name.is_empty() => Ok(json!({"name": name, "value": value})),
                _ => Err(Explained(format!("--build-arg {arg:?} is not NAME=VALUE"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        spec.insert("buildArgs".into(), Value::Array(parsed));
    }
    Ok(Value::Object(spec))
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let name = args.name.clone().context("a build name is required")?;
    let api: Api<AgentBuild> = Api::namespaced(session.client.clone(), &session.namespace);
    let existing = api.get_opt(&name).await?;
    let patch = spec_patch(&args)?;
    let requested = k8s_openapi::jiff::Timestamp::now().to_string();

    // The Secrets the run will read, checked from the user's side before anything starts.
    let current = existing.as_ref().map(|b| &b.spec);
    let token = match &args.token_secret {
        Some(text) => Some(secret_ref(text, "token")?),
        None => current.and_then(|s| s.git.token_secret_ref.clone()),
    };
    let push = match &args.push_secret {
        Some(text) => Some(secret_ref(text, ".dockerconfigjson")?),
        None => current.and_then(|s| s.push_secret_ref.clone()),
    };
    let problems = missing_secrets(session, [("git.tokenSecretRef", token), ("pushSecretRef", push)]).await;
    if !problems.is_empty() {
        return Err(Explained(format!("agentbuild {name:?} cannot run:\n  - {}", problems.join("\n  - "))).into());
    }

    let build = match existing {
        None => {
            if args.repo.is_none() || args.image.is_none() {
                return Err(Explained(format!(
                    "agentbuild {name:?} not found in namespace {:?}: create it with `kubectl agents build {name} --repo URL --image REGISTRY/REPOSITORY [--tag TAG]`",
                    session.namespace
                ))
                .into());
            }
            let spec: AgentBuildSpec = serde_json::from_value(patch).context("the flags make no valid spec")?;
            let mut build = AgentBuild::new(&name, spec);
            build.metadata.annotations = Some([(REBUILD_ANNOTATION.to_string(), requested)].into());
            let params = PostParams { field_manager: Some(MANAGER.into()), ..Default::default() };
            let created = api.create(&params, &build).await?;
            eprintln!("agentbuild.agents.dev/{name} created");
            created
        }
        Some(_) => {
            let mut body = json!({"metadata": {"annotations": {REBUILD_ANNOTATION: requested}}});
            if patch.as_object().is_some_and(|p| !p.is_empty()) {
                body["spec"] = patch;
            }
            let params = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
            api.patch(&name, &params, &Patch::Merge(&body)).await?
        }
    };
    // The operator names the run after the request; so does the plugin, with the same function.
    let run = agents_render::build::run_name(&build);
    if args.no_wait {
        eprintln!("agentbuild.agents.dev/{name}: run {run} requested");
        println!("{run}");
        return Ok(ExitCode::SUCCESS);
    }
    let timeout = args.timeout.unwrap_or_else(|| {
        parse_duration(&build.spec.timeout).unwrap_or(Duration::from_secs(3600)) + Duration::from_secs(600)
    });
    follow(session, &name, &run, &args, timeout).await
}

/// One sentence per referenced Secret or key that does not exist. A Secret the user may not
/// read is not reported (it may well exist).
async fn missing_secrets<const N: usize>(
    session: &Session,
    references: [(&str, Option<SecretKeyRef>); N],
) -> Vec<String> {
    let secrets: Api<Secret> = Api::namespaced(session.client.clone(), &session.namespace);
    let namespace = &session.namespace;
    let mut problems = Vec::new();
    for (field, reference) in references {
        let Some(SecretKeyRef { name, key }) = reference else { continue };
        match secrets.get_opt(&name).await {
            Ok(None) => problems.push(format!(
                "Secret {name:?} ({field}) does not exist in namespace {namespace:?}: create it, e.g. `kubectl create secret generic {name} -n {namespace} --from-literal={key}=...`"
            )),
            Ok(Some(secret)) => {
                let has_key = secret.data.iter().flatten().any(|(k, _)| *k == key)
                    || secret.string_data.iter().flatten().any(|(k, _)| *k == key);
                if !has_key {
                    problems.push(format!("Secret {name:?} ({field}) has no key {key:?}"));
                }
            }
            Err(e) => tracing::debug!("cannot read Secret {name}: {e}"),
        }
    }
    problems
}

/// Follows the run until it ends: progress and logs on stderr, the image on stdout.
async fn follow(session: &Session, name: &str, run: &str, args: &Args, timeout: Duration) -> anyhow::Result<ExitCode> {
    let terminal = std::io::stderr().is_terminal();
    let display = Display::new(terminal, &format!("agentbuild/{name}"));
    display.println(&format!("agentbuild/{name}: run {run}"));
    let (sender, receiver) = watch::channel(None::<AgentBuildStatus>);
    let progress = watch_progress(session, name, run, &display, sender, timeout);
    let streamed = async {
        if !args.quiet {
            stream_logs(session, run, receiver, &display).await;
        }
    };
    let (outcome, ()) = tokio::join!(progress, streamed);
    display.finish();
    let status = outcome?;
    let colour = style::colour_enabled_on_stderr();
    match status.phase {
        Some(BuildPhase::Succeeded) => {
            let image = status.image.clone().unwrap_or_default();
            eprintln!("agentbuild/{name}: {} {image}", progress::phase(status.phase, colour));
            println!("{image}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            let reason = status.reason.clone().unwrap_or_default();
            let message = status.message.clone().unwrap_or_default();
            Err(Explained(format!(
                "agentbuild {name:?} failed ({reason}): {message}\n  the steps' logs: kubectl agents build logs {name} {run} -n {}",
                session.namespace
            ))
            .into())
        }
    }
}

/// Watches the build until its run `run` is over, showing each step change. Returns the last status.
async fn watch_progress(
    session: &Session,
    name: &str,
    run: &str,
    display: &Display,
    sender: watch::Sender<Option<AgentBuildStatus>>,
    timeout: Duration,
) -> anyhow::Result<AgentBuildStatus> {
    let api: Api<AgentBuild> = Api::namespaced(session.client.clone(), &session.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = std::pin::pin!(watcher(api, config).boxed());
    let deadline = Instant::now() + timeout;
    let mut steps: Vec<BuildStep> = Vec::new();
    let mut waiting_said = false;
    loop {
        let next = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), events.next()).await;
        let build = match next {
            Err(_) => {
                return Err(Explained(format!(
                    "agentbuild {name:?}: run {run} did not finish within {timeout:?}; it goes on in the cluster: \
                     `kubectl agents build logs {name} {run}` shows where it is"
                ))
                .into());
            }
            Ok(None) => anyhow::bail!("the watch of agentbuild {name} ended"),
            Ok(Some(Err(e))) => {
                tracing::debug!("watch: {e}");
                continue;
            }
            Ok(Some(Ok(watcher::Event::Apply(build) | watcher::Event::InitApply(build)))) => build,
            Ok(Some(Ok(watcher::Event::Delete(_)))) => {
                return Err(Explained(format!("agentbuild {name:?} was deleted while it ran")).into());
            }
            Ok(Some(Ok(_))) => continue,
        };
        let status = build.status.clone().unwrap_or_default();
        if status.run_name.as_deref() != Some(run) {
            // The operator has not taken up the request yet, or cannot run it at all.
            let message = status.message.clone().unwrap_or_default();
            if status.reason.as_deref() == Some(reasons::TEKTON_NOT_INSTALLED) {
                return Err(super::tekton_missing().into());
            }
            if status.phase == Some(BuildPhase::Failed) && message.contains(run) {
                return Ok(status);
            }
            if !waiting_said {
                display.println(&format!("agentbuild/{name}: waiting for the operator to start {run}"));
                waiting_said = true;
            }
            continue;
        }
        for (step, text) in changes(&steps, &status.steps) {
            let state = status.steps.iter().find(|s| s.name == step).map(|s| s.state).unwrap_or(StepState::Pending);
            display.step(&step, state, &text);
        }
        steps = status.steps.clone();
        let finished = status.phase.is_some_and(BuildPhase::is_finished);
        let _ = sender.send(Some(status.clone()));
        if finished {
            return Ok(status);
        }
    }
}

/// The state of `step` in the latest status, and whether the run is over.
fn state_of(status: &AgentBuildStatus, step: &str) -> (StepState, bool) {
    let state = status.steps.iter().find(|s| s.name == step).map(|s| s.state).unwrap_or(StepState::Pending);
    (state, status.phase.is_some_and(BuildPhase::is_finished))
}

/// Prints each step's log as the run reaches it: followed while the step runs, read whole once it
/// is over. A log that cannot be read is reported once and not retried: the build goes on.
async fn stream_logs(
    session: &Session,
    run: &str,
    mut statuses: watch::Receiver<Option<AgentBuildStatus>>,
    display: &Display,
) {
    let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
    let colour = style::colour_enabled_on_stderr();
    let mut pod: Option<String> = None;
    for step in STEPS {
        // Wait until the step started, or the run ended.
        let (state, run_over) = loop {
            if let Some(status) = statuses.borrow_and_update().as_ref() {
                let (state, over) = state_of(status, step);
                if state != StepState::Pending || over {
                    break (state, over);
                }
            }
            if statuses.changed().await.is_err() {
                return;
            }
        };
        if state == StepState::Skipped || (state == StepState::Pending && run_over) {
            continue;
        }
        if pod.is_none() {
            pod = match logs::pod_of(session, run).await {
                Ok(found) => found,
                Err(e) => {
                    display.println(&format!("{} cannot find the run's pod: {e:#}", style::warning_label()));
                    return;
                }
            };
        }
        let Some(pod) = pod.as_deref() else {
            display.println(&format!("{} run {run} has no pod: no logs to show", style::warning_label()));
            return;
        };
        let prefix = style::keyed(&format!("[{step}]"), step, colour);
        let print = |text: &str| display.println(&format!("{prefix} {text}"));
        let mut printed_until = None;
        if !state.is_finished() {
            let mut watching = statuses.clone();
            let finished = async move {
                loop {
                    if let Some(status) = watching.borrow_and_update().as_ref()
                        && state_of(status, step).0.is_finished()
                    {
                        return;
                    }
                    if watching.changed().await.is_err() {
                        return;
                    }
                }
            };
            match logs::follow(&pods, pod, step, finished, &print).await {
                Ok(last) => printed_until = last,
                Err(e) => {
                    display.println(&format!("{} cannot read the log of step {step}: {e}", style::warning_label()));
                    return;
                }
            }
        }
        // What is left (or everything, for a step that was already over).
        match logs::read(&pods, pod, step, printed_until).await {
            Ok(lines) => lines.iter().for_each(|(_, text)| print(text)),
            Err(e) => display.println(&format!("{} cannot read the log of step {step}: {e}", style::warning_label())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_a_patch_of_only_what_was_given() {
        let args = Args {
            name: Some("research".into()),
            tag: Some("v2".into()),
            token_secret: Some("github".into()),
            push_secret: Some("ghcr:config".into()),
            build_args: vec!["A=1".into(), "B=x=y".into()],
            ..Default::default()
        };
        assert_eq!(
            spec_patch(&args).unwrap(),
            json!({
                "git": {"tokenSecretRef": {"name": "github", "key": "token"}},
                "tag": "v2",
                "pushSecretRef": {"name": "ghcr", "key": "config"},
                "buildArgs": [{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"}],
            })
        );
        assert_eq!(spec_patch(&Args::default()).unwrap(), json!({}));
    }

    #[test]
    fn malformed_flags_say_what_is_expected() {
        let bad_arg = Args { build_args: vec!["NOVALUE".into()], ..Default::default() };
        assert!(spec_patch(&bad_arg).unwrap_err().0.contains("is not NAME=VALUE"));
        assert!(secret_ref(":k", "token").unwrap_err().0.contains("SECRET or SECRET:KEY"));
        assert_eq!(secret_ref("s", "token").unwrap(), SecretKeyRef { name: "s".into(), key: "token".into() });
    }

    #[test]
    fn a_new_build_gets_the_defaults_of_the_api() {
        let args = Args {
            repo: Some("https://github.com/org/a.git".into()),
            image: Some("ghcr.io/org/a".into()),
            ..Default::default()
        };
        let spec: AgentBuildSpec = serde_json::from_value(spec_patch(&args).unwrap()).unwrap();
        assert_eq!((spec.git.revision.as_str(), spec.tag.as_str(), spec.history_limit), ("main", "latest", 3));
    }
}

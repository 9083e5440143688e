//! `kubectl agents apply -f FILE|DIR|- [--wait]`: server-side apply of any manifests; with
//! `--wait`, progress until each agents.dev resource is Ready (exit 0) or Failed (exit 1, why).

mod unserved;

use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use agents_api::Agent;
use anyhow::Context;
use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::runtime::watcher;
use serde::Deserialize;

use crate::error::{Explained, explain};
use crate::session::Session;
use crate::style;

/// The field manager of everything the plugin writes.
pub const FIELD_MANAGER: &str = "kubectl-agents";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A file, a directory of .yaml/.yml/.json files, or - for standard input (repeatable).
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-", required = true)]
    pub files: Vec<PathBuf>,
    /// Wait until each agents.dev resource is Ready, showing progress; exit 1 if one fails.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = crate::flags::parse_duration)]
    pub timeout: Duration,
    /// Take over fields another manager owns instead of failing on the conflict.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Validate on the API server without storing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// One object read from the manifests, with where it came from.
pub(crate) struct Manifest {
    pub(crate) source: String,
    pub(crate) object: serde_json::Value,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let manifests = read_all(&args.files)?;
    if manifests.is_empty() {
        return Err(Explained("the manifests contain no objects".into()).into());
    }
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = args.force_conflicts;
    params.dry_run = args.dry_run;
    let mut discovered: HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)> = HashMap::new();
    let mut failures = 0;
    let mut waited = Vec::new();
    for manifest in &manifests {
        match apply_one(session, manifest, &params, &mut discovered).await {
            Ok(applied) => {
                let suffix = if args.dry_run { " (server dry run)" } else { "" };
                println!("{} applied{suffix}", applied.label);
                if applied.gvk.group == agents_api::GROUP {
                    if applied.gvk.kind == "Agent" {
                        warn_missing_secrets(session, &applied.namespace, &manifest.object).await;
                    }
                    let (resource, _) = &discovered[&applied.gvk];
                    waited.push(Waited {
                        resource: resource.clone(),
                        namespace: applied.namespace,
                        name: applied.name,
                    });
                }
            }
            Err(e) => {
                failures += 1;
                eprintln!("{} {}: {}", style::error_label(), manifest.source, explain(&e));
            }
        }
    }
    if args.wait && !args.dry_run && !waited.is_empty() {
        failures += wait_for(session, &waited, args.timeout).await?;
    }
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Warns (without failing: the Secret may be created next) about Secrets the Agent needs.
async fn warn_missing_secrets(session: &Session, namespace: &str, object: &serde_json::Value) {
    let Ok(agent) = serde_json::from_value::<Agent>(object.clone()) else { return };
    for problem in crate::secrets::missing(&session.client, namespace, &agent).await {
        eprintln!("{} {problem}", style::warning_label());
    }
}

/// Every object of the files, directories (their .yaml, .yml and .json files, sorted) and standard
/// input (`-`), in order: what `apply` applies and `render` renders.
pub(crate) fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Manifest>> {
    let mut manifests = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
            manifests.extend(parse(&text, "stdin")?);
        } else if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading the directory {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json"))
                .collect();
            files.sort();
            for file in files {
                manifests.extend(read_file(&file)?);
            }
        } else {
            manifests.extend(read_file(path)?);
        }
    }
    Ok(manifests)
}

fn read_file(path: &Path) -> anyhow::Result<Vec<Manifest>> {
    let text = std::fs::read_to_string(path).map_err(|e| Explained(format!("cannot read {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

/// Every document of a YAML (or JSON) stream, skipping empty ones and the kustomize file.
pub(crate) fn parse(text: &str, source: &str) -> anyhow::Result<Vec<Manifest>> {
    if let Some(line) = crate::yaml_guard::too_deep(text) {
        return Err(Explained(format!(
            "{source}: line {line} nests deeper than {} levels of [ and {{: no manifest does",
            crate::yaml_guard::MAX_FLOW_DEPTH
        ))
        .into());
    }
    if let Some(document) = crate::yaml_guard::oversized(text) {
        return Err(Explained(format!(
            "{source}: document {document} is larger than {} MiB, the most the API server takes in one request",
            crate::yaml_guard::MAX_DOCUMENT_BYTES / (1024 * 1024)
        ))
        .into());
    }
    let mut manifests = Vec::new();
    for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let object = serde_json::Value::deserialize(document)
            .map_err(|e| Explained(format!("{source}: document {} is not valid YAML: {e}", i + 1)))?;
        if object.is_null() {
            continue;
        }
        if object["kind"] == "Kustomization" {
            continue;
        }
        for field in ["apiVersion", "kind"] {
            if !object[field].is_string() {
                return Err(Explained(format!("{source}: document {} has no {field}", i + 1)).into());
            }
        }
        if !object["metadata"]["name"].is_string() {
            return Err(
                Explained(format!("{source}: document {} ({}) has no metadata.name", i + 1, object["kind"])).into()
            );
        }
        manifests.push(Manifest { source: source.to_string(), object });
    }
    Ok(manifests)
}

struct Applied {
    gvk: GroupVersionKind,
    namespace: String,
    name: String,
    label: String,
}

async fn apply_one(
    session: &Session,
    manifest: &Manifest,
    params: &PatchParams,
    discovered: &mut HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>,
) -> anyhow::Result<Applied> {
    let object: DynamicObject = serde_json::from_value(manifest.object.clone())?;
    let types = object.types.clone().context("an object without apiVersion and kind")?;
    let gvk = GroupVersionKind::try_from(&types)?;
    if !discovered.contains_key(&gvk) {
        let found = match kube::discovery::pinned_kind(&session.client, &gvk).await {
            Ok(found) => found,
            // An unserved group is a discovery error; an unserved version of a served group, a 404.
            Err(e) if matches!(&e, kube::Error::Discovery(_)) || matches!(&e, kube::Error::Api(s) if s.code == 404) => {
                let served = unserved::discover(&session.client, &gvk).await;
                return Err(Explained(unserved::explain(&gvk, served.as_ref())).into());
            }
            Err(other) => return Err(other.into()),
        };
        discovered.insert(gvk.clone(), found);
    }
    let (resource, capabilities) = &discovered[&gvk];
    let name = object.metadata.name.clone().unwrap_or_default();
    let namespace = match object.metadata.namespace.clone() {
        Some(named)
            if session.namespace_given
                && named != session.namespace
                && matches!(capabilities.scope, Scope::Namespaced) =>
        {
            return Err(Explained(format!(
                "the namespace of {} {name} ({named}) does not match the namespace -n gave ({}): pass -n {named}, or remove metadata.namespace from the manifest",
                gvk.kind, session.namespace
            ))
            .into());
        }
        Some(named) => named,
        None => session.namespace.clone(),
    };
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => Api::namespaced_with(session.client.clone(), &namespace, resource),
        Scope::Cluster => Api::all_with(session.client.clone(), resource),
    };
    api.patch(&name, params, &Patch::Apply(&manifest.object)).await.map_err(|e| match e {
        kube::Error::Api(status) if status.code == 409 => anyhow::Error::new(Explained(format!(
            "{}: {}. Another manager owns those fields: pass --force-conflicts to take them over",
            name, status.message
        ))),
        other => anyhow::Error::new(other),
    })?;
    let group = if gvk.group.is_empty() { String::new() } else { format!(".{}", gvk.group) };
    let label = format!("{}{group}/{name}", gvk.kind.to_lowercase());
    Ok(Applied { gvk, namespace, name, label })
}

/// An agents.dev object `--wait` follows.
struct Waited {
    resource: ApiResource,
    namespace: String,
    name: String,
}

/// Every kind of the API reports `phase`, a `Ready` condition and `observedGeneration`: the
/// phase (once it describes the current spec) and the condition's reason and message.
fn progress_line(object: &DynamicObject) -> (Option<String>, String) {
    let status = &object.data["status"];
    let current = status["observedGeneration"].as_i64().is_some()
        && status["observedGeneration"].as_i64() == object.metadata.generation;
    let phase = status["phase"].as_str().filter(|_| current).map(String::from);
    let ready = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == agents_api::conditions::types::READY)
        .filter(|_| current);
    let message = ready
        .map(|c| format!("{}: {}", c["reason"].as_str().unwrap_or_default(), c["message"].as_str().unwrap_or_default()))
        .unwrap_or_else(|| "waiting for the operator".into());
    (phase, message)
}

/// Whether a phase ends the wait: `Some(true)` done, `Some(false)` failed, `None` not yet.
fn settled(phase: Option<&str>) -> Option<bool> {
    match phase? {
        "Ready" | "Stopped" | "Succeeded" => Some(true),
        "Failed" => Some(false),
        _ => None,
    }
}

/// Waits until every object is settled. Returns how many failed (Failed, or not settled in time).
async fn wait_for(session: &Session, objects: &[Waited], timeout: Duration) -> anyhow::Result<usize> {
    let terminal = std::io::stderr().is_terminal();
    let bars = indicatif::MultiProgress::new();
    let label = |o: &Waited| format!("{}/{}", o.resource.kind.to_lowercase(), o.name);
    let mut pending: HashMap<String, indicatif::ProgressBar> = HashMap::new();
    for object in objects {
        let bar = if terminal {
            let bar = bars.add(indicatif::ProgressBar::new_spinner());
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}").expect("a valid template"),
            );
            bar.set_prefix(label(object));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        pending.insert(format!("{}/{}", object.namespace, label(object)), bar);
    }
    // One watch per kind (and namespace, when they are all in one), merged.
    let namespaces: std::collections::BTreeSet<&String> = objects.iter().map(|o| &o.namespace).collect();
    let mut kinds: Vec<&ApiResource> = objects.iter().map(|o| &o.resource).collect();
    kinds.sort_by(|a, b| a.kind.cmp(&b.kind));
    kinds.dedup_by(|a, b| a.kind == b.kind);
    let watches = kinds.into_iter().map(|resource| {
        let api: Api<DynamicObject> = match namespaces.len() {
            1 => {
                Api::namespaced_with(session.client.clone(), namespaces.iter().next().expect("one namespace"), resource)
            }
            _ => Api::all_with(session.client.clone(), resource),
        };
        watcher(api, watcher::Config::default()).boxed()
    });
    let mut events = futures::stream::select_all(watches);
    let deadline = Instant::now() + timeout;
    let mut failed = 0;
    let mut last: HashMap<String, String> = HashMap::new();
    while !pending.is_empty() {
        let next = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), events.next()).await;
        let object = match next {
            Err(_) => break,
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                tracing::debug!("watch: {e}");
                continue;
            }
            Ok(Some(Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)))) => object,
            Ok(Some(Ok(_))) => continue,
        };
        let kind = object.types.as_ref().map(|t| t.kind.to_lowercase()).unwrap_or_default();
        let shown = format!("{kind}/{}", object.metadata.name.clone().unwrap_or_default());
        let key = format!("{}/{shown}", object.metadata.namespace.clone().unwrap_or_default());
        let Some(bar) = pending.get(&key) else { continue };
        let (phase, message) = progress_line(&object);
        let line = format!(
            "{}: {message}",
            style::phase_word(phase.as_deref(), terminal && style::colour_enabled_on_stderr())
        );
        if last.get(&key) != Some(&line) {
            if terminal {
                bar.set_message(line.clone());
            } else {
                eprintln!("{shown}: {line}");
            }
            last.insert(key.clone(), line.clone());
        }
        match settled(phase.as_deref()) {
            Some(true) => {
                let bar = pending.remove(&key).expect("present");
                bar.finish_with_message(line.clone());
                if !terminal {
                    let (kind, name) = shown.split_once('/').unwrap_or_default();
                    println!("{kind}.agents.dev/{name} {}", phase.unwrap_or_default());
                }
            }
            Some(false) => {
                let bar = pending.remove(&key).expect("present");
                bar.abandon_with_message(line.clone());
                eprintln!("{} {} failed: {message}", style::error_label(), shown.replace('/', " "));
                failed += 1;
            }
            None => {}
        }
    }
    for (key, bar) in pending {
        bar.abandon();
        let why = last.get(&key).cloned().unwrap_or_else(|| "no status yet: is the operator running?".into());
        let shown = key.split_once('/').map(|(_, rest)| rest.replace('/', " ")).unwrap_or_default();
        eprintln!("{} {shown} did not become Ready within {timeout:?} ({why})", style::error_label());
        failed += 1;
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_read_and_checked() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n---\napiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: a}\n";
        let manifests = parse(text, "x.yaml").unwrap();
        assert_eq!(manifests.len(), 2);
        assert_eq!(manifests[1].object["kind"], "Agent");
        let error = parse("kind: Agent\nmetadata: {name: a}\n", "x.yaml").err().unwrap();
        assert_eq!(error.to_string(), "x.yaml: document 1 has no apiVersion");
        let error = parse("apiVersion: v1\nkind: Secret\n", "x.yaml").err().unwrap();
        assert!(error.to_string().contains("has no metadata.name"));
        let error = parse("a: [", "bad.yaml").err().unwrap();
        assert!(error.to_string().starts_with("bad.yaml: document 1 is not valid YAML"));
    }
}

//! Tekton is optional: this follows the `pipelineruns.tekton.dev` CRD. While it is served, the
//! operator caches the PipelineRuns it created and their TaskRuns (by label); when it appears or
//! goes, every AgentBuild is reconciled again. Without Tekton, builds wait and say why.

use std::sync::{Arc, RwLock};

use agents_api::AgentBuild;
use agents_render::build::{PIPELINE_RUN_CRD, pipeline_run_resource, task_run_resource};
use agents_render::labels;
use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

use crate::children;

/// The caches of the operator's PipelineRuns and their TaskRuns.
#[derive(Clone)]
struct Caches {
    runs: Store<DynamicObject>,
    task_runs: Store<DynamicObject>,
}

/// Shared view of Tekton: whether it is served, and what the operator's runs look like.
#[derive(Clone)]
pub struct Tekton {
    caches: Arc<RwLock<Option<Caches>>>,
    /// Whether the CRD watch has answered yet: until then, "not served" is only "not known".
    known: tokio::sync::watch::Receiver<bool>,
}

impl Tekton {
    /// Waits (at most `limit`) until the operator knows whether Tekton is served, so a build is
    /// never reported `TektonNotInstalled` just because the operator has only started.
    pub async fn known(&self, limit: std::time::Duration) {
        let mut known = self.known.clone();
        let _ = tokio::time::timeout(limit, known.wait_for(|k| *k)).await;
    }

    pub fn served(&self) -> bool {
        self.caches.read().expect("never poisoned").is_some()
    }

    fn caches(&self) -> Option<Caches> {
        self.caches.read().expect("never poisoned").clone()
    }

    /// The cached PipelineRun `namespace/name`.
    pub fn run(&self, namespace: &str, name: &str) -> Option<Arc<DynamicObject>> {
        let caches = self.caches()?;
        caches.runs.get(&ObjectRef::new_with(name, pipeline_run_resource()).within(namespace))
    }

    /// The cached runs of the build `namespace/name`, oldest first.
    pub fn runs_of(&self, namespace: &str, build: &str) -> Vec<Arc<DynamicObject>> {
        let Some(caches) = self.caches() else { return Vec::new() };
        let mut runs: Vec<_> = caches
            .runs
            .state()
            .into_iter()
            .filter(|r| r.metadata.namespace.as_deref() == Some(namespace) && build_label(r) == Some(build))
            .collect();
        agents_render::build::sort_runs(&mut runs);
        runs
    }

    /// The cached TaskRun of the PipelineRun `namespace/run` (Tekton labels it with the run's name).
    pub fn task_run_of(&self, namespace: &str, run: &str) -> Option<Arc<DynamicObject>> {
        let caches = self.caches()?;
        caches.task_runs.state().into_iter().find(|t| {
            t.metadata.namespace.as_deref() == Some(namespace)
                && t.metadata.labels.as_ref().and_then(|l| l.get("tekton.dev/pipelineRun")).map(String::as_str)
                    == Some(run)
        })
    }
}

fn build_label(object: &DynamicObject) -> Option<&str> {
    object.metadata.labels.as_ref()?.get(labels::BUILD).map(String::as_str)
}

/// Follows the CRD until the operator stops. Returns the shared view, a stream that fires when
/// every AgentBuild must be reconciled (Tekton came or went), and one of AgentBuilds whose runs changed.
pub fn follow(
    client: kube::Client,
    namespace: Option<String>,
) -> (Tekton, impl Stream<Item = ()> + Send + 'static, impl Stream<Item = ObjectRef<AgentBuild>> + Send + 'static) {
    let (known_tx, known) = tokio::sync::watch::channel(false);
    let tekton = Tekton { caches: Arc::default(), known };
    let (all_tx, all_rx) = mpsc::unbounded_channel();
    let (one_tx, one_rx) = mpsc::unbounded_channel();
    let shared = tekton.clone();
    tokio::spawn(async move {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut crd_events = std::pin::pin!(watcher::watch_object(crds, PIPELINE_RUN_CRD));
        let mut cache_tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        while let Some(event) = crd_events.next().await {
            let served = match event {
                Ok(crd) => crd.as_ref().is_some_and(is_established),
                Err(e) => {
                    tracing::warn!("watching the Tekton PipelineRun CRD: {e}");
                    continue;
                }
            };
            if served == shared.served() {
                let _ = known_tx.send(true);
                continue;
            }
            cache_tasks.drain(..).for_each(|t| t.abort());
            if served {
                let (runs, run_changes) = cache(&client, namespace.as_deref(), pipeline_run_resource(), prune_run);
                let (task_runs, task_run_changes) =
                    cache(&client, namespace.as_deref(), task_run_resource(), prune_task_run);
                *shared.caches.write().expect("never poisoned") = Some(Caches { runs, task_runs });
                for changes in [run_changes.boxed(), task_run_changes.boxed()] {
                    let one_tx = one_tx.clone();
                    cache_tasks.push(tokio::spawn(async move {
                        let mut changes = changes;
                        while let Some(build) = changes.next().await {
                            let _ = one_tx.send(build);
                        }
                    }));
                }
                tracing::info!("the cluster serves Tekton PipelineRuns: AgentBuilds run");
            } else {
                *shared.caches.write().expect("never poisoned") = None;
                tracing::info!("the cluster does not serve Tekton PipelineRuns: AgentBuilds wait for Tekton");
            }
            let _ = known_tx.send(true);
            let _ = all_tx.send(());
        }
    });
    (tekton, stream_from(all_rx), stream_from(one_rx))
}

/// A label-filtered cache of one Tekton kind; each change names the AgentBuild it belongs to.
fn cache(
    client: &kube::Client,
    namespace: Option<&str>,
    resource: ApiResource,
    prune: fn(&mut DynamicObject),
) -> (Store<DynamicObject>, impl Stream<Item = ObjectRef<AgentBuild>> + Send + 'static) {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let writer = Writer::new(resource);
    let store = writer.as_reader();
    let changes = watcher(api, children::watch_config(agents_render::labels::BUILD))
        .default_backoff()
        .modify(prune)
        .reflect(writer)
        .touched_objects()
        .filter_map(|object| async move {
            let object = object.ok()?;
            Some(ObjectRef::new(build_label(&object)?).within(object.metadata.namespace.as_deref()?))
        });
    (store, changes)
}

/// A PipelineRun as the controller reads it: metadata, status and whether it was cancelled (its
/// pipeline, the bulk of it, is the operator's own rendering).
fn prune_run(run: &mut DynamicObject) {
    children::prune_metadata(run);
    if let Some(spec) = run.data.get_mut("spec").and_then(|s| s.as_object_mut()) {
        spec.retain(|key, _| key == "status");
    }
}

/// A TaskRun as the controller reads it: metadata and status.
fn prune_task_run(task_run: &mut DynamicObject) {
    children::prune_metadata(task_run);
    if let Some(data) = task_run.data.as_object_mut() {
        data.remove("spec");
    }
}

fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

fn stream_from<T: Send + 'static>(mut rx: mpsc::UnboundedReceiver<T>) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

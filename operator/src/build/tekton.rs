//! Tekton is optional: this follows the `pipelineruns.tekton.dev` CRD. While it is served, the
//! operator caches the PipelineRuns it created and their TaskRuns (by label); when it appears or
//! goes, every AgentBuild is reconciled again. Without Tekton, builds wait and say why.

use std::sync::Arc;

use agents_api::AgentBuild;
use agents_render::build::{pipeline_run_resource, task_run_resource};
use agents_render::labels;
use futures::Stream;
use kube::api::DynamicObject;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::cache;
use crate::optional::{self, Crd, Optional};

/// The caches of the operator's PipelineRuns and their TaskRuns.
#[derive(Clone)]
pub struct Caches {
    runs: Store<DynamicObject>,
    task_runs: Store<DynamicObject>,
}

impl Caches {
    /// No run started yet.
    #[cfg(test)]
    pub fn empty() -> Self {
        let resource = |r| crate::fixtures::store_with(r, []);
        Caches { runs: resource(pipeline_run_resource()), task_runs: resource(task_run_resource()) }
    }
}

/// Shared view of Tekton: whether it is served, and what the operator's runs look like.
pub type Tekton = Optional<Caches>;

impl Tekton {
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
    let crd = Crd {
        name: agents_render::build::PIPELINE_RUN_CRD,
        served: "the cluster serves Tekton PipelineRuns: AgentBuilds run",
        not_served: "the cluster does not serve Tekton PipelineRuns: AgentBuilds wait for Tekton",
    };
    optional::follow(client, crd, move |client| {
        let build = |object: &DynamicObject| optional::owner_by_label(object, labels::BUILD);
        let ns = namespace.as_deref();
        let (runs, run_changes) = optional::cache(client, ns, pipeline_run_resource(), labels::BUILD, prune_run, build);
        let (task_runs, task_run_changes) =
            optional::cache(client, ns, task_run_resource(), labels::BUILD, prune_task_run, build);
        (Caches { runs, task_runs }, vec![run_changes, task_run_changes])
    })
}

/// A PipelineRun as the controller reads it: metadata, status and whether it was cancelled (its
/// pipeline, the bulk of it, is the operator's own rendering).
fn prune_run(run: &mut DynamicObject) {
    cache::prune_metadata(run);
    if let Some(spec) = run.data.get_mut("spec").and_then(|s| s.as_object_mut()) {
        spec.retain(|key, _| key == "status");
    }
}

/// A TaskRun as the controller reads it: metadata and status.
fn prune_task_run(task_run: &mut DynamicObject) {
    cache::prune_metadata(task_run);
    if let Some(data) = task_run.data.as_object_mut() {
        data.remove("spec");
    }
}

//! One reconcile of one AgentBuild: make sure the current request has its run, stop superseded
//! runs, delete finished runs beyond the history limit, and mirror the current run into status.

use std::sync::Arc;
use std::time::Duration;

use agents_api::{AgentBuild, AgentBuildStatus, BuildPhase};
use agents_render::build::status::{self, Observed};
use agents_render::build::{self as render, tekton::CANCELLED, tekton::is_finished};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::State;
use crate::context::Context;
use crate::error::Error;
use crate::optional;
use crate::report::{self, Reported};

/// A safety net: a settled build is looked at again this often, and costs no write.
pub(super) const RESYNC: Duration = Duration::from_secs(30 * 60);

pub async fn reconcile(build: Arc<AgentBuild>, state: Arc<State>) -> Result<Action, Error> {
    let ctx = &state.ctx;
    let _timer = ctx.metrics.reconcile("AgentBuild");
    let build = state.written.latest(build);
    if build.metadata.deletion_timestamp.is_some() {
        // Its runs go with it (owner references).
        return Ok(Action::await_change());
    }
    let namespace = build.namespace().unwrap_or_default();
    let name = build.name_any();
    state.tekton.known(optional::KNOWN_LIMIT).await;
    let served = state.tekton.served();
    let mut run: Option<Arc<DynamicObject>> = None;
    let mut refused: Option<String> = None;
    let synced: Result<(), Error> = async {
        if !served {
            return Ok(());
        }
        let runs = state.tekton.runs_of(&namespace, &name);
        let desired = render::next_run(&build, &runs)?;
        let run_name = desired.name_any();
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), &namespace, &render::pipeline_run_resource());
        run = match state.tekton.run(&namespace, &run_name) {
            Some(cached) => Some(cached),
            // Not cached yet (just created, or the cache is starting): ask the API server before
            // creating, so a request never gets two runs.
            None => match lookup(&api, &run_name).await? {
                Some(live) => Some(Arc::new(live)),
                None => match create(ctx, &api, &desired, &build).await {
                    Ok(created) => Some(Arc::new(created)),
                    Err(Created::Refused(why)) => {
                        refused = Some(why);
                        None
                    }
                    Err(Created::Failed(e)) => return Err(e),
                },
            },
        };
        if let Some(current) = &run
            && !controlled_by(current, build.uid().as_deref().unwrap_or_default())
        {
            refused = Some(format!(
                "PipelineRun {run_name} already exists and does not belong to this AgentBuild: delete it"
            ));
            run = None;
        }
        supersede(ctx, &api, &runs, &run_name).await?;
        prune(ctx, &api, &runs, &run_name, build.spec.history_limit).await
    }
    .await;

    let run_name = run.as_ref().map(|r| r.name_any());
    let mut task_run = run_name.as_deref().and_then(|r| state.tekton.task_run_of(&namespace, r));
    if let (Some(current), Some(run_name)) = (&run, &run_name)
        && is_finished(current)
        && !task_run.as_deref().is_some_and(is_finished)
    {
        // The TaskRun explains how the run ended, but its last change may not have reached its
        // cache yet (two watches, no order between them): read it from the API server.
        task_run = fresh_task_run(ctx, &namespace, run_name).await.map(Arc::new).or(task_run);
    }
    let observed = Observed {
        build: &build,
        tekton_served: served,
        run: run.as_deref(),
        task_run: task_run.as_deref(),
        failure: refused.as_deref(),
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let new_status = status::status(observed, &now);
    report::status(ctx, &state.written, &build, &new_status).await?;
    synced?;
    ctx.succeeded(ObjectRef::from_obj(build.as_ref()));
    Ok(Action::requeue(RESYNC))
}

async fn fresh_task_run(ctx: &Context, namespace: &str, run: &str) -> Option<DynamicObject> {
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), namespace, &render::task_run_resource());
    let selector = format!("tekton.dev/pipelineRun={run}");
    match api.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => list.items.into_iter().next(),
        Err(e) => {
            tracing::debug!(%run, "could not read the TaskRun: {e}");
            None
        }
    }
}

fn controlled_by(object: &DynamicObject, uid: &str) -> bool {
    object.metadata.owner_references.iter().flatten().any(|r| r.controller == Some(true) && r.uid == uid)
}

async fn lookup(api: &Api<DynamicObject>, name: &str) -> Result<Option<DynamicObject>, Error> {
    api.get_opt(name).await.map_err(|source| Error::Apply {
        action: "look up",
        kind: "PipelineRun",
        name: name.to_string(),
        source,
    })
}

enum Created {
    /// The API server refused the run for good (invalid, forbidden): the status says why.
    Refused(String),
    /// Worth retrying.
    Failed(Error),
}

async fn create(
    ctx: &Context,
    api: &Api<DynamicObject>,
    desired: &DynamicObject,
    build: &AgentBuild,
) -> Result<DynamicObject, Created> {
    let name = desired.name_any();
    let params = PostParams { field_manager: Some(agents_render::FIELD_MANAGER.into()), ..Default::default() };
    match api.create(&params, desired).await {
        Ok(created) => {
            ctx.metrics.write("PipelineRun", "create");
            tracing::info!(build = %build.name_any(), run = %name, "started a build");
            let event = Event {
                type_: EventType::Normal,
                reason: "Started".into(),
                note: Some(format!("started PipelineRun {name}")),
                action: AgentBuild::ACTION.into(),
                secondary: None,
            };
            ctx.publish(event, build.object_ref(&()));
            Ok(created)
        }
        // Created meanwhile (by an earlier reconcile whose write the cache has not seen).
        Err(kube::Error::Api(status)) if status.code == 409 => match api.get_opt(&name).await {
            Ok(Some(live)) => Ok(live),
            Ok(None) => Err(Created::Failed(Error::Apply {
                action: "create",
                kind: "PipelineRun",
                name,
                source: kube::Error::Api(status),
            })),
            Err(source) => Err(Created::Failed(Error::Apply { action: "look up", kind: "PipelineRun", name, source })),
        },
        Err(kube::Error::Api(status)) if matches!(status.code, 400 | 403 | 422) => {
            Err(Created::Refused(status.message))
        }
        Err(source) => Err(Created::Failed(Error::Apply { action: "create", kind: "PipelineRun", name, source })),
    }
}

/// Asks Tekton to stop the build's unfinished runs of older requests.
async fn supersede(
    ctx: &Context,
    api: &Api<DynamicObject>,
    runs: &[Arc<DynamicObject>],
    current: &str,
) -> Result<(), Error> {
    for run in runs {
        let name = run.name_any();
        let cancelled = run.data.pointer("/spec/status").and_then(|s| s.as_str()) == Some(CANCELLED);
        if name == current || cancelled || is_finished(run) {
            continue;
        }
        let patch = json!({"spec": {"status": CANCELLED}});
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => ctx.metrics.write("PipelineRun", "patch"),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => return Err(Error::Apply { action: "cancel", kind: "PipelineRun", name, source }),
        }
    }
    Ok(())
}

/// Deletes the oldest finished runs beyond `limit` (never the current one).
async fn prune(
    ctx: &Context,
    api: &Api<DynamicObject>,
    runs: &[Arc<DynamicObject>],
    current: &str,
    limit: i32,
) -> Result<(), Error> {
    let finished: Vec<&Arc<DynamicObject>> = runs.iter().filter(|r| is_finished(r)).collect();
    let keep = usize::try_from(limit.max(1)).unwrap_or(1);
    let excess = finished.len().saturating_sub(keep);
    for run in finished.into_iter().take(excess) {
        let name = run.name_any();
        if name == current {
            continue;
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => ctx.metrics.write("PipelineRun", "delete"),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => return Err(Error::Apply { action: "delete", kind: "PipelineRun", name, source }),
        }
    }
    Ok(())
}

impl Reported for AgentBuild {
    const KIND: &'static str = "AgentBuild";
    const ACTION: &'static str = "Build";
    type Status = AgentBuildStatus;
    type Phase = BuildPhase;

    fn current_status(&self) -> Option<&AgentBuildStatus> {
        self.status.as_ref()
    }

    fn phase(status: &AgentBuildStatus) -> Option<BuildPhase> {
        status.phase
    }

    fn observed_generation(status: &AgentBuildStatus) -> Option<i64> {
        status.observed_generation
    }

    /// Events for what a user follows: a run finishing, or a build that cannot run.
    fn news(_: Option<BuildPhase>, next: BuildPhase) -> Option<EventType> {
        match next {
            BuildPhase::Succeeded => Some(EventType::Normal),
            BuildPhase::Failed => Some(EventType::Warning),
            _ => None,
        }
    }

    fn why(status: &AgentBuildStatus) -> Option<String> {
        status.message.clone()
    }
}

pub fn error_policy(build: Arc<AgentBuild>, error: &Error, state: Arc<State>) -> Action {
    state.ctx.retry_after_failure("AgentBuild", build.as_ref(), error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use BuildPhase::*;

    #[test]
    fn only_a_finished_run_makes_an_event() {
        assert_eq!(AgentBuild::news(None, Pending), None);
        assert_eq!(AgentBuild::news(Some(Pending), Running), None);
        assert_eq!(AgentBuild::news(Some(Running), Succeeded), Some(EventType::Normal));
        assert_eq!(AgentBuild::news(Some(Running), Failed), Some(EventType::Warning));
    }
}

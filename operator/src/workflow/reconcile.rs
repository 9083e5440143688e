//! One reconcile of one AgentWorkflow: check its steps, resolve its Agents, keep its CronWorkflow
//! as rendered, start the requested run, reject approvals whose time ran out, prune old runs, and
//! write the status if it changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agents_api::workflow::{StepType, TimeoutAction, WorkflowPhase};
use agents_api::{AgentWorkflow, AgentWorkflowStatus};
use agents_render::workflow::argo::{RUN_LABEL, WORKFLOW_LABEL, cron_workflow_resource, seconds, workflow_resource};
use agents_render::workflow::decide::{self, Decision};
use agents_render::workflow::status::{self, Observed};
use agents_render::workflow::{self as render, Dag, Run, RunRequest};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;

use super::State;
use crate::argo::Caches;
use crate::children::{Live, Outcome, Plan, execute, plan};
use crate::context::Context;
use crate::error::Error;
use crate::optional;
use crate::report::{self, Reported};

/// Reconciled again this often even when nothing happens (writes nothing when all is as rendered).
const RESYNC: Duration = Duration::from_secs(30 * 60);

pub async fn reconcile(workflow: Arc<AgentWorkflow>, state: Arc<State>) -> Result<Action, Error> {
    let ctx = &state.ctx;
    let _timer = ctx.metrics.reconcile("AgentWorkflow");
    let workflow = state.written.latest(workflow);
    if workflow.metadata.deletion_timestamp.is_some() {
        // The garbage collector removes its runs and CronWorkflow through their owner references.
        return Ok(Action::await_change());
    }
    let namespace = workflow.namespace().unwrap_or_default();
    let name = workflow.name_any();
    state.argo.known(optional::KNOWN_LIMIT).await;

    let checked = render::check(&workflow.spec);
    // Recorded before the Agents are read (see `cache::Readers`).
    let called = workflow.spec.steps.iter().filter_map(|step| Some(step.agent_ref.as_ref()?.name.clone()));
    state.callers.record(&namespace, &name, called.collect());
    let agents =
        render::resolve::agents(&workflow, |agent| state.agents.get(&ObjectRef::new(agent).within(&namespace)));
    let endpoints = render::resolve::endpoints(&agents);
    let all_ready = endpoints.len() == agents.len();
    let caches = state.argo.caches();
    let previous = workflow.status.clone().unwrap_or_default();
    let mut handled = previous.last_run_request.clone();
    let mut requeue = RESYNC;
    let mut conflicts = Vec::new();

    let synced: Result<(), Error> = async {
        let (Some(caches), Ok(dag)) = (&caches, &checked) else {
            return Ok(());
        };
        if let Outcome::Conflict(conflict) = sync_cron(ctx, &workflow, dag, &endpoints, all_ready, caches).await? {
            conflicts.push(conflict.why);
        }
        if let Some(request) = RunRequest::of(&workflow)
            && handled.as_deref() != Some(request.id.as_str())
            && all_ready
        {
            start_run(ctx, &workflow, dag, &endpoints, &request).await?;
            handled = Some(request.id);
        }
        let runs = runs_of(caches, &namespace, &name);
        if let Some(wait) = expire_approvals(ctx, &workflow, &runs).await? {
            requeue = requeue.min(wait);
        }
        prune_history(ctx, &workflow, &runs).await
    }
    .await;

    let runs = caches.as_ref().map(|c| runs_of(c, &namespace, &name)).unwrap_or_default();
    let last_run = runs.last();
    let failure = match (&synced, conflicts.first()) {
        (Err(e), _) => Some(e.to_string()),
        (Ok(()), Some(conflict)) => Some(conflict.clone()),
        _ => None,
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    // Only while the schedule is in force: set up (Argo is there, the steps check out) and not paused.
    let next_scheduled_time = workflow
        .spec
        .schedule
        .as_ref()
        .filter(|s| !s.suspend && caches.is_some() && checked.is_ok())
        .and_then(|s| render::schedule::next_run(&s.cron, s.time_zone.as_deref(), now.0))
        .map(Time);
    if let Some(next) = &next_scheduled_time {
        // Look again once it is due, in case no run starts then (concurrencyPolicy: Forbid).
        let wait = Duration::try_from(next.0.duration_since(now.0)).unwrap_or_default() + Duration::from_secs(1);
        requeue = requeue.min(wait);
    }
    let observed = Observed {
        workflow: &workflow,
        invalid: checked.as_ref().err(),
        agents: &agents,
        argo_served: caches.is_some(),
        last_run,
        handled_request: handled,
        failure: failure.as_deref(),
        next_scheduled_time,
    };
    let new_status = status::status(observed, &now);
    report::status(ctx, &state.written, &workflow, &new_status).await?;
    synced?;
    ctx.succeeded(ObjectRef::from_obj(workflow.as_ref()));
    Ok(Action::requeue(requeue))
}

/// Applies, keeps or deletes the CronWorkflow. While an Agent is not Ready an existing one is
/// left as it is (its runs would fail anyway; the status says Waiting).
async fn sync_cron(
    ctx: &Context,
    workflow: &AgentWorkflow,
    dag: &Dag,
    endpoints: &BTreeMap<String, String>,
    all_ready: bool,
    caches: &Caches,
) -> Result<Outcome, Error> {
    let resource = cron_workflow_resource();
    let name = workflow.name_any();
    let namespace = workflow.namespace().unwrap_or_default();
    let live = caches
        .cron_workflows
        .get(&ObjectRef::new_with(&name, resource.clone()).within(&namespace))
        .map(|o| Live::new(o.metadata.clone()));
    let uid = workflow.uid().unwrap_or_default();
    let plan = if workflow.spec.schedule.is_some() && !all_ready {
        Plan::Keep
    } else {
        let desired = render::cron(workflow, dag, endpoints).map_err(|e| Error::Workflow(e.to_string()))?;
        plan::<DynamicObject>(ctx, desired, live, &uid, &resource).await?
    };
    execute(ctx, plan, &resource).await
}

/// Creates the run's Workflow; one that exists already (a retried reconcile) is fine.
async fn start_run(
    ctx: &Context,
    workflow: &AgentWorkflow,
    dag: &Dag,
    endpoints: &BTreeMap<String, String>,
    request: &RunRequest,
) -> Result<(), Error> {
    let run = render::render_run(workflow, dag, endpoints, request).map_err(|e| Error::Workflow(e.to_string()))?;
    let name = run.name_any();
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &workflow.namespace().unwrap_or_default(), &workflow_resource());
    let params = PostParams { field_manager: Some(agents_render::FIELD_MANAGER.into()), ..Default::default() };
    match api.create(&params, &run).await {
        Ok(_) => {
            ctx.metrics.write("Workflow", "create");
            tracing::info!(workflow = %workflow.name_any(), run = %name, "started a run");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(Error::Apply { action: "create", kind: "Workflow", name, source }),
    }
}

/// The runs of an AgentWorkflow (cron runs included), oldest first.
fn runs_of(caches: &Caches, namespace: &str, name: &str) -> Vec<Run> {
    let mut runs: Vec<Run> = caches
        .workflows
        .state()
        .iter()
        .filter(|w| {
            w.metadata.namespace.as_deref() == Some(namespace)
                && w.metadata.labels.as_ref().and_then(|l| l.get(WORKFLOW_LABEL)).map(String::as_str) == Some(name)
        })
        .map(|w| Run::from_dynamic(w))
        .collect();
    runs.sort_by(|a, b| {
        let key = |r: &Run| (r.metadata.creation_timestamp.as_ref().map(|t| t.0), r.name().to_string());
        key(a).cmp(&key(b))
    });
    runs
}

/// Rejects the approvals whose timeout expired (Argo can only approve on a timeout, through a
/// suspend duration). Returns how long until the next one expires.
async fn expire_approvals(ctx: &Context, workflow: &AgentWorkflow, runs: &[Run]) -> Result<Option<Duration>, Error> {
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut next: Option<Duration> = None;
    for run in runs.iter().filter(|r| !r.is_finished()) {
        for node in run.waiting_approvals() {
            let Some(step) = workflow.spec.steps.iter().find(|s| s.name == node.display_name) else { continue };
            let Some(approval) = step.approval.as_ref().filter(|_| step.step_type == StepType::Approval) else {
                continue;
            };
            if approval.on_timeout != TimeoutAction::Reject {
                continue;
            }
            let (Some(timeout), Some(started)) = (approval.timeout.as_deref().and_then(seconds), &node.started_at)
            else {
                continue;
            };
            let deadline = started.0 + k8s_openapi::jiff::SignedDuration::from_secs(timeout);
            if deadline > now {
                let wait = Duration::try_from(deadline.duration_since(now)).unwrap_or_default();
                next = Some(next.map_or(wait, |n| n.min(wait)) + Duration::from_millis(100));
                continue;
            }
            let decision = Decision {
                approve: false,
                by: None,
                message: Some(format!("no decision within {}: rejected", approval.timeout.clone().unwrap_or_default())),
                at: Time(now),
            };
            reject(ctx, run.name(), &workflow.namespace().unwrap_or_default(), &step.name, &decision).await?;
        }
    }
    Ok(next)
}

/// Writes a decision as `argo stop --node-field-selector` would (see `decide`), retrying on a
/// conflicting write.
async fn reject(ctx: &Context, run: &str, namespace: &str, step: &str, decision: &Decision) -> Result<(), Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), namespace, &workflow_resource());
    let failed =
        |source| Error::Apply { action: "reject an approval of", kind: "Workflow", name: run.to_string(), source };
    for _ in 0..5 {
        let live = api.get(run).await.map_err(failed)?;
        let mut value = serde_json::to_value(&live).expect("an object serialises");
        if decide::decide(&mut value, Some(step), decision).is_err() {
            return Ok(()); // decided meanwhile
        }
        let updated: DynamicObject = serde_json::from_value(value).expect("still a Workflow");
        match api.replace(run, &PostParams::default(), &updated).await {
            Ok(_) => {
                ctx.metrics.write("Workflow", "update");
                tracing::info!(run, step, "rejected an approval whose timeout expired");
                return Ok(());
            }
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(source) => return Err(failed(source)),
        }
    }
    Ok(())
}

/// Deletes the oldest finished runs started on request beyond `spec.historyLimit` (Argo prunes
/// the CronWorkflow's own).
async fn prune_history(ctx: &Context, workflow: &AgentWorkflow, runs: &[Run]) -> Result<(), Error> {
    let finished: Vec<&Run> = runs
        .iter()
        .filter(|r| r.is_finished() && r.metadata.labels.as_ref().is_some_and(|l| l.contains_key(RUN_LABEL)))
        .collect();
    let keep = usize::try_from(workflow.spec.history_limit).unwrap_or(0);
    let excess = finished.len().saturating_sub(keep);
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &workflow.namespace().unwrap_or_default(), &workflow_resource());
    for run in finished.into_iter().take(excess) {
        match api.delete(run.name(), &DeleteParams::background()).await {
            Ok(_) => ctx.metrics.write("Workflow", "delete"),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(Error::Apply { action: "delete", kind: "Workflow", name: run.name().to_string(), source });
            }
        }
    }
    Ok(())
}

impl Reported for AgentWorkflow {
    const KIND: &'static str = "AgentWorkflow";
    type Status = AgentWorkflowStatus;
    type Phase = WorkflowPhase;

    fn current_status(&self) -> Option<&AgentWorkflowStatus> {
        self.status.as_ref()
    }

    fn phase(status: &AgentWorkflowStatus) -> Option<WorkflowPhase> {
        status.phase
    }

    fn observed_generation(status: &AgentWorkflowStatus) -> Option<i64> {
        status.observed_generation
    }

    /// Events tell the story of runs: a new workflow's first phase is not news, a failure is a
    /// warning.
    fn news(before: Option<WorkflowPhase>, next: WorkflowPhase) -> Option<EventType> {
        match (before, next) {
            (None, WorkflowPhase::Ready) => None,
            (_, WorkflowPhase::Failed) => Some(EventType::Warning),
            _ => Some(EventType::Normal),
        }
    }

    fn why(status: &AgentWorkflowStatus) -> Option<String> {
        report::ready_condition(&status.conditions)
    }
}

pub fn error_policy(workflow: Arc<AgentWorkflow>, error: &Error, state: Arc<State>) -> Action {
    state.ctx.retry_after_failure("AgentWorkflow", workflow.as_ref(), error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkflowPhase::*;

    #[test]
    fn only_news_makes_an_event() {
        assert_eq!(AgentWorkflow::news(None, Ready), None);
        assert_eq!(AgentWorkflow::news(Some(Ready), Running), Some(EventType::Normal));
        assert_eq!(AgentWorkflow::news(Some(Running), AwaitingApproval), Some(EventType::Normal));
        assert_eq!(AgentWorkflow::news(Some(AwaitingApproval), Failed), Some(EventType::Warning));
        assert_eq!(AgentWorkflow::news(None, Waiting), Some(EventType::Normal));
    }
}

//! AgentWorkflows against the real control plane, Argo's real CRDs and Argo's real
//! workflow-controller (out of cluster, one for the whole run): the operator renders runs and
//! schedules the real schemas accept, Argo runs the DAG (order, suspend, resume, stop, cron), and
//! the tests play only Argo's executor, writing each agent's answer into the WorkflowTaskSet.

use std::sync::Arc;
use std::time::Duration;

use agents_api::workflow::{AgentWorkflow, StepPhase, WorkflowPhase};
use agents_render::workflow::argo::{ACTION_LABEL, ACTOR_LABEL, cron_workflow_resource, workflow_resource};
use agents_testenv::argo::{self, Controller, task_set_resource};
use anyhow::{Context, bail, ensure};
use kube::api::{Api, DynamicObject};
use libtest_mimic::Trial;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::support::{Ctx, DEADLINE, Env, Running, output_within, run_ok, text, trials, wait_for_line};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "workflow",
        [
            a_dag_runs_through_argo_with_an_approval,
            a_rejected_approval_fails_the_run,
            it_waits_for_its_agents_then_runs_and_a_failed_call_fails_it,
            invalid_workflows_are_rejected,
            a_cycle_is_reported_and_nothing_runs,
            a_schedule_that_cannot_run_is_reported_and_not_created,
            a_schedule_becomes_a_cron_workflow_argo_runs,
            an_approval_that_times_out_is_decided_as_the_spec_says,
            the_plugin_scaffolds_lists_and_deletes_workflows,
        ]
    )
}

/// The one Argo controller of the run (it binds :6060), started by the first test that needs it.
static ARGO: OnceCell<Controller> = OnceCell::const_new();

pub(crate) async fn argo_controller(ctx: &Ctx) -> anyhow::Result<&'static Controller> {
    ARGO.get_or_try_init(|| async {
        Controller::start(&ctx.cluster).await.context("starting Argo's workflow-controller")
    })
    .await
}

/// Stops the shared Argo controller, if a test started it (called when the run ends).
pub fn stop_argo() {
    if let Some(controller) = ARGO.get() {
        controller.stop();
    }
}

const AGENTS: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: researcher}
spec: {image: ghcr.io/example/researcher:v1}
---
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: writer}
spec: {image: ghcr.io/example/writer:v1}
"#;

const PIPELINE: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: AgentWorkflow
metadata: {name: pipeline}
spec:
  arguments: [{name: topic, value: kubernetes}]
  steps:
  - {name: research, agentRef: {name: researcher}, input: "About {{arguments.topic}}"}
  - name: review
    type: Approval
    dependsOn: [research]
    approval: {message: Check the research before it is written up}
  - {name: write, agentRef: {name: writer}, dependsOn: [review], input: "Write up: {{steps.research.output}}"}
"#;

fn phase_is(phase: WorkflowPhase) -> impl Fn(Option<&AgentWorkflow>) -> bool {
    move |w| w.and_then(|w| w.status.as_ref()).and_then(|s| s.phase) == Some(phase)
}

/// An A2A `message/send` response carrying `text`.
pub(crate) fn a2a_answer(text: &str) -> String {
    json!({"jsonrpc": "2.0", "id": "1", "result": {"kind": "message", "role": "agent", "messageId": "m",
        "parts": [{"kind": "text", "text": text}]}})
    .to_string()
}

/// Waits until Argo asks its agent to call `step` (an entry in the run's WorkflowTaskSet), and
/// returns the node id and the request body Argo resolved.
pub(crate) async fn http_call(ctx: &Ctx, run: &str, step: &str) -> anyhow::Result<(String, Value)> {
    let sets: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &task_set_resource());
    let runs: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &workflow_resource());
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        // Under load the operator may not have created the run yet.
        let workflow = runs.get_opt(run).await?.unwrap_or_else(|| DynamicObject::new(run, &workflow_resource()));
        let node = workflow.data["status"]["nodes"]
            .as_object()
            .into_iter()
            .flat_map(|n| n.iter())
            .find(|(_, n)| n["displayName"] == step && n["type"] == "HTTP")
            .map(|(id, _)| id.clone());
        if let Some(id) = node
            && let Some(set) = sets.get_opt(run).await?
            && let Some(task) = set.data["spec"]["tasks"].get(&id)
        {
            let body = task["http"]["body"].as_str().context("an http task without a body")?;
            let body: Value =
                serde_json::from_str(body).with_context(|| format!("the body Argo resolved is not JSON: {body}"))?;
            return Ok((id, body));
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "Argo did not call step {step} of {run} within {DEADLINE:?}; the run:\n{:#}",
                workflow.data["status"]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `condition` holds for an Argo object (`Ctx::wait_for` needs typed kinds), dumping
/// the object on timeout.
async fn until(
    api: &Api<DynamicObject>,
    name: &str,
    what: &str,
    condition: impl Fn(Option<&DynamicObject>) -> bool + Send + 'static,
) -> anyhow::Result<Option<DynamicObject>> {
    match tokio::time::timeout(DEADLINE, kube::runtime::wait::await_condition(api.clone(), name, condition)).await {
        Ok(result) => Ok(result.with_context(|| format!("watching {name} for {what}"))?),
        Err(_) => {
            let object = api.get_opt(name).await?.map(|o| serde_json::to_string_pretty(&o).unwrap_or_default());
            bail!(
                "timed out after {DEADLINE:?} waiting for {name}: {what}\nobject:\n{}",
                object.unwrap_or_else(|| "(not found)".into())
            )
        }
    }
}

fn message_text(body: &Value) -> &str {
    body["params"]["message"]["parts"][0]["text"].as_str().unwrap_or_default()
}

async fn a_dag_runs_through_argo_with_an_approval(ctx: Ctx) -> anyhow::Result<()> {
    argo_controller(&ctx).await?;
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(AGENTS).await?;
    ctx.apply_yaml(PIPELINE).await?;
    let workflows: Api<AgentWorkflow> = ctx.api();
    ctx.wait_for(&workflows, "pipeline", "phase Ready", phase_is(WorkflowPhase::Ready)).await?;

    // A quote in an argument must not break the JSON Argo sends.
    let out = run_ok(ctx.kubectl().args([
        "agents",
        "workflow",
        "run",
        "pipeline",
        "--arg",
        r#"topic=quotes "and" more"#,
        "--no-wait",
        "-n",
        &ctx.ns,
    ]))?;
    let run = text(&out.stdout).trim().to_string();
    ensure!(run.starts_with("pipeline-") && run.len() == "pipeline-".len() + 5, "run name {run:?}");

    let (research, body) = http_call(&ctx, &run, "research").await?;
    ensure!(body["method"] == "message/send" && body["jsonrpc"] == "2.0", "{body}");
    ensure!(message_text(&body) == r#"About quotes "and" more"#, "{body}");
    let endpoint = format!("http://researcher.{}.svc.cluster.local/", ctx.ns);
    let sets: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &task_set_resource());
    let set = sets.get(&run).await?;
    ensure!(set.data["spec"]["tasks"][&research]["http"]["url"] == endpoint.as_str(), "{:#}", set.data["spec"]);
    // The run is Running from its creation; its first step only once Argo started the HTTP node.
    ctx.wait_for(&workflows, "pipeline", "phase Running, research Running", |w: Option<&AgentWorkflow>| {
        w.and_then(|w| w.status.as_ref()).is_some_and(|s| {
            s.phase == Some(WorkflowPhase::Running)
                && s.steps.first().is_some_and(|step| step.phase == StepPhase::Running)
        })
    })
    .await?;

    let answer = "Found 3 \"papers\"\nand a survey";
    argo::answer_http_node(&ctx.client, &ctx.ns, &run, &research, "Succeeded", &a2a_answer(answer)).await?;
    let waiting =
        ctx.wait_for(&workflows, "pipeline", "AwaitingApproval", phase_is(WorkflowPhase::AwaitingApproval)).await?;
    let status = waiting.status.unwrap();
    let phases: Vec<StepPhase> = status.steps.iter().map(|s| s.phase).collect();
    ensure!(phases == [StepPhase::Succeeded, StepPhase::AwaitingApproval, StepPhase::Pending], "{phases:?}");
    ensure!(status.steps[0].started_at.is_some() && status.steps[0].finished_at.is_some(), "{:?}", status.steps[0]);
    ensure!(status.last_run.as_ref().map(|r| r.name.as_str()) == Some(run.as_str()));

    let out = run_ok(ctx.kubectl().args(["agents", "workflow", "status", "pipeline", "-n", &ctx.ns]))?;
    let tree = text(&out.stdout);
    ensure!(tree.contains("AgentWorkflow pipeline   AwaitingApproval"), "{tree}");
    ensure!(tree.lines().any(|l| l.trim_start().starts_with("research") && l.contains("Succeeded")), "{tree}");
    ensure!(
        tree.lines()
            .any(|l| l.contains("└─ review") && l.contains("AwaitingApproval") && l.contains("Check the research")),
        "{tree}"
    );
    ensure!(
        tree.lines().any(|l| l.contains("   └─ write") && l.contains("Pending") && l.contains("(also after research)")),
        "{tree}"
    );

    // The writer is not called before the approval: Argo holds the DAG.
    let runs: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &workflow_resource());
    let before = runs.get(&run).await?;
    ensure!(!before.data["status"]["nodes"].as_object().unwrap().values().any(|n| n["displayName"] == "write"));

    run_ok(ctx.kubectl().args(["agents", "workflow", "approve", "pipeline", "-m", "looks right", "-n", &ctx.ns]))?;
    let after = runs.get(&run).await?;
    let labels = after.metadata.labels.clone().unwrap_or_default();
    ensure!(labels.get(ACTION_LABEL).map(String::as_str) == Some("Resume"), "{labels:?}");
    ensure!(labels.get(ACTOR_LABEL).is_some_and(|a| !a.is_empty()), "{labels:?}");
    let review = after.data["status"]["nodes"]
        .as_object()
        .unwrap()
        .values()
        .find(|n| n["displayName"] == "review")
        .unwrap()
        .clone();
    ensure!(review["message"].as_str().is_some_and(|m| m.starts_with("Resumed by: map[User:")), "{review}");

    // The writer gets the researcher's answer, text only, quotes and newline intact.
    let (write, body) = http_call(&ctx, &run, "write").await?;
    ensure!(message_text(&body) == format!("Write up: {answer}"), "{body}");
    argo::answer_http_node(&ctx.client, &ctx.ns, &run, &write, "Succeeded", &a2a_answer("A fine write-up")).await?;
    let done = ctx.wait_for(&workflows, "pipeline", "Succeeded", phase_is(WorkflowPhase::Succeeded)).await?;
    let status = done.status.unwrap();
    ensure!(status.steps.iter().all(|s| s.phase == StepPhase::Succeeded), "{:?}", status.steps);
    let decision = status.steps[1].approval.as_ref().context("no decision recorded")?;
    ensure!(decision.decision == "Approved" && decision.message.as_deref() == Some("looks right"), "{decision:?}");
    ensure!(decision.by.as_deref().is_some_and(|b| !b.is_empty() && b != "unknown"), "{decision:?}");

    let out = run_ok(ctx.kubectl().args(["agents", "workflow", "logs", "pipeline", "-n", &ctx.ns]))?;
    let logs = text(&out.stdout);
    let expected = format!(
        "==> research (Succeeded)\n{answer}\n==> review (Succeeded)\nApproved by {}: looks right\n==> write (Succeeded)\nA fine write-up\n",
        decision.by.clone().unwrap_or_default()
    );
    ensure!(logs == expected, "logs:\n{logs}\nexpected:\n{expected}");
    ctx.wait_for_event("pipeline", "Normal Succeeded").await?;
    Ok(())
}

const REVIEW_ONLY: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: AgentWorkflow
metadata: {name: gate}
spec:
  steps:
  - {name: sign-off, type: Approval, approval: {message: Ship it?}}
"#;

async fn a_rejected_approval_fails_the_run(ctx: Ctx) -> anyhow::Result<()> {
    argo_controller(&ctx).await?;
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(REVIEW_ONLY).await?;
    let workflows: Api<AgentWorkflow> = ctx.api();
    ctx.wait_for(&workflows, "gate", "phase Ready", phase_is(WorkflowPhase::Ready)).await?;
    // Nothing waits yet: approving has nothing to approve.
    let out = output_within(ctx.kubectl().args(["agents", "workflow", "approve", "gate", "-n", &ctx.ns]))?;
    ensure!(!out.status.success() && text(&out.stderr).contains("has not run yet"), "{}", text(&out.stderr));

    // `run` without --no-wait follows the run (not on a terminal: one line per change) and
    // exits non-zero when it fails.
    let mut follow = ctx.kubectl();
    follow.args(["agents", "workflow", "run", "gate", "-n", &ctx.ns]);
    let follower = Running::start(follow)?;
    ctx.wait_for(&workflows, "gate", "AwaitingApproval", phase_is(WorkflowPhase::AwaitingApproval)).await?;
    // The follower's own watch must have seen it too before the decision.
    wait_for_line(&follower.stdout, "AwaitingApproval", |l| l.contains("AwaitingApproval")).await?;
    let out =
        output_within(ctx.kubectl().args(["agents", "workflow", "approve", "gate", "--step", "nope", "-n", &ctx.ns]))?;
    ensure!(!out.status.success() && text(&out.stderr).contains("step nope is not waiting"), "{}", text(&out.stderr));
    run_ok(ctx.kubectl().args(["agents", "workflow", "reject", "gate", "--message", "not this week", "-n", &ctx.ns]))?;
    let failed = ctx.wait_for(&workflows, "gate", "phase Failed", phase_is(WorkflowPhase::Failed)).await?;
    let status = failed.status.unwrap();
    ensure!(status.steps[0].phase == StepPhase::Failed, "{:?}", status.steps);
    ensure!(status.steps[0].message.as_deref() == Some("not this week"), "{:?}", status.steps);
    let decision = status.steps[0].approval.as_ref().context("no decision")?;
    ensure!(decision.decision == "Rejected" && decision.message.as_deref() == Some("not this week"));
    let run = status.last_run.context("no last run")?.name;
    let runs: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &workflow_resource());
    let labels = runs.get(&run).await?.metadata.labels.unwrap_or_default();
    ensure!(labels.get(ACTION_LABEL).map(String::as_str) == Some("Stop"), "{labels:?}");

    let (status, printed, errors) = follower.finish().await?;
    ensure!(status.code() == Some(1), "run exited {status:?}: {printed}{errors}");
    ensure!(printed.contains("sign-off") && printed.contains("Failed"), "{printed}");
    ensure!(printed.lines().last().is_some_and(|l| l.starts_with(&format!("run {run} Failed"))), "{printed}");
    ctx.wait_for_event("gate", "Warning Failed").await?;
    Ok(())
}

async fn it_waits_for_its_agents_then_runs_and_a_failed_call_fails_it(ctx: Ctx) -> anyhow::Result<()> {
    argo_controller(&ctx).await?;
    let operator = ctx.operator(&[])?;
    ctx.apply_yaml(PIPELINE).await?;
    let workflows: Api<AgentWorkflow> = ctx.api();
    let waiting = ctx.wait_for(&workflows, "pipeline", "phase Waiting", phase_is(WorkflowPhase::Waiting)).await?;
    let ready = agents_api::conditions::find(&waiting.status.as_ref().unwrap().conditions, "Ready").unwrap().clone();
    ensure!(ready.reason == "AgentsNotReady", "{ready:?}");
    ensure!(ready.message == "waiting for Agents: researcher (not found), writer (not found)", "{ready:?}");
    // A run asked for now starts once the Agents are Ready, not before.
    let before = operator.settled_reconciles("AgentWorkflow").await?;
    let out = run_ok(ctx.kubectl().args(["agents", "workflow", "run", "pipeline", "--no-wait", "-n", &ctx.ns]))?;
    let run = text(&out.stdout).trim().to_string();
    let runs: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &workflow_resource());
    operator.reconciled_since("AgentWorkflow", before).await?;
    ensure!(runs.get_opt(&run).await?.is_none(), "a run started while its Agents were missing");
    ctx.apply_yaml(AGENTS).await?;
    until(&runs, &run, "the run to start", |w| w.is_some()).await?;
    let started = ctx.wait_for(&workflows, "pipeline", "phase Running", phase_is(WorkflowPhase::Running)).await?;
    ensure!(started.status.unwrap().last_run_request.is_some_and(|id| run.ends_with(&id)));
    // The researcher's call fails (as Argo's agent reports a 5xx): the run fails, the later
    // steps never run, and the status says which step failed.
    let (research, _) = http_call(&ctx, &run, "research").await?;
    argo::answer_http_node(&ctx.client, &ctx.ns, &run, &research, "Failed", "").await?;
    let failed = ctx.wait_for(&workflows, "pipeline", "phase Failed", phase_is(WorkflowPhase::Failed)).await?;
    let status = failed.status.unwrap();
    let phases: Vec<StepPhase> = status.steps.iter().map(|s| s.phase).collect();
    ensure!(phases == [StepPhase::Failed, StepPhase::Skipped, StepPhase::Skipped], "{:?}", status.steps);
    let ready = agents_api::conditions::find(&status.conditions, "Ready").unwrap().clone();
    ensure!(ready.reason == "RunFailed" && ready.message.starts_with(&format!("run {run} failed")), "{ready:?}");
    Ok(())
}

/// Each case: what is wrong, the spec, and what the API server's message must say.
const CASES: &[(&str, &str, &str)] = &[
    (
        "duplicate step names",
        "steps: [{name: a, agentRef: {name: x}}, {name: a, agentRef: {name: y}}]",
        "step names must be unique",
    ),
    (
        "dependsOn naming no step",
        "steps: [{name: a, agentRef: {name: x}, dependsOn: [ghost]}]",
        "dependsOn must name steps of this workflow",
    ),
    (
        "an approval step with an agent",
        "steps: [{name: a, type: Approval, agentRef: {name: x}}]",
        "an Approval step takes no agentRef",
    ),
    ("an agent step without an agent", "steps: [{name: a}]", "an Agent step needs agentRef"),
    (
        "a step depending on itself",
        "steps: [{name: a, agentRef: {name: x}, dependsOn: [a]}]",
        "cannot depend on itself",
    ),
    (
        "a malformed cron",
        "steps: [{name: a, agentRef: {name: x}}]\n  schedule: {cron: every 5 minutes}",
        "must be a cron expression of five fields",
    ),
    ("a cron with three fields", "steps: [{name: a, agentRef: {name: x}}]\n  schedule: {cron: '* * *'}", "five fields"),
    (
        "a malformed timeout",
        "steps: [{name: a, type: Approval, approval: {timeout: tomorrow}}]",
        "must be a duration such as 30m or 24h",
    ),
    ("no steps", "steps: []", "spec.steps"),
];

async fn invalid_workflows_are_rejected(ctx: Ctx) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for (what, spec, expected) in CASES {
        let yaml =
            format!("apiVersion: agents.dev/v1alpha1\nkind: AgentWorkflow\nmetadata: {{name: w}}\nspec:\n  {spec}\n");
        match ctx.apply_yaml(&yaml).await {
            Ok(()) => failures.push(format!("{what}: accepted")),
            Err(e) => {
                let message = format!("{e:#}");
                if !message.contains(expected) {
                    failures.push(format!("{what}: rejected with {message:?}, which lacks {expected:?}"));
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!("{} of {} cases went wrong:\n{}", failures.len(), CASES.len(), failures.join("\n"));
    }
    ctx.apply_yaml(PIPELINE).await.context("a valid AgentWorkflow")?;
    Ok(())
}

async fn a_cycle_is_reported_and_nothing_runs(ctx: Ctx) -> anyhow::Result<()> {
    let operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        r#"
apiVersion: agents.dev/v1alpha1
kind: AgentWorkflow
metadata: {name: loop}
spec:
  steps:
  - {name: draft, agentRef: {name: writer}, dependsOn: [edit]}
  - {name: review, agentRef: {name: writer}, input: "{{steps.draft.output}}"}
  - {name: edit, agentRef: {name: writer}, dependsOn: [review]}
"#,
    )
    .await?;
    let workflows: Api<AgentWorkflow> = ctx.api();
    let failed = ctx.wait_for(&workflows, "loop", "phase Failed", phase_is(WorkflowPhase::Failed)).await?;
    let ready = agents_api::conditions::find(&failed.status.as_ref().unwrap().conditions, "Ready").unwrap().clone();
    ensure!(ready.reason == "DependencyCycle", "{ready:?}");
    ensure!(ready.message.contains("draft → review → edit → draft"), "{}", ready.message);
    let before = operator.settled_reconciles("AgentWorkflow").await?;
    let out = run_ok(ctx.kubectl().args(["agents", "workflow", "run", "loop", "--no-wait", "-n", &ctx.ns]))?;
    let run = text(&out.stdout).trim().to_string();
    let out = run_ok(ctx.kubectl().args(["agents", "workflow", "status", "loop", "-n", &ctx.ns]))?;
    ensure!(text(&out.stdout).contains("DependencyCycle"), "{}", text(&out.stdout));
    let runs: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &workflow_resource());
    // The request was seen (the annotation triggers a reconcile) and refused: still no run.
    operator.reconciled_since("AgentWorkflow", before).await?;
    ensure!(runs.get_opt(&run).await?.is_none(), "a workflow with a cycle was run");
    Ok(())
}

/// A schedule the schema cannot judge (a field out of range, a time zone that does not exist)
/// is Failed naming the field, and no CronWorkflow is made of it; fixed, it is.
async fn a_schedule_that_cannot_run_is_reported_and_not_created(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(AGENTS).await?;
    let workflows: Api<AgentWorkflow> = ctx.api();
    let crons: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &cron_workflow_resource());
    for (schedule, expected) in [
        ("{cron: '0 9 * * 8'}", "spec.schedule.cron: the day-of-week field has 8, outside 0-6; nothing is run"),
        (
            "{cron: '@daily', timeZone: Europe/Pariss}",
            "spec.schedule.timeZone: \"Europe/Pariss\" is not a time zone of the IANA database",
        ),
    ] {
        ctx.apply_yaml(&format!("{PIPELINE}  schedule: {schedule}\n")).await?;
        let failed = ctx
            .wait_for(&workflows, "pipeline", "Failed for its schedule", |w: Option<&AgentWorkflow>| {
                w.and_then(|w| w.status.as_ref()).is_some_and(|s| {
                    s.phase == Some(WorkflowPhase::Failed)
                        && s.conditions.iter().any(|c| c.type_ == "Ready" && c.message.contains(expected))
                })
            })
            .await?;
        let status = failed.status.unwrap();
        let ready = agents_api::conditions::find(&status.conditions, "Ready").context("no Ready")?;
        ensure!(ready.reason == "InvalidSchedule", "{ready:?}");
        ensure!(status.next_scheduled_time.is_none(), "a next run foretold for a schedule that cannot run");
        ensure!(crons.get_opt("pipeline").await?.is_none(), "a CronWorkflow was made of {schedule}");
    }
    ctx.apply_yaml(&format!("{PIPELINE}  schedule: {{cron: '0 9 * * 1-5', timeZone: Europe/Paris}}\n")).await?;
    until(&crons, "pipeline", "the CronWorkflow once the schedule is fixed", |c| c.is_some()).await?;
    Ok(())
}

async fn a_schedule_becomes_a_cron_workflow_argo_runs(ctx: Ctx) -> anyhow::Result<()> {
    argo_controller(&ctx).await?;
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(AGENTS).await?;
    ctx.apply_yaml(&format!(
        "{PIPELINE}  schedule: {{cron: '* * * * *', timeZone: Europe/Paris, concurrencyPolicy: Forbid}}\n  historyLimit: 2\n"
    ))
    .await?;
    let crons: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &cron_workflow_resource());
    let cron = until(&crons, "pipeline", "the CronWorkflow", |c| c.is_some()).await?.context("no CronWorkflow")?;
    ensure!(cron.data["spec"]["schedules"] == json!(["* * * * *"]), "{:#}", cron.data["spec"]);
    ensure!(cron.data["spec"]["timezone"] == "Europe/Paris");
    let owner = &cron.metadata.owner_references.as_ref().context("no owner")?[0];
    ensure!(owner.kind == "AgentWorkflow" && owner.name == "pipeline" && owner.controller == Some(true));
    let workflows: Api<AgentWorkflow> = ctx.api();
    let scheduled = ctx
        .wait_for(&workflows, "pipeline", "a next scheduled time", |w: Option<&AgentWorkflow>| {
            w.and_then(|w| w.status.as_ref()).is_some_and(|s| s.next_scheduled_time.is_some())
        })
        .await?;
    let next = scheduled.status.unwrap().next_scheduled_time.unwrap().0;
    let ahead = next.duration_since(k8s_openapi::jiff::Timestamp::now()).as_secs();
    ensure!(next.as_second() % 60 == 0 && (-5..=61).contains(&ahead), "next run at {next}, {ahead}s ahead");
    // Argo starts a run at the next minute boundary; the status follows it.
    let deadline = Duration::from_secs(75);
    let started = tokio::time::timeout(
        deadline,
        kube::runtime::wait::await_condition(workflows.clone(), "pipeline", |w: Option<&AgentWorkflow>| {
            w.and_then(|w| w.status.as_ref()).and_then(|s| s.last_run.as_ref()).is_some()
        }),
    )
    .await
    .with_context(|| format!("no scheduled run within {deadline:?}"))??
    .context("the AgentWorkflow went away")?;
    let run = started.status.unwrap().last_run.unwrap().name;
    ensure!(run.starts_with("pipeline-"), "{run}");
    let runs: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &workflow_resource());
    let labels = runs.get(&run).await?.metadata.labels.unwrap_or_default();
    ensure!(labels.get("workflows.argoproj.io/cron-workflow").map(String::as_str) == Some("pipeline"), "{labels:?}");
    http_call(&ctx, &run, "research").await?;
    // Dropping the schedule removes the CronWorkflow.
    ctx.apply_yaml(PIPELINE).await?;
    until(&crons, "pipeline", "the CronWorkflow to go", |c| c.is_none()).await?;
    Ok(())
}

async fn an_approval_that_times_out_is_decided_as_the_spec_says(ctx: Ctx) -> anyhow::Result<()> {
    argo_controller(&ctx).await?;
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        r#"
apiVersion: agents.dev/v1alpha1
kind: AgentWorkflow
metadata: {name: lenient}
spec:
  steps:
  - {name: sign-off, type: Approval, approval: {timeout: 2s, onTimeout: Approve}}
---
apiVersion: agents.dev/v1alpha1
kind: AgentWorkflow
metadata: {name: strict}
spec:
  steps:
  - {name: sign-off, type: Approval, approval: {timeout: 2s}}
"#,
    )
    .await?;
    let workflows: Api<AgentWorkflow> = ctx.api();
    for name in ["lenient", "strict"] {
        ctx.wait_for(&workflows, name, "phase Ready", phase_is(WorkflowPhase::Ready)).await?;
        run_ok(ctx.kubectl().args(["agents", "workflow", "run", name, "--no-wait", "-n", &ctx.ns]))?;
    }
    // Argo resumes the lenient one by itself (a suspend duration); the operator rejects the
    // strict one when its time is up (Argo has no such option).
    let lenient = ctx.wait_for(&workflows, "lenient", "Succeeded", phase_is(WorkflowPhase::Succeeded)).await?;
    let decision = lenient.status.unwrap().steps[0].approval.clone().context("no decision on lenient")?;
    ensure!(decision.decision == "Approved" && decision.by.as_deref() == Some("timeout"), "{decision:?}");
    let strict = ctx.wait_for(&workflows, "strict", "Failed", phase_is(WorkflowPhase::Failed)).await?;
    let step = strict.status.unwrap().steps[0].clone();
    let decision = step.approval.clone().context("no decision on strict")?;
    ensure!(decision.decision == "Rejected" && decision.by.as_deref() == Some("timeout"), "{decision:?}");
    ensure!(step.message.as_deref() == Some("no decision within 2s: rejected"), "{step:?}");
    Ok(())
}

async fn the_plugin_scaffolds_lists_and_deletes_workflows(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let ns = ctx.ns.as_str();
    let out = run_ok(ctx.kubectl().args([
        "agents",
        "create",
        "workflow",
        "digest",
        "--step",
        "research=researcher",
        "--step",
        "write=writer:research",
        "--approval",
        "review:write",
        "--schedule",
        "0 7 * * 1",
        "-n",
        ns,
    ]))?;
    ensure!(text(&out.stdout).trim() == "agentworkflow.agents.dev/digest created", "{}", text(&out.stdout));
    let workflows: Api<AgentWorkflow> = ctx.api();
    let created = ctx.wait_for(&workflows, "digest", "phase Waiting", phase_is(WorkflowPhase::Waiting)).await?;
    ensure!(created.spec.steps[2].depends_on == ["write"], "{:?}", created.spec.steps);
    // A bad flag is refused before anything is sent.
    let out = output_within(ctx.kubectl().args(["agents", "create", "workflow", "x", "--step", "research", "-n", ns]))?;
    ensure!(!out.status.success() && text(&out.stderr).contains("NAME=AGENT"), "{}", text(&out.stderr));

    let out = run_ok(ctx.kubectl().args(["agents", "get", "workflows", "-n", ns]))?;
    let table = text(&out.stdout);
    let row =
        table.lines().find(|l| l.starts_with("digest")).with_context(|| format!("no row for digest:\n{table}"))?;
    ensure!(table.starts_with("NAME") && row.contains("Waiting") && row.contains("0 7 * * 1"), "{table}");
    let out = run_ok(ctx.kubectl().args(["agents", "describe", "workflow", "digest", "-n", ns]))?;
    let page = text(&out.stdout);
    ensure!(page.contains("AgentsNotReady: waiting for Agents: researcher (not found), writer (not found)"), "{page}");
    ensure!(page.contains("No run yet") && page.contains("└─ write") && page.contains("└─ review"), "{page}");
    run_ok(ctx.kubectl().args(["agents", "delete", "workflow", "digest", "-n", ns]))?;
    ctx.wait_gone(&workflows, "digest").await?;
    Ok(())
}

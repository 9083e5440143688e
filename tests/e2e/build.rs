//! AgentBuilds against the real control plane with Tekton's real CRDs: the operator's PipelineRun
//! is accepted by Tekton's schema, and the test plays Tekton's controller by writing the
//! PipelineRun's and TaskRun's status through the status subresource (running, a step done,
//! succeeded with a digest result, failed), as Tekton would.

use std::sync::Arc;

use agents_api::build::{REBUILD_ANNOTATION, StepState};
use agents_api::{Agent, AgentBuild, AgentPhase, BuildPhase};
use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::support::{Ctx, Env, phase_is, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "build",
        [
            its_run_is_accepted_by_tektons_schema_and_mirrored,
            an_agent_runs_the_digest_its_build_pushed,
            a_request_runs_once_and_old_runs_go,
            a_failed_step_is_reported_with_its_reason,
            invalid_builds_are_rejected,
            tektons_own_controller_runs_the_pipeline,
        ]
    )
}

pub const BUILD: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: AgentBuild
metadata:
  name: research
spec:
  git:
    url: https://github.com/example/research-agent.git
    revision: v1.2.0
    tokenSecretRef: {name: github, key: token}
  image: registry.example.com/team/research
  tag: v1
  pushSecretRef: {name: registry, key: .dockerconfigjson}
  buildArgs: [{name: PYTHON_VERSION, value: "3.12"}]
  historyLimit: 2
"#;

pub const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
pub const DIGEST_2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn runs(ctx: &Ctx) -> Api<DynamicObject> {
    Api::namespaced_with(ctx.client.clone(), &ctx.ns, &agents_render::build::pipeline_run_resource())
}

fn task_runs(ctx: &Ctx) -> Api<DynamicObject> {
    Api::namespaced_with(ctx.client.clone(), &ctx.ns, &agents_render::build::task_run_resource())
}

/// Waits until the build's status satisfies `wanted`.
pub async fn wait_build(
    ctx: &Ctx,
    name: &str,
    what: &str,
    wanted: impl Fn(&agents_api::AgentBuildStatus) -> bool,
) -> anyhow::Result<AgentBuild> {
    let builds: Api<AgentBuild> = ctx.api();
    ctx.wait_for(&builds, name, what, move |b: Option<&AgentBuild>| {
        b.and_then(|b| b.status.as_ref()).is_some_and(&wanted)
    })
    .await
}

/// The name of the run the operator started for the build's current request.
pub async fn current_run(ctx: &Ctx, name: &str) -> anyhow::Result<String> {
    let builds: Api<AgentBuild> = ctx.api();
    let build = ctx.wait_for(&builds, name, "to exist", |b: Option<&AgentBuild>| b.is_some()).await?;
    let expected = agents_render::build::run_name(&build);
    let wanted = expected.clone();
    wait_build(ctx, name, &format!("run {expected}"), move |s| s.run_name.as_deref() == Some(&*wanted)).await?;
    Ok(expected)
}

/// Tekton's part: writes a PipelineRun's status.
pub async fn set_run_status(ctx: &Ctx, run: &str, status: Value) -> anyhow::Result<()> {
    runs(ctx)
        .patch_status(run, &PatchParams::default(), &Patch::Merge(&json!({"status": status})))
        .await
        .with_context(|| format!("writing the status of PipelineRun {run}"))?;
    Ok(())
}

/// Tekton's part: the TaskRun of the run's one task, owned by the run and labelled as Tekton
/// labels it (the run's labels, plus the run and task names), with `steps` as its status, and
/// (with `pod`) a pod KWOK runs, whose containers are the steps'.
pub async fn start_task_run(ctx: &Ctx, run: &str, steps: Value, pod: bool) -> anyhow::Result<()> {
    let pipeline_run = runs(ctx).get(run).await?;
    let mut labels = pipeline_run.labels().clone();
    labels.insert("tekton.dev/pipelineRun".into(), run.into());
    labels.insert("tekton.dev/pipelineTask".into(), "build".into());
    let owner = json!({
        "apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": run,
        "uid": pipeline_run.uid().unwrap(), "controller": true,
    });
    let name = format!("{run}-build");
    let task_run: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {"name": name, "labels": labels, "ownerReferences": [owner]},
        "spec": {"taskSpec": pipeline_run.data["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"].clone()},
    }))?;
    let created = task_runs(ctx).create(&PostParams::default(), &task_run).await.context("creating the TaskRun")?;
    let pod_name = format!("{name}-pod");
    if pod {
        let container = |step: &str| {
            json!({
                "name": agents_render::build::step_container(step), "image": "busybox", "command": ["true"],
                "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 65532,
                    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
            })
        };
        let containers: Vec<Value> = ["clone", "build", "push"].into_iter().map(container).collect();
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "labels": {"tekton.dev/taskRun": name}, "ownerReferences": [{
                "apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": name,
                "uid": created.uid().unwrap(), "controller": true,
            }]},
            "spec": {"restartPolicy": "Never", "containers": containers},
        }))?;
        let pods: Api<Pod> = ctx.api();
        pods.create(&PostParams::default(), &pod).await.context("creating the TaskRun's pod")?;
        // As Tekton does: steps run only in a pod that is scheduled and started, whose logs can be read.
        ctx.wait_for(&pods, &pod_name, "the TaskRun's pod Running", |p: Option<&Pod>| {
            p.and_then(|p| p.status.as_ref()).and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .await?;
    }
    set_task_run_status(
        ctx,
        &name,
        json!({
            "podName": pod_name,
            "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Running"}],
            "steps": steps,
        }),
    )
    .await
}

pub async fn set_task_run_status(ctx: &Ctx, task_run: &str, status: Value) -> anyhow::Result<()> {
    task_runs(ctx)
        .patch_status(task_run, &PatchParams::default(), &Patch::Merge(&json!({"status": status})))
        .await
        .with_context(|| format!("writing the status of TaskRun {task_run}"))?;
    Ok(())
}

pub fn running() -> Value {
    json!({"startTime": "2026-01-01T00:00:00Z", "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Running"}]})
}

pub fn succeeded(digest: &str) -> Value {
    json!({
        "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:01:00Z",
        "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded", "message": "Tasks Completed: 1"}],
        "results": [{"name": "IMAGE_DIGEST", "value": digest}, {"name": "IMAGE_URL", "value": "registry.example.com/team/research:v1"}],
    })
}

pub fn step(name: &str, state: &str) -> Value {
    match state {
        "done" => {
            json!({"name": name, "container": format!("step-{name}"), "terminated": {"exitCode": 0, "reason": "Completed",
            "startedAt": "2026-01-01T00:00:01Z", "finishedAt": "2026-01-01T00:00:02Z"}})
        }
        "running" => {
            json!({"name": name, "container": format!("step-{name}"), "running": {"startedAt": "2026-01-01T00:00:02Z"}})
        }
        _ => json!({"name": name, "container": format!("step-{name}"), "waiting": {"reason": "PodInitializing"}}),
    }
}

/// Plays a whole successful run: TaskRun with every step done, then the run succeeds with `digest`.
pub async fn finish_run(ctx: &Ctx, run: &str, digest: &str) -> anyhow::Result<()> {
    set_run_status(ctx, run, succeeded(digest)).await
}

/// Polls a PipelineRun (a dynamic kind, which `Ctx::wait_for` does not take) until `wanted`.
async fn wait_run(
    ctx: &Ctx,
    name: &str,
    what: &str,
    wanted: impl Fn(Option<&DynamicObject>) -> bool,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    loop {
        let run = runs(ctx).get_opt(name).await?;
        if wanted(run.as_ref()) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("PipelineRun {name} not {what} after {:?}: {run:?}", crate::support::DEADLINE);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn run_count(ctx: &Ctx, build: &str) -> anyhow::Result<usize> {
    let listed = runs(ctx).list(&ListParams::default().labels(&format!("agents.dev/build={build}"))).await?;
    Ok(listed.items.len())
}

async fn rebuild(ctx: &Ctx, name: &str, token: &str) -> anyhow::Result<()> {
    let patch = json!({"metadata": {"annotations": {REBUILD_ANNOTATION: token}}});
    ctx.api::<AgentBuild>().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

async fn its_run_is_accepted_by_tektons_schema_and_mirrored(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(BUILD).await?;
    let run = current_run(&ctx, "research").await?;
    let build = ctx.api::<AgentBuild>().get("research").await?;
    let status = build.status.clone().context("no status")?;
    ensure!(status.phase == Some(BuildPhase::Pending), "{status:?}");

    // The real schema takes it with strict field validation (no unknown or mistyped field).
    let mut rendered = agents_render::build::pipeline_run(&build)?;
    rendered.metadata.name = Some(format!("{run}-dry"));
    runs(&ctx)
        .patch(
            &format!("{run}-dry"),
            &PatchParams::apply("e2e").dry_run().validation_strict(),
            &Patch::Apply(&rendered),
        )
        .await
        .context("Tekton's PipelineRun schema refused the rendered run with strict field validation")?;

    let live = runs(&ctx).get(&run).await?;
    let owner = live.metadata.owner_references.clone().unwrap_or_default();
    ensure!(
        owner.iter().any(|o| o.kind == "AgentBuild" && o.uid == build.uid().unwrap() && o.controller == Some(true))
    );
    let text = serde_json::to_string(&live.data)?;
    ensure!(
        text.contains("\"secretKeyRef\":{\"key\":\"token\",\"name\":\"github\"}"),
        "the token is referenced: {text}"
    );

    // Tekton starts it: the clone step is done, build runs.
    start_task_run(
        &ctx,
        &run,
        json!([step("clone", "done"), step("build", "running"), step("push", "waiting")]),
        false,
    )
    .await?;
    set_run_status(&ctx, &run, running()).await?;
    let build = wait_build(&ctx, "research", "Running with clone done and build running", |s| {
        s.phase == Some(BuildPhase::Running)
            && s.steps.iter().map(|s| s.state).collect::<Vec<_>>()
                == [StepState::Succeeded, StepState::Running, StepState::Pending]
    })
    .await?;
    ensure!(build.status.unwrap().start_time.is_some());

    finish_run(&ctx, &run, DIGEST).await?;
    let build = wait_build(&ctx, "research", "Succeeded", |s| s.phase == Some(BuildPhase::Succeeded)).await?;
    let status = build.status.unwrap();
    ensure!(status.digest.as_deref() == Some(DIGEST), "{status:?}");
    ensure!(status.image == Some(format!("registry.example.com/team/research:v1@{DIGEST}")));
    ensure!(status.completion_time.is_some());
    ctx.wait_for_event("research", "Succeeded").await?;
    ensure!(run_count(&ctx, "research").await? == 1);
    Ok(())
}

const AGENT: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata:
  name: research
spec:
  buildRef: {name: research}
  replicas: 1
"#;

fn deployment_image(deployment: Option<&Deployment>) -> Option<String> {
    deployment?.spec.template.spec.as_ref()?.containers.first()?.image.clone()
}

async fn an_agent_runs_the_digest_its_build_pushed(ctx: Ctx) -> anyhow::Result<()> {
    let operator = ctx.operator(&[])?;
    let agents: Api<Agent> = ctx.api();
    ctx.apply_yaml(AGENT).await?;
    let waiting = ctx.wait_for(&agents, "research", "Waiting for its build", phase_is(AgentPhase::Waiting)).await?;
    let ready = agents_api::conditions::find(&waiting.status.as_ref().unwrap().conditions, "Ready").unwrap().clone();
    ensure!(
        ready.reason == "BuildNotSucceeded" && ready.message.contains("AgentBuild research does not exist"),
        "{ready:?}"
    );

    ctx.apply_yaml(BUILD).await?;
    let run = current_run(&ctx, "research").await?;
    let waiting = ctx
        .wait_for(&agents, "research", "waiting for the first image", |a: Option<&Agent>| {
            a.and_then(|a| a.status.as_ref()).is_some_and(|s| {
                s.conditions.iter().any(|c| c.type_ == "Ready" && c.message.contains("no build has succeeded yet"))
            })
        })
        .await?;
    ensure!(waiting.status.unwrap().phase == Some(AgentPhase::Waiting));
    ensure!(ctx.api::<Deployment>().get_opt("research").await?.is_none(), "no Deployment before an image exists");

    finish_run(&ctx, &run, DIGEST).await?;
    let first = format!("registry.example.com/team/research:v1@{DIGEST}");
    let agent = ctx.wait_for(&agents, "research", "Ready", phase_is(AgentPhase::Ready)).await?;
    ensure!(agent.status.unwrap().image.as_deref() == Some(&*first));
    ensure!(deployment_image(ctx.api::<Deployment>().get("research").await.ok().as_ref()) == Some(first.clone()));

    // A rebuild: while it runs, the agent keeps the last image; when it succeeds, it rolls forward.
    rebuild(&ctx, "research", "second").await?;
    let second_run = {
        let wanted = run.clone();
        wait_build(&ctx, "research", "a new run", move |s| s.run_name.as_deref().is_some_and(|r| r != wanted)).await?;
        current_run(&ctx, "research").await?
    };
    let before = operator.settled_reconciles("Agent").await?;
    set_run_status(&ctx, &second_run, running()).await?;
    wait_build(&ctx, "research", "the rebuild Running", |s| s.phase == Some(BuildPhase::Running)).await?;
    // The build's change reconciles the Agent that uses it.
    operator.reconciled_since("Agent", before).await?;
    let agent = agents.get("research").await?;
    ensure!(agent.status.as_ref().unwrap().phase == Some(AgentPhase::Ready), "a running rebuild stops nothing");
    ensure!(deployment_image(ctx.api::<Deployment>().get("research").await.ok().as_ref()) == Some(first));

    finish_run(&ctx, &second_run, DIGEST_2).await?;
    let second = format!("registry.example.com/team/research:v1@{DIGEST_2}");
    let deployments: Api<Deployment> = ctx.api();
    let wanted = second.clone();
    ctx.wait_for(&deployments, "research", "the new digest rolled out", move |d: Option<&Deployment>| {
        deployment_image(d).as_deref() == Some(&*wanted)
    })
    .await?;
    let wanted = second.clone();
    ctx.wait_for(&agents, "research", "Ready on the new image", move |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref())
            .is_some_and(|s| s.phase == Some(AgentPhase::Ready) && s.image.as_deref() == Some(&*wanted))
    })
    .await?;
    Ok(())
}

async fn a_request_runs_once_and_old_runs_go(ctx: Ctx) -> anyhow::Result<()> {
    let mut operator = ctx.operator(&[])?;
    ctx.apply_yaml(BUILD).await?;
    let first = current_run(&ctx, "research").await?;

    // Reconciles of the same request (a label change, an operator restart) start nothing new.
    let label = json!({"metadata": {"labels": {"touched": "yes"}}});
    ctx.api::<AgentBuild>().patch("research", &PatchParams::default(), &Patch::Merge(&label)).await?;
    operator.kill();
    let operator = ctx.operator(&[])?;
    // The restarted operator's first reconcile of the build, then the one a relabel causes.
    operator.reconciled_since("AgentBuild", 0.0).await?;
    let before = operator.settled_reconciles("AgentBuild").await?;
    let relabelled = json!({"metadata": {"labels": {"touched": "again"}}});
    ctx.api::<AgentBuild>().patch("research", &PatchParams::default(), &Patch::Merge(&relabelled)).await?;
    operator.reconciled_since("AgentBuild", before).await?;
    current_run(&ctx, "research").await?;
    ensure!(run_count(&ctx, "research").await? == 1, "the same request was run twice");

    // A new request while the first runs: the first is cancelled.
    set_run_status(&ctx, &first, running()).await?;
    rebuild(&ctx, "research", "2").await?;
    let runs_api = runs(&ctx);
    wait_run(&ctx, &first, "cancelled", |r| {
        r.and_then(|r| r.data.pointer("/spec/status")).and_then(Value::as_str) == Some("Cancelled")
    })
    .await?;
    set_run_status(
        &ctx,
        &first,
        json!({"conditions": [{"type": "Succeeded", "status": "False", "reason": "Cancelled", "message": "cancelled"}]}),
    )
    .await?;
    let second = current_run(&ctx, "research").await?;
    finish_run(&ctx, &second, DIGEST).await?;
    wait_build(&ctx, "research", "second Succeeded", |s| s.phase == Some(BuildPhase::Succeeded)).await?;

    // historyLimit 2: a third finished run removes the first.
    rebuild(&ctx, "research", "3").await?;
    let third = {
        let wanted = second.clone();
        wait_build(&ctx, "research", "a third run", move |s| s.run_name.as_deref().is_some_and(|r| r != wanted))
            .await?;
        current_run(&ctx, "research").await?
    };
    finish_run(&ctx, &third, DIGEST_2).await?;
    wait_run(&ctx, &first, "deleted (historyLimit 2)", |r| r.is_none()).await?;
    ensure!(runs_api.get_opt(&second).await?.is_some() && runs_api.get_opt(&third).await?.is_some());
    Ok(())
}

async fn a_failed_step_is_reported_with_its_reason(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(BUILD).await?;
    let run = current_run(&ctx, "research").await?;
    start_task_run(&ctx, &run, json!([step("clone", "running")]), false).await?;
    set_task_run_status(
        &ctx,
        &format!("{run}-build"),
        json!({
            "conditions": [{"type": "Succeeded", "status": "False", "reason": "Failed",
                "message": "\"step-clone\" exited with code 128: fatal: repository 'https://github.com/example/research-agent.git/' not found"}],
            "steps": [
                {"name": "clone", "terminated": {"exitCode": 128, "reason": "Error"}},
                {"name": "build", "terminated": {"exitCode": 1, "reason": "Error"}, "terminationReason": "Skipped"},
                {"name": "push", "terminated": {"exitCode": 1, "reason": "Error"}, "terminationReason": "Skipped"},
            ],
        }),
    )
    .await?;
    set_run_status(
        &ctx,
        &run,
        json!({"conditions": [{"type": "Succeeded", "status": "False", "reason": "Failed", "message": "Tasks Completed: 1 (Failed: 1)"}]}),
    )
    .await?;
    let build = wait_build(&ctx, "research", "Failed", |s| s.phase == Some(BuildPhase::Failed)).await?;
    let status = build.status.unwrap();
    ensure!(status.reason.as_deref() == Some("CloneFailed"), "{status:?}");
    ensure!(status.message.as_deref().unwrap_or_default().contains("repository"), "{status:?}");
    let states: Vec<StepState> = status.steps.iter().map(|s| s.state).collect();
    ensure!(states == [StepState::Failed, StepState::Skipped, StepState::Skipped], "{states:?}");
    ensure!(status.image.is_none());
    ctx.wait_for_event("research", "Warning Failed").await?;
    Ok(())
}

async fn invalid_builds_are_rejected(ctx: Ctx) -> anyhow::Result<()> {
    let cases = [
        ("git: {url: 'not a url'}\nimage: r.io/a/b", "must be a git repository URL"),
        ("git: {url: 'ftp://example.com/x.git'}\nimage: r.io/a/b", "must be a git repository URL"),
        ("git: {url: 'https://example.com/x.git'}\nimage: r.io/a/b:v1", "without a tag"),
        ("git: {url: 'https://example.com/x.git'}\nimage: agent", "without a tag"),
        ("git: {url: 'https://example.com/x.git'}\nimage: r.io/a/b\ntag: '-bad'", "must be an image tag"),
        ("git: {url: 'https://example.com/x.git'}\nimage: r.io/a/b\ntag: 'v 1'", "must be an image tag"),
        ("git: {url: 'https://example.com/x.git', tokenSecretRef: {name: github}}\nimage: r.io/a/b", "key: Required"),
        ("git: {url: 'git@github.com:o/r.git', tokenSecretRef: {name: g, key: t}}\nimage: r.io/a/b", "HTTPS only"),
        ("git: {url: 'https://example.com/x.git'}\nimage: r.io/a/b\npushSecretRef: {key: k}", "name: Required"),
        ("git: {url: 'https://example.com/x.git', contextDir: '../up'}\nimage: r.io/a/b", "inside the repository"),
        ("git: {url: 'https://example.com/x.git'}\nimage: r.io/a/b\ntimeout: soon", "must be a duration"),
        ("git: {url: 'https://example.com/x.git'}\nimage: r.io/a/b\nbuildArgs: [{name: '1X'}]", "build argument name"),
        ("git: {url: 'https://bot:ghp_e2eToken@github.com/o/r.git'}\nimage: r.io/a/b", "must not carry credentials"),
        ("git: {url: 'ssh://git:hunter2e2e@github.com/o/r.git'}\nimage: r.io/a/b", "must not carry credentials"),
    ];
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &ctx.ns, &kube::api::ApiResource::erase::<AgentBuild>(&()));
    for (i, (spec, expected)) in cases.iter().enumerate() {
        let spec: Value = serde_norway::from_str(spec)?;
        let object = json!({"apiVersion": "agents.dev/v1alpha1", "kind": "AgentBuild",
            "metadata": {"name": format!("bad-{i}")}, "spec": spec});
        let object: DynamicObject = serde_json::from_value(object)?;
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => anyhow::bail!("case {i} ({spec}) was accepted"),
            Err(kube::Error::Api(status)) => {
                ensure!(status.message.contains(expected), "case {i} ({spec}): {}", status.message);
                ensure!(
                    !status.message.contains("ghp_e2eToken") && !status.message.contains("hunter2e2e"),
                    "case {i}: the rejection repeats the credential: {}",
                    status.message
                )
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The valid sample is accepted.
    ctx.apply_yaml(BUILD).await?;
    Ok(())
}

/// Tekton's own controller for this test's namespace, while the test holds its turn (port 8080
/// allows one per machine); stopped when dropped.
struct Tekton<'a> {
    controller: agents_testenv::tekton::TektonController,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

async fn tekton(ctx: &Ctx) -> anyhow::Result<Tekton<'_>> {
    let turn = ctx.env.tekton.lock().await;
    let controller = agents_testenv::tekton::TektonController::start(&ctx.cluster, Some(&ctx.ns)).await?;
    Ok(Tekton { controller, _turn: turn })
}

/// Tekton's own controller (not the test) turns the operator's PipelineRun into a TaskRun and a
/// pod, KWOK runs the pod's three step containers to completion, and the AgentBuild mirrors
/// Tekton's real status. KWOK writes no termination messages, so the push step reports no
/// digest: Tekton fails the run (`CouldntGetPipelineResult`), which is what it does in a real
/// cluster when the push step writes none. Then the test writes what KWOK cannot produce, the
/// digest result (with the success it implies), and the Agent-facing image appears.
async fn tektons_own_controller_runs_the_pipeline(ctx: Ctx) -> anyhow::Result<()> {
    let mut tekton = tekton(&ctx).await?;
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(BUILD).await?;
    let run = current_run(&ctx, "research").await?;

    let finished = wait_build(&ctx, "research", "the run finished by Tekton", |s| {
        s.phase.is_some_and(BuildPhase::is_finished)
            && s.steps.len() == 3
            && s.steps.iter().all(|s| s.state == StepState::Succeeded)
    })
    .await;
    let log = tekton.controller.log().display().to_string();
    ensure!(tekton.controller.is_running(), "Tekton's controller exited (port 8080 taken?); its log: {log}");
    let status = finished.with_context(|| format!("Tekton's controller log: {log}"))?.status.unwrap();
    ensure!(status.phase == Some(BuildPhase::Failed) && status.reason.as_deref() == Some("NoDigest"), "{status:?}");
    ensure!(status.message.as_deref().unwrap_or_default().contains("IMAGE_DIGEST"), "{status:?}");
    ensure!(status.start_time.is_some() && status.completion_time.is_some(), "{status:?}");
    let task_run = task_runs(&ctx)
        .list(&ListParams::default().labels(&format!("tekton.dev/pipelineRun={run}")))
        .await?
        .items
        .into_iter()
        .next()
        .context("Tekton created no TaskRun")?;
    ensure!(task_run.labels().get("agents.dev/build").map(String::as_str) == Some("research"), "labels propagate");
    let pod_name = task_run.data["status"]["podName"].as_str().context("the TaskRun names no pod")?.to_string();
    let pod = ctx.api::<Pod>().get(&pod_name).await?;
    let spec = pod.spec.context("a pod spec")?;
    let containers: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    ensure!(containers == ["step-clone", "step-build", "step-push"], "{containers:?}");
    let token = spec.containers[0].env.iter().flatten().find(|e| e.name == "GIT_TOKEN").context("no GIT_TOKEN")?;
    ensure!(token.value.is_none() && token.value_from.is_some(), "the token stays a secretKeyRef in the pod");
    ensure!(runs(&ctx).get(&run).await?.data["status"]["conditions"][0]["reason"] == "CouldntGetPipelineResult");

    // What KWOK cannot produce: the push step's digest.
    set_run_status(&ctx, &run, succeeded(DIGEST)).await?;
    let build = wait_build(&ctx, "research", "Succeeded", |s| s.phase == Some(BuildPhase::Succeeded)).await?;
    ensure!(build.status.unwrap().image == Some(format!("registry.example.com/team/research:v1@{DIGEST}")));
    Ok(())
}

//! GitOps health: the Argo CD health checks shipped in `docs/gitops/argocd/` and kstatus (what
//! Flux's health checks and `kubectl wait` read) against statuses the real operator writes. Both
//! readings come from `health-check` (`agents_testenv::tools::HEALTH_CHECK`): the `health.lua` run
//! in gopher-lua as Argo CD runs it, and `sigs.k8s.io/cli-utils` v0.37.2's `status.Compute`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use agents_api::workflow::{AgentWorkflow, WorkflowPhase};
use agents_api::{Agent, AgentPhase, BuildPhase, MCPServer, ModelAPI, ServerPhase};
use agents_testenv::tools::HEALTH_CHECK;
use agents_testenv::{argo, cache_dir, gobuild};
use anyhow::{Context, ensure};
use kube::api::Api;
use libtest_mimic::Trial;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::build::{BUILD, current_run, running, set_run_status, start_task_run, step, wait_build};
use crate::support::{Ctx, Env, output_before, phase_is, run_ok, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "gitops",
        [
            the_argocd_cm_patch_is_the_health_checks,
            agents_and_servers_read_as_their_phase_says,
            a_degraded_agent_and_edge_cases,
            a_build_in_progress_then_failed,
            a_workflow_awaiting_approval_is_suspended,
        ]
    )
}

/// The kinds, in the order of the `argocd-cm` patch.
const KINDS: [&str; 5] = ["Agent", "AgentBuild", "AgentWorkflow", "MCPServer", "ModelAPI"];

fn gitops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/gitops")
}

fn script(kind: &str) -> PathBuf {
    gitops_dir().join("argocd/agents.dev").join(kind).join("health.lua")
}

const PATCH: &str = "argocd-cm-health.yaml";

/// The `argocd-cm` merge patch: one `resource.customizations.health.agents.dev_<Kind>` key per kind.
fn argocd_cm_patch() -> anyhow::Result<String> {
    let mut out = String::from(
        "# Argo CD health checks for the agents.dev kinds, as argocd-cm keys: a merge patch generated from\n\
         # argocd/agents.dev/<Kind>/health.lua. Do not edit: the e2e test\n\
         # gitops::the_argocd_cm_patch_is_the_health_checks fails when it differs from them, and\n\
         # `UPDATE_GITOPS=1 cargo test -p agents-e2e --test e2e -- gitops::the_argocd_cm` rewrites it.\n\
         #   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file docs/gitops/argocd-cm-health.yaml\n\
         data:\n",
    );
    for kind in KINDS {
        let lua = std::fs::read_to_string(script(kind)).with_context(|| format!("reading {kind}'s health.lua"))?;
        out.push_str(&format!("  resource.customizations.health.agents.dev_{kind}: |\n"));
        for line in lua.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    Ok(out)
}

/// The shipped patch equals the scripts, covers every kind the CRDs define, and is a patch
/// kubectl applies to an `argocd-cm` (leaving its other keys) that then holds each script.
async fn the_argocd_cm_patch_is_the_health_checks(ctx: Ctx) -> anyhow::Result<()> {
    let mut kinds: Vec<String> = agents_api::crd::all().iter().map(|c| c.spec.names.kind.clone()).collect();
    kinds.sort();
    ensure!(kinds == KINDS, "the CRDs define {kinds:?}; the health checks cover {KINDS:?}");
    let generated = argocd_cm_patch()?;
    let path = gitops_dir().join(PATCH);
    if std::env::var_os("UPDATE_GITOPS").is_some() {
        std::fs::write(&path, &generated)?;
    }
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    ensure!(
        shipped == generated,
        "{} differs from the health.lua files: UPDATE_GITOPS=1 cargo test -p agents-e2e --test e2e -- gitops::the_argocd_cm",
        path.display()
    );
    ctx.apply_yaml(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm}\ndata: {url: 'https://argocd.example'}\n",
    )
    .await?;
    let path = path.display().to_string();
    let args = ["patch", "configmap", "argocd-cm", "--type", "merge", "--patch-file", &path, "-n", &ctx.ns];
    run_ok(ctx.kubectl().args(args))?;
    let cm: Api<k8s_openapi::api::core::v1::ConfigMap> = ctx.api();
    let data = cm.get("argocd-cm").await?.data.unwrap_or_default();
    ensure!(data.get("url").map(String::as_str) == Some("https://argocd.example"), "{data:?}");
    for kind in KINDS {
        let key = format!("resource.customizations.health.agents.dev_{kind}");
        let lua = std::fs::read_to_string(script(kind))?;
        ensure!(data.get(&key) == Some(&lua), "{key} is not {kind}'s health.lua: {:?}", data.get(&key));
    }
    Ok(())
}

/// The built `health-check`, built once per run (about a minute the first time).
static TOOL: OnceCell<PathBuf> = OnceCell::const_new();

async fn tool() -> anyhow::Result<&'static PathBuf> {
    TOOL.get_or_try_init(|| async {
        let bin = tokio::task::spawn_blocking(|| gobuild::ensure(&HEALTH_CHECK, &cache_dir())).await??;
        let path = bin.join("health-check");
        let versions = text(&run_ok(Command::new(&path).arg("--versions"))?.stdout);
        for pinned in ["github.com/yuin/gopher-lua v1.1.2", "sigs.k8s.io/cli-utils v0.37.2"] {
            ensure!(versions.lines().any(|l| l == pinned), "health-check was not built with {pinned}:\n{versions}");
        }
        Ok(path)
    })
    .await
}

/// What Argo CD's health check and kstatus make of one object.
#[derive(Debug, Clone, PartialEq)]
struct Reading {
    health: String,
    health_message: String,
    kstatus: String,
    kstatus_message: String,
}

async fn read(kind: &str, object: &Value) -> anyhow::Result<Reading> {
    let tool = tool().await?;
    let mut child = Command::new(tool)
        .arg(script(kind))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(object.to_string().as_bytes())?;
    let output = child.wait_with_output()?;
    ensure!(output.status.success(), "health-check failed: {}", text(&output.stderr));
    let out: Value = serde_json::from_slice(&output.stdout)?;
    ensure!(out.get("healthError").is_none() && out.get("kstatusError").is_none(), "{out}");
    let field = |a: &str, b: &str| out[a][b].as_str().unwrap_or_default().to_string();
    Ok(Reading {
        health: field("health", "status"),
        health_message: field("health", "message"),
        kstatus: field("kstatus", "status"),
        kstatus_message: field("kstatus", "message"),
    })
}

/// The live object as JSON, as `kubectl get -o json` prints it.
fn live(ctx: &Ctx, kind: &str, name: &str) -> anyhow::Result<Value> {
    let resource = format!("{}.agents.dev", kind.to_lowercase());
    let out = run_ok(ctx.kubectl().args(["get", &resource, name, "-o", "json", "-n", &ctx.ns]))?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// One expected reading of a live object in a state the operator wrote.
struct Case {
    kind: &'static str,
    name: &'static str,
    phase: &'static str,
    health: &'static str,
    kstatus: &'static str,
    /// Words of the Argo CD message (the phase, the Ready reason and message).
    says: &'static str,
}

async fn check(ctx: &Ctx, cases: &[Case]) -> anyhow::Result<()> {
    for case in cases {
        let object = live(ctx, case.kind, case.name)?;
        ensure!(
            object["status"]["phase"] == case.phase,
            "{} {} is not {}: {:#}",
            case.kind,
            case.name,
            case.phase,
            object["status"]
        );
        // The operator wrote kstatus' own condition: Reconciling for InProgress, Stalled for
        // Failed, neither when current (kstatus would otherwise fall back on Ready).
        let conditions = object["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let marker = match case.kstatus {
            "InProgress" => Some("Reconciling"),
            "Failed" => Some("Stalled"),
            _ => None,
        };
        for type_ in ["Reconciling", "Stalled"] {
            let present = conditions.iter().any(|c| c["type"] == type_ && c["status"] == "True");
            ensure!(
                present == (marker == Some(type_)),
                "{} {} ({}): {type_} present: {present}; conditions: {conditions:#?}",
                case.kind,
                case.name,
                case.phase
            );
        }
        let got = read(case.kind, &object).await?;
        ensure!(
            got.health == case.health && got.kstatus == case.kstatus && got.health_message.contains(case.says),
            "{} {} ({}): expected Argo CD {} saying {:?} and kstatus {}, got {got:?}\nstatus: {:#}",
            case.kind,
            case.name,
            case.phase,
            case.health,
            case.says,
            case.kstatus,
            object["status"]
        );
    }
    Ok(())
}

fn server_phase_is<K: HasServerPhase>(phase: ServerPhase) -> impl Fn(Option<&K>) -> bool {
    move |s| s.and_then(HasServerPhase::phase) == Some(phase)
}

trait HasServerPhase {
    fn phase(&self) -> Option<ServerPhase>;
}

impl HasServerPhase for ModelAPI {
    fn phase(&self) -> Option<ServerPhase> {
        self.status.as_ref().and_then(|s| s.phase)
    }
}

impl HasServerPhase for MCPServer {
    fn phase(&self) -> Option<ServerPhase> {
        self.status.as_ref().and_then(|s| s.phase)
    }
}

const OBJECTS: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: ready}
spec: {image: ghcr.io/example/a:v1}
---
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: waiting}
spec: {image: ghcr.io/example/a:v1, model: {name: m, modelAPIRef: {name: absent}}}
---
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: crash}
spec: {image: faults.kwok.invalid/crash-loop:1}
---
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: stopped}
spec: {image: ghcr.io/example/a:v1, replicas: 0}
---
apiVersion: agents.dev/v1alpha1
kind: ModelAPI
metadata: {name: platform}
spec: {mode: External, external: {url: 'https://llm.platform.example/v1', apiKeySecretRef: {name: gw, key: token}}}
---
apiVersion: agents.dev/v1alpha1
kind: ModelAPI
metadata: {name: own}
spec: {mode: Proxy, proxy: {configMapRef: {name: litellm-own}}}
---
apiVersion: agents.dev/v1alpha1
kind: MCPServer
metadata: {name: tools}
spec: {image: ghcr.io/example/tools:v1, port: 8080}
---
apiVersion: agents.dev/v1alpha1
kind: MCPServer
metadata: {name: broken}
spec: {image: faults.kwok.invalid/image-pull-backoff:1, port: 8080}
"#;

/// Agents Ready, Waiting (a missing ModelAPI), Failed (a crash loop) and Stopped; ModelAPIs
/// Ready and Waiting (a missing ConfigMap); MCPServers Ready and Failed (an image that cannot be
/// pulled): each kind's health check and kstatus on the live object. `kubectl wait
/// --for=condition=Ready` returns for the Ready and the Stopped Agent and times out for the
/// Waiting one; `--for=condition=Stalled` returns for the Failed one.
async fn agents_and_servers_read_as_their_phase_says(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let built = tokio::spawn(async { tool().await.map(|_| ()) });
    ctx.apply_yaml(OBJECTS).await?;
    let agents: Api<Agent> = ctx.api();
    for (name, phase) in [
        ("ready", AgentPhase::Ready),
        ("waiting", AgentPhase::Waiting),
        ("crash", AgentPhase::Failed),
        ("stopped", AgentPhase::Stopped),
    ] {
        ctx.wait_for(&agents, name, &format!("phase {phase}"), phase_is(phase)).await?;
    }
    let model_apis: Api<ModelAPI> = ctx.api();
    ctx.wait_for(&model_apis, "platform", "phase Ready", server_phase_is(ServerPhase::Ready)).await?;
    ctx.wait_for(&model_apis, "own", "phase Waiting", server_phase_is(ServerPhase::Waiting)).await?;
    let mcp_servers: Api<MCPServer> = ctx.api();
    ctx.wait_for(&mcp_servers, "tools", "phase Ready", server_phase_is(ServerPhase::Ready)).await?;
    ctx.wait_for(&mcp_servers, "broken", "phase Failed", server_phase_is(ServerPhase::Failed)).await?;
    built.await??;

    #[rustfmt::skip]
    let cases = [
        Case { kind: "Agent", name: "ready", phase: "Ready", health: "Healthy", kstatus: "Current", says: "Ready: Ready: 1/1 pods ready" },
        Case { kind: "Agent", name: "waiting", phase: "Waiting", health: "Progressing", kstatus: "InProgress", says: "Waiting: DependenciesNotReady: " },
        Case { kind: "Agent", name: "crash", phase: "Failed", health: "Degraded", kstatus: "Failed", says: "Failed: CrashLoopBackOff: 0/1 pods ready" },
        Case { kind: "Agent", name: "stopped", phase: "Stopped", health: "Suspended", kstatus: "Current", says: "Stopped: Stopped: " },
        Case { kind: "ModelAPI", name: "platform", phase: "Ready", health: "Healthy", kstatus: "Current", says: "Ready: Ready: an external endpoint" },
        Case { kind: "ModelAPI", name: "own", phase: "Waiting", health: "Progressing", kstatus: "InProgress", says: "Waiting: ConfigMapNotFound: " },
        Case { kind: "MCPServer", name: "tools", phase: "Ready", health: "Healthy", kstatus: "Current", says: "Ready: Ready: 1/1 pods ready" },
        Case { kind: "MCPServer", name: "broken", phase: "Failed", health: "Degraded", kstatus: "Failed", says: "Failed: ImagePullBackOff: " },
    ];
    check(&ctx, &cases).await?;

    // kubectl wait reads the Ready condition (and kstatus' Stalled) of the same objects.
    let wait = |target: &str, condition: &str, timeout: &str| {
        let mut command = ctx.kubectl();
        command.args(["wait", &format!("--for=condition={condition}"), target, &format!("--timeout={timeout}")]);
        command.args(["-n", &ctx.ns]);
        command
    };
    for target in ["agent.agents.dev/ready", "agent.agents.dev/stopped", "modelapi.agents.dev/platform"] {
        run_ok(&mut wait(target, "Ready", "20s"))?;
    }
    run_ok(&mut wait("agent.agents.dev/crash", "Stalled", "20s"))?;
    let started = std::time::Instant::now();
    let out = output_before(&mut wait("agent.agents.dev/waiting", "Ready", "3s"), Duration::from_secs(30))?;
    ensure!(!out.status.success(), "kubectl wait returned for a Waiting Agent: {}", text(&out.stdout));
    ensure!(text(&out.stderr).contains("timed out"), "{}", text(&out.stderr));
    ensure!(started.elapsed() >= Duration::from_secs(3), "it did not wait");
    Ok(())
}

/// An Agent with 2 replicas where a quota admits 1 pod: Degraded, `PodsCannotBeCreated`, which
/// reads Progressing (as Argo CD reads the Deployment itself, until its progress deadline). From
/// its live object, states the operator is not caught in here: pods starting, an update rolling
/// out, the deadline passed (10 minutes), no status yet, and a status of an older generation.
async fn a_degraded_agent_and_edge_cases(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: one-pod}\nspec: {hard: {pods: \"1\"}}\n")
        .await?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: half}\nspec: {image: ghcr.io/example/a:v1, replicas: 2}\n",
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "half", "Degraded with 1 pod", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref()).is_some_and(|s| {
            s.phase == Some(AgentPhase::Degraded)
                && agents_api::conditions::find(&s.conditions, "Ready")
                    .is_some_and(|c| c.reason == "PodsCannotBeCreated")
        })
    })
    .await?;
    #[rustfmt::skip]
    check(&ctx, &[Case { kind: "Agent", name: "half", phase: "Degraded", health: "Progressing", kstatus: "InProgress", says: "Degraded: PodsCannotBeCreated: 1/2 pods ready" }]).await?;

    let object = live(&ctx, "Agent", "half")?;
    let mut degraded = object.clone();
    // What the operator writes while the second pod starts (KWOK starts it too fast to catch).
    let ready = degraded["status"]["conditions"]
        .as_array_mut()
        .and_then(|c| c.iter_mut().find(|c| c["type"] == "Ready"))
        .context("a Ready condition")?;
    ready["reason"] = json!("PodsNotReady");
    ready["message"] = json!("1/2 pods ready");
    let got = read("Agent", &degraded).await?;
    ensure!(got.health == "Progressing" && got.health_message == "Degraded: PodsNotReady: 1/2 pods ready", "{got:?}");
    // The deadline passed: the Deployment gave up; the operator adds Stalled beside Ready.
    let mut stuck = degraded.clone();
    let conditions = stuck["status"]["conditions"].as_array_mut().context("conditions")?;
    conditions.retain(|c| c["type"] != "Reconciling");
    for c in conditions.iter_mut().filter(|c| c["type"] == "Ready") {
        c["reason"] = json!("RolloutFailed");
        c["message"] = json!("1/2 pods ready: ReplicaSet \"half-1\" has timed out progressing.");
    }
    let mut stalled = conditions.iter().find(|c| c["type"] == "Ready").cloned().context("Ready")?;
    stalled["type"] = json!("Stalled");
    stalled["status"] = json!("True");
    conditions.push(stalled);
    let got = read("Agent", &stuck).await?;
    ensure!((got.health.as_str(), got.kstatus.as_str()) == ("Degraded", "Failed"), "{got:?}");
    let mut rolling = object.clone();
    rolling["status"]["phase"] = json!("Ready");
    rolling["status"]["conditions"] = json!([
        {"type": "Ready", "status": "True", "reason": "RolloutInProgress", "message": "2/2 pods ready, rolling out an update",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Reconciling", "status": "True", "reason": "RolloutInProgress", "message": "2/2 pods ready, rolling out an update",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
    ]);
    let got = read("Agent", &rolling).await?;
    ensure!((got.health.as_str(), got.kstatus.as_str()) == ("Progressing", "InProgress"), "{got:?}");

    let mut fresh = object.clone();
    fresh.as_object_mut().context("an object")?.remove("status");
    let got = read("Agent", &fresh).await?;
    ensure!(got.health == "Progressing" && got.health_message == "waiting for the operator", "{got:?}");
    let generation = object["metadata"]["generation"].as_i64().context("a generation")?;
    let mut stale = object.clone();
    stale["metadata"]["generation"] = json!(generation + 1);
    let got = read("Agent", &stale).await?;
    ensure!(got.health == "Progressing" && got.health_message.starts_with("waiting for the operator"), "{got:?}");
    ensure!(got.kstatus == "InProgress" && got.kstatus_message.contains("latest observed generation"), "{got:?}");
    for kind in KINDS {
        let mut unknown = object.clone();
        unknown["kind"] = json!(kind);
        unknown["status"]["phase"] = json!("Hibernating");
        let got = read(kind, &unknown).await?;
        ensure!(got.health == "Unknown" && got.health_message == "unknown phase Hibernating", "{kind}: {got:?}");
    }
    Ok(())
}

/// An AgentBuild whose run Tekton (played by the test) has started: Progressing, kstatus
/// InProgress; then the run fails: Degraded, kstatus Failed.
async fn a_build_in_progress_then_failed(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(BUILD).await?;
    let run = current_run(&ctx, "research").await?;
    set_run_status(&ctx, &run, running()).await?;
    start_task_run(&ctx, &run, json!([step("clone", "done"), step("build", "running")]), false).await?;
    wait_build(&ctx, "research", "Running", |s| s.phase == Some(BuildPhase::Running)).await?;
    #[rustfmt::skip]
    check(&ctx, &[Case { kind: "AgentBuild", name: "research", phase: "Running", health: "Progressing", kstatus: "InProgress", says: "Running: Running: " }]).await?;
    set_run_status(
        &ctx,
        &run,
        json!({"conditions": [{"type": "Succeeded", "status": "False", "reason": "Failed", "message": "Tasks Completed: 1 (Failed: 1)"}]}),
    )
    .await?;
    wait_build(&ctx, "research", "Failed", |s| s.phase == Some(BuildPhase::Failed)).await?;
    #[rustfmt::skip]
    check(&ctx, &[Case { kind: "AgentBuild", name: "research", phase: "Failed", health: "Degraded", kstatus: "Failed", says: "Failed: " }]).await?;
    let mut succeeded = live(&ctx, "AgentBuild", "research")?;
    // The operator writes this once Tekton reports the digest (build::an_agent_runs_the_digest_its_build_pushed).
    succeeded["status"]["phase"] = json!("Succeeded");
    succeeded["status"]["conditions"] = json!([{"type": "Ready", "status": "True", "reason": "Succeeded",
        "message": "pushed registry.example.com/team/research:v1@sha256:1", "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
    let got = read("AgentBuild", &succeeded).await?;
    ensure!((got.health.as_str(), got.kstatus.as_str()) == ("Healthy", "Current"), "{got:?}");
    Ok(())
}

const WORKFLOW: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: AgentWorkflow
metadata: {name: review}
spec:
  steps:
  - {name: research, agentRef: {name: researcher}, input: "About GitOps"}
  - {name: sign-off, type: Approval, dependsOn: [research], approval: {message: Ship it?}}
"#;

fn workflow_phase_is(phase: WorkflowPhase) -> impl Fn(Option<&AgentWorkflow>) -> bool {
    move |w| w.and_then(|w| w.status.as_ref()).and_then(|s| s.phase) == Some(phase)
}

/// With Argo's real workflow-controller: an AgentWorkflow Waiting for its Agent (Progressing),
/// Ready (Healthy), Running (Progressing; kstatus Current: a run is not the reconcile),
/// AwaitingApproval (Suspended) and, rejected, Failed (Degraded; kstatus Failed).
async fn a_workflow_awaiting_approval_is_suspended(ctx: Ctx) -> anyhow::Result<()> {
    crate::workflow::argo_controller(&ctx).await?;
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(WORKFLOW).await?;
    let workflows: Api<AgentWorkflow> = ctx.api();
    let wait = |phase: WorkflowPhase| ctx.wait_for(&workflows, "review", phase.as_str(), workflow_phase_is(phase));
    wait(WorkflowPhase::Waiting).await?;
    #[rustfmt::skip]
    check(&ctx, &[Case { kind: "AgentWorkflow", name: "review", phase: "Waiting", health: "Progressing", kstatus: "InProgress", says: "Waiting: AgentsNotReady: " }]).await?;

    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: researcher}\nspec: {image: ghcr.io/example/researcher:v1}\n")
        .await?;
    wait(WorkflowPhase::Ready).await?;
    #[rustfmt::skip]
    check(&ctx, &[Case { kind: "AgentWorkflow", name: "review", phase: "Ready", health: "Healthy", kstatus: "Current", says: "Ready: Ready: " }]).await?;

    let out = run_ok(ctx.kubectl().args(["agents", "workflow", "run", "review", "--no-wait", "-n", &ctx.ns]))?;
    let run = text(&out.stdout).trim().to_string();
    // Argo calls the researcher and waits for its answer, which the test gives only after looking.
    let (node, _) = crate::workflow::http_call(&ctx, &run, "research").await?;
    wait(WorkflowPhase::Running).await?;
    #[rustfmt::skip]
    check(&ctx, &[Case { kind: "AgentWorkflow", name: "review", phase: "Running", health: "Progressing", kstatus: "Current", says: "Running: Running: " }]).await?;

    let answer = crate::workflow::a2a_answer("three papers");
    argo::answer_http_node(&ctx.client, &ctx.ns, &run, &node, "Succeeded", &answer).await?;
    wait(WorkflowPhase::AwaitingApproval).await?;
    #[rustfmt::skip]
    check(&ctx, &[Case { kind: "AgentWorkflow", name: "review", phase: "AwaitingApproval", health: "Suspended", kstatus: "Current", says: "AwaitingApproval: AwaitingApproval: " }]).await?;

    run_ok(ctx.kubectl().args(["agents", "workflow", "reject", "review", "--message", "not yet", "-n", &ctx.ns]))?;
    wait(WorkflowPhase::Failed).await?;
    #[rustfmt::skip]
    check(&ctx, &[Case { kind: "AgentWorkflow", name: "review", phase: "Failed", health: "Degraded", kstatus: "Failed", says: "Failed: RunFailed: " }]).await?;
    Ok(())
}

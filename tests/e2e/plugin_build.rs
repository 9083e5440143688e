//! `kubectl agents build` through kubectl's plugin discovery, with the real operator, while the
//! test plays Tekton (see `build.rs`): progress, streamed step logs, exit codes and the digest on
//! stdout; list and logs of past runs; what it refuses before starting anything.

use std::process::Command;
use std::sync::Arc;

use agents_api::{AgentBuild, BuildPhase};
use anyhow::ensure;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use libtest_mimic::Trial;
use serde_json::json;

use crate::build::{
    BUILD, DIGEST, current_run, running, set_run_status, set_task_run_status, start_task_run, step, succeeded,
    wait_build,
};
use crate::support::{Ctx, Env, Running, output_within, run_ok, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "plugin_build",
        [
            build_follows_the_run_and_prints_the_digest,
            a_failed_build_exits_non_zero_with_its_reason,
            no_wait_then_list_and_logs,
            bad_input_is_refused_before_anything_starts,
        ]
    )
}

fn agents(ctx: &Ctx, args: &[&str]) -> Command {
    let mut command = ctx.kubectl();
    command.arg("agents").args(args).args(["-n", &ctx.ns]);
    command
}

async fn secret(ctx: &Ctx, name: &str, key: &str) -> anyhow::Result<()> {
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "stringData": {key: "not-a-real-credential"},
    }))?;
    ctx.api::<Secret>().create(&PostParams::default(), &secret).await?;
    Ok(())
}

async fn build_follows_the_run_and_prints_the_digest(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    secret(&ctx, "github", "token").await?;
    secret(&ctx, "registry", ".dockerconfigjson").await?;
    let command = Running::start(agents(
        &ctx,
        &[
            "build",
            "research",
            "--repo",
            "https://github.com/example/research-agent.git",
            "--revision",
            "v1.2.0",
            "--image",
            "registry.example.com/team/research",
            "--tag",
            "v1",
            "--token-secret",
            "github",
            "--push-secret",
            "registry",
            "--build-arg",
            "PYTHON_VERSION=3.12",
        ],
    ))?;
    // Tekton's part: the pod runs, clone is done and build runs; then everything is done.
    let run = current_run(&ctx, "research").await?;
    start_task_run(&ctx, &run, json!([step("clone", "done"), step("build", "running"), step("push", "waiting")]), true)
        .await?;
    set_run_status(&ctx, &run, running()).await?;
    wait_build(&ctx, "research", "build running", |s| s.phase == Some(BuildPhase::Running)).await?;
    crate::support::wait_for_line(&command.stderr, "showing clone's log", |l| l.starts_with("[clone] ")).await?;
    set_task_run_status(
        &ctx,
        &format!("{run}-build"),
        json!({"steps": [step("clone", "done"), step("build", "done"), step("push", "done")]}),
    )
    .await?;
    set_run_status(&ctx, &run, succeeded(DIGEST)).await?;
    let (status, stdout, stderr) = command.finish().await?;
    ensure!(status.success(), "exit {status}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    ensure!(stdout.trim() == format!("registry.example.com/team/research:v1@{DIGEST}"), "stdout: {stdout}");
    for expected in [
        "agentbuild.agents.dev/research created",
        &format!("agentbuild/research: run {run}"),
        "agentbuild/research: clone: Succeeded",
        "agentbuild/research: build: Running",
        "agentbuild/research: push: Succeeded",
        "[clone] agent container started (simulated by KWOK)",
        "[build] agent container started (simulated by KWOK)",
        "[push] agent container started (simulated by KWOK)",
    ] {
        ensure!(stderr.contains(expected), "stderr lacks {expected:?}:\n{stderr}");
    }
    ensure!(!stderr.contains("not-a-real-credential"), "a secret value was printed");
    // What the flags made.
    let build = ctx.api::<AgentBuild>().get("research").await?;
    ensure!(build.spec.git.token_secret_ref.as_ref().map(|r| r.key.as_str()) == Some("token"));
    ensure!(build.spec.push_secret_ref.as_ref().map(|r| r.key.as_str()) == Some(".dockerconfigjson"));
    ensure!(build.spec.build_args.len() == 1 && build.spec.build_args[0].value == "3.12");
    Ok(())
}

async fn a_failed_build_exits_non_zero_with_its_reason(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    secret(&ctx, "github", "token").await?;
    secret(&ctx, "registry", ".dockerconfigjson").await?;
    ctx.apply_yaml(BUILD).await?;
    let first = current_run(&ctx, "research").await?;
    let command = Running::start(agents(&ctx, &["build", "research", "--quiet"]))?;
    // The plugin's request is a new run.
    let wanted = first.clone();
    wait_build(&ctx, "research", "the requested run", move |s| s.run_name.as_deref().is_some_and(|r| r != wanted))
        .await?;
    let run = current_run(&ctx, "research").await?;
    start_task_run(&ctx, &run, json!([step("clone", "running")]), false).await?;
    set_task_run_status(
        &ctx,
        &format!("{run}-build"),
        json!({
            "conditions": [{"type": "Succeeded", "status": "False", "reason": "Failed",
                "message": "\"step-clone\" exited with code 128: could not resolve host github.invalid"}],
            "steps": [{"name": "clone", "terminated": {"exitCode": 128, "reason": "Error"}}],
        }),
    )
    .await?;
    set_run_status(&ctx, &run, json!({"conditions": [{"type": "Succeeded", "status": "False", "reason": "Failed"}]}))
        .await?;
    let (status, stdout, stderr) = command.finish().await?;
    ensure!(status.code() == Some(1), "exit {status}\nstderr:\n{stderr}");
    ensure!(stdout.trim().is_empty(), "no image on stdout after a failure: {stdout}");
    ensure!(stderr.contains("failed (CloneFailed)") && stderr.contains("could not resolve host"), "{stderr}");
    ensure!(stderr.contains(&format!("kubectl agents build logs research {run}")), "{stderr}");
    ensure!(!stderr.contains("[clone]"), "--quiet shows no logs: {stderr}");
    Ok(())
}

async fn no_wait_then_list_and_logs(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let output = run_ok(&mut agents(
        &ctx,
        &[
            "build",
            "research",
            "--repo",
            "https://github.com/example/a.git",
            "--image",
            "r.example.com/a/b",
            "--no-wait",
        ],
    ))?;
    let run = text(&output.stdout).trim().to_string();
    ensure!(run.starts_with("research-"), "stdout names the run: {run}");
    ensure!(current_run(&ctx, "research").await? == run);
    start_task_run(&ctx, &run, json!([step("clone", "done"), step("build", "done"), step("push", "done")]), true)
        .await?;
    set_run_status(&ctx, &run, succeeded(DIGEST)).await?;
    wait_build(&ctx, "research", "Succeeded", |s| s.phase == Some(BuildPhase::Succeeded)).await?;

    let listed = text(&run_ok(&mut agents(&ctx, &["build", "list"]))?.stdout);
    ensure!(listed.starts_with("NAME") && listed.contains("Succeeded") && listed.contains(DIGEST), "{listed}");
    let got = text(&run_ok(&mut agents(&ctx, &["get", "agentbuilds"]))?.stdout);
    // The same table but for AGE, which may tick between the two commands.
    let without_age = |table: &str| {
        table.lines().map(|l| l.rsplit_once(' ').map_or(l, |(rest, _)| rest).trim_end().to_string()).collect::<Vec<_>>()
    };
    ensure!(without_age(&got) == without_age(&listed), "get agentbuilds and build list differ:\n{got}\n{listed}");
    let runs = text(&run_ok(&mut agents(&ctx, &["build", "list", "research"]))?.stdout);
    ensure!(runs.contains(&format!("{run} *")) && runs.contains(DIGEST), "{runs}");
    let logs = text(&run_ok(&mut agents(&ctx, &["build", "logs", "research"]))?.stdout);
    for step in ["clone", "build", "push"] {
        ensure!(logs.contains(&format!("[{step}] agent container started (simulated by KWOK)")), "{logs}");
    }
    let described = text(&run_ok(&mut agents(&ctx, &["describe", "agentbuild", "research"]))?.stdout);
    ensure!(described.contains("Phase:        Succeeded") && described.contains(&run), "{described}");
    Ok(())
}

async fn bad_input_is_refused_before_anything_starts(ctx: Ctx) -> anyhow::Result<()> {
    let fails = |args: &[&str]| -> anyhow::Result<String> {
        let output = output_within(&mut agents(&ctx, args))?;
        ensure!(output.status.code() == Some(1), "`build {}` exited {}", args.join(" "), output.status);
        Ok(text(&output.stderr))
    };
    let missing = fails(&["build", "research"])?;
    ensure!(missing.contains("not found") && missing.contains("--repo URL --image"), "{missing}");

    let secret_missing = fails(&[
        "build",
        "research",
        "--repo",
        "https://github.com/example/private.git",
        "--image",
        "r.example.com/a/b",
        "--token-secret",
        "nope",
    ])?;
    ensure!(secret_missing.contains("Secret \"nope\" (git.tokenSecretRef) does not exist"), "{secret_missing}");

    let bad_url = fails(&["build", "research", "--repo", "github.com/x", "--image", "r.example.com/a/b"])?;
    ensure!(bad_url.contains("must be a git repository URL"), "{bad_url}");
    let bad_tag = fails(&["build", "research", "--repo", "https://x.io/a.git", "--image", "r.io/a/b", "--tag=-x"])?;
    ensure!(bad_tag.contains("must be an image tag"), "{bad_tag}");
    let bad_arg =
        fails(&["build", "research", "--repo", "https://x.io/a.git", "--image", "r.io/a/b", "--build-arg", "X"])?;
    ensure!(bad_arg.contains("is not NAME=VALUE"), "{bad_arg}");

    ensure!(ctx.api::<AgentBuild>().get_opt("research").await?.is_none(), "nothing was created");
    Ok(())
}

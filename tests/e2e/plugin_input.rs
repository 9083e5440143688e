//! Bad input to `kubectl agents`, refused as kubectl refuses it: at once, naming what is wrong,
//! and writing nothing.

use std::sync::Arc;

use agents_api::Agent;
use anyhow::ensure;
use kube::api::Api;
use libtest_mimic::Trial;

use crate::support::{Ctx, Env, output_within, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "plugin_input",
        [manifests_kubectl_would_refuse_are_refused, command_lines_are_answered_as_kubectl_answers_them]
    )
}

async fn manifests_kubectl_would_refuse_are_refused(ctx: Ctx) -> anyhow::Result<()> {
    let dir = ctx.cluster.dir().join(format!("{}-input", ctx.ns));
    std::fs::create_dir_all(&dir)?;
    let refused = |name: &str, manifest: String, expected: &str| -> anyhow::Result<()> {
        let file = dir.join(name);
        std::fs::write(&file, manifest)?;
        let stderr = ctx.agents_err(&["apply", "-f", file.to_str().unwrap_or_default()])?;
        ensure!(stderr.contains(expected), "{name}: expected {expected:?} in:\n{stderr}");
        Ok(())
    };
    refused(
        "elsewhere.yaml",
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: a, namespace: somewhere-else}\nspec: {image: x:1}\n".into(),
        &format!("the namespace of Agent a (somewhere-else) does not match the namespace -n gave ({})", ctx.ns),
    )?;
    refused(
        "misspelt.yaml",
        "apiVersion: agents.dev/v1alpha1\nkind: Agnet\nmetadata: {name: a}\nspec: {image: x:1}\n".into(),
        "agents.dev/v1alpha1 has no kind Agnet (did you mean Agent?); it serves Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI",
    )?;
    refused(
        "version.yaml",
        "apiVersion: agents.dev/v1\nkind: Agent\nmetadata: {name: a}\nspec: {image: x:1}\n".into(),
        "the cluster does not serve apiVersion agents.dev/v1; it serves agents.dev/v1alpha1",
    )?;
    refused(
        "core.yaml",
        "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: a}\n".into(),
        "apps/v1 has no kind Deploymnet (did you mean Deployment?)",
    )?;
    // libyaml takes time growing with the square of the nesting (30,000 levels: 17 s); the
    // command's deadline makes "at once" part of the check.
    refused(
        "deep.yaml",
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {}{}\n",
            "[".repeat(30_000),
            "]".repeat(30_000)
        ),
        "line 4 nests deeper than 1000 levels of [ and {",
    )?;
    refused(
        "huge.yaml",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {{a: '{}'}}\n", "x".repeat(4 << 20)),
        "document 1 is larger than 3 MiB",
    )?;
    let agents: Api<Agent> = ctx.api();
    ensure!(agents.list(&Default::default()).await?.items.is_empty(), "a refused manifest created an Agent");
    Ok(())
}

/// Flags out of range are refused before anything runs, a misspelt kind is named, and a client
/// dry run needs no cluster.
async fn command_lines_are_answered_as_kubectl_answers_them(ctx: Ctx) -> anyhow::Result<()> {
    for (args, expected) in [
        (&["get", "--request-timeout", "18446744073709551615s"][..], "is too long: the longest duration is 2562047h"),
        (&["delete", "agent", "x", "--timeout", "9999999999999999h"], "is too long"),
        (&["logs", "x", "--since=-5m"], "is negative"),
    ] {
        let output = output_within(&mut ctx.agents(args))?;
        let stderr = text(&output.stderr);
        ensure!(
            output.status.code() == Some(2) && stderr.contains(expected),
            "{args:?}: {:?}\n{stderr}",
            output.status
        );
    }
    // A misspelt kind reads as a name kubectl agents cannot find; the answer says what was meant.
    let stderr = ctx.agents_err(&["get", "agnets"])?;
    ensure!(
        stderr.contains("agent \"agnets\" not found")
            && stderr.contains("(if \"agnets\" was meant as a kind: agents is one)"),
        "{stderr}"
    );
    // A client-side dry run contacts nothing, as kubectl's: no kubeconfig needed.
    let output = output_within(ctx.kubectl().args([
        "agents",
        "create",
        "agent",
        "offline",
        "--model",
        "gpt-4o",
        "--model-api",
        "gateway",
        "--dry-run=client",
        "-o",
        "yaml",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]))?;
    let printed = text(&output.stdout);
    ensure!(output.status.success(), "{:?}\n{}", output.status, text(&output.stderr));
    ensure!(printed.contains("kind: Agent") && printed.contains("name: offline"), "{printed}");
    let output = output_within(ctx.kubectl().args(["agents", "get", "-n", "Team_A"]))?;
    let stderr = text(&output.stderr);
    ensure!(
        output.status.code() == Some(2) && stderr.contains("\"Team_A\" is not a namespace name"),
        "{:?}\n{stderr}",
        output.status
    );
    Ok(())
}

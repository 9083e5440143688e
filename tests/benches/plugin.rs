//! Benchmark: the plugin as a user runs it. Prints figures; asserts nothing.
//!
//! ```sh
//! cargo bench -p agents-e2e --bench plugin            # 1000 Agents
//! cargo bench -p agents-e2e --bench plugin -- 200
//! ```
//!
//! - `kubectl agents get` against `kubectl get agents.agents.dev` on N Agents, both through
//!   kubectl (the plugin found on PATH), side by side, median of several runs each;
//! - start-up: `kubectl-agents --help` and `kubectl-agents version --client`, run directly.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agents_api::Agent;
use agents_testenv::{Cluster, Options, TestNamespace};
use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

const RUNS: usize = 7;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().skip(1).find(|a| a != "--bench").map(|a| a.parse()).transpose()?.unwrap_or(1000);
    build_plugin()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let cluster = runtime.block_on(Cluster::start_for_this_process(&Options {
        extra_crds: agents_api::crd::all(),
        ..Default::default()
    }))?;
    let result = runtime.block_on(run(&cluster, n));
    cluster.stop();
    result
}

fn build_plugin() -> anyhow::Result<()> {
    if !agents_testenv::cargo::command().args(["build", "--release", "-p", "kubectl-agents"]).status()?.success() {
        bail!("building kubectl-agents failed");
    }
    Ok(())
}

fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench has a path");
    exe.parent().and_then(|d| d.parent()).expect("<target>/<profile>/deps").to_path_buf()
}

async fn run(cluster: &Cluster, n: usize) -> anyhow::Result<()> {
    let client = cluster.client().await?;
    let ns = TestNamespace::create(&client, "bench-plugin").await?;
    let agents: Api<Agent> = Api::namespaced(client.clone(), ns.name());
    // Agents with a status, as the operator would leave them, so both tools print full rows.
    stream::iter(0..n)
        .map(|i| {
            let agents = agents.clone();
            async move {
                let name = format!("agent-{i}");
                let agent: Agent = serde_json::from_value(json!({
                    "apiVersion": "agents.dev/v1alpha1", "kind": "Agent", "metadata": {"name": name},
                    "spec": {"image": "ghcr.io/example/a:v1", "replicas": 2, "model": {"provider": "openai", "name": "gpt-4o"}},
                }))?;
                agents.create(&PostParams::default(), &agent).await?;
                let status = json!({"apiVersion": "agents.dev/v1alpha1", "kind": "Agent", "status": {
                    "phase": "Ready", "replicas": 2, "readyReplicas": 2, "image": "ghcr.io/example/a:v1",
                    "endpoint": format!("http://{name}.{}.svc.cluster.local", agents.namespace().unwrap_or_default()),
                }});
                agents.patch_status(&name, &PatchParams::apply("bench").force(), &Patch::Apply(&status)).await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;

    let plugins = cluster.dir().join("bench-plugins");
    std::fs::create_dir_all(&plugins)?;
    let link = plugins.join("kubectl-agents");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(release_dir().join("kubectl-agents"), &link)?;
    let kubectl = cluster.kubernetes_bin().join("kubectl");
    let path = std::env::join_paths(
        [plugins.clone(), cluster.kubernetes_bin().to_path_buf()]
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let kubeconfig = cluster.kubeconfig();
    let ns_flag = ["-n", ns.name()];
    let timed = |program: &Path, args: &[&str]| -> anyhow::Result<Duration> {
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            let start = Instant::now();
            let status = Command::new(program)
                .args(args)
                .env("PATH", &path)
                .env("KUBECONFIG", &kubeconfig)
                .stdout(Stdio::null())
                .status()
                .with_context(|| format!("running {}", program.display()))?;
            samples.push(start.elapsed());
            if !status.success() {
                bail!("{} {} failed", program.display(), args.join(" "));
            }
        }
        samples.sort();
        Ok(samples[RUNS / 2])
    };
    // What is timed must be the whole table: a header and a row per Agent, from each program.
    for (program, args) in [(&kubectl, &["agents", "get"][..]), (&kubectl, &["get", "agents.agents.dev"][..])] {
        let output = Command::new(program)
            .args([args, &ns_flag[..]].concat())
            .env("PATH", &path)
            .env("KUBECONFIG", &kubeconfig)
            .output()?;
        let lines = String::from_utf8_lossy(&output.stdout).lines().count();
        if lines != n + 1 {
            bail!("{} {} printed {lines} lines, not a header and {n} rows", program.display(), args.join(" "));
        }
    }
    let plugin = timed(&kubectl, &[&["agents", "get"][..], &ns_flag].concat())?;
    let native = timed(&kubectl, &[&["get", "agents.agents.dev"][..], &ns_flag].concat())?;
    let direct = timed(&release_dir().join("kubectl-agents"), &[&["get"][..], &ns_flag].concat())?;
    let help = timed(&release_dir().join("kubectl-agents"), &["--help"])?;
    let version = timed(&release_dir().join("kubectl-agents"), &["version", "--client"])?;
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("kubectl-agents plugin benchmark: {n} Agents, median of {RUNS} runs");
    println!("  kubectl agents get (through kubectl): {}", ms(plugin));
    println!("  kubectl get agents.agents.dev:        {}", ms(native));
    println!("  ratio: {:.2}x", plugin.as_secs_f64() / native.as_secs_f64());
    println!("  kubectl-agents get (run directly):    {}", ms(direct));
    println!("  kubectl-agents --help:                {}", ms(help));
    println!("  kubectl-agents version --client:      {}", ms(version));
    ns.delete().await?;
    Ok(())
}

//! Benchmark: N Agents through the real operator (release build) on the local control plane,
//! side by side with a baseline in the same run. It prints figures; it asserts nothing.
//!
//! ```sh
//! cargo bench -p agents-e2e --bench agents                 # N = 100 and 1000
//! cargo bench -p agents-e2e --bench agents -- 100 --settle 10   # quiet window (default 60 s, as the target says)
//! ```
//!
//! Per N, in fresh namespaces:
//! - baseline: the API server's own limit — N Agents are created, then their rendered children
//!   (ServiceAccount, ConfigMap, Service, Deployment) are server-side applied by a tight loop with
//!   the operator's concurrency and no operator logic; both steps are timed, since the operator's
//!   run includes the same creates;
//! - operator: N Agents created at that concurrency while the operator runs; the time until it
//!   has written every child, until every Agent is Ready, create → Deployment latency (p50/p99),
//!   API writes per Agent, writes in a settled window, and the operator's RSS;
//! - for both: the CPU seconds each process (control plane, operator, benchmark) used, to show
//!   where the time went;
//! - unloaded: 20 Agents created one at a time, each waited for, for create → Deployment latency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agents_api::{Agent, AgentPhase};
use agents_render::agent::{Dependencies, Inputs, children};
use agents_testenv::{Cluster, TestNamespace, http};
use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};

mod support;

use support::cpu::{CpuUse, Processes};
use support::{
    SCRAPE_EVERY, agent_manifest, percentile, poll_every, poll_until, start_operator, with_operator_on_a_cluster,
};

const UNLOADED_SAMPLES: usize = 20;

struct Options {
    sizes: Vec<usize>,
    concurrency: usize,
    settle: Duration,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options { sizes: Vec::new(), concurrency: 16, settle: Duration::from_secs(60) };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--concurrency" => options.concurrency = args.next().context("--concurrency N")?.parse()?,
            "--settle" => options.settle = Duration::from_secs(args.next().context("--settle SECONDS")?.parse()?),
            n => options.sizes.push(n.parse().with_context(|| format!("not a number of Agents: {n}"))?),
        }
    }
    if options.sizes.is_empty() {
        options.sizes = vec![100, 1000];
    }
    Ok(options)
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    with_operator_on_a_cluster(async |cluster| run(cluster, &options).await)
}

async fn run(cluster: &Cluster, options: &Options) -> anyhow::Result<()> {
    let client = cluster.client().await?;
    println!(
        "kubectl-agents benchmark: {} cores, concurrency {}, settled window {:?}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        options.concurrency,
        options.settle
    );
    let processes = Processes::of(cluster);
    for &n in &options.sizes {
        let baseline = baseline(&client, &processes, n, options.concurrency).await?;
        let (operator, ns) = with_operator(cluster, &client, &processes, n, options).await?;
        report(n, &baseline, &operator);
        clean_up(&ns, n).await?;
    }
    Ok(())
}

async fn create_agents(
    agents: &Api<Agent>,
    names: &[String],
    concurrency: usize,
    created: Option<&Mutex<HashMap<String, Instant>>>,
) -> anyhow::Result<Vec<Agent>> {
    stream::iter(names)
        .map(|name| async move {
            let agent: Agent = serde_json::from_value(agent_manifest(name))?;
            let agent = agents.create(&PostParams::default(), &agent).await?;
            if let Some(created) = created {
                created.lock().unwrap().insert(name.clone(), Instant::now());
            }
            Ok::<_, anyhow::Error>(agent)
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

struct Baseline {
    children: usize,
    /// Creating the N Agents.
    creates: Duration,
    /// Applying their children.
    elapsed: Duration,
    /// CPU seconds per process over both.
    cpu: CpuUse,
}

async fn baseline(
    client: &kube::Client,
    processes: &Processes,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Baseline> {
    let ns = TestNamespace::create(client, &format!("bench-baseline-{n}")).await?;
    let agents: Api<Agent> = Api::namespaced(client.clone(), ns.name());
    let names: Vec<String> = (0..n).map(|i| format!("agent-{i}")).collect();
    let cpu_before = processes.cpu();
    let start = Instant::now();
    let created = create_agents(&agents, &names, concurrency, None).await?;
    let creates = start.elapsed();
    let dependencies = Dependencies::default();
    let mut objects = Vec::new();
    for agent in &created {
        let rendered = children(Inputs { agent, dependencies: &dependencies, service_monitor_served: false })?;
        objects.push(serde_json::to_value(agents_render::hash::stamp(rendered.service_account))?);
        objects.push(serde_json::to_value(agents_render::hash::stamp(rendered.config_map))?);
        objects.push(serde_json::to_value(agents_render::hash::stamp(rendered.service.context("a Service")?))?);
        objects.push(serde_json::to_value(agents_render::hash::stamp(rendered.deployment.context("a Deployment")?))?);
    }
    let params = PatchParams::apply("bench-baseline").force();
    let start = Instant::now();
    stream::iter(&objects)
        .map(|object| {
            let params = params.clone();
            let client = client.clone();
            let ns = ns.name().to_string();
            async move {
                let kind = object["kind"].as_str().unwrap_or_default();
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                let resource = match kind {
                    "ServiceAccount" => ("", "v1", "serviceaccounts"),
                    "ConfigMap" => ("", "v1", "configmaps"),
                    "Service" => ("", "v1", "services"),
                    _ => ("apps", "v1", "deployments"),
                };
                let gvk = kube::core::GroupVersionKind::gvk(resource.0, resource.1, kind);
                let ar = kube::core::ApiResource::from_gvk_with_plural(&gvk, resource.2);
                let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client, &ns, &ar);
                api.patch(name, &params, &Patch::Apply(object)).await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    let elapsed = start.elapsed();
    let cpu = processes.cpu().since(&cpu_before);
    clean_up(&ns, n).await?;
    Ok(Baseline { children: objects.len(), creates, elapsed, cpu })
}

struct OperatorRun {
    children_written: Duration,
    /// CPU seconds per process until every child was written.
    cpu: CpuUse,
    all_ready: Duration,
    burst_latency: Vec<Duration>,
    unloaded_latency: Vec<Duration>,
    writes_per_agent: f64,
    reconciles_per_agent: f64,
    settled_writes: f64,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    settled_rss_kib: u64,
}

/// Records when each Deployment of the namespace is first seen.
fn watch_deployments(client: &kube::Client, namespace: &str) -> Arc<Mutex<HashMap<String, Instant>>> {
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let record = seen.clone();
    tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).applied_objects());
        while let Some(Ok(deployment)) = events.next().await {
            let name = deployment.metadata.name.unwrap_or_default();
            record.lock().unwrap().entry(name).or_insert_with(Instant::now);
        }
    });
    seen
}

async fn with_operator(
    cluster: &Cluster,
    client: &kube::Client,
    processes: &Processes,
    n: usize,
    options: &Options,
) -> anyhow::Result<(OperatorRun, TestNamespace)> {
    let ns = TestNamespace::create(client, &format!("bench-operator-{n}")).await?;
    let operator = start_operator(cluster, ns.name(), options.concurrency)?;
    let idle_rss_kib = operator.status_kib("VmRSS:");
    let agents: Api<Agent> = Api::namespaced(client.clone(), ns.name());
    let seen = watch_deployments(client, ns.name());
    let created = Mutex::new(HashMap::new());
    let names: Vec<String> = (0..n).map(|i| format!("agent-{i}")).collect();
    let deadline = Duration::from_secs(60 + n as u64 / 5);
    let processes = processes.with("operator", operator.pid());

    let cpu_before = processes.cpu();
    let start = Instant::now();
    create_agents(&agents, &names, options.concurrency, Some(&created)).await?;
    let applies = ["ServiceAccount", "ConfigMap", "Service", "Deployment"]
        .map(|kind| format!("agents_operator_api_writes_total{{kind=\"{kind}\",verb=\"apply\"}}"));
    poll_every("every child to be written", SCRAPE_EVERY, deadline, || {
        let text = operator.metrics()?;
        Ok(applies.iter().all(|sample| http::sample(&text, sample) >= n as f64))
    })
    .await?;
    let children_written = start.elapsed();
    let cpu = processes.cpu().since(&cpu_before);
    let agents_for_poll = agents.clone();
    let ready_deadline = Instant::now() + deadline;
    loop {
        let list = agents_for_poll.list(&Default::default()).await?;
        let ready =
            list.items.iter().filter(|a| a.status.as_ref().and_then(|s| s.phase) == Some(AgentPhase::Ready)).count();
        if ready == n {
            break;
        }
        if Instant::now() > ready_deadline {
            bail!("only {ready}/{n} Agents Ready after {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_ready = start.elapsed();
    let burst_latency = latencies(&created.lock().unwrap(), &seen.lock().unwrap());

    // Let the last status writes and events land, then count writes over a quiet window.
    poll_every("the writes to settle", SCRAPE_EVERY, deadline, {
        let mut last = -1.0;
        let mut stable_since = Instant::now();
        let operator = &operator;
        move || {
            let writes = http::family_sum(&operator.metrics()?, "agents_operator_api_writes_total");
            if writes != last {
                last = writes;
                stable_since = Instant::now();
            }
            Ok(stable_since.elapsed() > Duration::from_secs(2))
        }
    })
    .await?;
    let metrics = operator.metrics()?;
    let writes = http::family_sum(&metrics, "agents_operator_api_writes_total");
    let reconciles = http::family_sum(&metrics, "agents_operator_reconciles_total");
    tokio::time::sleep(options.settle).await;
    let settled_writes = http::family_sum(&operator.metrics()?, "agents_operator_api_writes_total") - writes;
    let settled_rss_kib = operator.status_kib("VmRSS:");

    // Unloaded: each Agent is created once the previous one is Ready, so nothing else is in flight.
    let mut unloaded = HashMap::new();
    for i in 0..UNLOADED_SAMPLES {
        let name = format!("single-{i}");
        create_agents(&agents, std::slice::from_ref(&name), 1, None).await?;
        unloaded.insert(name.clone(), Instant::now());
        poll_until("a Deployment", Duration::from_secs(30), || Ok(seen.lock().unwrap().contains_key(&name))).await?;
        let ready = kube::runtime::wait::await_condition(agents.clone(), &name, |a: Option<&Agent>| {
            a.and_then(|a| a.status.as_ref()).and_then(|s| s.phase) == Some(AgentPhase::Ready)
        });
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .context("an unloaded Agent never became Ready")??;
    }
    let unloaded_latency = latencies(&unloaded, &seen.lock().unwrap());
    let peak_rss_kib = operator.status_kib("VmHWM:");
    drop(operator);
    let run = OperatorRun {
        children_written,
        cpu,
        all_ready,
        burst_latency,
        unloaded_latency,
        writes_per_agent: writes / n as f64,
        reconciles_per_agent: reconciles / n as f64,
        settled_writes,
        idle_rss_kib,
        peak_rss_kib,
        settled_rss_kib,
    };
    Ok((run, ns))
}

/// Deletes a phase's namespace and waits until it is gone, so the next phase has the machine to
/// itself: the baseline's clean-up (N Deployments, their ReplicaSets and pods) once ran during
/// the operator's run and took as much CPU as the API server did.
async fn clean_up(ns: &TestNamespace, n: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    ns.delete_and_wait(Duration::from_secs(120 + n as u64)).await?;
    println!("  ({} deleted in {:.1} s before the next phase)", ns.name(), start.elapsed().as_secs_f64());
    Ok(())
}

fn latencies(created: &HashMap<String, Instant>, seen: &HashMap<String, Instant>) -> Vec<Duration> {
    let mut all: Vec<Duration> =
        created.iter().filter_map(|(name, at)| Some(seen.get(name)?.saturating_duration_since(*at))).collect();
    all.sort();
    all
}

fn report(n: usize, baseline: &Baseline, run: &OperatorRun) {
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let s = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    println!("\n== {n} Agents");
    let with_creates = baseline.creates + baseline.elapsed;
    println!(
        "  baseline: {n} Agents created in {}, then {} children server-side applied in {} ({} in all)",
        s(baseline.creates),
        baseline.children,
        s(baseline.elapsed),
        s(with_creates)
    );
    println!(
        "  operator: every child written {} after the first create ({:.2}x the baseline's creates and applies, \
         {:.2}x its applies alone); all Ready at {}",
        s(run.children_written),
        run.children_written.as_secs_f64() / with_creates.as_secs_f64(),
        run.children_written.as_secs_f64() / baseline.elapsed.as_secs_f64(),
        s(run.all_ready)
    );
    println!("  CPU seconds, baseline: {}", baseline.cpu);
    println!("  CPU seconds, operator until every child was written: {}", run.cpu);
    println!(
        "  create -> Deployment, burst of {n}: p50 {}, p99 {}; unloaded ({UNLOADED_SAMPLES} one at a time): p50 {}, p99 {}",
        ms(percentile(&run.burst_latency, 0.5)),
        ms(percentile(&run.burst_latency, 0.99)),
        ms(percentile(&run.unloaded_latency, 0.5)),
        ms(percentile(&run.unloaded_latency, 0.99)),
    );
    println!(
        "  API writes per Agent: {:.2} (children, status, events); writes in the settled window: {}; \
         reconciles per Agent: {:.2}",
        run.writes_per_agent, run.settled_writes, run.reconciles_per_agent
    );
    println!(
        "  operator RSS: idle {:.1} MiB, peak {:.1} MiB, settled with {n} Agents {:.1} MiB",
        run.idle_rss_kib as f64 / 1024.0,
        run.peak_rss_kib as f64 / 1024.0,
        run.settled_rss_kib as f64 / 1024.0
    );
}

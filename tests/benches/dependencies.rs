//! Benchmark: how soon Agents follow what they depend on. N Agents (100 by default) share one
//! ModelAPI (a LiteLLM proxy on KWOK pods); the delay from the ModelAPI turning Ready to each
//! Agent turning Ready, measured by one watcher that sees both. It prints figures; it asserts nothing.
//!
//! ```sh
//! cargo bench -p agents-e2e --bench dependencies            # 100 Agents, 5 rounds
//! cargo bench -p agents-e2e --bench dependencies -- 300 --rounds 3
//! cargo bench -p agents-e2e --bench dependencies -- --concurrency 32   # the operator's reconciles at once
//! ```
//!
//! - cold: the Agents are created first and wait; then the ModelAPI is created. The delay
//!   includes creating each Agent's Deployment and its pods starting (KWOK's pod stages).
//! - warm rounds: the ModelAPI is scaled to 0 (Stopped: every Agent goes back to Waiting, its
//!   Deployment left running) and back to 1. The delay is the operator's alone: a watch event,
//!   the mapping to the Agents that reference it, and one status write each.
//! - baseline rounds: the operator is stopped and the benchmark itself writes the statuses the
//!   operator wrote in its last warm round (`Waiting`, then `Ready`, as the operator's field
//!   manager, as many at once as the operator's reconciles). The delay from the first write to
//!   each Agent seen Ready is what the API server needs for those writes alone: the floor for
//!   any controller on this machine.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agents_api::{Agent, AgentPhase, ModelAPI, ServerPhase};
use agents_testenv::{Cluster, TestNamespace};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use support::{percentile, poll_until, start_operator, with_operator_on_a_cluster};

struct Options {
    agents: usize,
    rounds: usize,
    concurrency: usize,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options { agents: 100, rounds: 5, concurrency: 16 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--rounds" => options.rounds = args.next().context("--rounds N")?.parse()?,
            "--concurrency" => options.concurrency = args.next().context("--concurrency N")?.parse()?,
            n => options.agents = n.parse().with_context(|| format!("not a number of Agents: {n}"))?,
        }
    }
    Ok(options)
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    with_operator_on_a_cluster(async |cluster| run(cluster, &options).await)
}

/// When the watcher saw each Agent turn Ready, and the ModelAPI.
#[derive(Default)]
struct Seen {
    agents_ready: HashMap<String, Instant>,
    gateway_ready: Option<Instant>,
}

impl Seen {
    fn reset(&mut self) {
        self.agents_ready.clear();
        self.gateway_ready = None;
    }

    /// Each Agent's delay after the ModelAPI turned Ready, sorted.
    fn delays(&self) -> Vec<Duration> {
        self.gateway_ready.map(|gateway| self.delays_after(gateway)).unwrap_or_default()
    }

    /// Each Agent's delay after `start`, sorted.
    fn delays_after(&self, start: Instant) -> Vec<Duration> {
        let mut delays: Vec<Duration> =
            self.agents_ready.values().map(|at| at.saturating_duration_since(start)).collect();
        delays.sort();
        delays
    }
}

/// Records phase transitions to Ready as the watches deliver them.
fn watch(client: &kube::Client, namespace: &str) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let agents: Api<Agent> = Api::namespaced(client.clone(), namespace);
    let record = seen.clone();
    tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(agents, watcher::Config::default()).applied_objects());
        while let Some(Ok(agent)) = events.next().await {
            let now = Instant::now();
            let mut seen = record.lock().unwrap();
            let name = agent.metadata.name.unwrap_or_default();
            if agent.status.and_then(|s| s.phase) == Some(AgentPhase::Ready) {
                seen.agents_ready.entry(name).or_insert(now);
            } else {
                seen.agents_ready.remove(&name);
            }
        }
    });
    let model_apis: Api<ModelAPI> = Api::namespaced(client.clone(), namespace);
    let record = seen.clone();
    tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(model_apis, watcher::Config::default()).applied_objects());
        while let Some(Ok(model_api)) = events.next().await {
            let now = Instant::now();
            let mut seen = record.lock().unwrap();
            if model_api.status.and_then(|s| s.phase) == Some(ServerPhase::Ready) {
                seen.gateway_ready.get_or_insert(now);
            } else {
                seen.gateway_ready = None;
            }
        }
    });
    seen
}

async fn run(cluster: &Cluster, options: &Options) -> anyhow::Result<()> {
    let client = cluster.client().await?;
    let n = options.agents;
    let ns = TestNamespace::create(&client, "bench-dependencies").await?;
    let operator = start_operator(cluster, ns.name(), options.concurrency)?;
    let seen = watch(&client, ns.name());
    let agents: Api<Agent> = Api::namespaced(client.clone(), ns.name());
    let model_apis: Api<ModelAPI> = Api::namespaced(client.clone(), ns.name());
    let deadline = Duration::from_secs(60 + n as u64 / 5);
    println!(
        "kubectl-agents dependency benchmark: {n} Agents on one ModelAPI, {} warm rounds, concurrency {}",
        options.rounds, options.concurrency
    );

    let names: Vec<String> = (0..n).map(|i| format!("agent-{i}")).collect();
    stream::iter(&names)
        .map(|name| {
            let agents = agents.clone();
            async move {
                let agent: Agent = serde_json::from_value(json!({
                    "apiVersion": "agents.dev/v1alpha1",
                    "kind": "Agent",
                    "metadata": {"name": name},
                    "spec": {"image": "ghcr.io/example/bench-agent:v1", "replicas": 1,
                             "model": {"name": "gpt-4o", "modelAPIRef": {"name": "gateway"}}},
                }))?;
                agents.create(&PostParams::default(), &agent).await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    poll_until("every Agent to wait for the ModelAPI", deadline, || {
        let list = futures::executor::block_on(agents.list(&Default::default()))?;
        Ok(list.items.iter().filter(|a| a.status.as_ref().and_then(|s| s.phase) == Some(AgentPhase::Waiting)).count()
            == n)
    })
    .await?;

    // Cold: the ModelAPI appears; the Agents' Deployments are created and their pods start.
    seen.lock().unwrap().reset();
    let gateway: ModelAPI = serde_json::from_value(json!({
        "apiVersion": "agents.dev/v1alpha1",
        "kind": "ModelAPI",
        "metadata": {"name": "gateway"},
        "spec": {"mode": "Proxy", "replicas": 1, "proxy": {"models": [{"name": "*"}]}},
    }))?;
    model_apis.create(&PostParams::default(), &gateway).await?;
    poll_until("every Agent Ready (cold)", deadline, || Ok(seen.lock().unwrap().agents_ready.len() == n)).await?;
    let cold = seen.lock().unwrap().delays();
    report("cold (Deployments created, pods start)", &cold);

    // Warm rounds: the ModelAPI stops and starts again; the Agents' pods keep running.
    let mut warm = Vec::new();
    let scale = |replicas: i32| {
        let model_apis = model_apis.clone();
        async move {
            model_apis
                .patch("gateway", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": replicas}})))
                .await
        }
    };
    let writes_before = support::family_sum(&operator.metrics()?);
    for round in 1..=options.rounds {
        scale(0).await?;
        poll_until("every Agent back to Waiting", deadline, || Ok(seen.lock().unwrap().agents_ready.is_empty()))
            .await?;
        seen.lock().unwrap().reset();
        scale(1).await?;
        poll_until("every Agent Ready again", deadline, || Ok(seen.lock().unwrap().agents_ready.len() == n)).await?;
        let delays = seen.lock().unwrap().delays();
        report(&format!("warm round {round}"), &delays);
        warm.extend(delays);
    }
    warm.sort();
    report(&format!("warm, all {} rounds", options.rounds), &warm);
    let writes = support::family_sum(&operator.metrics()?) - writes_before;
    println!("  API writes per Agent per round (Waiting and back): {:.2}", writes / (n * options.rounds.max(1)) as f64);

    // Baseline: the statuses the operator wrote, Ready now and Waiting once the ModelAPI stops.
    let ready = statuses(&agents).await?;
    scale(0).await?;
    poll_until("every Agent back to Waiting", deadline, || Ok(seen.lock().unwrap().agents_ready.is_empty())).await?;
    let waiting = statuses(&agents).await?;
    drop(operator);
    let mut floor = Vec::new();
    for round in 1..=options.rounds {
        write_statuses(&agents, &waiting, options.concurrency).await?;
        poll_until("every Agent back to Waiting", deadline, || Ok(seen.lock().unwrap().agents_ready.is_empty()))
            .await?;
        seen.lock().unwrap().reset();
        let start = Instant::now();
        write_statuses(&agents, &ready, options.concurrency).await?;
        poll_until("every Agent Ready again", deadline, || Ok(seen.lock().unwrap().agents_ready.len() == n)).await?;
        let delays = seen.lock().unwrap().delays_after(start);
        report_baseline(&format!("round {round}"), &delays);
        floor.extend(delays);
    }
    floor.sort();
    report_baseline(&format!("all {} rounds", options.rounds), &floor);
    println!(
        "  operator / baseline: p50 {:.2}x, p99 {:.2}x",
        ratio(percentile(&warm, 0.5), percentile(&floor, 0.5)),
        ratio(percentile(&warm, 0.99), percentile(&floor, 0.99))
    );
    ns.delete().await?;
    Ok(())
}

/// Each Agent's status as the operator last wrote it, by name.
async fn statuses(agents: &Api<Agent>) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    let list = agents.list(&Default::default()).await?;
    list.items
        .into_iter()
        .map(|agent| {
            let name = agent.metadata.name.context("an Agent without a name")?;
            let status = agent.status.with_context(|| format!("Agent {name} has no status"))?;
            Ok((name, serde_json::to_value(status)?))
        })
        .collect()
}

/// Writes each status as the operator does (a server-side apply as its field manager), `at_once`
/// at a time.
async fn write_statuses(
    agents: &Api<Agent>,
    statuses: &[(String, serde_json::Value)],
    at_once: usize,
) -> anyhow::Result<()> {
    let params = PatchParams::apply(agents_render::FIELD_MANAGER).force();
    stream::iter(statuses)
        .map(|(name, status)| {
            let patch = json!({"apiVersion": agents_api::API_VERSION, "kind": "Agent", "status": status});
            let params = &params;
            async move { agents.patch_status(name, params, &Patch::Apply(&patch)).await }
        })
        .buffer_unordered(at_once)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(f64::EPSILON)
}

fn report(what: &str, delays: &[Duration]) {
    print_delays("ModelAPI Ready -> Agent Ready", what, delays);
}

fn report_baseline(what: &str, delays: &[Duration]) {
    print_delays("baseline, first status write -> Agent Ready", what, delays);
}

fn print_delays(from_to: &str, what: &str, delays: &[Duration]) {
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!(
        "  {from_to}, {what}: first {}, p50 {}, p99 {}, max {} ({} Agents)",
        ms(delays.first().copied().unwrap_or_default()),
        ms(percentile(delays, 0.5)),
        ms(percentile(delays, 0.99)),
        ms(delays.last().copied().unwrap_or_default()),
        delays.len()
    );
}

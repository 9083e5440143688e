//! Benchmark: a warm standby taking over N settled Agents (5,000 by default) from the leader,
//! with the release-built operator on the local control plane. It prints figures; it asserts
//! nothing.
//!
//! ```sh
//! cargo bench -p agents-e2e --bench takeover            # N = 5000
//! cargo bench -p agents-e2e --bench takeover -- 1000
//! ```
//!
//! One leader settles N Agents. Then it goes three ways, one after the other:
//! - release: a standby starts and fills its caches (writing nothing); the leader gets SIGTERM
//!   and gives the Lease up; the standby takes it;
//! - expiry: the same, but the leader is SIGKILLed and the Lease expires by the standby's clock
//!   (15 s after it last saw a renewal);
//! - cold restart, for comparison: no standby; the leader gets SIGTERM and a new replica starts
//!   once it has exited, and lists everything.
//!
//! For each: the time from the stop to the new leader leading, to its first reconcile, to a new
//! Agent (created the moment it leads) having its Deployment, and to every Agent reconciled; its
//! API writes and children applied beside the new Agent's own (the settled Agents must cost
//! none); a standby's memory beside the leader's, and the new leader's once settled.

use std::time::{Duration, Instant};

use agents_api::{Agent, AgentPhase};
use agents_testenv::{Cluster, TestNamespace, http};
use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};

mod support;

use support::{Operator, agent_manifest, family_sum, poll_until, start_operator_with, with_operator_on_a_cluster};

const CONCURRENCY: usize = 16;
const LEASE_DURATION: &str = "--lease-duration=15";
const LEADER: &str = "agents_operator_leader";
const READY: &str = r#"agents_operator_objects{kind="Agent",phase="Ready"}"#;
/// The kinds of the operator's controllers.
const KINDS: [&str; 5] = ["Agent", "AgentBuild", "AgentWorkflow", "ModelAPI", "MCPServer"];
/// The children an Agent of the benchmark's shape has, one apply each when it is new.
const CHILD_APPLIES: [&str; 4] = [
    r#"agents_operator_api_writes_total{kind="ServiceAccount",verb="apply"}"#,
    r#"agents_operator_api_writes_total{kind="ConfigMap",verb="apply"}"#,
    r#"agents_operator_api_writes_total{kind="Service",verb="apply"}"#,
    r#"agents_operator_api_writes_total{kind="Deployment",verb="apply"}"#,
];
const RECONCILED: &str = r#"agents_operator_reconcile_duration_seconds_count{kind="Agent"}"#;

fn main() -> anyhow::Result<()> {
    let mut n = 5000;
    for arg in std::env::args().skip(1).filter(|a| a != "--bench") {
        n = arg.parse().with_context(|| format!("not a number of Agents: {arg}"))?;
    }
    with_operator_on_a_cluster(async |cluster| run(cluster, n).await)
}

async fn run(cluster: &Cluster, n: usize) -> anyhow::Result<()> {
    let client = cluster.client().await?;
    let ns = TestNamespace::create(&client, &format!("bench-takeover-{n}")).await?;
    let replica = |name: &str| {
        let lease_namespace = format!("--leader-election-namespace={}", ns.name());
        start_operator_with(
            cluster,
            ns.name(),
            CONCURRENCY,
            name,
            &["--leader-elect=true", &lease_namespace, LEASE_DURATION],
        )
    };
    let agents: Api<Agent> = Api::namespaced(client.clone(), ns.name());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns.name());
    println!("kubectl-agents takeover benchmark: {n} Agents, concurrency {CONCURRENCY}, lease 15 s");

    let mut leader = replica("-a")?;
    poll_until("the first replica to lead", Duration::from_secs(30), || Ok(metric(&leader, LEADER)? == 1.0)).await?;
    let start = Instant::now();
    let names: Vec<String> = (0..n).map(|i| format!("agent-{i}")).collect();
    create(&agents, &names).await?;
    all_ready(&agents, n, Duration::from_secs(120 + n as u64 / 5)).await?;
    settle(&leader).await?;
    println!("  {n} Agents Ready under the first leader in {:.1} s", start.elapsed().as_secs_f64());
    // What one new Agent costs in writes, to tell it from writes for the settled ones below.
    let before = family_sum(&leader.metrics()?);
    create(&agents, &["probe-0".into()]).await?;
    all_ready(&agents, n + 1, Duration::from_secs(30)).await?;
    settle(&leader).await?;
    let probe_writes = family_sum(&leader.metrics()?) - before;
    println!("  one new Agent costs {probe_writes} writes");

    for (round, stop) in [Stop::Release, Stop::Expiry, Stop::ColdRestart].into_iter().enumerate() {
        let existing = n + 1 + round;
        let mut standby = None;
        if stop != Stop::ColdRestart {
            let warm_start = Instant::now();
            let replica = replica(&format!("-{round}"))?;
            poll_until("the standby's caches to fill", Duration::from_secs(120), || {
                let text = replica.metrics()?;
                Ok(http::sample(&text, READY) == existing as f64
                    && KINDS.iter().all(|kind| {
                        http::sample(&text, &format!("agents_operator_caches_filled{{kind=\"{kind}\"}}")) == 1.0
                    }))
            })
            .await?;
            let (standby_rss, leader_rss) = (replica.status_kib("VmRSS:"), leader.status_kib("VmRSS:"));
            println!(
                "\n== takeover by {stop:?}\n  standby: started and caches filled in {:.1} s, {} writes while standing \
                 by; RSS {:.1} MiB (leader {:.1} MiB)",
                warm_start.elapsed().as_secs_f64(),
                family_sum(&replica.metrics()?) + 0.0,
                standby_rss as f64 / 1024.0,
                leader_rss as f64 / 1024.0
            );
            standby = Some(replica);
        } else {
            println!("\n== {stop:?}: no standby; a new replica starts once the leader has exited");
        }

        let stopped = Instant::now();
        match stop {
            Stop::Expiry => leader.kill()?,
            Stop::Release | Stop::ColdRestart => leader.terminate()?,
        }
        let exited = stopped.elapsed();
        let next = match standby {
            Some(standby) => standby,
            None => replica(&format!("-{round}"))?,
        };
        poll_until("the new replica to lead", Duration::from_secs(60), || Ok(metric(&next, LEADER)? == 1.0)).await?;
        let leads = stopped.elapsed();
        let probe = format!("probe-{}", round + 1);
        create(&agents, std::slice::from_ref(&probe)).await?;
        poll_until("a first reconcile", Duration::from_secs(60), || Ok(metric(&next, RECONCILED)? >= 1.0)).await?;
        let first_reconcile = stopped.elapsed();
        let deployment =
            kube::runtime::wait::await_condition(deployments.clone(), &probe, |d: Option<&Deployment>| d.is_some());
        tokio::time::timeout(Duration::from_secs(120), deployment)
            .await
            .context("the new Agent got no Deployment")??;
        let new_change = stopped.elapsed();
        poll_until("every Agent to be reconciled", Duration::from_secs(300), || {
            Ok(metric(&next, RECONCILED)? >= (existing + 1) as f64)
        })
        .await?;
        let all_reconciled = stopped.elapsed();
        all_ready(&agents, existing + 1, Duration::from_secs(60)).await?;
        settle(&next).await?;
        let text = next.metrics()?;
        let writes = family_sum(&text);
        let child_applies: f64 = CHILD_APPLIES.iter().map(|sample| http::sample(&text, sample)).sum();

        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        println!(
            "  from the stop: old leader gone {}, new one leads {}, first reconcile done {}, a new Agent's Deployment {}, \
             all {} Agents reconciled {}",
            ms(exited),
            ms(leads),
            ms(first_reconcile),
            ms(new_change),
            existing + 1,
            ms(all_reconciled)
        );
        println!(
            "  writes by the new leader: {writes} (the new Agent alone costs about {probe_writes}); children applied: \
             {child_applies} (the new Agent's: {})",
            CHILD_APPLIES.len()
        );
        println!(
            "  the new leader's RSS, settled: {:.1} MiB (peak {:.1} MiB)",
            next.status_kib("VmRSS:") as f64 / 1024.0,
            next.status_kib("VmHWM:") as f64 / 1024.0
        );
        leader = next;
    }
    drop(leader);
    ns.delete_and_wait(Duration::from_secs(120 + n as u64)).await?;
    Ok(())
}

/// How the leader goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGTERM: it gives the Lease up; a warm standby takes it.
    Release,
    /// SIGKILL: the Lease expires by the warm standby's clock.
    Expiry,
    /// SIGTERM with no standby: a new replica starts once it has exited and lists everything.
    ColdRestart,
}

fn metric(operator: &Operator, sample: &str) -> anyhow::Result<f64> {
    Ok(http::sample(&operator.metrics()?, sample))
}

async fn create(agents: &Api<Agent>, names: &[String]) -> anyhow::Result<()> {
    stream::iter(names)
        .map(|name| async move {
            let agent: Agent = serde_json::from_value(agent_manifest(name))?;
            agents.create(&PostParams::default(), &agent).await?;
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await
}

async fn all_ready(agents: &Api<Agent>, n: usize, deadline: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + deadline;
    loop {
        let list = agents.list(&Default::default()).await?;
        let ready =
            list.items.iter().filter(|a| a.status.as_ref().and_then(|s| s.phase) == Some(AgentPhase::Ready)).count();
        if ready >= n {
            return Ok(());
        }
        if Instant::now() > until {
            bail!("only {ready}/{n} Agents Ready after {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the operator's writes have not moved for 2 s.
async fn settle(operator: &Operator) -> anyhow::Result<()> {
    let mut last = -1.0;
    let mut stable_since = Instant::now();
    poll_until("the writes to settle", Duration::from_secs(120), || {
        let writes = family_sum(&operator.metrics()?);
        if writes != last {
            last = writes;
            stable_since = Instant::now();
        }
        Ok(stable_since.elapsed() > Duration::from_secs(2))
    })
    .await
}

//! Benchmark: the fault soak (issue 15). N Agents (1,000) roll out through the release-built
//! operator while it is SIGKILLed at random moments (10 times, each time started again at once,
//! as its kubelet would) and the API server is restarted once; then, within a deadline, every
//! Agent must converge, and what the Agents own is checked: no child duplicated or orphaned, no
//! pod rolled twice. It prints figures and ends with a verdict line; the exit status is 1 if an
//! invariant broke.
//!
//! The deadline runs from the end of the last fault. By then the operator has at most a whole
//! rollout's work left, so it gets twice what the same rollout took without faults (the
//! reference below), and at least a minute; `--deadline SECONDS` sets it (300 s without the
//! reference). Past the deadline the soak has failed, but it watches up to 3 more minutes, to say
//! when the Agents did converge.
//!
//! ```sh
//! cargo bench -p agents-e2e --bench soak                     # 1,000 Agents, a fresh seed
//! cargo bench -p agents-e2e --bench soak -- --seed 42        # replay a run's fault schedule
//! cargo bench -p agents-e2e --bench soak -- 200 --kills 5 --no-reference
//! ```
//!
//! The same rollout without faults runs first, in its own namespace (the reference), so that
//! writes per Agent compare on one machine at one moment, and so that the checks are seen to pass
//! where nothing was done to the operator. A seed replays the fault schedule (where in the
//! rollout each fault lands), not the interleaving of the operator's requests.

#[path = "soak/checks.rs"]
mod checks;
#[path = "soak/plan.rs"]
mod plan;
mod support;
#[path = "soak/writes.rs"]
mod writes;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agents_api::Agent;
use agents_testenv::{Cluster, TestNamespace};
use anyhow::{Context, bail};
use checks::{Checks, check, converged};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use plan::{Fault, Planned, plan};
use serde_json::json;
use support::{Operator, agent_manifest, family_sum, poll_until, start_operator, with_operator_on_a_cluster};
use tokio::sync::watch;
use writes::Writes;

/// Examples printed per broken invariant; the counts are always whole.
const EXAMPLES: usize = 5;

/// The deadline after the last fault when there is no reference to derive it from.
const WITHOUT_REFERENCE: Duration = Duration::from_secs(300);

/// How long the soak keeps watching past the deadline, to tell when the Agents converged.
const OVERTIME: Duration = Duration::from_secs(180);

struct Options {
    agents: usize,
    kills: usize,
    seed: u64,
    concurrency: usize,
    /// How long the stopped API server gets to exit before it is killed.
    apiserver_grace: Duration,
    /// How long Agents have to converge after the last fault; derived from the reference unless set.
    deadline: Option<Duration>,
    settle: Duration,
    reference: bool,
}

fn options() -> anyhow::Result<Options> {
    let fresh_seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as u64;
    let mut options = Options {
        agents: 1000,
        kills: 10,
        seed: fresh_seed,
        concurrency: 16,
        apiserver_grace: Duration::from_secs(10),
        deadline: None,
        settle: Duration::from_secs(10),
        reference: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> anyhow::Result<u64> {
            let text = match flag.starts_with("--") {
                true => args.next().with_context(|| format!("{flag} needs a value"))?,
                false => arg.clone(),
            };
            text.parse().with_context(|| format!("{flag} takes a whole number, not {text:?}"))
        };
        match arg.as_str() {
            "--bench" => {}
            "--no-reference" => options.reference = false,
            "--seed" => options.seed = number("--seed")?,
            "--kills" => options.kills = number("--kills")? as usize,
            "--concurrency" => options.concurrency = number("--concurrency")? as usize,
            "--apiserver-grace" => options.apiserver_grace = Duration::from_secs(number("--apiserver-grace")?),
            "--deadline" => options.deadline = Some(Duration::from_secs(number("--deadline")?)),
            "--settle" => options.settle = Duration::from_secs(number("--settle")?),
            flag if flag.starts_with("--") => bail!(
                "unknown flag {flag}: the flags are --seed N, --kills N, --concurrency N, --apiserver-grace SECONDS, \
                 --deadline SECONDS, --settle SECONDS and --no-reference"
            ),
            _ => options.agents = number("the number of Agents")? as usize,
        }
    }
    if options.agents == 0 || options.concurrency == 0 {
        bail!("the number of Agents and --concurrency must be at least 1");
    }
    Ok(options)
}

fn main() -> anyhow::Result<ExitCode> {
    let options = options()?;
    let result = with_operator_on_a_cluster(async |cluster| run(cluster, &options).await);
    Ok(if result? { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Whether every invariant held.
async fn run(cluster: &mut Cluster, options: &Options) -> anyhow::Result<bool> {
    let client = cluster.client().await?;
    let n = options.agents;
    println!(
        "kubectl-agents fault soak: {} cores, {n} Agents, concurrency {}, seed {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        options.concurrency,
        options.seed,
    );
    let reference = if options.reference {
        let ns = TestNamespace::create(&client, "soak-reference").await?;
        let deadline = options.deadline.unwrap_or(WITHOUT_REFERENCE);
        let run = rollout(cluster, &client, &ns, options, &[], deadline).await?;
        report("reference: no faults", n, &run, None);
        let start = Instant::now();
        ns.delete_and_wait(Duration::from_secs(120 + n as u64)).await?;
        println!("  ({} deleted in {:.1} s before the soak)", ns.name(), start.elapsed().as_secs_f64());
        Some(run)
    } else {
        None
    };
    let faults = plan(options.seed, options.kills);
    let deadline = options.deadline.unwrap_or_else(|| match reference.as_ref().and_then(|r| r.converged_after) {
        Some(rollout) => (2 * rollout).max(Duration::from_secs(60)),
        None => WITHOUT_REFERENCE,
    });
    let ns = TestNamespace::create(&client, "soak-faults").await?;
    let run = rollout(cluster, &client, &ns, options, &faults, deadline).await?;
    report(&format!("faults: seed {}", options.seed), n, &run, reference.as_ref());

    let broken = run.checks.broken() + reference.as_ref().map_or(0, |r| r.checks.broken());
    let injected = run.faults.len() == faults.len();
    let s = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    if broken == 0 && injected && run.in_time() {
        println!(
            "\nsoak verdict: PASS (seed {}): {n}/{n} Agents converged {} after the last fault (deadline {}); \
             no child duplicated, missing or orphaned; no pod rolled twice",
            options.seed,
            run.since_last_fault().map_or("?".into(), s),
            s(run.deadline)
        );
        return Ok(true);
    }
    let mut what = Vec::new();
    if !run.in_time() {
        what.push(match run.since_last_fault() {
            Some(after) => format!(
                "the Agents converged {} after the last fault, past the deadline of {}",
                s(after),
                s(run.deadline)
            ),
            None => format!("the Agents did not converge, {} after the last fault", s(run.deadline + OVERTIME)),
        });
    }
    what.extend(run.checks.summary());
    if !injected {
        what.push(format!("only {} of {} faults struck (the rollout stalled)", run.faults.len(), faults.len()));
    }
    if let Some(reference) = reference.as_ref().filter(|r| r.checks.broken() > 0) {
        what.push(format!("the reference run, without faults, broke too: {}", reference.checks.summary().join(", ")));
    }
    let logs = keep_logs(cluster, options.seed)?;
    println!(
        "\nsoak verdict: FAIL (seed {}): {}\n  replay: cargo bench -p agents-e2e --bench soak -- {}\n  \
         logs (the operator's, the control plane's): {}",
        options.seed,
        what.join("; "),
        replay_args(options),
        logs.display()
    );
    Ok(false)
}

/// The flags that run this soak again, with its seed.
fn replay_args(options: &Options) -> String {
    let mut args = format!(
        "{} --kills {} --concurrency {} --apiserver-grace {} --seed {}",
        options.agents,
        options.kills,
        options.concurrency,
        options.apiserver_grace.as_secs(),
        options.seed
    );
    if let Some(deadline) = options.deadline {
        args += &format!(" --deadline {}", deadline.as_secs());
    }
    if !options.reference {
        args += " --no-reference";
    }
    args
}

/// Copies the cluster's logs out of its directory, which is removed when the run ends.
fn keep_logs(cluster: &Cluster, seed: u64) -> anyhow::Result<PathBuf> {
    let kept = std::env::temp_dir().join(format!("agents-soak-{seed}"));
    std::fs::create_dir_all(&kept)?;
    for entry in std::fs::read_dir(cluster.dir())? {
        let path = entry?.path();
        if let Some(name) = path.file_name().filter(|_| path.extension().is_some_and(|e| e == "log")) {
            std::fs::copy(&path, kept.join(name))?;
        }
    }
    Ok(kept)
}

/// How far a rollout has got, as two watches in the benchmark see it.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    /// Agents whose Deployment exists.
    deployments: usize,
    /// Agents Ready at their current generation.
    converged: usize,
    /// When every Agent first was.
    all_converged: Option<Instant>,
}

impl Progress {
    /// From 0 (nothing done) to 1 (every Agent converged): the operator's two halves of the work,
    /// writing children and reporting them Ready, weigh alike.
    fn fraction(&self, n: usize) -> f64 {
        (self.deployments.min(n) + self.converged.min(n)) as f64 / (2 * n) as f64
    }
}

/// The watches behind [`Progress`]; they end with it.
struct Watches {
    progress: watch::Receiver<Progress>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Watches {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|task| task.abort());
    }
}

fn watch_progress(client: &kube::Client, namespace: &str, n: usize) -> Watches {
    let (sender, progress) = watch::channel(Progress::default());
    let sender = Arc::new(sender);
    let deployments: Api<PartialObjectMeta<Deployment>> = Api::namespaced(client.clone(), namespace);
    let agents: Api<Agent> = Api::namespaced(client.clone(), namespace);
    // The backoff retries through the API server's restart instead of ending the stream.
    let deployments = {
        let sender = sender.clone();
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            let events = watcher(deployments, watcher::Config::default()).default_backoff().applied_objects();
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                let Ok(deployment) = event else { continue };
                seen.insert(deployment.metadata.name.unwrap_or_default());
                sender.send_modify(|p| p.deployments = seen.len());
            }
        })
    };
    let agents = tokio::spawn(async move {
        let mut done = HashSet::new();
        let events = watcher(agents, watcher::Config::default()).default_backoff().applied_objects();
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            let Ok(agent) = event else { continue };
            let is_converged = converged(&agent);
            let name = agent.metadata.name.unwrap_or_default();
            if is_converged {
                done.insert(name);
            } else {
                done.remove(&name);
            }
            sender.send_modify(|p| {
                p.converged = done.len();
                if p.converged >= n {
                    p.all_converged.get_or_insert_with(Instant::now);
                }
            });
        }
    });
    Watches { progress, tasks: vec![deployments, agents] }
}

async fn apiserver_writes(client: &kube::Client) -> anyhow::Result<Writes> {
    let request = axum::http::Request::get("/metrics").body(Vec::new())?;
    Ok(Writes::of_apiserver(&client.request_text(request).await?))
}

/// A fault as it happened.
struct Struck {
    fault: Fault,
    /// Since the first create.
    at: Duration,
    /// Until it was over: the operator ready again, the API server serving again.
    took: Duration,
    progress: f64,
}

struct RolloutRun {
    faults: Vec<Struck>,
    /// Times the operator ended by itself and was started again.
    self_exits: Vec<String>,
    /// Progress, about once a second.
    timeline: Vec<(Duration, Progress)>,
    /// From the first create until every Agent had converged (the first time); `None` if they
    /// had not, the deadline and its overtime past.
    converged_after: Option<Duration>,
    /// For converging after the last fault before it.
    deadline: Duration,
    /// The operator's own count, summed over its lives.
    operator_writes: Writes,
    /// Lives of the operator whose count could not be read before it was killed.
    uncounted_lives: usize,
    apiserver_writes: Writes,
    /// The operator's writes in the settled window; `None` if they never settled.
    settled_writes: Option<f64>,
    checks: Checks,
}

impl RolloutRun {
    /// The last fault (of a kind) that struck before every Agent had converged. One that strikes
    /// a converged rollout (progress can leap past its place while the soak is busy with the one
    /// before) does not count here: the checks still see what it did.
    fn last_before_convergence(&self, fault: Option<Fault>) -> Option<&Struck> {
        let before = |s: &&Struck| self.converged_after.is_none_or(|converged| s.at < converged);
        self.faults.iter().rev().filter(before).find(|s| fault.is_none_or(|f| s.fault == f))
    }

    /// From the end of the last fault before every Agent had converged, until then.
    fn since_last_fault(&self) -> Option<Duration> {
        let converged = self.converged_after?;
        let last = self.last_before_convergence(None);
        Some(converged.saturating_sub(last.map_or(Duration::ZERO, |s| s.at + s.took)))
    }

    fn in_time(&self) -> bool {
        self.since_last_fault().is_some_and(|after| after <= self.deadline)
    }

    fn lives(&self) -> usize {
        1 + self.faults.iter().filter(|f| f.fault == Fault::KillOperator).count() + self.self_exits.len()
    }
}

/// One rollout of N Agents with the operator, `faults` struck on the way, then the checks.
async fn rollout(
    cluster: &mut Cluster,
    client: &kube::Client,
    ns: &TestNamespace,
    options: &Options,
    faults: &[Planned],
    deadline: Duration,
) -> anyhow::Result<RolloutRun> {
    let n = options.agents;
    // The Secret the Agents' model names: an operator that waits for missing Secrets would
    // otherwise never report them Ready, and the soak is about faults, not about that.
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "openai"}, "stringData": {"api-key": "not-a-key"}}))?;
    Api::<Secret>::namespaced(client.clone(), ns.name()).create(&PostParams::default(), &secret).await?;
    let mut operator = start_operator(cluster, ns.name(), options.concurrency)?;
    let mut watches = watch_progress(client, ns.name(), n);
    // The API server's counters start from zero when it restarts: what they counted before is
    // carried over.
    let mut apiserver_before = apiserver_writes(client).await?;
    let mut apiserver_carried = Writes::default();
    let mut run = RolloutRun {
        faults: Vec::new(),
        self_exits: Vec::new(),
        timeline: Vec::new(),
        converged_after: None,
        deadline,
        operator_writes: Writes::default(),
        uncounted_lives: 0,
        apiserver_writes: Writes::default(),
        settled_writes: None,
        checks: Checks::default(),
    };

    let start = Instant::now();
    let agents: Api<Agent> = Api::namespaced(client.clone(), ns.name());
    let mut creates = Some(tokio::spawn(create_agents(agents, n, options.concurrency)));
    let mut wait = Waiter { n, start, peak: 0.0, creates: &mut creates, progress: &mut watches.progress };
    let faults_deadline = start + Duration::from_secs(600 + n as u64 / 2);
    for planned in faults {
        if !wait.until(planned.at, &mut operator, &mut run, faults_deadline).await? {
            break;
        }
        tokio::time::sleep(planned.jitter).await;
        let at = start.elapsed();
        let progress = wait.progress.borrow().fraction(n);
        match planned.fault {
            Fault::KillOperator => {
                // Read last thing before the kill: what it writes in between (microseconds) is
                // missing from this count, not from the API server's.
                match operator.metrics() {
                    Ok(metrics) => run.operator_writes = run.operator_writes + Writes::of_operator(&metrics),
                    Err(_) => run.uncounted_lives += 1,
                }
                tokio::task::block_in_place(|| operator.kill_and_restart())?;
            }
            Fault::RestartApiServer => {
                apiserver_carried = apiserver_carried + (apiserver_writes(client).await? - apiserver_before);
                // Blocks while the old process stops.
                let restart = cluster.restart_apiserver(options.apiserver_grace);
                tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(restart))?;
                apiserver_before = Writes::default();
            }
        }
        run.faults.push(Struck { fault: planned.fault, at, took: start.elapsed() - at, progress });
    }
    wait.until(1.0, &mut operator, &mut run, Instant::now() + deadline + OVERTIME).await?;
    run.converged_after = wait.progress.borrow().all_converged.map(|at| at - start);
    if let Some(creates) = creates.take() {
        creates.await??;
    }
    drop(watches);

    // Let the last status writes and Events land (a slow Event queue must not count as quiet),
    // then count writes over a settled window.
    let settled = poll_until("the writes to settle", Duration::from_secs(60), {
        let mut last = -1.0;
        let mut stable_since = Instant::now();
        let operator = &operator;
        move || {
            let writes = family_sum(&operator.metrics()?);
            if writes != last {
                last = writes;
                stable_since = Instant::now();
            }
            Ok(stable_since.elapsed() > Duration::from_secs(2))
        }
    })
    .await;
    let before_window = Writes::of_operator(&operator.metrics()?);
    tokio::time::sleep(options.settle).await;
    let last_life = Writes::of_operator(&operator.metrics()?);
    run.settled_writes = settled.is_ok().then(|| last_life.total() - before_window.total());
    run.operator_writes = run.operator_writes + before_window;
    run.apiserver_writes = apiserver_carried + (apiserver_writes(client).await? - apiserver_before);
    drop(operator);
    run.checks = check(client, ns.name()).await?;
    Ok(run)
}

/// Waits for the rollout's progress, standing in for the operator's kubelet meanwhile.
struct Waiter<'a> {
    n: usize,
    start: Instant,
    /// The highest progress seen: an API server restart can make Agents report not Ready for a
    /// moment, and a fault's place in the schedule must not move back because of it.
    peak: f64,
    creates: &'a mut Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    progress: &'a mut watch::Receiver<Progress>,
}

impl Waiter<'_> {
    /// Until progress reaches `at` (true) or the deadline passes (false). An operator that ended
    /// by itself is started again at once and recorded; a failed create ends the benchmark.
    async fn until(
        &mut self,
        at: f64,
        operator: &mut Operator,
        run: &mut RolloutRun,
        deadline: Instant,
    ) -> anyhow::Result<bool> {
        loop {
            let progress = *self.progress.borrow();
            let elapsed = self.start.elapsed();
            if run.timeline.last().is_none_or(|(t, _)| elapsed >= *t + Duration::from_secs(1)) {
                run.timeline.push((elapsed, progress));
            }
            self.peak = self.peak.max(progress.fraction(self.n));
            if self.peak >= at {
                return Ok(true);
            }
            if let Some(status) = operator.exited() {
                run.self_exits.push(format!(
                    "{status} at {:.1} s, {:.0} % done",
                    elapsed.as_secs_f64(),
                    self.peak * 100.0
                ));
                tokio::task::block_in_place(|| operator.restart())?;
            }
            if let Some(creates) = self.creates.take_if(|c| c.is_finished()) {
                creates.await??;
            }
            if Instant::now() > deadline {
                return Ok(false);
            }
            // Wakes on progress, and twice a second to look at the operator.
            if let Ok(Err(_)) = tokio::time::timeout(Duration::from_millis(500), self.progress.changed()).await {
                bail!("the benchmark's watches ended");
            }
        }
    }
}

async fn create_agents(agents: Api<Agent>, n: usize, concurrency: usize) -> anyhow::Result<()> {
    stream::iter(0..n)
        .map(|i| create_agent(&agents, format!("agent-{i}")))
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

/// Creates one Agent, retrying for a minute while the API server restarts. One that exists
/// already counts: its create went through, but the answer was lost.
async fn create_agent(agents: &Api<Agent>, name: String) -> anyhow::Result<()> {
    let agent: Agent = serde_json::from_value(agent_manifest(&name))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match agents.create(&PostParams::default(), &agent).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.is_already_exists() => return Ok(()),
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => return Err(e).with_context(|| format!("creating the Agent {name}")),
        }
    }
}

fn report(title: &str, n: usize, run: &RolloutRun, reference: Option<&RolloutRun>) {
    let s = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    println!("\n== {title}, {n} Agents");
    for struck in &run.faults {
        let what = match struck.fault {
            Fault::KillOperator => "operator SIGKILLed, ready again",
            Fault::RestartApiServer => "API server stopped, serving again",
        };
        let late = match run.converged_after.is_some_and(|converged| struck.at >= converged) {
            true => " (every Agent had converged already)",
            false => "",
        };
        println!(
            "  at {:>7} ({:>4.1} % done): {what} after {}{late}",
            s(struck.at),
            struck.progress * 100.0,
            s(struck.took)
        );
    }
    for exit in &run.self_exits {
        println!("  the operator ended by itself ({exit}) and was started again");
    }
    let every_10_s: Vec<String> = run
        .timeline
        .iter()
        .scan(Duration::ZERO, |next, (at, progress)| {
            let due = *at >= *next;
            if due {
                *next = *at + Duration::from_secs(10);
            }
            Some(due.then(|| format!("{:.0} s {}/{}", at.as_secs_f64(), progress.deployments, progress.converged)))
        })
        .flatten()
        .collect();
    println!("  progress (Agents with a Deployment / converged): {}", every_10_s.join(", "));
    let deadline = match run.faults.is_empty() {
        true => format!("deadline {}", s(run.deadline)),
        false => format!("deadline {} after the last fault", s(run.deadline)),
    };
    match run.converged_after {
        Some(converged) => {
            let late = if run.in_time() { "" } else { ", PAST THE DEADLINE" };
            println!(
                "  every Agent converged (Ready at its current generation) {} after the first create ({deadline}{late})",
                s(converged)
            );
            if let Some(kill) = run.last_before_convergence(Some(Fault::KillOperator)) {
                let after = converged.saturating_sub(kill.at + kill.took);
                println!("    {} after the last kill (the operator ready again)", s(after));
            }
            if let Some(restart) = run.last_before_convergence(Some(Fault::RestartApiServer)) {
                let after = converged.saturating_sub(restart.at + restart.took);
                println!("    {} after the API server's restart (serving again)", s(after));
            }
        }
        None => println!("  NOT every Agent converged ({deadline}, watched {} longer)", s(OVERTIME)),
    }
    let per_agent = |w: Writes| {
        [w.total(), w.applies, w.status, w.events, w.other].map(|x| format!("{:>8.2}", x / n as f64)).join("")
    };
    let uncounted = match run.uncounted_lives {
        0 => String::new(),
        lives => format!(", {lives} unread"),
    };
    println!("  writes per Agent                       total applies  status  Events   other");
    println!("    the operator's count ({:>2} lives{uncounted}) {}", run.lives(), per_agent(run.operator_writes));
    if let Some(reference) = reference {
        println!("      in the reference                {}", per_agent(reference.operator_writes));
    }
    println!("    the API server's, every client     {}", per_agent(run.apiserver_writes));
    if let Some(reference) = reference {
        println!("      in the reference                {}", per_agent(reference.apiserver_writes));
    }
    match run.settled_writes {
        Some(writes) => println!("  operator writes in the settled window afterwards: {writes}"),
        None => println!("  the operator's writes did not settle within 60 s"),
    }
    let checks = &run.checks;
    println!(
        "  invariants over {} Agents: {}",
        checks.agents,
        checks.invariants().map(|(what, found)| format!("{} {what}", found.len())).join(", ")
    );
    for (what, found) in checks.invariants() {
        for example in found.iter().take(EXAMPLES) {
            println!("    {what}: {example}");
        }
        if found.len() > EXAMPLES {
            println!("    {what}: ... and {} more", found.len() - EXAMPLES);
        }
    }
}

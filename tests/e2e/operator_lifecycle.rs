//! The operator as a process: killed mid-work it converges on restart without duplicates or
//! orphans; two of them elect one leader, and the other takes over when the leader goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agents_api::{Agent, AgentPhase};
use anyhow::{Context, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use kube::api::{Patch, PatchParams, PostParams};
use libtest_mimic::Trial;
use serde_json::json;

use crate::agent::replica_sets;
use crate::operator::Operator;
use crate::support::{Ctx, DEADLINE, Env, run_ok, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "operator",
        [
            killed_midway_it_converges_on_restart,
            two_replicas_elect_one_leader,
            runs_with_its_least_privilege_rbac,
            crds_it_may_not_read_hold_nothing_up,
            the_same_event_again_grows_a_series,
        ]
    )
}

fn agents_yaml(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: bulk-{i}}}\n\
                 spec: {{image: ghcr.io/example/a:v1, replicas: 1, config: {{n: {i}}}}}\n---\n"
            )
        })
        .collect()
}

/// Waits until `count` Agents are Ready; on timeout it names the others, with their status and
/// the log of the operator in charge, so a failure in CI can be read without a rerun.
async fn all_ready(ctx: &Ctx, count: usize, operator: &Operator) -> anyhow::Result<()> {
    let agents: Api<Agent> = ctx.api();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let list = agents.list(&ListParams::default()).await?;
        let (ready, waiting): (Vec<_>, Vec<_>) =
            list.items.iter().partition(|a| a.status.as_ref().and_then(|s| s.phase) == Some(AgentPhase::Ready));
        if ready.len() == count {
            return Ok(());
        }
        if Instant::now() > deadline {
            let waiting: Vec<String> = waiting
                .iter()
                .map(|a| format!("{}: {}", a.metadata.name.as_deref().unwrap_or("?"), json!(a.status)))
                .collect();
            bail!(
                "only {}/{count} Agents Ready after {DEADLINE:?}; the others:\n{}\noperator log:\n{}",
                ready.len(),
                waiting.join("\n"),
                operator.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn killed_midway_it_converges_on_restart(ctx: Ctx) -> anyhow::Result<()> {
    const COUNT: usize = 20;
    let mut first = ctx.operator(&[])?;
    ctx.apply_yaml(&agents_yaml(COUNT)).await?;
    // Kill it as soon as it has started writing children, well before it is done.
    let deadline = Instant::now() + DEADLINE;
    while first.metric("agents_operator_api_writes_total{kind=\"Deployment\",verb=\"apply\"}")? < 1.0 {
        ensure!(Instant::now() < deadline, "the operator wrote nothing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();
    let second = ctx.operator(&[])?;
    all_ready(&ctx, COUNT, &second).await?;
    let by_label = ListParams::default().labels("app.kubernetes.io/managed-by=agents-operator");
    let deployments = ctx.api::<Deployment>().list(&by_label).await?.items.len();
    let services = ctx.api::<Service>().list(&by_label).await?.items.len();
    let configs = ctx.api::<ConfigMap>().list(&by_label).await?.items.len();
    ensure!(
        (deployments, services, configs) == (COUNT, COUNT, COUNT),
        "expected {COUNT} of each child, found {deployments} Deployments, {services} Services, {configs} ConfigMaps"
    );
    for i in 0..COUNT {
        let sets = replica_sets(&ctx, &format!("bulk-{i}")).await?;
        ensure!(sets == 1, "bulk-{i} has {sets} ReplicaSets: the restart rolled its pods");
    }
    // Restarted on a settled namespace, an operator reconciles every Agent and writes nothing: no
    // reconcile may read a cache before it is filled (and report a child as missing).
    let mut second = second;
    second.stop()?;
    let third = ctx.operator(&[])?;
    let deadline = Instant::now() + DEADLINE;
    while third.settled_reconciles("Agent").await? < COUNT as f64 {
        ensure!(Instant::now() < deadline, "the restarted operator did not reconcile every Agent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let writes = third.writes()?;
    ensure!(writes == 0.0, "a restart on a settled namespace wrote {writes} times:\n{}", third.log_text());
    Ok(())
}

async fn leader_of(operators: &[&Operator]) -> anyhow::Result<Option<usize>> {
    let mut leaders = Vec::new();
    for (i, operator) in operators.iter().enumerate() {
        if operator.metric("agents_operator_leader")? == 1.0 {
            leaders.push(i);
        }
    }
    ensure!(leaders.len() <= 1, "more than one leader: {leaders:?}");
    Ok(leaders.first().copied())
}

async fn two_replicas_elect_one_leader(ctx: Ctx) -> anyhow::Result<()> {
    let election = ["--leader-elect=true", "--lease-duration=4", "--lease-grace=1"];
    let mut a = ctx.operator(&election)?;
    let mut b = ctx.operator(&election)?;
    let deadline = Instant::now() + DEADLINE;
    let leader = loop {
        if let Some(leader) = leader_of(&[&a, &b]).await? {
            break leader;
        }
        ensure!(Instant::now() < deadline, "no leader was elected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ctx.apply_yaml(&agents_yaml(2)).await?;
    let (leading, standing_by) = if leader == 0 { (&mut a, &mut b) } else { (&mut b, &mut a) };
    all_ready(&ctx, 2, leading).await?;
    // The standby is warm: its caches follow the Agents as they turn Ready, and it reconciles
    // and writes nothing.
    standing_by
        .wait_for_metrics(&[
            (r#"agents_operator_objects{kind="Agent",phase="Ready"}"#, 2.0),
            (r#"agents_operator_caches_filled{kind="Agent"}"#, 1.0),
        ])
        .await?;
    let reconciled = standing_by.metric(r#"agents_operator_reconciles_total{kind="Agent"}"#)?;
    ensure!(reconciled == 0.0, "the standby reconciled {reconciled} Agents");
    ensure!(standing_by.writes()? == 0.0, "the standby wrote to the API server");

    // The leader dies without releasing the lease; the standby takes over once it expires.
    leading.kill();
    let deadline = Instant::now() + DEADLINE;
    while standing_by.metric("agents_operator_leader")? != 1.0 {
        ensure!(standing_by.is_running(), "the standby exited:\n{}", standing_by.log_text());
        ensure!(Instant::now() < deadline, "the standby did not take over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ctx.apply_yaml(&agents_yaml(3)).await?;
    all_ready(&ctx, 3, standing_by).await?;
    ensure!(standing_by.writes()? > 0.0, "the new leader did not reconcile");

    // A newcomer with a 60 s lease takes over from the 4 s leader, released or expired.
    let election = ["--leader-elect=true", "--lease-duration=60", "--lease-grace=5"];
    let mut c = ctx.operator(&election)?;
    c.wait_for_metrics(&[(r#"agents_operator_objects{kind="Agent",phase="Ready"}"#, 3.0)]).await?;
    standing_by.stop()?;
    c.wait_for_metrics(&[("agents_operator_leader", 1.0)]).await?;

    // Stopped gracefully, a leader releases the lease it wrote for 60 s: a standby watching it
    // leads at once, not when it would have expired, and writes nothing for the settled Agents.
    let d = ctx.operator(&election)?;
    d.wait_for_metrics(&[
        (r#"agents_operator_objects{kind="Agent",phase="Ready"}"#, 3.0),
        (r#"agents_operator_caches_filled{kind="Agent"}"#, 1.0),
    ])
    .await?;
    c.stop()?;
    let released = Instant::now();
    while d.metric("agents_operator_leader")? != 1.0 {
        ensure!(released.elapsed() < Duration::from_secs(20), "the lease was not released on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + DEADLINE;
    while d.settled_reconciles("Agent").await? < 3.0 {
        ensure!(Instant::now() < deadline, "the new leader did not reconcile every Agent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let writes = d.writes()?;
    ensure!(writes == 0.0, "taking over settled Agents, the new leader wrote {writes} times:\n{}", d.log_text());
    Ok(())
}

/// The operator as it runs in-cluster: with the ServiceAccount and RBAC of operator/config/rbac
/// (RBAC is enforced by this API server), leader election in agents-system, JSON logs.
async fn runs_with_its_least_privilege_rbac(ctx: Ctx) -> anyhow::Result<()> {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../operator/config");
    run_ok(ctx.kubectl().args(["apply", "--server-side", "-f", &format!("{config}/manager/namespace.yaml")]))?;
    run_ok(ctx.kubectl().args(["apply", "--server-side", "-k", &format!("{config}/rbac")]))?;
    let kubeconfig = kubeconfig_of(&ctx, "agents-system", "agents-operator").await?;

    let operator = ctx.operator_as(
        &kubeconfig,
        &["--leader-elect=true", "--leader-election-namespace=agents-system", "--log-format=json"],
    )?;
    ctx.apply_yaml(
        r#"
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: governed}
spec:
  image: ghcr.io/example/a:v1
  autoscaling: {maxReplicas: 3}
  disruptionBudget: {minAvailable: 1}
  networkPolicy: {ingress: []}
"#,
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "governed", "phase Ready", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref()).and_then(|s| s.phase) == Some(AgentPhase::Ready)
    })
    .await?;
    ctx.wait_for_event("governed", "Normal Ready").await?;
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: governed}\nspec: {image: ghcr.io/example/a:v1}\n")
        .await?;
    // Each child the spec no longer asks for is deleted (RBAC allows it), and the Agent settles.
    ctx.wait_gone(&ctx.api::<HorizontalPodAutoscaler>(), "governed").await?;
    ctx.wait_gone(&ctx.api::<PodDisruptionBudget>(), "governed").await?;
    ctx.wait_gone(&ctx.api::<NetworkPolicy>(), "governed").await?;
    ctx.wait_for(&agents, "governed", "Ready at the new generation", |a: Option<&Agent>| {
        a.is_some_and(|a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.phase == Some(AgentPhase::Ready) && s.observed_generation == a.metadata.generation)
        })
    })
    .await?;
    ensure!(
        operator.metric("agents_operator_reconcile_failures_total{kind=\"Agent\",error=\"apply\"}")? == 0.0,
        "some writes were forbidden:\n{}",
        operator.log_text()
    );
    ensure!(operator.get("/healthz")?.trim() == "ok");
    let log = operator.log_text();
    let first = log.lines().next().context("the operator logged nothing")?;
    let line: serde_json::Value = serde_json::from_str(first).with_context(|| format!("not JSON: {first}"))?;
    ensure!(line.get("level").is_some() && line.get("message").is_some(), "unexpected JSON log line: {first}");
    Ok(())
}

/// A kubeconfig that authenticates as the service account `namespace/account` (a token request).
pub(crate) async fn kubeconfig_of(ctx: &Ctx, namespace: &str, account: &str) -> anyhow::Result<std::path::PathBuf> {
    let accounts: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), namespace);
    let request: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}}))?;
    let token = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await?
        .status
        .context("no token in the TokenRequest")?
        .token;
    let admin: serde_json::Value = serde_norway::from_str(&std::fs::read_to_string(ctx.cluster.kubeconfig())?)?;
    let ca = admin.pointer("/clusters/0/cluster/certificate-authority-data").context("no CA in the kubeconfig")?;
    let kubeconfig = ctx.cluster.dir().join(format!("{account}-{}.kubeconfig", ctx.ns));
    let document = json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "operator",
        "clusters": [{"name": "local", "cluster": {"server": ctx.cluster.server(), "certificate-authority-data": ca}}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "operator"}}],
    });
    std::fs::write(&kubeconfig, serde_norway::to_string(&document)?)?;
    Ok(kubeconfig)
}

/// An operator whose ClusterRole lost the rule on CRDs (a cluster admin trimmed it) cannot tell
/// whether Tekton, Argo or the Prometheus Operator are installed: it says so, backs off instead
/// of asking again at once, and reconciles Agents without waiting for an answer.
async fn crds_it_may_not_read_hold_nothing_up(ctx: Ctx) -> anyhow::Result<()> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../operator/config/rbac/cluster_role.yaml");
    let mut role: ClusterRole = serde_norway::from_str(&std::fs::read_to_string(file)?)?;
    let name = format!("agents-operator-without-crds-{}", ctx.ns);
    role.metadata = ObjectMeta { name: Some(name.clone()), ..Default::default() };
    let rules = role.rules.as_mut().context("no rules")?;
    let before = rules.len();
    rules.retain(|r| !r.api_groups.iter().flatten().any(|g| g == "apiextensions.k8s.io"));
    ensure!(rules.len() < before, "the operator's ClusterRole has no rule on CRDs to remove");
    let roles: Api<ClusterRole> = Api::all(ctx.client.clone());
    roles.create(&PostParams::default(), &role).await?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "trimmed", "namespace": ctx.ns}],
    }))?;
    let bindings: Api<ClusterRoleBinding> = Api::all(ctx.client.clone());
    bindings.create(&PostParams::default(), &binding).await?;
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "trimmed"}}))?;
    ctx.api::<ServiceAccount>().create(&PostParams::default(), &account).await?;
    let kubeconfig = kubeconfig_of(&ctx, &ctx.ns, "trimmed").await?;

    let operator = ctx.operator_as(&kubeconfig, &[])?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: unseen}\nspec: {image: ghcr.io/example/a:v1}\n",
    )
    .await?;
    ctx.wait_for(&ctx.api::<Agent>(), "unseen", "phase Ready", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref()).and_then(|s| s.phase) == Some(AgentPhase::Ready)
    })
    .await?;
    let refusals = || operator.log_text().lines().filter(|l| l.contains("cannot read the CRD")).count();
    let deadline = Instant::now() + DEADLINE;
    while refusals() == 0 {
        ensure!(Instant::now() < deadline, "no warning about the CRDs:\n{}", operator.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Backed off, three CRDs cost a handful of refused requests in the test's seconds; retried at
    // once, they cost thousands.
    let refused = refusals();
    ensure!(refused < 60, "{refused} warnings about the CRDs: the operator is not backing off");
    let _ = bindings.delete(&name, &Default::default()).await;
    let _ = roles.delete(&name, &Default::default()).await;
    Ok(())
}

/// An Agent Ready again as before (stopped, then started) does not get a second `Ready` Event:
/// the first one's series counts the repeat, as client-go's recorders do.
async fn the_same_event_again_grows_a_series(ctx: Ctx) -> anyhow::Result<()> {
    let operator = ctx.operator(&[])?;
    let agents: Api<Agent> = ctx.api();
    let phase = |wanted: AgentPhase| {
        move |a: Option<&Agent>| a.and_then(|a| a.status.as_ref()).and_then(|s| s.phase) == Some(wanted)
    };
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: again}\nspec: {image: ghcr.io/example/a:v1, replicas: 1}\n")
        .await?;
    ctx.wait_for(&agents, "again", "phase Ready", phase(AgentPhase::Ready)).await?;
    for replicas in [0, 1] {
        agents.patch("again", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": replicas}}))).await?;
        let wanted = if replicas == 0 { AgentPhase::Stopped } else { AgentPhase::Ready };
        ctx.wait_for(&agents, "again", "the next phase", phase(wanted)).await?;
    }
    let events: Api<Event> = ctx.api();
    let ready = ListParams::default().fields("regarding.name=again,reason=Ready");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let found = events.list(&ready).await?.items;
        let counts: Vec<Option<i32>> = found.iter().map(|e| e.series.as_ref().map(|s| s.count)).collect();
        if counts == [Some(2)] {
            break;
        }
        if Instant::now() > deadline {
            let seen: Vec<String> = found
                .iter()
                .map(|e| format!("{:?} (series {:?})", e.note, e.series.as_ref().map(|s| s.count)))
                .collect();
            bail!("Ready Events: {seen:?}\noperator log:\n{}", operator.log_text());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    operator.wait_for_metrics(&[(r#"agents_operator_api_writes_total{kind="Event",verb="patch"}"#, 1.0)]).await?;
    Ok(())
}

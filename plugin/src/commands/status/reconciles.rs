//! The operator's reconciles and their failures, as its leader's `/metrics` counts them
//! (`agents_operator_reconciles_total`, `…_reconcile_failures_total` and
//! `…_reconcile_last_failure_timestamp_seconds`, by kind and error), read over a port-forward to
//! the leader's pod (`pods/portforward` in the operator's namespace, as `kubectl port-forward`).
//! An operator that runs outside the cluster has no pod to reach: the row says so.

use std::collections::BTreeMap;

use http_body_util::{BodyExt, Full};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use crate::commands::check::{Check, Status};
use crate::leader_lease::{self, Leader};
use crate::manifests::{NAMESPACE, OPERATOR_SELECTOR};
use crate::port_forward::{self, PodConnection};

const NAME: &str = "Reconciles";
/// The operator's metrics port, by the name its Deployment gives it.
const METRICS_PORT: &str = "http-metrics";
/// A failure this recent is news; older ones are listed without a warning.
const RECENT_SECONDS: f64 = 15.0 * 60.0;

/// One kind of failure: how often, and when last (Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: String,
    pub error: String,
    pub count: f64,
    pub last: Option<f64>,
}

/// What the metrics say of the reconciles since the leader started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub reconciles: f64,
    pub failures: Vec<Failure>,
}

/// The row, or none when no operator holds the Lease (the Operator row says so already).
pub async fn reconciles(client: &kube::Client, now: k8s_openapi::jiff::Timestamp) -> anyhow::Result<Option<Check>> {
    let leases = match Api::<Lease>::all(client.clone()).list(&leader_lease::list_params()).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            match Api::<Lease>::namespaced(client.clone(), NAMESPACE).list(&leader_lease::list_params()).await {
                Ok(list) => list.items,
                Err(kube::Error::Api(status)) if status.code == 403 => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let Some(leader) = leases.iter().map(|l| Leader::read(l, now)).find(|l| l.alive) else {
        return Ok(None);
    };
    let holder = leader.holder.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &leader.namespace);
    let listed = match pods.list(&ListParams::default().labels(OPERATOR_SELECTOR)).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return Ok(Some(not_read(&format!("the operator's pods may not be listed: {}", status.message))));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(pod) = listed.iter().find(|pod| holds(&holder, pod.metadata.name.as_deref().unwrap_or_default())) else {
        return Ok(Some(
            Check::new(NAME, false, Status::Unknown, format!("not read: the leader {holder} runs outside the cluster"))
                .hint("its failures are in its /metrics, where it runs (--metrics-bind-address)"),
        ));
    };
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let Some(port) = metrics_port(pod) else {
        return Ok(Some(not_read(&format!("pod {pod_name} declares no {METRICS_PORT} port"))));
    };
    let text = match read_metrics(&pods, &pod_name, port).await {
        Ok(text) => text,
        Err(e) => {
            return Ok(Some(not_read(&format!("{e:#}")).hint(format!(
                "it needs `create pods/portforward` in namespace {} (as kubectl port-forward)",
                leader.namespace
            ))));
        }
    };
    Ok(Some(check(&parse(&text), &pod_name, now.as_second() as f64)))
}

/// Whether the Lease holder `holder` (the operator's identity, `POD-PID`) is the pod `pod`.
fn holds(holder: &str, pod: &str) -> bool {
    holder
        .strip_prefix(pod)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

fn metrics_port(pod: &Pod) -> Option<u16> {
    let containers = &pod.spec.as_ref()?.containers;
    let port =
        containers.iter().flat_map(|c| c.ports.iter().flatten()).find(|p| p.name.as_deref() == Some(METRICS_PORT))?;
    u16::try_from(port.container_port).ok()
}

/// How long reading the metrics may take: `status` must answer even when the pod does not.
const READ_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

async fn read_metrics(pods: &Api<Pod>, pod: &str, port: u16) -> anyhow::Result<String> {
    tokio::time::timeout(READ_DEADLINE, read_metrics_now(pods, pod, port))
        .await
        .map_err(|_| anyhow::anyhow!("pod {pod} did not answer /metrics within {}s", READ_DEADLINE.as_secs()))?
}

async fn read_metrics_now(pods: &Api<Pod>, pod: &str, port: u16) -> anyhow::Result<String> {
    let mut connection = PodConnection::open(pods, pod, port).await?;
    let request = port_forward::request(http::Method::GET, "/metrics").body(Full::default())?;
    let response = connection.send(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    anyhow::ensure!(status.is_success(), "pod {pod} answered /metrics with {status}");
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn not_read(why: &str) -> Check {
    Check::new(NAME, false, Status::Unknown, format!("could not be read: {why}"))
}

/// The counts from Prometheus' text format; lines of other metrics are ignored.
pub fn parse(text: &str) -> Counts {
    let mut reconciles = 0.0;
    // (kind, error) → (count, last)
    let mut failures: BTreeMap<(String, String), (f64, Option<f64>)> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let label = |key: &str| {
            let value = labels
                .trim_end_matches('}')
                .split(',')
                .find_map(|pair| pair.strip_prefix(key)?.strip_prefix("=\"")?.strip_suffix('"'));
            value.unwrap_or_default().to_string()
        };
        let key = (label("kind"), label("error"));
        match name {
            "agents_operator_reconciles_total" => reconciles += value,
            "agents_operator_reconcile_failures_total" => failures.entry(key).or_default().0 += value,
            "agents_operator_reconcile_last_failure_timestamp_seconds" => {
                failures.entry(key).or_default().1 = Some(value)
            }
            _ => {}
        }
    }
    let failures = failures
        .into_iter()
        .filter(|(_, (count, _))| *count > 0.0)
        .map(|((kind, error), (count, last))| Failure { kind, error, count, last })
        .collect();
    Counts { reconciles, failures }
}

/// The row: how many reconciles failed, of which kind and error, and how long ago the last one.
pub fn check(counts: &Counts, pod: &str, now: f64) -> Check {
    let run = counts.reconciles as u64;
    if counts.failures.is_empty() {
        return Check::new(NAME, false, Status::Ok, format!("{run} since the leader {pod} started, none failed"));
    }
    let failed: f64 = counts.failures.iter().map(|f| f.count).sum();
    let mut failures = counts.failures.clone();
    failures.sort_by(|a, b| b.last.partial_cmp(&a.last).unwrap_or(std::cmp::Ordering::Equal));
    let listed: Vec<String> = failures
        .iter()
        .map(|f| {
            let ago = f.last.map(|last| format!(", last {} ago", ago(now - last))).unwrap_or_default();
            format!("{} {} ×{}{ago}", f.kind, f.error, f.count as u64)
        })
        .collect();
    let recent = failures.iter().any(|f| f.last.is_some_and(|last| now - last <= RECENT_SECONDS));
    let detail = format!("{} of {run} failed since the leader {pod} started: {}", failed as u64, listed.join("; "));
    if recent {
        Check::new(NAME, false, Status::Warn, detail).hint(format!(
            "the failing objects say why in their status (`kubectl agents status -A`); the operator's log has each error: `kubectl logs {pod}`"
        ))
    } else {
        Check::new(NAME, false, Status::Ok, detail)
    }
}

/// `45s`, `12m`, `3h`, `2d`.
fn ago(seconds: f64) -> String {
    let seconds = seconds.max(0.0) as u64;
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the operator's /metrics serves (operator/src/metrics), trimmed.
    const METRICS: &str = r#"# HELP agents_operator_reconciles Reconciles run.
# TYPE agents_operator_reconciles counter
agents_operator_reconciles_total{kind="Agent"} 40
agents_operator_reconciles_total{kind="ModelAPI"} 2
# TYPE agents_operator_reconcile_failures counter
agents_operator_reconcile_failures_total{kind="Agent",error="apply"} 3
agents_operator_reconcile_failures_total{kind="ModelAPI",error="status"} 1
# TYPE agents_operator_reconcile_last_failure_timestamp_seconds gauge
agents_operator_reconcile_last_failure_timestamp_seconds{kind="Agent",error="apply"} 1000.5
agents_operator_reconcile_last_failure_timestamp_seconds{kind="ModelAPI",error="status"} 100.0
agents_operator_api_writes_total{kind="Agent",verb="status"} 7
"#;

    #[test]
    fn the_metrics_are_read_by_kind_and_error() {
        let counts = parse(METRICS);
        assert_eq!(counts.reconciles, 42.0);
        assert_eq!(
            counts.failures,
            [
                Failure { kind: "Agent".into(), error: "apply".into(), count: 3.0, last: Some(1000.5) },
                Failure { kind: "ModelAPI".into(), error: "status".into(), count: 1.0, last: Some(100.0) },
            ]
        );
        assert_eq!(parse("garbage\nagents_operator_reconciles_total{kind=\"Agent\"} x\n"), Counts::default());
    }

    #[test]
    fn a_recent_failure_warns_an_old_one_is_listed() {
        let counts = parse(METRICS);
        let recent = check(&counts, "agents-operator-7d-x", 1060.0);
        assert_eq!(recent.status, Status::Warn);
        assert_eq!(
            recent.detail,
            "4 of 42 failed since the leader agents-operator-7d-x started: Agent apply ×3, last 59s ago; ModelAPI status ×1, last 16m ago"
        );
        assert!(recent.hint.as_deref().unwrap_or_default().contains("kubectl logs agents-operator-7d-x"));
        let old = check(&counts, "agents-operator-7d-x", 1000.5 + 2.0 * 3600.0);
        assert_eq!((old.status, old.hint.is_none()), (Status::Ok, true));
        let clean = check(&Counts { reconciles: 5.0, failures: vec![] }, "p", 0.0);
        assert_eq!((clean.status, clean.detail.as_str()), (Status::Ok, "5 since the leader p started, none failed"));
    }

    #[test]
    fn the_holder_is_the_pod_and_a_process_id() {
        assert!(holds("agents-operator-7d9f-x2-4121", "agents-operator-7d9f-x2"));
        assert!(!holds("agents-operator-7d9f-x2-4121", "agents-operator-7d9f"));
        assert!(!holds("laptop-4121", "agents-operator-7d9f-x2"));
        assert!(!holds("agents-operator-7d9f-x2-", "agents-operator-7d9f-x2"));
    }
}

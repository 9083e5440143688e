//! The operator: its Deployment (replicas ready, version), or, for one that runs outside the
//! cluster, its leader Lease.

use agents_render::labels;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::ListParams;

use super::probe::{Probe, find, name_of, namespace_of, not_checked, ready_replicas};
use super::{Check, PLUGIN_VERSION, Status};
use crate::leader_lease::{self, Leader};
use crate::manifests::{NAMESPACE, OPERATOR_SELECTOR};

/// The operator: its Deployment, or, for one that runs outside the cluster, its leader Lease.
pub async fn operator(client: &kube::Client) -> anyhow::Result<Vec<Check>> {
    let (operators, leases) = (ListParams::default().labels(OPERATOR_SELECTOR), leader_lease::list_params());
    let (deployments, leases) = futures::try_join!(
        find::<Deployment>(client, &operators, NAMESPACE),
        find::<Lease>(client, &leases, NAMESPACE),
    )?;
    let now = k8s_openapi::jiff::Timestamp::now();
    // A Lease the user may not read leaves the Deployment to answer alone.
    let leaders: Vec<Leader> =
        leases.map(|(leases, _)| leases.iter().map(|l| Leader::read(l, now)).collect()).unwrap_or_default();
    Ok(operator_checks(deployments, &leaders))
}

fn operator_checks(found: Probe<(Vec<Deployment>, Option<String>)>, leaders: &[Leader]) -> Vec<Check> {
    const NAME: &str = "Operator";
    let (deployments, only_in) = match found {
        Err(why) => return vec![not_checked(NAME, true, &why)],
        Ok(found) => found,
    };
    if deployments.is_empty() {
        if let Some(check) = leader_check(NAME, leaders) {
            return vec![check];
        }
        let undetectable = "an operator that runs outside the cluster is found by its leader Lease, which it holds unless started with --leader-elect=false";
        return vec![match only_in {
            Some(namespace) => Check::new(
                NAME,
                true,
                Status::Unknown,
                format!(
                    "no Deployment labelled {OPERATOR_SELECTOR} in namespace {namespace}, the only one you may list Deployments in"
                ),
            )
            .hint(format!("ask someone who can list Deployments in all namespaces to run `kubectl agents check`; {undetectable}")),
            None => Check::new(NAME, true, Status::Fail, format!("no Deployment labelled {OPERATOR_SELECTOR} in any namespace"))
                .hint(format!("run `kubectl agents install` ({undetectable})")),
        }];
    }
    let mut checks: Vec<Check> = deployments.iter().map(|d| operator_check(NAME, d)).collect();
    if deployments.len() > 1 {
        let places: Vec<String> = deployments.iter().map(|d| format!("{}/{}", namespace_of(d), name_of(d))).collect();
        checks.push(
            Check::new(NAME, true, Status::Warn, format!("{} operators installed: {}", deployments.len(), places.join(", ")))
                .hint("they would all reconcile the same Agents: keep one (`kubectl agents uninstall` removes the one in agents-system)"),
        );
    }
    checks
}

fn operator_check(name: &str, deployment: &Deployment) -> Check {
    let (ready, wanted) = ready_replicas(deployment);
    let (namespace, deployment_name) = (namespace_of(deployment), name_of(deployment));
    let version = deployment.metadata.labels.as_ref().and_then(|l| l.get(labels::VERSION)).cloned();
    let detail = format!(
        "{ready}/{wanted} ready, version {}, deployment {deployment_name} in namespace {namespace}",
        version.as_deref().unwrap_or("unknown")
    );
    if wanted == 0 {
        return Check::new(name, true, Status::Fail, detail).hint(format!(
            "it is scaled to 0: `kubectl -n {namespace} scale deployment {deployment_name} --replicas 2`"
        ));
    }
    if ready == 0 {
        return Check::new(name, true, Status::Fail, detail).hint(format!(
            "see `kubectl -n {namespace} describe deployment {deployment_name}` and `kubectl -n {namespace} logs deployment/{deployment_name}`"
        ));
    }
    match version {
        Some(v) if v == PLUGIN_VERSION => {
            if ready < wanted {
                Check::new(name, true, Status::Warn, detail)
                    .hint(format!("not every replica is ready: see `kubectl -n {namespace} describe deployment {deployment_name}`"))
            } else {
                Check::new(name, true, Status::Ok, detail)
            }
        }
        Some(v) => Check::new(name, true, Status::Warn, format!("{detail}; this plugin is {PLUGIN_VERSION}"))
            .hint(format!("`kubectl agents install` installs the operator of {PLUGIN_VERSION}, or use the plugin of version {v}")),
        None => Check::new(name, true, Status::Warn, format!("{detail}; this plugin is {PLUGIN_VERSION}"))
            .hint(format!("its Deployment has no {version_label} label: `kubectl agents install` installs the operator of {PLUGIN_VERSION}", version_label = labels::VERSION)),
    }
}

/// An operator without a Deployment in the cluster, judged by its leader Lease: a live leader
/// passes (of this plugin's version, or with a warning); a Lease no longer renewed fails. `None`
/// when no Lease has a holder to speak of.
fn leader_check(name: &str, leaders: &[Leader]) -> Option<Check> {
    if let Some(leader) = leaders.iter().find(|l| l.alive) {
        let version = leader.version.as_deref().unwrap_or("unknown");
        let detail = format!("running outside the cluster: {}, version {version}", leader.describe());
        return Some(match leader.version.as_deref() {
            Some(PLUGIN_VERSION) => Check::new(name, true, Status::Ok, detail),
            _ => Check::new(name, true, Status::Warn, format!("{detail}; this plugin is {PLUGIN_VERSION}"))
                .hint(format!("run the operator of {PLUGIN_VERSION}, or use the plugin of its version")),
        });
    }
    let last = leaders.iter().filter(|l| l.holder.is_some()).min_by_key(|l| l.renewed_ago)?;
    Some(
        Check::new(
            name,
            true,
            Status::Fail,
            format!("no Deployment in the cluster, and the {} is no longer renewed", last.describe()),
        )
        .hint("the operator stopped: start it again, or run `kubectl agents install` to run it in the cluster"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(name: &str, version: Option<&str>, ready: i32, wanted: i32) -> Deployment {
        let mut labels = json!({"app.kubernetes.io/name": "agents-operator"});
        if let Some(v) = version {
            labels[labels::VERSION] = json!(v);
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "agents-system", "labels": labels},
            "spec": {"replicas": wanted, "selector": {}, "template": {}},
            "status": {"readyReplicas": ready},
        }))
        .unwrap()
    }

    #[test]
    fn the_operator_is_judged_by_its_replicas_and_version() {
        let missing = operator_checks(Ok((vec![], None)), &[]);
        assert_eq!(missing[0].status, Status::Fail);
        let hint = missing[0].hint.clone().unwrap();
        assert!(hint.contains("kubectl agents install") && hint.contains("outside the cluster"), "{hint}");
        let ready = operator_checks(Ok((vec![deployment("agents-operator", Some(PLUGIN_VERSION), 2, 2)], None)), &[]);
        assert_eq!(ready[0].status, Status::Ok, "{ready:?}");
        let down = operator_checks(Ok((vec![deployment("agents-operator", Some(PLUGIN_VERSION), 0, 2)], None)), &[]);
        assert_eq!(down[0].status, Status::Fail);
        let old = operator_checks(Ok((vec![deployment("agents-operator", Some("0.0.1"), 2, 2)], None)), &[]);
        assert_eq!(old[0].status, Status::Warn);
        let two = operator_checks(
            Ok((vec![deployment("a", Some(PLUGIN_VERSION), 1, 1), deployment("b", Some(PLUGIN_VERSION), 1, 1)], None)),
            &[],
        );
        assert_eq!(two.len(), 3);
        assert!(two[2].detail.starts_with("2 operators installed"));
        let unseen = operator_checks(Ok((vec![], Some("agents-system".into()))), &[]);
        assert_eq!(unseen[0].status, Status::Unknown);
    }

    #[test]
    fn an_operator_outside_the_cluster_is_found_by_its_lease() {
        let leader = |alive: bool, version: Option<&str>| Leader {
            namespace: "default".into(),
            holder: Some("laptop-42".into()),
            renewed_ago: Some(if alive { 2 } else { 90 }),
            alive,
            version: version.map(String::from),
        };
        let running = operator_checks(Ok((vec![], None)), &[leader(true, Some(PLUGIN_VERSION))]);
        assert_eq!(running[0].status, Status::Ok, "{running:?}");
        assert!(running[0].detail.starts_with("running outside the cluster: leader laptop-42"), "{running:?}");
        let other = operator_checks(Ok((vec![], None)), &[leader(true, Some("0.0.1"))]);
        assert_eq!(other[0].status, Status::Warn);
        let stopped = operator_checks(Ok((vec![], None)), &[leader(false, Some(PLUGIN_VERSION))]);
        assert_eq!(stopped[0].status, Status::Fail);
        assert!(stopped[0].detail.contains("renewed 90s ago) is no longer renewed"), "{stopped:?}");
        let installed = deployment("agents-operator", Some(PLUGIN_VERSION), 0, 2);
        let down = operator_checks(Ok((vec![installed], None)), &[leader(true, Some(PLUGIN_VERSION))]);
        assert_eq!(down[0].status, Status::Fail, "a Deployment, when there is one, is what is judged");
    }
}

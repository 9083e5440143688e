//! `kubectl agents check [-o json|yaml]`: is the cluster ready for kubectl agents? One row per
//! part (the agents.dev CRDs and the operator, required; Tekton and Argo Workflows, optional),
//! with a hint for each that is not. Exits 1 unless the required parts are OK.
//!
//! Every probe is a read; one the user may not make (403) becomes a row saying so.

use std::process::ExitCode;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::version::VERSION_LABEL;
use crate::leader_lease::{self, Leader};
use crate::manifests::{self, NAMESPACE, OPERATOR_SELECTOR};
use crate::output::{self, Format};
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: a table, or the report as JSON or YAML.
    #[arg(short = 'o', long, value_enum, default_value_t = CheckFormat::Table)]
    pub output: CheckFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    Table,
    Json,
    Yaml,
}

const PLUGIN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How one part of the cluster fares.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Present and working.
    Ok,
    /// Works, but something deserves attention (another version; an optional part missing).
    Warn,
    /// A required part is missing or not working.
    Fail,
    /// Could not be checked (not allowed to look).
    Unknown,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    /// Whether kubectl agents needs it (the exit code depends only on these).
    pub required: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    pub fn new(name: impl Into<String>, required: bool, status: Status, detail: impl Into<String>) -> Self {
        Check { name: name.into(), status, required, detail: detail.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn passes(&self) -> bool {
        !self.required || matches!(self.status, Status::Ok | Status::Warn)
    }
}

#[derive(Serialize, Debug)]
struct Report {
    ready: bool,
    plugin: String,
    checks: Vec<Check>,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let client = &session.client;
    let (crds, operator, tekton, argo) =
        futures::try_join!(agents_crds(client), operator(client), tekton(client), argo(client))?;
    let checks: Vec<Check> = [crds, operator, tekton, argo].concat();
    let ready = checks.iter().all(Check::passes);
    let report = Report { ready, plugin: PLUGIN_VERSION.into(), checks };
    match args.output {
        CheckFormat::Json => output::print_value(&serde_json::to_value(&report)?, Format::Json)?,
        CheckFormat::Yaml => output::print_value(&serde_json::to_value(&report)?, Format::Yaml)?,
        CheckFormat::Table => {
            let mut table = output::table(vec!["CHECK", "STATUS", "DETAIL"]);
            for check in &report.checks {
                let detail = match &check.hint {
                    Some(hint) => format!("{}\nhint: {hint}", check.detail),
                    None => check.detail.clone(),
                };
                table.add_row(vec![check.name.clone(), check.status.label().to_string(), detail]);
            }
            output::print_table(&table, true)?;
            println!();
            println!("{}", summary(&report.checks));
        }
    }
    Ok(if ready { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn summary(checks: &[Check]) -> String {
    let failing: Vec<&str> = checks.iter().filter(|c| !c.passes()).map(|c| c.name.as_str()).collect();
    let warnings = checks.iter().filter(|c| c.status != Status::Ok && c.passes()).count();
    if !failing.is_empty() {
        return format!("Not ready: {} (see the hints above).", failing.join(", "));
    }
    match warnings {
        0 => "Ready: the CRDs are installed and the operator is running.".into(),
        1 => "Ready: the CRDs are installed and the operator is running (1 warning above).".into(),
        n => format!("Ready: the CRDs are installed and the operator is running ({n} warnings above)."),
    }
}

/// The answer of one probe: what was found, or the reason it may not be seen.
type Probe<T> = Result<T, String>;

/// A 403 becomes the sentence of a row; any other failure (the cluster cannot be reached…) stops
/// the command, as it would make every row wrong.
fn probe<T>(result: Result<T, kube::Error>) -> anyhow::Result<Probe<T>> {
    match result {
        Ok(found) => Ok(Ok(found)),
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(Err(status.message)),
        Err(e) => Err(e.into()),
    }
}

fn not_checked(name: &str, required: bool, why: &str) -> Check {
    Check::new(name, required, Status::Unknown, format!("could not be checked: {why}"))
        .hint("ask for read access to it (RBAC), or use another --context")
}

async fn get_crd(client: &kube::Client, name: &str) -> anyhow::Result<Probe<Option<CustomResourceDefinition>>> {
    probe(Api::<CustomResourceDefinition>::all(client.clone()).get_opt(name).await)
}

fn established(crd: &CustomResourceDefinition) -> Result<(), String> {
    let conditions = crd.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    match conditions.iter().find(|c| c.type_ == "Established") {
        Some(c) if c.status == "True" => Ok(()),
        Some(c) => Err(c.message.clone().unwrap_or_else(|| c.reason.clone().unwrap_or_default())),
        None => Err("no Established condition yet".into()),
    }
}

fn served_versions(crd: &CustomResourceDefinition) -> Vec<String> {
    crd.spec.versions.iter().filter(|v| v.served).map(|v| v.name.clone()).collect()
}

/// The agents.dev CRDs this plugin ships: present, Established, of the plugin's version.
async fn agents_crds(client: &kube::Client) -> anyhow::Result<Vec<Check>> {
    let mut checks = Vec::new();
    for object in manifests::crds() {
        let found = get_crd(client, object.name()).await?;
        checks.push(agents_crd(object.name(), found));
    }
    Ok(checks)
}

fn agents_crd(name: &str, found: Probe<Option<CustomResourceDefinition>>) -> Check {
    let check = format!("CRD {name}");
    let crd = match found {
        Err(why) => return not_checked(&check, true, &why),
        Ok(None) => {
            return Check::new(check, true, Status::Fail, "not installed").hint(
                "run `kubectl agents install` (or `kubectl agents install --crds-only` when the operator runs outside the cluster)",
            );
        }
        Ok(Some(crd)) => crd,
    };
    if let Err(why) = established(&crd) {
        return Check::new(check, true, Status::Fail, format!("not Established: {why}"))
            .hint(format!("see `kubectl describe crd {name}`"));
    }
    let served = served_versions(&crd);
    if !served.iter().any(|v| v == agents_api::VERSION) {
        return Check::new(
            check,
            true,
            Status::Fail,
            format!("does not serve {} (serves: {})", agents_api::VERSION, or_nothing(&served)),
        )
        .hint(format!("this plugin speaks {}: run `kubectl agents install`", agents_api::API_VERSION));
    }
    let version = crd.metadata.labels.as_ref().and_then(|l| l.get(VERSION_LABEL)).cloned();
    match version {
        Some(v) if v == PLUGIN_VERSION => Check::new(check, true, Status::Ok, format!("Established, version {v}")),
        Some(v) => {
            Check::new(check, true, Status::Warn, format!("Established, version {v}; this plugin is {PLUGIN_VERSION}"))
                .hint(format!(
                    "`kubectl agents install` installs the CRDs of {PLUGIN_VERSION}, or use the plugin of version {v}"
                ))
        }
        None => Check::new(check, true, Status::Warn, format!("Established, but without a {VERSION_LABEL} label"))
            .hint(format!("installed by other means? `kubectl agents install` installs those of {PLUGIN_VERSION}")),
    }
}

fn or_nothing(items: &[String]) -> String {
    if items.is_empty() { "nothing".into() } else { items.join(", ") }
}

/// Deployments matching `params` in every namespace; when listing across namespaces is
/// forbidden, in `fallback` only (the second value says so).
/// The objects `params` selects in every namespace, or, when that is forbidden, in `fallback`
/// alone (then named in the answer).
async fn find<K>(
    client: &kube::Client,
    params: &ListParams,
    fallback: &str,
) -> anyhow::Result<Probe<(Vec<K>, Option<String>)>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    match probe(Api::<K>::all(client.clone()).list(params).await)? {
        Ok(list) => Ok(Ok((list.items, None))),
        Err(why) => match probe(Api::<K>::namespaced(client.clone(), fallback).list(params).await)? {
            Ok(list) => Ok(Ok((list.items, Some(fallback.to_string())))),
            Err(_) => Ok(Err(why)),
        },
    }
}

fn ready_replicas(deployment: &Deployment) -> (i32, i32) {
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let ready = deployment.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    (ready, wanted)
}

fn namespace_of(deployment: &Deployment) -> String {
    deployment.metadata.namespace.clone().unwrap_or_default()
}

fn name_of(deployment: &Deployment) -> String {
    deployment.metadata.name.clone().unwrap_or_default()
}

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
    let version = deployment.metadata.labels.as_ref().and_then(|l| l.get(VERSION_LABEL)).cloned();
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
            .hint(format!("its Deployment has no {VERSION_LABEL} label: `kubectl agents install` installs the operator of {PLUGIN_VERSION}")),
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

/// An optional system: its CRD served, and its controller's Deployment running.
struct Optional {
    system: &'static str,
    crd: &'static str,
    controller: &'static str,
    /// Where it is usually installed: searched alone when listing in all namespaces is forbidden.
    namespace: &'static str,
    hint: &'static str,
}

const TEKTON: Optional = Optional {
    system: "Tekton",
    crd: "pipelineruns.tekton.dev",
    controller: "tekton-pipelines-controller",
    namespace: "tekton-pipelines",
    hint: "install Tekton Pipelines (https://tekton.dev/docs/installation/pipelines/) to use `kubectl agents build`",
};

const ARGO: Optional = Optional {
    system: "Argo Workflows",
    crd: "workflows.argoproj.io",
    controller: "workflow-controller",
    namespace: "argo",
    hint: "install Argo Workflows (https://argo-workflows.readthedocs.io/en/latest/installation/) to run AgentWorkflows",
};

pub async fn tekton(client: &kube::Client) -> anyhow::Result<Vec<Check>> {
    optional(client, &TEKTON).await
}

pub async fn argo(client: &kube::Client) -> anyhow::Result<Vec<Check>> {
    optional(client, &ARGO).await
}

async fn optional(client: &kube::Client, system: &Optional) -> anyhow::Result<Vec<Check>> {
    let crd = get_crd(client, system.crd).await?;
    let params = ListParams::default().fields(&format!("metadata.name={}", system.controller));
    let controllers = find::<Deployment>(client, &params, system.namespace).await?;
    Ok(vec![optional_crd(system, crd), optional_controller(system, controllers)])
}

fn optional_crd(system: &Optional, found: Probe<Option<CustomResourceDefinition>>) -> Check {
    let name = format!("{} CRD", system.system);
    match found {
        Err(why) => not_checked(&name, false, &why),
        Ok(None) => Check::new(name, false, Status::Warn, format!("{} is not installed (optional)", system.crd))
            .hint(system.hint),
        Ok(Some(crd)) => {
            let served = served_versions(&crd);
            match established(&crd) {
                Ok(()) if !served.is_empty() => {
                    Check::new(name, false, Status::Ok, format!("{} served ({})", system.crd, served.join(", ")))
                }
                Ok(()) => {
                    Check::new(name, false, Status::Warn, format!("{} serves no version", system.crd)).hint(system.hint)
                }
                Err(why) => Check::new(name, false, Status::Warn, format!("{} is not Established: {why}", system.crd))
                    .hint(format!("see `kubectl describe crd {}`", system.crd)),
            }
        }
    }
}

fn optional_controller(system: &Optional, found: Probe<(Vec<Deployment>, Option<String>)>) -> Check {
    let name = format!("{} controller", system.system);
    let (deployments, only_in) = match found {
        Err(why) => return not_checked(&name, false, &why),
        Ok(found) => found,
    };
    let Some(deployment) = deployments.iter().max_by_key(|d| ready_replicas(d).0) else {
        let place = match &only_in {
            Some(namespace) => format!("in namespace {namespace} (the only one you may list Deployments in)"),
            None => "in any namespace".into(),
        };
        let status = if only_in.is_some() { Status::Unknown } else { Status::Warn };
        return Check::new(name, false, status, format!("no Deployment {} {place} (optional)", system.controller))
            .hint(system.hint);
    };
    let (ready, wanted) = ready_replicas(deployment);
    let detail =
        format!("{ready}/{wanted} ready, deployment {} in namespace {}", name_of(deployment), namespace_of(deployment));
    if ready == 0 {
        return Check::new(name, false, Status::Warn, detail).hint(format!(
            "see `kubectl -n {} describe deployment {}`",
            namespace_of(deployment),
            name_of(deployment)
        ));
    }
    Check::new(name, false, Status::Ok, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(labels: serde_json::Value, established: &str) -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "metadata": {"name": "agents.agents.dev", "labels": labels},
            "spec": {
                "group": "agents.dev", "scope": "Namespaced",
                "names": {"kind": "Agent", "plural": "agents"},
                "versions": [{"name": "v1alpha1", "served": true, "storage": true}],
            },
            "status": {"conditions": [{"type": "Established", "status": established, "message": "not yet"}]},
        }))
        .unwrap()
    }

    fn deployment(name: &str, version: Option<&str>, ready: i32, wanted: i32) -> Deployment {
        let mut labels = json!({"app.kubernetes.io/name": "agents-operator"});
        if let Some(v) = version {
            labels[VERSION_LABEL] = json!(v);
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "agents-system", "labels": labels},
            "spec": {"replicas": wanted, "selector": {}, "template": {}},
            "status": {"readyReplicas": ready},
        }))
        .unwrap()
    }

    #[test]
    fn a_missing_crd_fails_with_the_install_hint() {
        let check = agents_crd("agents.agents.dev", Ok(None));
        assert_eq!(check.status, Status::Fail);
        assert!(check.hint.unwrap().contains("kubectl agents install"));
    }

    #[test]
    fn the_crd_version_is_compared_with_the_plugins() {
        let same = agents_crd("agents.agents.dev", Ok(Some(crd(json!({VERSION_LABEL: PLUGIN_VERSION}), "True"))));
        assert_eq!(same.status, Status::Ok, "{same:?}");
        let other = agents_crd("agents.agents.dev", Ok(Some(crd(json!({VERSION_LABEL: "0.0.1"}), "True"))));
        assert_eq!(other.status, Status::Warn);
        assert!(other.detail.contains("version 0.0.1; this plugin is"), "{other:?}");
        assert!(other.passes());
        let pending = agents_crd("agents.agents.dev", Ok(Some(crd(json!({}), "False"))));
        assert_eq!(pending.status, Status::Fail);
        assert_eq!(pending.detail, "not Established: not yet");
    }

    #[test]
    fn a_forbidden_probe_is_a_row_not_a_crash() {
        let check = agents_crd("agents.agents.dev", Err("forbidden: nope".into()));
        assert_eq!(check.status, Status::Unknown);
        assert_eq!(check.detail, "could not be checked: forbidden: nope");
        assert!(!check.passes());
        let optional = optional_controller(&TEKTON, Err("forbidden: nope".into()));
        assert_eq!(optional.status, Status::Unknown);
        assert!(optional.passes(), "optional parts never fail the check");
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

    #[test]
    fn optional_parts_only_warn() {
        let missing = optional_controller(&ARGO, Ok((vec![], None)));
        assert_eq!(missing.status, Status::Warn);
        assert!(missing.detail.contains("no Deployment workflow-controller in any namespace"));
        assert!(missing.hint.as_deref().unwrap().contains("AgentWorkflows"));
        assert!(missing.passes());
        let absent = optional_crd(&TEKTON, Ok(None));
        assert_eq!(absent.status, Status::Warn);
        assert!(absent.hint.as_deref().unwrap().contains("kubectl agents build"));
    }

    #[test]
    fn the_summary_names_what_fails() {
        let checks = vec![
            Check::new("CRD agents.agents.dev", true, Status::Fail, "not installed"),
            Check::new("Operator", true, Status::Ok, "2/2 ready"),
            Check::new("Tekton controller", false, Status::Warn, "missing"),
        ];
        assert_eq!(summary(&checks), "Not ready: CRD agents.agents.dev (see the hints above).");
        assert_eq!(
            summary(&checks[1..]),
            "Ready: the CRDs are installed and the operator is running (1 warning above)."
        );
    }
}

//! `kubectl agents status [-A] [-o json|yaml]`: one screen for a namespace, as cnpg's `status`
//! is for a cluster. Every agents.dev object with its phase and, for anything that needs
//! attention, the one reason that matters (its Ready condition); the operator's health (its
//! Deployment or leader Lease, and version, and its reconcile failures from the leader's
//! metrics: `reconciles.rs`); what the cluster lacks (Tekton, Argo Workflows,
//! ServiceMonitors). Exits 1 when something needs attention, so scripts can gate on it.

use std::io::Write;
use std::process::ExitCode;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;

use super::check::{self, Check, Status};

mod reconciles;
use crate::kinds::Kind;
use crate::output::{self, Format};
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Output format: the screen, or the report as JSON or YAML.
    #[arg(short = 'o', long, value_enum, default_value_t = StatusFormat::Table)]
    pub output: StatusFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFormat {
    Table,
    Json,
    Yaml,
}

/// Phases that need nothing from anyone: serving, stopped on purpose, done, or at work.
const SETTLED: &[&str] = &["Ready", "Stopped", "Succeeded", "Running"];

/// One agents.dev object as the screen shows it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// `Unknown` until the operator has written a status.
    pub phase: String,
    pub needs_attention: bool,
    /// The Ready condition's reason and message, for an object that needs attention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Report {
    /// Empty with `-A`.
    namespace: String,
    ready: bool,
    objects: Vec<Object>,
    operator: Vec<Check>,
    cluster: Vec<Check>,
}

/// How one object stands, from its status (read as JSON: the five kinds share the shape).
pub fn object(kind: Kind, item: &DynamicObject) -> Object {
    let status = item.data.get("status");
    let phase = status.and_then(|s| s["phase"].as_str()).unwrap_or("Unknown").to_string();
    let needs_attention = !SETTLED.contains(&phase.as_str());
    let reason = needs_attention.then(|| match status.and_then(ready_condition) {
        Some((reason, message)) if message.is_empty() => reason,
        Some((reason, message)) => format!("{reason}: {message}"),
        None => "the operator has not reported on it yet".into(),
    });
    Object {
        kind: kind.kind(),
        namespace: item.metadata.namespace.clone().unwrap_or_default(),
        name: item.metadata.name.clone().unwrap_or_default(),
        phase,
        needs_attention,
        reason,
    }
}

/// The Ready condition's reason and message (an AgentBuild's `Succeeded`, which it has instead).
fn ready_condition(status: &Value) -> Option<(String, String)> {
    let conditions = status["conditions"].as_array()?;
    let condition = ["Ready", "Succeeded"].iter().find_map(|type_| conditions.iter().find(|c| c["type"] == *type_))?;
    let text = |field: &str| condition[field].as_str().unwrap_or_default().to_string();
    Some((text("reason"), text("message")))
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let client = &session.client;
    let lists = Kind::ALL.map(|kind| async move {
        let api: Api<DynamicObject> = if args.all_namespaces {
            Api::all_with(client.clone(), &kind.resource())
        } else {
            Api::namespaced_with(client.clone(), &session.namespace, &kind.resource())
        };
        let items = api.list(&ListParams::default()).await?.items;
        anyhow::Ok(items.iter().map(|item| object(kind, item)).collect::<Vec<_>>())
    });
    let objects: Vec<Object> = futures::future::try_join_all(lists).await?.concat();
    let now = k8s_openapi::jiff::Timestamp::now();
    let (mut operator, reconciles, tekton, argo, monitors) = futures::try_join!(
        check::operator(client),
        reconciles::reconciles(client, now),
        check::tekton(client),
        check::argo(client),
        service_monitors(client),
    )?;
    operator.extend(reconciles);
    let cluster = [tekton, argo, vec![monitors]].concat();
    let ready = objects.iter().all(|o| !o.needs_attention) && operator.iter().all(Check::passes);
    let namespace = if args.all_namespaces { String::new() } else { session.namespace.clone() };
    let report = Report { namespace, ready, objects, operator, cluster };
    match args.output {
        StatusFormat::Json => output::print_value(&serde_json::to_value(&report)?, Format::Json)?,
        StatusFormat::Yaml => output::print_value(&serde_json::to_value(&report)?, Format::Yaml)?,
        StatusFormat::Table => {
            let colour = style::colour_enabled_on_stdout();
            write_report(&mut std::io::stdout().lock(), &report, colour)?;
        }
    }
    Ok(if report.ready { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Whether the cluster serves ServiceMonitors, which `spec.monitoring` of an Agent needs.
async fn service_monitors(client: &kube::Client) -> anyhow::Result<Check> {
    const NAME: &str = "ServiceMonitor CRD";
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    Ok(match crds.get_opt("servicemonitors.monitoring.coreos.com").await {
        Ok(Some(_)) => Check::new(NAME, false, Status::Ok, "servicemonitors.monitoring.coreos.com served"),
        Ok(None) => Check::new(NAME, false, Status::Warn, "not installed (optional)")
            .hint("install the Prometheus Operator's CRDs to use an Agent's spec.monitoring"),
        Err(kube::Error::Api(status)) if status.code == 403 => {
            Check::new(NAME, false, Status::Unknown, format!("could not be checked: {}", status.message))
        }
        Err(e) => return Err(e.into()),
    })
}

/// The screen: the objects, then the operator, then the cluster, then one line that sums it up.
fn write_report(out: &mut dyn Write, report: &Report, colour: bool) -> anyhow::Result<()> {
    if !report.namespace.is_empty() {
        writeln!(out, "Namespace: {}", report.namespace)?;
        writeln!(out)?;
    }
    if report.objects.is_empty() {
        writeln!(out, "No agents.dev objects.")?;
    } else {
        let all = report.namespace.is_empty();
        let mut header = vec!["KIND", "NAME", "PHASE", "WHY"];
        if all {
            header.insert(1, "NAMESPACE");
        }
        let mut table = output::table(header);
        for object in &report.objects {
            let mut row = vec![
                object.kind.to_string(),
                object.name.clone(),
                style::phase_word(Some(&object.phase), colour),
                object.reason.clone().unwrap_or_default(),
            ];
            if all {
                row.insert(1, object.namespace.clone());
            }
            table.add_row(row);
        }
        output::write_table(out, &table, true)?;
    }
    writeln!(out)?;
    for (title, checks) in [("Operator", &report.operator), ("Cluster", &report.cluster)] {
        writeln!(out, "{title}:")?;
        for check in checks {
            writeln!(out, "  {:<7} {}: {}", check.status.label(), check.name, check.detail)?;
            if let Some(hint) = &check.hint {
                writeln!(out, "          hint: {hint}")?;
            }
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", summary(report))?;
    Ok(())
}

fn summary(report: &Report) -> String {
    let attention: Vec<String> =
        report.objects.iter().filter(|o| o.needs_attention).map(|o| format!("{} {}", o.kind, o.name)).collect();
    let operator_down = !report.operator.iter().all(Check::passes);
    let count = report.objects.len();
    let objects = if count == 1 { "1 object".to_string() } else { format!("{count} objects") };
    match (attention.is_empty(), operator_down) {
        (true, false) => format!("All {objects} settled; the operator is running."),
        (true, true) => format!("All {objects} settled, but the operator is not running (see above)."),
        (false, _) => {
            let need = if attention.len() == 1 { "needs" } else { "need" };
            format!("{} of {objects} {need} attention: {}.", attention.len(), attention.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(status: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "Agent",
            "metadata": {"name": "research", "namespace": "team-a"},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn only_what_needs_someone_carries_a_reason() {
        let ready = object(
            Kind::Agent,
            &item(json!({"phase": "Ready", "conditions": [
            {"type": "Ready", "status": "True", "reason": "Ready", "message": "2/2 pods ready"}]})),
        );
        assert!(!ready.needs_attention && ready.reason.is_none(), "{ready:?}");
        let failed = object(
            Kind::Agent,
            &item(json!({"phase": "Failed", "conditions": [
            {"type": "Ready", "status": "False", "reason": "ImagePullBackOff", "message": "0/1 pods ready: pod p: …"}]})),
        );
        assert!(failed.needs_attention);
        assert_eq!(failed.reason.as_deref(), Some("ImagePullBackOff: 0/1 pods ready: pod p: …"));
        let new = object(Kind::Agent, &item(Value::Null));
        assert_eq!((new.phase.as_str(), new.needs_attention), ("Unknown", true));
        let build = object(
            Kind::AgentBuild,
            &item(json!({"phase": "Failed", "conditions": [
            {"type": "Succeeded", "status": "False", "reason": "RunFailed", "message": "step build failed"}]})),
        );
        assert_eq!(build.reason.as_deref(), Some("RunFailed: step build failed"));
        for settled in ["Stopped", "Succeeded", "Running"] {
            assert!(!object(Kind::AgentWorkflow, &item(json!({"phase": settled}))).needs_attention, "{settled}");
        }
    }

    #[test]
    fn the_screen_names_what_needs_attention_and_sums_it_up() {
        let failed = object(
            Kind::Agent,
            &item(json!({"phase": "Failed", "conditions": [
            {"type": "Ready", "status": "False", "reason": "CrashLoopBackOff", "message": "pod p keeps exiting"}]})),
        );
        let report = Report {
            namespace: "team-a".into(),
            ready: false,
            objects: vec![failed],
            operator: vec![Check::new("Operator", true, Status::Ok, "2/2 ready, version 0.1.0")],
            cluster: vec![Check::new("Tekton", false, Status::Warn, "not installed").hint("install Tekton")],
        };
        let mut out = Vec::new();
        write_report(&mut out, &report, false).unwrap();
        let screen = String::from_utf8(out).unwrap();
        let expected = "\
Namespace: team-a

KIND    NAME       PHASE    WHY
Agent   research   Failed   CrashLoopBackOff: pod p keeps exiting

Operator:
  OK      Operator: 2/2 ready, version 0.1.0
Cluster:
  WARN    Tekton: not installed
          hint: install Tekton

1 of 1 object needs attention: Agent research.
";
        assert_eq!(screen, expected);
    }
}

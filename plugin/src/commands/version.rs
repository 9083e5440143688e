//! `kubectl agents version [--client] [-o json|yaml]`: the plugin's version, and the CRDs' and
//! the operator's found in the cluster.

use std::process::ExitCode;

use agents_render::labels;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use serde::Serialize;

use crate::leader_lease::{self, Leader};
use crate::output::{self, Format};
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the plugin's version; do not contact the cluster.
    #[arg(long)]
    pub client: bool,
    /// Output format (table is plain text).
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
struct Versions {
    plugin: String,
    api: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    crds: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator: Option<String>,
}

pub async fn run(session: Option<&Session>, args: Args) -> anyhow::Result<ExitCode> {
    let mut versions = Versions {
        plugin: env!("CARGO_PKG_VERSION").into(),
        api: agents_api::API_VERSION.into(),
        ..Default::default()
    };
    if let Some(session) = session {
        versions.crds = crd_version(session).await?;
        versions.operator = operator_version(session).await?;
    }
    match args.output {
        Format::Json | Format::Yaml => output::print_value(&serde_json::to_value(&versions)?, args.output)?,
        _ => {
            println!("Plugin:   kubectl-agents {} ({})", versions.plugin, versions.api);
            if session.is_some() {
                println!("CRDs:     {}", describe(&versions.crds, "not installed (run `kubectl agents install`)"));
                println!(
                    "Operator: {}",
                    describe(&versions.operator, "no agents-operator Deployment or live leader Lease found")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(version: &Option<String>, missing: &str) -> String {
    version.clone().unwrap_or_else(|| missing.into())
}

/// The version label of the Agent CRD ("unknown" when it has none).
async fn crd_version(session: &Session) -> anyhow::Result<Option<String>> {
    let crds: Api<CustomResourceDefinition> = Api::all(session.client.clone());
    let crd = match crds.get_opt("agents.agents.dev").await {
        Ok(crd) => crd,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return Ok(Some("unknown (you may not read CustomResourceDefinitions)".into()));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(crd.map(|crd| {
        crd.metadata.labels.and_then(|l| l.get(labels::VERSION).cloned()).unwrap_or_else(|| "unknown version".into())
    }))
}

/// The operator's Deployment, wherever it was installed: its version label and namespace.
async fn operator_version(session: &Session) -> anyhow::Result<Option<String>> {
    let deployments: Api<Deployment> = Api::all(session.client.clone());
    let found = match deployments.list(&ListParams::default().labels("app.kubernetes.io/name=agents-operator")).await {
        Ok(found) => found,
        // A user who may not list Deployments everywhere still gets the rest of the answer.
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return Ok(Some("unknown (you may not list Deployments in all namespaces)".into()));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(d) = found.items.first() {
        let version = d.metadata.labels.as_ref().and_then(|l| l.get(labels::VERSION).cloned());
        let namespace = d.metadata.namespace.clone().unwrap_or_default();
        return Ok(Some(format!("{} (namespace {namespace})", version.unwrap_or_else(|| "unknown version".into()))));
    }
    leader_version(session).await
}

/// An operator outside the cluster, by its live leader Lease (none when the user may not list
/// Leases).
async fn leader_version(session: &Session) -> anyhow::Result<Option<String>> {
    let leases = match Api::<Lease>::all(session.client.clone()).list(&leader_lease::list_params()).await {
        Ok(leases) => leases,
        Err(kube::Error::Api(status)) if status.code == 403 => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let now = k8s_openapi::jiff::Timestamp::now();
    let leader = leases.items.iter().map(|l| Leader::read(l, now)).find(|l| l.alive);
    Ok(leader.map(|l| {
        let version = l.version.clone().unwrap_or_else(|| "unknown version".into());
        format!("{version}, outside the cluster: {}", l.describe())
    }))
}

//! `kubectl agents check [-o json|yaml]`: is the cluster ready for kubectl agents? One row per
//! part (the agents.dev CRDs and the operator, required; Tekton and Argo Workflows, optional),
//! with a hint for each that is not. Exits 1 unless the required parts are OK.
//!
//! Every probe is a read; one the user may not make (403) becomes a row saying so.

use std::process::ExitCode;

use serde::Serialize;

use crate::output::{self, Format};
use crate::session::Session;

mod crds;
mod operator;
mod optional;
mod probe;

pub use operator::operator;
pub use optional::{argo, tekton};

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

pub(crate) const PLUGIN_VERSION: &str = env!("CARGO_PKG_VERSION");

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
pub(super) struct Report {
    ready: bool,
    plugin: String,
    pub(super) checks: Vec<Check>,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let report = report(&session.client).await?;
    match args.output {
        CheckFormat::Json => output::print_value(&serde_json::to_value(&report)?, Format::Json)?,
        CheckFormat::Yaml => output::print_value(&serde_json::to_value(&report)?, Format::Yaml)?,
        CheckFormat::Table => print!("{}", page(&report.checks)),
    }
    Ok(if report.ready { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub(super) async fn report(client: &kube::Client) -> anyhow::Result<Report> {
    let (crds, operator, tekton, argo) =
        futures::try_join!(crds::agents_crds(client), operator(client), tekton(client), argo(client))?;
    let checks: Vec<Check> = [crds, operator, tekton, argo].concat();
    let ready = checks.iter().all(Check::passes);
    Ok(Report { ready, plugin: PLUGIN_VERSION.into(), checks })
}

/// The checks as a table (each hint under its detail), then the summary.
pub(super) fn page(checks: &[Check]) -> String {
    let mut table = output::table(vec!["CHECK", "STATUS", "DETAIL"]);
    for check in checks {
        let detail = match &check.hint {
            Some(hint) => format!("{}\nhint: {hint}", check.detail),
            None => check.detail.clone(),
        };
        table.add_row(vec![check.name.clone(), check.status.label().to_string(), detail]);
    }
    let mut page = Vec::new();
    output::write_table(&mut page, &table, true).expect("writing to memory cannot fail");
    format!("{}\n{}\n", String::from_utf8_lossy(&page), summary(checks))
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

#[cfg(test)]
mod tests {
    use super::*;

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

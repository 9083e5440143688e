//! `kubectl agents render -f FILE|DIR|-`: every object the operator would write for the agents.dev
//! resources of the manifests (an Agent's ServiceAccount, ConfigMap, Deployment, Service, ...; a
//! ModelAPI's or MCPServer's server; an AgentBuild's PipelineRun; an AgentWorkflow's Argo objects),
//! computed by the operator's own code (agents-render), as a YAML stream or a `v1` `List`.
//!
//! No cluster is needed: what references name is found in the same manifests (taken as Ready)
//! or assumed Ready at its in-cluster URL, owners get a placeholder uid, and the output says
//! what was assumed. `--cluster` reads all of that from the cluster instead, as the operator does.

mod children;
mod input;
mod live;
mod print;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use kube::config::Kubeconfig;

use crate::commands::apply;
use crate::error::Explained;
use crate::flags::Global;
use crate::kinds::Kind;
use crate::session::Session;
use input::Resource;
use live::Live;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A file, a directory of .yaml/.yml/.json files, or - for standard input (repeatable).
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-", required = true)]
    pub files: Vec<PathBuf>,
    /// Output format: a YAML stream, or a v1 List in JSON.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Yaml)]
    pub output: Output,
    /// Read what the operator reads from the cluster (the state and endpoints of dependencies,
    /// the owners' uids, whether Tekton, Argo and ServiceMonitors are installed) instead of
    /// assuming it.
    #[arg(long)]
    pub cluster: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Yaml,
    Json,
}

/// One rendered object and the resource it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `Agent team-a/research`.
    pub owner: String,
    pub object: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// A value chosen without knowing it.
    Assumed,
    /// Something the operator would not write now, and why.
    NotRendered,
}

/// A sentence about what was rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    /// What it is about: `Agent team-a/research`, `owner uids`.
    pub about: String,
    pub text: String,
}

impl Note {
    pub fn assumed(about: &str, text: String) -> Note {
        Note { kind: NoteKind::Assumed, about: about.to_string(), text }
    }

    pub fn not_rendered(about: &str, text: String) -> Note {
        Note { kind: NoteKind::NotRendered, about: about.to_string(), text }
    }
}

/// `session` is there with `--cluster` only.
pub async fn run(global: &Global, session: Option<&Session>, args: Args) -> anyhow::Result<ExitCode> {
    let (namespace, namespace_given) = match session {
        Some(session) => (session.namespace.clone(), session.namespace_given),
        None => (global.namespace.clone().unwrap_or_else(|| kubeconfig_namespace(global)), global.namespace.is_some()),
    };
    let manifests = apply::read_all(&args.files)?;
    let resources = input::resources(&manifests, &namespace, namespace_given)?;
    if resources.is_empty() {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.kind()).collect();
        return Err(Explained(format!(
            "the manifests hold no agents.dev resource ({}): nothing to render",
            kinds.join(", ")
        ))
        .into());
    }
    let live = match session {
        Some(session) => Some(live::read(&session.client, &resources).await?),
        None => None,
    };
    let owners = resources.len();
    let (documents, notes) = render(resources, live.as_ref())?;
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Yaml => {
            let summary = summary(documents.len(), owners, live.is_some());
            print::yaml(&mut stdout, &summary, &notes, &documents)?
        }
        Output::Json => {
            print::notes(&mut std::io::stderr().lock(), &notes)?;
            print::json(&mut stdout, &documents)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every object the operator would write for the resources, and the notes that go with them.
pub fn render(mut resources: Vec<Resource>, live: Option<&Live>) -> anyhow::Result<(Vec<Document>, Vec<Note>)> {
    let mut notes: Vec<Note> = world::with_uids(&mut resources, live).into_iter().collect();
    let (world, assumed) = world::world(&resources, live);
    notes.extend(assumed);
    let mut documents = Vec::new();
    for resource in &resources {
        let rendered = children::render(resource, &world, live)?;
        documents.extend(rendered.documents);
        notes.extend(rendered.notes);
    }
    Ok((documents, notes))
}

/// The first comment line.
fn summary(objects: usize, owners: usize, from_cluster: bool) -> String {
    let read = if from_cluster {
        "dependencies, uids and installed kinds read from the cluster"
    } else {
        "no cluster read: --cluster reads dependencies, uids and installed kinds from one"
    };
    let plural = |n: usize, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
    format!(
        "kubectl agents render: {} the operator would write for {} ({read})",
        plural(objects, "object"),
        plural(owners, "resource")
    )
}

/// The namespace of the kubeconfig's context (`--context`, else the current one), as kubectl
/// reads it without connecting; `default` when there is no kubeconfig or it names none.
fn kubeconfig_namespace(global: &Global) -> String {
    let kubeconfig = match &global.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).ok(),
        None => Kubeconfig::read().ok(),
    };
    kubeconfig
        .and_then(|config| {
            let context = global.context.clone().or(config.current_context.clone())?;
            config.contexts.into_iter().find(|c| c.name == context)?.context?.namespace
        })
        .unwrap_or_else(|| "default".into())
}

#[cfg(test)]
mod tests;

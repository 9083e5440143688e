//! `kubectl agents get [KIND] [NAME…] [-A] [-o FORMAT] [-w]`.

use std::process::ExitCode;

use agents_api::{Agent, AgentStatus};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::error::Explained;
use crate::kinds::{Kind, split_kind};
use crate::output::{self, Format};
use crate::session::Session;
use crate::style;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `[KIND] [NAME…]`: the kind (agent, the default) and the names to show (all when none).
    #[arg(value_name = "KIND|NAME")]
    pub names: Vec<String>,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only objects whose labels match this selector (e.g. team=research).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
    /// After listing, watch and print each change.
    #[arg(short = 'w', long)]
    pub watch: bool,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let (kind, names) = split_kind(&args.names);
    match kind {
        Kind::Agent => agents(session, &args, names).await,
        Kind::AgentWorkflow => super::workflow::kind::get(session, &args, names).await,
    }
}

async fn agents(session: &Session, args: &Args, names: &[String]) -> anyhow::Result<ExitCode> {
    let api: Api<Agent> = if args.all_namespaces {
        Api::all(session.client.clone())
    } else {
        Api::namespaced(session.client.clone(), &session.namespace)
    };
    let mut agents = if names.is_empty() {
        let mut params = ListParams::default().limit(500);
        if let Some(selector) = &args.selector {
            params = params.labels(selector);
        }
        let listed = list_all(&api, params).await?;
        tracing::debug!(count = listed.len(), "listed agents");
        listed
    } else {
        let mut found = Vec::new();
        for name in names {
            match api.get_opt(name).await? {
                Some(agent) => found.push(agent),
                None => return Err(not_found(session, name).into()),
            }
        }
        found
    };
    agents.iter_mut().for_each(|a| a.metadata.managed_fields = None);
    let wide = args.output == Format::Wide;
    let colour = style::colour_enabled_on_stdout();
    let mut widths = Vec::new();
    match args.output {
        Format::Json | Format::Yaml => output::print_objects(&agents, !names.is_empty(), args.output)?,
        Format::Name => agents.iter().for_each(|a| println!("agent.agents.dev/{}", a.name_any())),
        Format::Table | Format::Wide => {
            if agents.is_empty() && !args.watch {
                let scope =
                    if args.all_namespaces { String::new() } else { format!(" in namespace {}", session.namespace) };
                eprintln!("No agents found{scope}.");
            } else {
                let mut table = output::table(header(args.all_namespaces, wide));
                for agent in &agents {
                    table.add_row(row(agent, args.all_namespaces, wide, colour));
                }
                output::print_table(&table, true)?;
                widths = output::column_widths(&table);
                tracing::debug!("printed the table");
            }
        }
    }
    if args.watch {
        watch(&api, args, names, colour, &widths).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists page by page (500 at a time, as kubectl does).
async fn list_all(api: &Api<Agent>, params: ListParams) -> anyhow::Result<Vec<Agent>> {
    let mut items = Vec::new();
    let mut params = params;
    loop {
        let page = api.list(&params).await.context("listing agents")?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(items),
        }
    }
}

/// Prints every change after the listing, one line per change (kubectl's -w).
/// Rows keep the columns of the listing above them (`widths`), as kubectl's do.
async fn watch(api: &Api<Agent>, args: &Args, names: &[String], colour: bool, widths: &[usize]) -> anyhow::Result<()> {
    let mut config = watcher::Config::default();
    if let [name] = names {
        config = config.fields(&format!("metadata.name={name}"));
    }
    if let Some(selector) = &args.selector {
        config = config.labels(selector);
    }
    let mut stream = std::pin::pin!(watcher(api.clone(), config).boxed());
    let mut initial = true;
    while let Some(event) = stream.try_next().await? {
        let agent = match event {
            watcher::Event::Init => {
                initial = true;
                continue;
            }
            watcher::Event::InitDone => {
                initial = false;
                continue;
            }
            // The listing above showed these already.
            watcher::Event::InitApply(_) if initial => continue,
            watcher::Event::InitApply(agent) | watcher::Event::Apply(agent) | watcher::Event::Delete(agent) => agent,
        };
        if !names.is_empty() && !names.contains(&agent.name_any()) {
            continue;
        }
        match args.output {
            Format::Json | Format::Yaml => output::print_objects(std::slice::from_ref(&agent), true, args.output)?,
            Format::Name => println!("agent.agents.dev/{}", agent.name_any()),
            Format::Table | Format::Wide => {
                let cells = row(&agent, args.all_namespaces, args.output == Format::Wide, colour);
                if widths.is_empty() {
                    output::print_table(
                        output::table(header(args.all_namespaces, args.output == Format::Wide)).add_row(cells),
                        true,
                    )?;
                } else {
                    println!("{}", output::aligned(&cells, widths));
                }
            }
        }
    }
    Ok(())
}

pub fn not_found(session: &Session, name: &str) -> Explained {
    Explained(format!(
        "agent {name:?} not found in namespace {:?}: list them with `kubectl agents get -A`, or pass -n NAMESPACE",
        session.namespace
    ))
}

fn header(all_namespaces: bool, wide: bool) -> Vec<&'static str> {
    let mut header = Vec::new();
    if all_namespaces {
        header.push("NAMESPACE");
    }
    header.extend(["NAME", "PHASE", "READY", "MODEL", "IMAGE", "ENDPOINT", "AGE"]);
    if wide {
        header.extend(["PROVIDER", "PEERS", "REASON"]);
    }
    header
}

/// `ready/desired`, where desired is the spec's count, else the Deployment's.
pub fn ready(agent: &Agent) -> String {
    let status = agent.status.clone().unwrap_or_default();
    let desired = agent.spec.replicas.or(status.replicas).unwrap_or(0);
    format!("{}/{}", status.ready_replicas.unwrap_or(0), desired)
}

fn row(agent: &Agent, all_namespaces: bool, wide: bool, colour: bool) -> Vec<String> {
    let status: AgentStatus = agent.status.clone().unwrap_or_default();
    let mut row = Vec::new();
    if all_namespaces {
        row.push(agent.namespace().unwrap_or_default());
    }
    row.extend([
        agent.name_any(),
        style::phase(status.phase, colour),
        ready(agent),
        output::or_none(agent.spec.model.as_ref().map(|m| m.name.clone())),
        output::or_none(status.image.clone().or_else(|| agent.spec.image.clone())),
        output::or_none(status.endpoint.clone()),
        output::age(agent.meta().creation_timestamp.as_ref()),
    ]);
    if wide {
        let reason = agents_api::conditions::find(&status.conditions, agents_api::conditions::types::READY)
            .map(|c| c.reason.clone());
        let peers: Vec<&str> = agent.spec.peers.iter().map(|p| p.name.as_str()).collect();
        row.extend([
            output::or_none(agent.spec.model.as_ref().and_then(|m| m.provider.clone())),
            output::or_none(Some(peers.join(","))),
            output::or_none(reason),
        ]);
    }
    row
}

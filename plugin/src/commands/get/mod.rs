//! `kubectl agents get [KIND] [NAME…] [-A] [-o FORMAT] [--sort-by JSONPATH] [--no-headers] [-w]`.

use std::io::Write;
use std::process::ExitCode;

use agents_api::{Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::error::Explained;
use crate::kinds::{Kind, split_kind};
use crate::output::{self, PrintFlags, Printer, RowOptions};
use crate::session::Session;
use crate::style;

mod rows;
mod server_table;

pub use rows::ready;

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
    #[command(flatten)]
    pub print: PrintFlags,
    /// After listing, watch and print each change.
    #[arg(short = 'w', long)]
    pub watch: bool,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let (kind, names) = split_kind(&args.names);
    match kind {
        // Only the plain table can be read without the objects (sorting needs them).
        Kind::Agent
            if names.is_empty()
                && !args.watch
                && !args.all_namespaces
                && args.print.sort_by.is_none()
                && matches!(args.print.printer()?, Printer::Table { wide: false, .. }) =>
        {
            agent_table(session, &args).await
        }
        Kind::Agent => list::<Agent>(session, &args, names).await,
        Kind::AgentBuild => list::<AgentBuild>(session, &args, names).await,
        Kind::ModelAPI => list::<ModelAPI>(session, &args, names).await,
        Kind::MCPServer => list::<MCPServer>(session, &args, names).await,
        Kind::AgentWorkflow => list::<AgentWorkflow>(session, &args, names).await,
    }
}

/// A kind `get` prints: its table's columns, and one row per object.
pub trait Listed:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The kind in lowercase, as in `agent.agents.dev/NAME` and messages.
    const SINGULAR: &'static str;
    const PLURAL: &'static str;
    fn header(wide: bool) -> Vec<&'static str>;
    fn row(&self, options: &RowOptions) -> Vec<String>;
}

pub async fn list<K: Listed>(session: &Session, args: &Args, names: &[String]) -> anyhow::Result<ExitCode> {
    // A bad template or sort key fails before the cluster is asked anything.
    let printer = args.print.printer()?;
    let sort_by = args.print.sort_by()?;
    let api: Api<K> = if args.all_namespaces {
        Api::all(session.client.clone())
    } else {
        Api::namespaced(session.client.clone(), &session.namespace)
    };
    let mut objects = if names.is_empty() {
        let mut params = ListParams::default().limit(500);
        if let Some(selector) = &args.selector {
            params = params.labels(selector);
        }
        let listed = list_all(&api, params).await?;
        tracing::debug!(count = listed.len(), kind = K::PLURAL, "listed");
        listed
    } else {
        let mut found = Vec::new();
        for name in names {
            match api.get_opt(name).await? {
                Some(object) => found.push(object),
                None => return Err(not_found_kind(session, K::SINGULAR, name).into()),
            }
        }
        found
    };
    objects.iter_mut().for_each(|o| o.meta_mut().managed_fields = None);
    if let Some(sort_by) = &sort_by {
        sort_by.sort(&mut objects)?;
    }
    let colour = style::colour_enabled_on_stdout();
    let widths = print_listing(session, args, &printer, &objects, !names.is_empty(), colour)?;
    if args.watch {
        if sort_by.is_some() {
            eprintln!("warning: --watch requested, --sort-by will be ignored for watch events received");
        }
        watch(&api, args, names, &printer, colour, &widths).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what was listed; returns the widths of the table's columns, for the rows of a watch.
fn print_listing<K: Listed>(
    session: &Session,
    args: &Args,
    printer: &Printer,
    objects: &[K],
    single: bool,
    colour: bool,
) -> anyhow::Result<Vec<usize>> {
    let mut out = std::io::stdout().lock();
    match printer {
        Printer::Generic(generic) => generic.print(objects, single, &mut out),
        Printer::Table { .. } if objects.is_empty() && !args.watch => {
            let scope =
                if args.all_namespaces { String::new() } else { format!(" in namespace {}", session.namespace) };
            eprintln!("No {} found{scope}.", K::PLURAL);
            Ok(Vec::new())
        }
        Printer::Table { wide, headers } => {
            let options = RowOptions { wide: *wide, colour, now: Timestamp::now() };
            let table = listing(objects, args.all_namespaces, &options);
            output::write_table(&mut out, &table, *headers)?;
            tracing::debug!("printed the table");
            Ok(output::column_widths(&table))
        }
    }
}

/// `kubectl agents get`, the common case: the Agents of one namespace as a table, read as a
/// server-side Table (see `server_table`); the same rows as [`list`] prints.
async fn agent_table(session: &Session, args: &Args) -> anyhow::Result<ExitCode> {
    let colour = style::colour_enabled_on_stdout();
    let rows = server_table::agent_rows(&session.client, &session.namespace, args.selector.as_deref(), colour).await?;
    tracing::debug!(count = rows.len(), "listed agents as a server-side table");
    if rows.is_empty() {
        eprintln!("No agents found in namespace {}.", session.namespace);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = output::table(header::<Agent>(false, false));
    for row in rows {
        table.add_row(row);
    }
    output::print_table(&table, !args.print.no_headers)?;
    Ok(ExitCode::SUCCESS)
}

/// Lists page by page (500 at a time, as kubectl does).
async fn list_all<K: Listed>(api: &Api<K>, params: ListParams) -> anyhow::Result<Vec<K>> {
    let mut items = Vec::new();
    let mut params = params;
    loop {
        let page = api.list(&params).await.with_context(|| format!("listing {}", K::PLURAL))?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(items),
        }
    }
}

/// Prints every change after the listing, one line per change (kubectl's -w).
/// Rows keep the columns of the listing above them (`widths`), as kubectl's do.
async fn watch<K: Listed>(
    api: &Api<K>,
    args: &Args,
    names: &[String],
    printer: &Printer,
    colour: bool,
    widths: &[usize],
) -> anyhow::Result<()> {
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
        let object = match event {
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
            watcher::Event::InitApply(object) | watcher::Event::Apply(object) | watcher::Event::Delete(object) => {
                object
            }
        };
        if !names.is_empty() && !names.contains(&object.name_any()) {
            continue;
        }
        let mut out = std::io::stdout().lock();
        match printer {
            Printer::Generic(generic) => generic.print_one(&object, widths, &mut out)?,
            Printer::Table { wide, headers } => {
                let options = RowOptions { wide: *wide, colour, now: Timestamp::now() };
                let cells = row(&object, args.all_namespaces, &options);
                if widths.is_empty() {
                    let mut table = output::table(header::<K>(args.all_namespaces, *wide));
                    output::write_table(&mut out, table.add_row(cells), *headers)?;
                } else {
                    writeln!(out, "{}", output::aligned(&cells, widths))?;
                }
            }
        }
    }
    Ok(())
}

fn header<K: Listed>(all_namespaces: bool, wide: bool) -> Vec<&'static str> {
    let mut header = Vec::new();
    if all_namespaces {
        header.push("NAMESPACE");
    }
    header.extend(K::header(wide));
    header
}

fn row<K: Listed>(object: &K, all_namespaces: bool, options: &RowOptions) -> Vec<String> {
    let mut row = Vec::new();
    if all_namespaces {
        row.push(object.namespace().unwrap_or_default());
    }
    row.extend(object.row(options));
    row
}

/// The table of a listing, read at `options.now`.
pub fn listing<K: Listed>(objects: &[K], all_namespaces: bool, options: &RowOptions) -> comfy_table::Table {
    let mut table = output::table(header::<K>(all_namespaces, options.wide));
    for object in objects {
        table.add_row(row(object, all_namespaces, options));
    }
    table
}

/// No `kind` called `name` in the session's namespace, and how to find one.
pub fn not_found_kind(session: &Session, kind: &str, name: &str) -> Explained {
    // Agents are what `get` lists when no kind is named.
    let list = if kind == Agent::SINGULAR { "get -A".to_string() } else { format!("get {kind} -A") };
    let hint = match crate::kinds::Kind::closest_to(name) {
        Some(meant) => format!(" (if {name:?} was meant as a kind: {} is one)", meant.names()[1]),
        None => String::new(),
    };
    Explained(format!(
        "{kind} {name:?} not found in namespace {:?}: list them with `kubectl agents {list}`, or pass -n NAMESPACE{hint}",
        session.namespace
    ))
}

pub fn not_found(session: &Session, name: &str) -> Explained {
    not_found_kind(session, Agent::SINGULAR, name)
}

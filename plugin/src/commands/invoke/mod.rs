//! `kubectl agents invoke NAME [MESSAGE]`: talks to an agent over A2A through the Kubernetes API
//! (a port-forward to a ready pod, or the API server's service proxy). The answer streams to
//! stdout as it arrives; the exit code says whether the agent's task completed. Without a
//! message, on a terminal, it is a chat (Ctrl-D ends it); from a pipe, stdin is the message.

pub mod channel;
pub mod exchange;
mod print;

/// Stream events for the tests of `exchange` and `print`: one task `t` in context `c`.
#[cfg(test)]
mod events {
    use agents_a2a::{Artifact, ArtifactUpdate, Event, Message, Part, Role, StatusUpdate, TaskState, TaskStatus};

    pub fn chunk(text: &str, append: bool) -> Event {
        Event::Artifact(ArtifactUpdate {
            task_id: "t".into(),
            context_id: "c".into(),
            artifact: Artifact { artifact_id: "a".into(), name: None, parts: vec![Part::text(text)] },
            append,
            last_chunk: false,
        })
    }

    pub fn status(state: TaskState, note: Option<&str>) -> Event {
        Event::Status(StatusUpdate {
            task_id: "t".into(),
            context_id: "c".into(),
            status: TaskStatus { state, message: note.map(|n| Message::new(Role::Agent, "m", n)), timestamp: None },
        })
    }
}

use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use agents_a2a::TaskState;
use agents_a2a::card::AgentCard;
use agents_api::{Agent, AgentPhase};
use anyhow::Context as _;
use kube::api::Api;

use channel::{Channel, Via};
use exchange::Finished;
use print::Printer;

use crate::error::Explained;
use crate::output::{self, Format};
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Agent to talk to.
    pub name: String,
    /// The message. Without one: read from --file, else stdin; on a terminal, a chat.
    pub message: Option<String>,
    /// Read the message from a file (`-` for stdin).
    #[arg(short = 'f', long, value_name = "FILE", conflicts_with = "message")]
    pub file: Option<PathBuf>,
    /// Continue the conversation of this A2A context id (each answer tells its id).
    #[arg(long, value_name = "ID")]
    pub context_id: Option<String>,
    /// Print the A2A result (the task, or the agent's message) instead of the answer's text.
    #[arg(short = 'o', long, value_parser = ["json", "yaml"])]
    pub output: Option<String>,
    /// How to reach the agent: a port-forward to a ready pod, or the API server's proxy to its Service.
    #[arg(long, value_enum, default_value_t)]
    pub via: Via,
    /// Wait for the whole answer instead of streaming it.
    #[arg(long)]
    pub no_stream: bool,
}

pub async fn run(session: &Session, args: Args) -> anyhow::Result<ExitCode> {
    let agent = serving_agent(session, &args.name).await?;
    let mut channel = Channel::open(session, &agent, args.via).await?;
    let card = exchange::card(&mut channel, &args.name).await?;
    let message = match (&args.message, &args.file) {
        (Some(message), _) => Some(message.clone()),
        (None, Some(path)) => Some(read_file(path)?),
        (None, None) if !std::io::stdin().is_terminal() => Some(read_stdin()?),
        (None, None) => None,
    };
    match message {
        Some(message) => once(&mut channel, &card, &args, &message).await,
        None => chat(&mut channel, &card, &args).await,
    }
}

/// The Agent, if it can answer: serving pods (Ready, or Degraded with some ready).
async fn serving_agent(session: &Session, name: &str) -> anyhow::Result<Agent> {
    let api: Api<Agent> = Api::namespaced(session.client.clone(), &session.namespace);
    let agent = api.get_opt(name).await?.ok_or_else(|| {
        Explained(format!(
            "agent {name:?} not found in namespace {:?}: `kubectl agents get` lists them",
            session.namespace
        ))
    })?;
    let status = agent.status.clone().unwrap_or_default();
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    let why = ready.map(|c| format!("{}: {}", c.reason, c.message)).unwrap_or_else(|| "no status yet".into());
    match status.phase {
        Some(AgentPhase::Ready) | Some(AgentPhase::Degraded) if status.ready_replicas.unwrap_or(0) > 0 => Ok(agent),
        Some(AgentPhase::Stopped) => Err(Explained(format!(
            "agent/{name} is Stopped ({why}): start it with `kubectl agents scale {name} --replicas 1`"
        ))
        .into()),
        phase => Err(Explained(format!(
            "agent/{name} is not ready to answer: it is {} ({why}); `kubectl agents describe agent {name}` shows more",
            phase.map(|p| p.to_string()).unwrap_or_else(|| "new".into())
        ))
        .into()),
    }
}

fn read_file(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        return read_stdin();
    }
    std::fs::read_to_string(path).with_context(|| format!("reading the message from {}", path.display()))
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading the message from stdin")?;
    if text.trim().is_empty() {
        return Err(Explained("the message is empty: pass it as an argument, with --file, or on stdin".into()).into());
    }
    Ok(text)
}

/// One message; the exit code is the task's.
async fn once(channel: &mut Channel, card: &AgentCard, args: &Args, message: &str) -> anyhow::Result<ExitCode> {
    let colour = crate::style::colour_enabled_on_stderr();
    let mut printer = Printer::new(std::io::stdout(), std::io::stderr(), colour);
    let printing = args.output.is_none();
    let stream = printing && !args.no_stream;
    let finished = exchange::send(channel, card, message, args.context_id.as_deref(), stream, &mut |event| {
        if printing {
            let _ = printer.event(event);
        }
    })
    .await?;
    if let Some(format) = &args.output {
        let format = if format == "json" { Format::Json } else { Format::Yaml };
        output::print_value(&finished.result, format)?;
    } else {
        printer.whole_answer(&finished.answer)?;
        if args.context_id.is_none()
            && let Some(context) = &finished.context_id
        {
            eprintln!("(context id {context}: continue this conversation with --context-id {context})");
        }
    }
    outcome(&finished)
}

/// The exit code of a finished exchange; a failed task is an error with the agent's reason.
fn outcome(finished: &Finished) -> anyhow::Result<ExitCode> {
    let note = finished.note.clone().unwrap_or_else(|| "it gave no reason".into());
    match finished.state {
        TaskState::Completed => Ok(ExitCode::SUCCESS),
        TaskState::InputRequired | TaskState::AuthRequired => {
            eprintln!("the agent needs more from you ({}): {note}", finished.state.short_name());
            Ok(ExitCode::SUCCESS)
        }
        TaskState::Unspecified | TaskState::Submitted | TaskState::Working => {
            Err(Explained("the agent's answer ended before its task did: the connection broke off".into()).into())
        }
        state => Err(Explained(format!("the agent's task {}: {note}", state.short_name())).into()),
    }
}

/// A conversation on a terminal: one line a message, until Ctrl-D.
async fn chat(channel: &mut Channel, card: &AgentCard, args: &Args) -> anyhow::Result<ExitCode> {
    let colour = crate::style::colour_enabled_on_stderr();
    eprintln!("Talking to {} ({}). One line a message; Ctrl-D ends.", card.name, channel.target);
    let mut context = args.context_id.clone();
    let mut lines = std::io::stdin().lock().lines();
    loop {
        let prompt = if colour { crossterm::style::Stylize::bold("you> ").to_string() } else { "you> ".into() };
        eprint!("{prompt}");
        let Some(line) = lines.next() else {
            eprintln!();
            return Ok(ExitCode::SUCCESS);
        };
        let line = line.context("reading from the terminal")?;
        if line.trim().is_empty() {
            continue;
        }
        let mut printer = Printer::new(std::io::stdout(), std::io::stderr(), colour);
        let sent = exchange::send(channel, card, &line, context.as_deref(), !args.no_stream, &mut |event| {
            let _ = printer.event(event);
        })
        .await;
        match sent {
            Ok(finished) => {
                printer.whole_answer(&finished.answer)?;
                context = finished.context_id.clone().or(context);
                if let Err(e) = outcome(&finished) {
                    eprintln!("{} {}", crate::style::error_label(), crate::error::explain(&e));
                }
            }
            Err(e) => eprintln!("{} {}", crate::style::error_label(), crate::error::explain(&e)),
        }
    }
}

//! `agents-testenv up|down|status|env`: the local control plane from the command line;
//! `model` and `run-agent`: an agent that answers in it, for the demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use agents_testenv::model::{self, ScriptedModel};
use agents_testenv::run_agent::{self, RunAgent};
use agents_testenv::{Cluster, Options};
use clap::{Parser, Subcommand};

/// A real local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler,
/// KWOK nodes) for the kubectl-agents demo and tests. No container runtime needed.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Name of the cluster; several can run side by side.
    #[arg(long, global = true, default_value = "default")]
    name: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build what is missing, start the cluster if it is not running, wait until its nodes are
    /// Ready, and print the kubeconfig path as the last line.
    Up,
    /// Stop the cluster and remove its state.
    Down,
    /// Tell whether the cluster runs (exit code 0) or not (3).
    Status,
    /// Print shell exports (KUBECONFIG, PATH with the matching kubectl): `eval "$(... env)"`.
    Env,
    /// Print the cluster's directory, whether it runs or not.
    ///
    /// It holds the cluster's state and logs; what scripts keep beside the cluster (the demo's
    /// pid files) goes there too, and is removed with it by `down`.
    Dir,
    /// Serve the demo's model until SIGTERM or Ctrl-C.
    ///
    /// An OpenAI-compatible Chat Completions endpoint that repeats the question and says what it
    /// was sent (the conversation so far, the tools offered). There is no language model in it.
    Model {
        /// The address to listen on; docs/examples/hello-agent.yaml names the default.
        #[arg(long, default_value = model::DEMO_ADDRESS)]
        listen: SocketAddr,
    },
    /// Play the pod of an Agent that runs the reference runtime, until SIGTERM or Ctrl-C.
    ///
    /// Runs agents-runtime with the environment the operator rendered for the pod, on the pod's
    /// address, and routes KWOK's port-forwarding for the pod to it, so `kubectl agents invoke
    /// NAME` gets answers. A replaced pod is followed. In-cluster URLs of Services in the
    /// namespace are mapped to their pods' addresses, where something answers only if another
    /// process plays those pods (another run-agent for a peer).
    RunAgent {
        /// The Agent.
        agent: String,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        /// The agents-runtime binary [default: the one beside this executable].
        #[arg(long, value_name = "PATH")]
        runtime: Option<PathBuf>,
        /// How long to wait for the Agent to exist and for a running pod of it (`90s`, `2m`).
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// `N`, `Ns` or `Nm`, at most a day (a longer wait is a mistake, and would overflow a deadline).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.strip_suffix('m') {
        Some(minutes) => (minutes, 60),
        None => (text.strip_suffix('s').unwrap_or(text), 1),
    };
    let invalid = || format!("{text:?} is not a duration such as 90s or 2m, of at most a day");
    let number: u64 = number.parse().map_err(|_| invalid())?;
    match number.checked_mul(unit) {
        Some(seconds) if seconds <= 24 * 3600 => Ok(Duration::from_secs(seconds)),
        _ => Err(invalid()),
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            // Without a SIGTERM handler, Ctrl-C still ends it (and SIGTERM's default does).
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        Ok(()) = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    die_quietly_on_a_closed_stdout();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,kube_client=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agents-testenv: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `agents-testenv status | head` ends without a word, as `kubectl` does: Rust ignores SIGPIPE,
/// which turns a `println!` after the reader left into a panic. Sockets are unaffected (Rust sends
/// with MSG_NOSIGNAL).
fn die_quietly_on_a_closed_stdout() {
    // SAFETY: first thing in main, on the current-thread runtime: no other thread exists yet.
    let _ =
        unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
}

async fn run(cli: Cli) -> Result<ExitCode, agents_testenv::Error> {
    match cli.command {
        Command::Up => {
            let started = Instant::now();
            let was_running = Cluster::find(&cli.name).is_some();
            let cluster = Cluster::up(&cli.name, &Options::default()).await?;
            if was_running {
                eprintln!("agents-testenv: cluster {:?} is already running at {}", cli.name, cluster.server());
            } else {
                eprintln!(
                    "agents-testenv: cluster {:?} ready at {} in {:.1}s (2 KWOK nodes, Tekton and Argo CRDs)",
                    cli.name,
                    cluster.server(),
                    started.elapsed().as_secs_f64()
                );
                eprintln!(
                    "agents-testenv: use it with: export KUBECONFIG={} PATH={}:$PATH",
                    cluster.kubeconfig().display(),
                    cluster.kubernetes_bin().display()
                );
            }
            println!("{}", cluster.kubeconfig().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Down => {
            if Cluster::down(&cli.name)? {
                eprintln!("agents-testenv: cluster {:?} stopped and removed", cli.name);
            } else {
                eprintln!("agents-testenv: cluster {:?} was not running", cli.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => match Cluster::find(&cli.name) {
            Some(cluster) => {
                println!("cluster {:?} is running at {}", cli.name, cluster.server());
                for (component, pid) in cluster.components() {
                    println!("  {component:<24} pid {pid}");
                }
                println!("kubeconfig: {}", cluster.kubeconfig().display());
                Ok(ExitCode::SUCCESS)
            }
            None => {
                println!("cluster {:?} is not running (start it with `cargo run -p agents-testenv -- up`)", cli.name);
                Ok(ExitCode::from(3))
            }
        },
        Command::Env => match Cluster::find(&cli.name) {
            Some(cluster) => {
                println!("export KUBECONFIG={}", cluster.kubeconfig().display());
                println!("export PATH={}:$PATH", cluster.kubernetes_bin().display());
                Ok(ExitCode::SUCCESS)
            }
            None => not_running(&cli.name),
        },
        Command::Dir => {
            println!("{}", Cluster::dir_of(&cli.name).display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Model { listen } => {
            let served = ScriptedModel::start_on(
                listen,
                |request| {
                    let reply = model::demo_reply(request);
                    if let model::Reply::Text(text) = &reply {
                        eprintln!("agents-testenv model: {text}");
                    }
                    reply
                },
                Duration::ZERO,
            )
            .await?;
            println!("agents-testenv: the demo model serves {} until SIGTERM or Ctrl-C", served.url());
            shutdown_signal().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::RunAgent { agent, namespace, runtime, timeout } => {
            let Some(cluster) = Cluster::find(&cli.name) else {
                return not_running(&cli.name);
            };
            let runtime = match runtime {
                Some(path) => path,
                None => run_agent::runtime_beside_this_executable()?,
            };
            let dir = cluster.dir().join("run-agent").join(&namespace);
            let options = RunAgent { name: agent, namespace, runtime, timeout, dir };
            let client = cluster.client().await?;
            run_agent::run(&client, &options, shutdown_signal(), |event| println!("agents-testenv: {event}")).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn not_running(name: &str) -> Result<ExitCode, agents_testenv::Error> {
    eprintln!("agents-testenv: cluster {name:?} is not running; run `cargo run -p agents-testenv -- up` first");
    Ok(ExitCode::from(3))
}

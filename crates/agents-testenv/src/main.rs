//! `agents-testenv up|down|status|env`: the local control plane from the command line.

use std::process::ExitCode;
use std::time::Instant;

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
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
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
            None => {
                eprintln!(
                    "agents-testenv: cluster {:?} is not running; run `cargo run -p agents-testenv -- up` first",
                    cli.name
                );
                Ok(ExitCode::from(3))
            }
        },
    }
}

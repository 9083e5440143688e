//! kubectl-agents: the `kubectl agents` plugin.

use clap::{Parser, Subcommand};

/// Run AI agents on Kubernetes: scaffold, apply, inspect, build and tail them.
#[derive(Parser, Debug)]
#[command(name = "kubectl agents", bin_name = "kubectl agents", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the plugin's version and the API version it speaks.
    Version,
}

fn main() {
    match Cli::parse().command {
        Command::Version => {
            println!("kubectl-agents {} ({})", env!("CARGO_PKG_VERSION"), agents_api::API_VERSION)
        }
    }
}

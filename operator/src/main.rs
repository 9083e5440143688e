//! agents-operator: reconciles the agents.dev/v1alpha1 resources.

use clap::Parser;

/// Reconciles agents.dev/v1alpha1 resources (Agent, AgentBuild, AgentWorkflow, ModelAPI,
/// MCPServer) into the Kubernetes objects that run them, and reports their state in `.status`.
#[derive(Parser, Debug)]
#[command(name = "agents-operator", version, about)]
struct Args {}

fn main() {
    let _args = Args::parse();
    eprintln!(
        "agents-operator {}: no controllers are registered yet for {}",
        env!("CARGO_PKG_VERSION"),
        agents_api::API_VERSION
    );
    std::process::exit(1);
}

//! The project's own tasks, run as `cargo xtask <task>` (an alias in .cargo/config.toml).
//!
//! `cargo xtask release`: builds `kubectl agents` for each release target this machine can
//! build, packs `kubectl-agents-v<version>-<target>.tar.gz` with the LICENSE, and writes the krew
//! manifest `target/dist/v<version>/agents.yaml` with each archive's URI and sha256. Before the
//! plugin: the operator's and the agent runtime's static Linux binaries and their multi-platform
//! images as OCI archives (`agents-operator-v<version>.oci.tar`), with `images.json` (their
//! digests), a kustomize overlay and Helm values pinning them.

mod archive;
mod image;
mod install;
mod manifest;
mod release;
mod targets;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "kubectl-agents' own tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Build, pack and checksum the plugin's release archives and write the krew manifest.
    #[command(after_help = "Targets this machine cannot build (macOS and Windows from Linux) need their archives \
from --archives DIR; without them no manifest is written unless --partial.")]
    Release(release::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Release(options) => release::run(options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

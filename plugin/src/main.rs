//! kubectl-agents: the `kubectl agents` plugin. Run it as `kubectl agents …` (kubectl finds the
//! binary on PATH) or directly as `kubectl-agents …`.

mod cli;
mod commands;
mod error;
#[cfg(test)]
mod fake_api;
mod flags;
#[cfg(test)]
mod input_properties;
mod kinds;
mod kubectl_complete;
mod leader_lease;
mod manifests;
mod output;
mod port_forward;
mod secrets;
mod session;
mod style;
mod yaml_guard;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    die_quietly_on_a_closed_stdout();
    // kubectl's completion (through `kubectl_complete-agents`) takes the raw words, typed so far.
    let args: Vec<String> = std::env::args_os().skip(1).map(|arg| arg.to_string_lossy().into_owned()).collect();
    if let Some((first, rest)) = args.split_first()
        && first == kubectl_complete::ENTRY
    {
        return kubectl_complete::run(rest, &mut std::io::stdout().lock());
    }
    let cli = cli::Cli::parse();
    init_logging(cli.global.verbose);
    // One thread: the plugin waits on the network, and starts in a couple of milliseconds.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(cli::run(cli)),
        Err(e) => Err(anyhow::Error::new(e).context("starting the async runtime")),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{} {}", style::error_label(), error::explain(&e));
            ExitCode::FAILURE
        }
    }
}

/// `kubectl agents get | head` ends the plugin without a word when `head` has read enough, as
/// it ends kubectl: Rust ignores SIGPIPE, which turns each later write into an error (or a
/// `println!` panic), so the default action is restored.
fn die_quietly_on_a_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `-v` shows debug logs (ours), `-vv` the Kubernetes client's too; always on stderr.
fn init_logging(verbose: u8) {
    if verbose == 0 {
        return;
    }
    let filter = match verbose {
        1 => "kubectl_agents=debug",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(style::colour_enabled_on_stderr())
        .init();
}

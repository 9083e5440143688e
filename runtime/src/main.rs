//! agents-runtime: the reference agent, configured by the environment the operator renders.

use std::process::ExitCode;

use agents_runtime::config::Config;

const USAGE: &str = "\
agents-runtime: the reference agent of kubectl-agents. It takes no arguments: the operator
configures it through the environment (AGENT_NAME, AGENT_PORT, MODEL_NAME, MODEL_PROVIDER,
MODEL_API_URL, MODEL_API_KEY, MCP_SERVERS, PEER_AGENTS, AGENTIC_LOOP_*) and the agent.yaml named
by AGENT_CONFIG_FILE. It serves A2A (1.0 and 0.3), /health and /metrics on AGENT_PORT.
See docs/runtime.md for every variable.

Options:
  -h, --help       Print this help
  -V, --version    Print the version
";

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => return print(USAGE),
        Some("-V" | "--version") => return print(&format!("agents-runtime {}\n", env!("CARGO_PKG_VERSION"))),
        Some(other) => {
            eprintln!(
                "agents-runtime: unexpected argument {other:?}: it is configured by its environment (see --help)"
            );
            return ExitCode::from(2);
        }
    }
    init_logging();
    let file = match std::env::var("AGENT_CONFIG_FILE") {
        Ok(path) if !path.is_empty() => match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) => {
                tracing::error!("cannot read the configuration file {path} (AGENT_CONFIG_FILE): {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let config = match Config::from_sources(|name| std::env::var(name).ok(), file.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agents_runtime::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints to stdout; a reader that left early (`| head`) is not an error.
fn print(text: &str) -> ExitCode {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// Logs on stderr: text, or JSON with `AGENT_LOG_FORMAT=json`; `RUST_LOG` filters (default info).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false);
    if std::env::var("AGENT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

//! agents-runtime: the reference agent, configured by the environment the operator renders.

use std::process::ExitCode;

use agents_runtime::config::Config;

fn main() -> ExitCode {
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

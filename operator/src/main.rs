//! The agents-operator binary: flags and logs; the operator itself is the library.

use std::process::ExitCode;

use agents_operator::{Args, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(args.log_format);
    match agents_operator::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

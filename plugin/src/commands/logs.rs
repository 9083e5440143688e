//! `kubectl agents logs` (being written).

use std::process::ExitCode;

use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub async fn run(_session: &Session, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kubectl agents logs` is not available in this version yet")
}

//! `kubectl agents install` and `uninstall` (being written).

use std::process::ExitCode;

use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct InstallArgs {}

#[derive(clap::Args, Debug)]
pub struct UninstallArgs {}

pub async fn install(_session: &Session, _args: InstallArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kubectl agents install` is not available in this version yet")
}

pub async fn uninstall(_session: &Session, _args: UninstallArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kubectl agents uninstall` is not available in this version yet")
}

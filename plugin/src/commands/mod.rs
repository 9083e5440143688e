//! One module per command; each has its clap `Args` and an async `run`.

pub mod apply;
pub mod build;
pub mod check;
pub mod completion;
pub mod create;
pub mod delete;
pub mod describe;
pub mod get;
#[cfg(test)]
mod golden;
pub mod install;
pub mod invoke;
pub mod logs;
pub mod render;
pub mod restart;
pub mod scale;
pub mod status;
pub mod version;
pub mod workflow;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::session::Session;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    // These work without a cluster.
    match cli.command {
        Command::Completion(args) => return completion::run(args),
        Command::Version(args) if args.client => return version::run(None, args).await,
        Command::Install(args) if args.dry_run => return install::dry_run(&args),
        Command::Create(args) if args.client_dry_run() => return create::run(create::Destination::Print, *args).await,
        Command::Render(args) if !args.cluster => return render::run(&global, None, args).await,
        _ => {}
    }
    let session = Session::connect(&global).await?;
    match cli.command {
        Command::Create(args) => create::run(create::Destination::Cluster(&session), *args).await,
        Command::Apply(args) => apply::run(&session, args).await,
        Command::Render(args) => render::run(&global, Some(&session), args).await,
        Command::Get(args) => get::run(&session, args).await,
        Command::Describe(args) => describe::run(&session, args).await,
        Command::Invoke(args) => invoke::run(&session, args).await,
        Command::Logs(args) => logs::run(&session, args).await,
        Command::Build(args) => build::run(&session, *args).await,
        Command::Delete(args) => delete::run(&session, args).await,
        Command::Scale(args) => scale::run(&session, args).await,
        Command::Restart(args) => restart::run(&session, args).await,
        Command::Install(args) => install::install(&session, args).await,
        Command::Uninstall(args) => install::uninstall(&session, args).await,
        Command::Check(args) => check::run(&session, args).await,
        Command::Status(args) => status::run(&session, args).await,
        Command::Version(args) => version::run(Some(&session), args).await,
        Command::Workflow(args) => workflow::run(&session, args).await,
        Command::Completion(_) => unreachable!("handled above"),
    }
}

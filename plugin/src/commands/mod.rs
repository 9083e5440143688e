//! One module per command; each owns its clap `Args` and an async `run`. `cli.rs` assembles
//! them into the command tree and runs the one asked for.

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

//! The end-to-end suite: one control plane for the whole run (started on first use), one
//! namespace per test, the real binaries driven as a user would.
//!
//! `cargo test -p agents-e2e -- NAME` runs the tests whose name contains NAME; `--list` lists them.

mod control_plane;
mod support;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let env = support::Env::new();
    let trials = [control_plane::tests(&env)].into_iter().flatten().collect();
    let conclusion = libtest_mimic::run(&args, trials);
    env.stop();
    conclusion.exit_code()
}

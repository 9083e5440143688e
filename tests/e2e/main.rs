//! The end-to-end suite: one control plane for the whole run (started on first use), one
//! namespace per test, the real binaries driven as a user would.
//!
//! `cargo test -p agents-e2e -- NAME` runs the tests whose name contains NAME; `--list` lists them.

mod agent;
mod agent_runtime;
mod autoscaling;
mod build;
mod control_plane;
mod cron_schedule;
mod dependencies;
mod distribution;
mod follow_inputs;
mod gitops;
mod helm;
mod images;
mod in_pod;
mod mcp_inline_tools;
mod mcp_server;
mod model_gateway;
mod monitoring;
mod ollama;
mod operator;
mod operator_lifecycle;
mod plugin;
mod plugin_build;
mod plugin_input;
mod plugin_install;
mod plugin_logs;
mod plugin_output;
mod plugin_render;
mod proxy;
mod readme;
mod support;
mod validation;
mod workflow;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = libtest_mimic::Arguments::from_args();
    // The tests mostly wait on the control plane: run several at once unless told otherwise.
    args.test_threads.get_or_insert(4);
    let env = support::Env::new();
    let trials = [
        control_plane::tests(&env),
        cron_schedule::tests(&env),
        agent::tests(&env),
        agent_runtime::tests(&env),
        autoscaling::tests(&env),
        dependencies::tests(&env),
        follow_inputs::tests(&env),
        mcp_server::tests(&env),
        model_gateway::tests(&env),
        ollama::tests(&env),
        mcp_inline_tools::tests(&env),
        build::tests(&env),
        validation::tests(&env),
        operator_lifecycle::tests(&env),
        plugin::tests(&env),
        plugin_build::tests(&env),
        plugin_logs::tests(&env),
        plugin_output::tests(&env),
        plugin_render::tests(&env),
        plugin_input::tests(&env),
        plugin_install::tests(&env),
        proxy::tests(&env),
        readme::tests(&env),
        distribution::tests(&env),
        images::tests(&env),
        helm::tests(&env),
        workflow::tests(&env),
        gitops::tests(&env),
        monitoring::tests(&env),
    ]
    .into_iter()
    .flatten()
    .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    workflow::stop_argo();
    env.stop();
    conclusion.exit_code()
}

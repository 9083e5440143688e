//! agents-operator: reconciles the agents.dev/v1alpha1 resources. The binary (`main.rs`) parses
//! the flags, sets up the logs and calls [`run`]. Everything else is here, so that tests in the
//! crate reach the controllers, their reconciles and their `Context`.

mod agent;
mod argo;
mod args;
mod backoff;
mod build;
mod cache;
mod children;
mod context;
mod error;
mod events;
#[cfg(test)]
mod fixtures;
mod health;
mod leader;
mod mcp_tools;
mod metrics;
mod optional;
mod report;
mod servers;
mod service_monitor;
pub mod telemetry;
mod watches;
mod workflow;
mod written;

pub use args::{Args, LogFormat, McpTools};

use futures::FutureExt;

/// Runs the operator until SIGTERM or Ctrl-C (then each controller drains its in-flight
/// reconciles) or until it loses the leader lease (an error, so that a restart rejoins the
/// election).
pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = args.client().await?;
    context::check_crds_installed(&client).await?;
    let metrics = metrics::Metrics::new();
    let health = health::Health::default();
    let server = health::serve(args.metrics_bind_address, metrics.clone(), health.clone()).await?;
    health.set_ready();

    // A standby watches everything its controllers read, so that it leads with its caches
    // filled; its controllers reconcile nothing before it leads.
    let candidacy = args.leader_elect.then(|| leader::stand(&client, &args));
    let leading = {
        let elected = candidacy.as_ref().map(leader::Candidacy::elected);
        let metrics = metrics.clone();
        async move {
            if let Some(elected) = elected
                && elected.await.is_err()
            {
                // The election ended before this replica led: `lost` stops the operator.
                return std::future::pending().await;
            }
            metrics.set_leader(true);
        }
    };
    let ctx = context::Context::new(client, metrics, &args);
    let lost = async {
        match &candidacy {
            Some(c) => c.lost().await,
            None => std::future::pending().await,
        }
    };
    // Every controller stops on the same signal; each drains its in-flight reconciles first.
    let shutdown = shutdown_signal().boxed().shared();
    let watches = watches::Watches::new(&ctx, leading.boxed());
    let (agents, builds, workflows, model_apis, mcp_servers) = (
        agent::run(ctx.clone(), &watches, shutdown.clone()),
        build::run(ctx.clone(), &watches, shutdown.clone()),
        workflow::run(ctx.clone(), &watches, shutdown.clone()),
        servers::run::<agents_api::ModelAPI, _>(ctx.clone(), &watches, shutdown.clone()),
        servers::run::<agents_api::MCPServer, _>(ctx.clone(), &watches, shutdown.clone()),
    );
    // Every controller follows what it reads: the watches can start.
    watches.start();
    let controllers = async {
        tokio::join!(agents, builds, workflows, model_apis, mcp_servers);
    };
    tokio::select! {
        () = controllers => {
            tracing::info!("controllers stopped");
        }
        () = lost => {
            anyhow::bail!("lost the leader lease; exiting so that a restart rejoins the election");
        }
    }
    if let Some(candidacy) = candidacy {
        candidacy.withdraw().await;
    }
    server.abort();
    Ok(())
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

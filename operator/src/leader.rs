//! Leader election on a `coordination.k8s.io` Lease (kube has none built in; kube-lease-manager
//! is the maintained crate on kube 5). Only the holder reconciles; when it stops or dies, another
//! replica takes over once the lease expires (at once when the holder releases it on shutdown).

use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::args::Args;

/// The Lease every replica competes for.
pub const LEASE_NAME: &str = "agents-operator";

pub struct Leadership {
    state: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
}

/// Waits until this replica holds the lease.
pub async fn acquire(client: &kube::Client, args: &Args) -> anyhow::Result<Leadership> {
    let identity = format!("{}-{}", std::env::var("POD_NAME").unwrap_or_else(|_| hostname()), std::process::id());
    let namespace = args.lease_namespace();
    let manager = LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
        .with_namespace(&namespace)
        .with_identity(&identity)
        .with_duration(args.lease_duration)
        .with_grace(args.lease_grace)
        .with_field_manager(format!("{}-lease", agents_render::FIELD_MANAGER))
        .build()
        .await
        .with_context(|| format!("setting up the leader Lease {namespace}/{LEASE_NAME}"))?;
    let (mut state, task) = manager.watch().await;
    tracing::info!(%identity, lease = %format!("{namespace}/{LEASE_NAME}"), "waiting to become the leader");
    while !*state.borrow_and_update() {
        state.changed().await.context("the leader election task stopped before this replica became the leader")?;
    }
    tracing::info!(%identity, "became the leader");
    label(client, &namespace).await;
    Ok(Leadership { state, task })
}

/// Labels the Lease with the operator's name and version: `kubectl agents check` and `version`
/// find an operator that runs outside the cluster (no Deployment to read) by its live Lease.
async fn label(client: &kube::Client, namespace: &str) {
    let patch = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE_NAME, "labels": {
            "app.kubernetes.io/name": "agents-operator",
            "app.kubernetes.io/version": env!("CARGO_PKG_VERSION"),
        }},
    });
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    if let Err(e) =
        leases.patch(LEASE_NAME, &PatchParams::apply(agents_render::FIELD_MANAGER), &Patch::Apply(&patch)).await
    {
        tracing::warn!("could not label the leader Lease with this operator's version: {e}");
    }
}

impl Leadership {
    /// Resolves when the lease is lost (or the election task dies).
    pub async fn lost(&self) {
        let mut state = self.state.clone();
        while *state.borrow_and_update() {
            if state.changed().await.is_err() {
                return;
            }
        }
    }

    /// Gives the lease up so a standby replica takes over without waiting for it to expire.
    pub async fn release(self) {
        drop(self.state);
        match tokio::time::timeout(Duration::from_secs(5), self.task).await {
            Ok(Ok(Ok(manager))) => {
                if let Err(e) = manager.release().await {
                    tracing::warn!("could not release the leader lease: {e}");
                } else {
                    tracing::info!("released the leader lease");
                }
            }
            _ => tracing::warn!("the leader election task did not stop; the lease will expire on its own"),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "agents-operator".into())
}

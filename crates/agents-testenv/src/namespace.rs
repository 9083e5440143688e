//! A namespace per test, so tests share one control plane without seeing each other's objects.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use crate::Error;

/// Label on every namespace a test creates, so leftovers are easy to find.
pub const TEST_LABEL: &str = "agents-testenv/test";

/// A namespace created for one test. Delete it at the end of the test; a failing test may leave
/// it behind for inspection (the control plane is thrown away with the run).
#[derive(Clone)]
pub struct TestNamespace {
    name: String,
    client: kube::Client,
}

impl TestNamespace {
    /// Creates `<prefix>-<unique>` and waits for its `default` ServiceAccount: a pod created
    /// before the controller-manager makes it is rejected.
    pub async fn create(client: &kube::Client, prefix: &str) -> Result<Self, Error> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {TEST_LABEL: prefix}},
        }))
        .expect("a Namespace literal is valid");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(|e| Error::kube(format!("create the namespace {name}"), e))?;
        let hint = "kube-controller-manager is not creating ServiceAccounts; see its log in the cluster directory";
        crate::wait::default_service_account(client, &name, Duration::from_secs(30), hint).await?;
        Ok(TestNamespace { name, client: client.clone() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace (and so everything in it) without waiting for it to go.
    pub async fn delete(&self) -> Result<(), Error> {
        Api::<Namespace>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::background())
            .await
            .map_err(|e| Error::kube(format!("delete the namespace {}", self.name), e))?;
        Ok(())
    }

    /// Deletes the namespace and waits until it is gone, with everything in it: what a
    /// benchmark measures next must not share the machine with that clean-up (at 5,000
    /// Deployments it keeps kube-controller-manager and the API server busy for minutes).
    pub async fn delete_and_wait(&self, timeout: Duration) -> Result<(), Error> {
        self.delete().await?;
        let gone = |namespace: Option<&Namespace>| namespace.is_none();
        let hint = "the namespace controller in kube-controller-manager deletes its content; see its log";
        crate::wait::until(
            Api::<Namespace>::all(self.client.clone()),
            &self.name,
            gone,
            timeout,
            format!("the namespace {} to be gone", self.name),
            hint,
        )
        .await
    }
}

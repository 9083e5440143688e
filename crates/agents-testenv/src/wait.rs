//! Waiting for a condition on one object with a deadline: the one shape every wait of the test
//! environment has, with an error that names what was awaited and where to look.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Resource;
use kube::api::Api;
use kube::runtime::wait::{Condition, await_condition};
use serde::de::DeserializeOwned;

use crate::Error;

/// Waits until `condition` holds for `name`, at most `timeout`. `what` names the wait in the
/// error ("node x to become Ready"); `hint` says where to look when it times out.
pub async fn until<K>(
    api: Api<K>,
    name: &str,
    condition: impl Condition<K>,
    timeout: Duration,
    what: impl Into<String>,
    hint: impl Into<String>,
) -> Result<(), Error>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    let what = what.into();
    match tokio::time::timeout(timeout, await_condition(api, name, condition)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Error::Wait(format!("{what}: {e}"))),
        Err(_) => Err(Error::Timeout { what, hint: hint.into() }),
    }
}

/// Waits for kube-controller-manager to create a namespace's `default` ServiceAccount: the API
/// server rejects a pod created before it exists.
pub async fn default_service_account(
    client: &kube::Client,
    namespace: &str,
    timeout: Duration,
    hint: impl Into<String>,
) -> Result<(), Error> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let exists = |sa: Option<&ServiceAccount>| sa.is_some();
    until(accounts, "default", exists, timeout, format!("the default ServiceAccount of {namespace}"), hint).await
}

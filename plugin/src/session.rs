//! The connection to the cluster, read from the kubeconfig the way kubectl reads it.

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::flags::Global;

/// A client and the namespace commands act on.
#[derive(Clone)]
pub struct Session {
    pub client: kube::Client,
    /// `-n`, else the context's namespace, else "default".
    pub namespace: String,
    /// Whether `-n` named the namespace: then a manifest naming another is refused, as kubectl
    /// refuses it.
    pub namespace_given: bool,
    /// What `client` was built from, for a client of other settings.
    config: kube::Config,
}

impl Session {
    pub async fn connect(global: &Global) -> anyhow::Result<Self> {
        let options = KubeConfigOptions { context: global.context.clone(), ..Default::default() };
        let mut config = match &global.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                    let why = match &e {
                        kube::config::KubeconfigError::ReadConfig(io, _) => io.to_string(),
                        other => other.to_string(),
                    };
                    crate::error::NoKubeconfig(format!("cannot read {} ({why})", path.display()))
                })?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        }
        .map_err(|e| anyhow::Error::new(crate::error::NoKubeconfig(e.to_string())))?;
        agents_client::route_like_kubectl(&mut config);
        if let Some(timeout) = global.request_timeout.filter(|t| !t.is_zero()) {
            config.connect_timeout = Some(timeout);
            config.read_timeout = Some(timeout);
            config.write_timeout = Some(timeout);
        }
        let namespace = global.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string();
        tracing::debug!(%server, %namespace, "connecting");
        let client = kube::Client::try_from(config.clone()).context("could not build a Kubernetes client")?;
        Ok(Session { client, namespace, namespace_given: global.namespace.is_some(), config })
    }

    /// A session over `client` (a fake API server's, in tests).
    #[cfg(test)]
    pub fn with_client(client: kube::Client, namespace: &str) -> Self {
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("a URL"));
        Session { client, namespace: namespace.to_string(), namespace_given: true, config }
    }

    /// A client that does not retry on 429, 503 and 504: the answer of an agent behind the
    /// API server's proxy is the agent's own, and kube's default retries (up to 15, backing off
    /// to minutes) would hide an agent's 503 behind a long wait.
    pub fn client_without_retries(&self) -> anyhow::Result<kube::Client> {
        let mut config = self.config.clone();
        config.default_retry = false;
        kube::Client::try_from(config).context("could not build a Kubernetes client")
    }
}

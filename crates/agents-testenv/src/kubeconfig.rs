//! The admin kubeconfig every component and every test uses, with the certificates embedded so
//! the file can be copied or exported on its own.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::Error;
use crate::pki::Pki;

/// Context, cluster and user name in the generated kubeconfig.
pub const CONTEXT: &str = "agents-testenv";

pub fn write(path: &Path, server: &str, pki: &Pki) -> Result<(), Error> {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {
            "server": server,
            "certificate-authority-data": STANDARD.encode(&pki.ca_cert_pem),
        }}],
        "users": [{"name": CONTEXT, "user": {
            "client-certificate-data": STANDARD.encode(&pki.admin_cert_pem),
            "client-key-data": STANDARD.encode(&pki.admin_key_pem),
        }}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}}],
        "current-context": CONTEXT,
    });
    let yaml = serde_norway::to_string(&config).map_err(|e| Error::Kubeconfig(e.to_string()))?;
    crate::fsutil::write_private(path, yaml.as_bytes())
}

/// A client for the kubeconfig at `path`, as any other program would build it.
pub async fn client(path: &Path) -> Result<kube::Client, Error> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| Error::Kubeconfig(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| Error::kube("build a client", e))
}

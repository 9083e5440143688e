//! Certificates and keys for one local control plane: a CA, the API server's serving certificate,
//! an admin client certificate (`system:masters`), the front-proxy client and the service-account
//! signing key. ECDSA P-256 throughout: rcgen generates it with ring, and every component accepts it.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};

use crate::Error;

/// Where each file of the cluster's PKI lives, inside the cluster's state directory.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub front_proxy_ca_cert: PathBuf,
    pub front_proxy_client_cert: PathBuf,
    pub front_proxy_client_key: PathBuf,
    pub service_account_key: PathBuf,
    pub service_account_pub: PathBuf,
    /// PEM of the admin client certificate and key, embedded in the kubeconfig.
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    pub ca_cert_pem: String,
}

/// Generates a fresh PKI under `dir/pki` and writes every file with owner-only permissions.
pub fn generate(dir: &Path) -> Result<Pki, Error> {
    let dir = dir.join("pki");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the PKI directory", &dir, e))?;

    let (ca_cert, ca_key, ca) = new_ca("agents-testenv-ca")?;
    let serving = leaf(
        "kube-apiserver",
        None,
        &[
            SanType::IpAddress([127, 0, 0, 1].into()),
            SanType::IpAddress([10, 96, 0, 1].into()),
            dns("localhost")?,
            dns("kubernetes")?,
            dns("kubernetes.default")?,
            dns("kubernetes.default.svc")?,
            dns("kubernetes.default.svc.cluster.local")?,
        ],
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca,
    )?;
    let admin = leaf("agents-testenv-admin", Some("system:masters"), &[], ExtendedKeyUsagePurpose::ClientAuth, &ca)?;
    let (front_proxy_ca_cert, _, front_proxy_ca) = new_ca("agents-testenv-front-proxy-ca")?;
    let front_proxy_client =
        leaf("front-proxy-client", None, &[], ExtendedKeyUsagePurpose::ClientAuth, &front_proxy_ca)?;
    let service_account = KeyPair::generate().map_err(Error::pki("generate the service-account key"))?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        serving_cert: dir.join("apiserver.crt"),
        serving_key: dir.join("apiserver.key"),
        front_proxy_ca_cert: dir.join("front-proxy-ca.crt"),
        front_proxy_client_cert: dir.join("front-proxy-client.crt"),
        front_proxy_client_key: dir.join("front-proxy-client.key"),
        service_account_key: dir.join("sa.key"),
        service_account_pub: dir.join("sa.pub"),
        admin_cert_pem: admin.0.clone(),
        admin_key_pem: admin.1.clone(),
        ca_cert_pem: ca_cert.clone(),
    };
    for (path, pem) in [
        (&pki.ca_cert, &ca_cert),
        (&pki.ca_key, &ca_key),
        (&pki.serving_cert, &serving.0),
        (&pki.serving_key, &serving.1),
        (&pki.front_proxy_ca_cert, &front_proxy_ca_cert),
        (&pki.front_proxy_client_cert, &front_proxy_client.0),
        (&pki.front_proxy_client_key, &front_proxy_client.1),
        (&pki.service_account_key, &service_account.serialize_pem()),
        (&pki.service_account_pub, &service_account.public_key_pem()),
    ] {
        crate::fsutil::write_private(path, pem.as_bytes())?;
    }
    Ok(pki)
}

fn dns(name: &str) -> Result<SanType, Error> {
    let name = name.try_into().map_err(Error::pki("encode a DNS name"))?;
    Ok(SanType::DnsName(name))
}

/// A self-signed CA: (certificate PEM, key PEM, issuer for leaves).
fn new_ca(common_name: &str) -> Result<(String, String, Issuer<'static, KeyPair>), Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().map_err(Error::pki("generate a CA key"))?;
    let cert = params.self_signed(&key).map_err(Error::pki("self-sign the CA"))?;
    let key_pem = key.serialize_pem();
    Ok((cert.pem(), key_pem, Issuer::new(params, key)))
}

/// A certificate signed by `issuer`: (certificate PEM, key PEM).
fn leaf(
    common_name: &str,
    organization: Option<&str>,
    sans: &[SanType],
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'static, KeyPair>,
) -> Result<(String, String), Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        params.distinguished_name.push(DnType::OrganizationName, org);
    }
    params.subject_alt_names = sans.to_vec();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().map_err(Error::pki("generate a key"))?;
    let cert = params.signed_by(&key, issuer).map_err(Error::pki("sign a certificate"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

//! The command lines of the control plane's components, and the loopback ports they bind.

use std::path::Path;

use crate::{Error, pki, process};

/// Pods get addresses from a loopback range: nothing can ever dial a pod off this machine. The
/// cost: the API server refuses loopback addresses in Endpoints and EndpointSlices, so Services
/// have no endpoints, and the controllers that would write them are off (see
/// [`NO_ENDPOINT_CONTROLLERS`]).
const POD_CIDR: &str = "127.64.0.0/16";
const SERVICE_CIDR: &str = "10.96.0.0/12";
/// Every controller but those that would write loopback pod addresses into Endpoints and
/// EndpointSlices: the API server refuses each write, and they would report it as a Warning
/// Event on every Service, which `kubectl agents describe` shows beside a healthy Agent.
const NO_ENDPOINT_CONTROLLERS: &str =
    "*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller";

/// Loopback ports of one cluster, picked free at start so clusters can run side by side.
pub struct Ports {
    etcd_client: u16,
    etcd_peer: u16,
    pub apiserver: u16,
    controller_manager: u16,
    scheduler: u16,
    kwok: u16,
}

impl Ports {
    pub fn pick() -> Result<Self, Error> {
        Ok(Ports {
            etcd_client: process::free_port()?,
            etcd_peer: process::free_port()?,
            apiserver: process::free_port()?,
            controller_manager: process::free_port()?,
            scheduler: process::free_port()?,
            kwok: process::free_port()?,
        })
    }
}

/// The command lines of the components. Everything binds 127.0.0.1.
pub struct Commands<'a> {
    pub dir: &'a Path,
    pub pki: &'a pki::Pki,
    pub ports: &'a Ports,
    pub kubeconfig: &'a Path,
}

fn flags(pairs: &[(&str, String)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| format!("--{k}={v}")).collect()
}

fn profiling() -> bool {
    std::env::var_os("AGENTS_TESTENV_PROFILING").is_some_and(|v| v == "1")
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

impl Commands<'_> {
    pub fn etcd(&self) -> Vec<String> {
        let client = format!("http://127.0.0.1:{}", self.ports.etcd_client);
        let peer = format!("http://127.0.0.1:{}", self.ports.etcd_peer);
        flags(&[
            ("name", "agents-testenv".into()),
            ("data-dir", path(&self.dir.join("etcd"))),
            ("listen-client-urls", client.clone()),
            ("advertise-client-urls", client),
            ("listen-peer-urls", peer.clone()),
            ("initial-advertise-peer-urls", peer.clone()),
            ("initial-cluster", format!("agents-testenv={peer}")),
            // A throwaway cluster: durability costs seconds on every write burst and buys nothing.
            ("unsafe-no-fsync", "true".into()),
            ("log-level", "warn".into()),
        ])
    }

    pub fn apiserver(&self) -> Vec<String> {
        let pki = self.pki;
        flags(&[
            ("etcd-servers", format!("http://127.0.0.1:{}", self.ports.etcd_client)),
            ("bind-address", "127.0.0.1".into()),
            ("advertise-address", "127.0.0.1".into()),
            ("secure-port", self.ports.apiserver.to_string()),
            ("cert-dir", path(&self.dir.join("apiserver"))),
            ("tls-cert-file", path(&pki.serving_cert)),
            ("tls-private-key-file", path(&pki.serving_key)),
            ("client-ca-file", path(&pki.ca_cert)),
            ("service-account-issuer", "https://kubernetes.default.svc.cluster.local".into()),
            ("service-account-key-file", path(&pki.service_account_pub)),
            ("service-account-signing-key-file", path(&pki.service_account_key)),
            ("service-cluster-ip-range", SERVICE_CIDR.into()),
            ("authorization-mode", "RBAC".into()),
            ("allow-privileged", "true".into()),
            ("endpoint-reconciler-type", "none".into()),
            ("kubelet-preferred-address-types", "InternalIP".into()),
            // Without the front-proxy settings the controller-manager and the scheduler log
            // "missing content for CA bundle" forever.
            ("requestheader-client-ca-file", path(&pki.front_proxy_ca_cert)),
            ("requestheader-allowed-names", "front-proxy-client".into()),
            ("requestheader-username-headers", "X-Remote-User".into()),
            ("requestheader-group-headers", "X-Remote-Group".into()),
            ("requestheader-extra-headers-prefix", "X-Remote-Extra-".into()),
            ("proxy-client-cert-file", path(&pki.front_proxy_client_cert)),
            ("proxy-client-key-file", path(&pki.front_proxy_client_key)),
            // `AGENTS_TESTENV_PROFILING=1` serves /debug/pprof, to see where a benchmark's API
            // server time goes (`kubectl get --raw '/debug/pprof/profile?seconds=20'`).
            ("profiling", profiling().to_string()),
        ])
    }

    /// Flags the controller-manager and the scheduler share.
    fn component(&self, port: u16) -> Vec<(&'static str, String)> {
        let kubeconfig = path(self.kubeconfig);
        vec![
            ("kubeconfig", kubeconfig.clone()),
            ("authentication-kubeconfig", kubeconfig.clone()),
            ("authorization-kubeconfig", kubeconfig),
            ("leader-elect", "false".into()),
            ("bind-address", "127.0.0.1".into()),
            ("secure-port", port.to_string()),
            // The default 20 QPS makes every namespace's default ServiceAccount seconds late.
            ("kube-api-qps", "1000".into()),
            ("kube-api-burst", "1000".into()),
        ]
    }

    pub fn controller_manager(&self) -> Vec<String> {
        let pki = self.pki;
        let mut pairs = self.component(self.ports.controller_manager);
        pairs.extend([
            ("cert-dir", path(&self.dir.join("controller-manager"))),
            ("root-ca-file", path(&pki.ca_cert)),
            ("service-account-private-key-file", path(&pki.service_account_key)),
            ("use-service-account-credentials", "true".into()),
            ("cluster-signing-cert-file", path(&pki.ca_cert)),
            ("cluster-signing-key-file", path(&pki.ca_key)),
            ("service-cluster-ip-range", SERVICE_CIDR.into()),
            ("controllers", NO_ENDPOINT_CONTROLLERS.into()),
        ]);
        flags(&pairs)
    }

    pub fn scheduler(&self) -> Vec<String> {
        let mut pairs = self.component(self.ports.scheduler);
        pairs.push(("cert-dir", path(&self.dir.join("scheduler"))));
        flags(&pairs)
    }

    pub fn kwok(&self, config: &Path) -> Vec<String> {
        let pki = self.pki;
        flags(&[
            ("kubeconfig", path(self.kubeconfig)),
            ("config", path(config)),
            ("manage-all-nodes", "true".into()),
            ("node-ip", "127.0.0.1".into()),
            ("node-port", self.ports.kwok.to_string()),
            ("server-address", format!("127.0.0.1:{}", self.ports.kwok)),
            ("tls-cert-file", path(&pki.serving_cert)),
            ("tls-private-key-file", path(&pki.serving_key)),
            // Standalone kwok defaults to 0, and nodes then flap to Unknown every ~50 s.
            ("node-lease-duration-seconds", "40".into()),
            ("cidr", POD_CIDR.into()),
            // PortForward objects come from the API server (tests create them per pod, see
            // `kwok::forward_pod`); stages and ClusterLogs stay in --config. kwok refuses to
            // start if a kind is in both.
            ("enable-crds", "PortForward".into()),
        ])
    }
}

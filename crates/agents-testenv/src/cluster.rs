//! Starting, finding and stopping one control plane.
//!
//! A cluster lives in `<cache>/clusters/<name>/`: its PKI, kubeconfig, etcd data, one log per
//! component and `state.json` (ports and pids). `down` stops the processes and removes the whole
//! directory. A cluster started for a test run records the run's pid as its owner; the next run
//! stops any whose owner has died (a run killed with Ctrl-C cannot clean up after itself).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::TryFutureExt;
use futures::future::try_join_all;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use serde::{Deserialize, Serialize};

use crate::crds::{self, ARGO_CRDS, CrdSet, FIELD_MANAGER, TEKTON_CRDS};
use crate::process::{self, Daemon};
use crate::tools::{ETCD, KUBERNETES, KWOK, KWOK_STAGES};
use crate::{Error, TestNamespace, gobuild, kubeconfig, kwok, pki};

/// Pods get addresses from a loopback range: nothing can ever dial a pod off this machine. The
/// cost: the EndpointSlice controller skips loopback addresses, so Services have no endpoints.
const POD_CIDR: &str = "127.64.0.0/16";
const SERVICE_CIDR: &str = "10.96.0.0/12";
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How a cluster is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fake nodes KWOK manages.
    pub nodes: usize,
    /// CRD sets installed before the cluster is reported ready.
    pub crds: Vec<CrdSet>,
}

impl Default for Options {
    fn default() -> Self {
        Options { nodes: 2, crds: vec![TEKTON_CRDS, ARGO_CRDS] }
    }
}

/// The root of everything agents-testenv caches: `$AGENTS_TESTENV_CACHE`, else
/// `$XDG_CACHE_HOME/kubectl-agents/testenv`, else `~/.cache/kubectl-agents/testenv`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AGENTS_TESTENV_CACHE") {
        return dir.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("kubectl-agents").join("testenv")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    server: String,
    /// The test run that owns the cluster; `None` for clusters started by `up`.
    owner_pid: Option<u32>,
    daemons: Vec<Daemon>,
    /// Directories holding `kubectl` (same minor as the API server) and the other binaries.
    kubernetes_bin: PathBuf,
}

/// A running control plane.
#[derive(Debug, Clone)]
pub struct Cluster {
    dir: PathBuf,
    state: State,
}

impl Cluster {
    /// The directory of the cluster called `name`.
    pub fn dir_of(name: &str) -> PathBuf {
        cache_dir().join("clusters").join(name)
    }

    /// The cluster called `name` if all its processes are running.
    pub fn find(name: &str) -> Option<Cluster> {
        let dir = Self::dir_of(name);
        let state: State = serde_json::from_slice(&std::fs::read(dir.join("state.json")).ok()?).ok()?;
        let cluster = Cluster { dir, state };
        cluster.is_running().then_some(cluster)
    }

    /// The cluster called `name`, started if it is not running (a half-dead one is replaced).
    pub async fn up(name: &str, options: &Options) -> Result<Cluster, Error> {
        if let Some(cluster) = Self::find(name) {
            return Ok(cluster);
        }
        Self::down(name)?;
        Self::start(Self::dir_of(name), None, options).await
    }

    /// Stops the cluster called `name` (whatever still runs of it) and removes its directory.
    /// Returns whether there was anything to remove.
    pub fn down(name: &str) -> Result<bool, Error> {
        let dir = Self::dir_of(name);
        if !dir.exists() {
            return Ok(false);
        }
        if let Ok(bytes) = std::fs::read(dir.join("state.json"))
            && let Ok(state) = serde_json::from_slice::<State>(&bytes)
        {
            process::stop_all(&state.daemons, Duration::from_secs(10));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
        Ok(true)
    }

    /// Starts a cluster owned by this process (a test run): stop it with [`Cluster::stop`].
    /// Clusters left by earlier runs that died are stopped first.
    pub async fn start_for_this_process() -> Result<Cluster, Error> {
        Self::reap_orphans();
        let name = format!("test-{}", std::process::id());
        Self::down(&name)?;
        Self::start(Self::dir_of(&name), Some(std::process::id()), &Options::default()).await
    }

    fn reap_orphans() {
        let Ok(entries) = std::fs::read_dir(cache_dir().join("clusters")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(bytes) = std::fs::read(entry.path().join("state.json")) else {
                continue;
            };
            let Ok(state) = serde_json::from_slice::<State>(&bytes) else {
                continue;
            };
            if let Some(owner) = state.owner_pid
                && !Path::new(&format!("/proc/{owner}")).exists()
            {
                let _ = Self::down(&name);
            }
        }
    }

    /// Stops this cluster's processes and removes its directory.
    pub fn stop(&self) {
        process::stop_all(&self.state.daemons, Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn is_running(&self) -> bool {
        !self.state.daemons.is_empty() && self.state.daemons.iter().all(Daemon::is_running)
    }

    /// `(component, pid)` of each process.
    pub fn components(&self) -> Vec<(&str, u32)> {
        self.state.daemons.iter().map(|d| (d.name.as_str(), d.pid)).collect()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    pub fn server(&self) -> &str {
        &self.state.server
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory holding `kubectl` of the API server's minor: put it first on `PATH`.
    pub fn kubernetes_bin(&self) -> &Path {
        &self.state.kubernetes_bin
    }

    /// The file every simulated container logs (CRI format, followed): append to it and
    /// `kubectl logs -f` streams the lines.
    pub fn container_log(&self) -> PathBuf {
        self.dir.join("container.log")
    }

    pub async fn client(&self) -> Result<kube::Client, Error> {
        kubeconfig::client(&self.kubeconfig()).await
    }

    /// A fresh namespace for one test.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace, Error> {
        TestNamespace::create(&self.client().await?, prefix).await
    }

    /// Installs another CRD set (e.g. the ServiceMonitor) into the running cluster.
    pub async fn install_crds(&self, set: &CrdSet) -> Result<(), Error> {
        let crds = set.load(&cache_dir())?;
        crds::apply(&self.client().await?, crds).await
    }

    async fn start(dir: PathBuf, owner_pid: Option<u32>, options: &Options) -> Result<Cluster, Error> {
        let started = Instant::now();
        let cache = cache_dir();
        let kubernetes_bin = gobuild::ensure(&KUBERNETES, &cache)?;
        let etcd_bin = gobuild::ensure(&ETCD, &cache)?;
        let kwok_bin = gobuild::ensure(&KWOK, &cache)?;
        let kwok_module = gobuild::module_dir(&KWOK_STAGES, &cache)?;

        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the cluster directory", &dir, e))?;
        let dir = std::fs::canonicalize(&dir).map_err(|e| Error::io("resolve", &dir, e))?;
        let pki = pki::generate(&dir)?;
        let ports = Ports::pick()?;
        let server = format!("https://127.0.0.1:{}", ports.apiserver);
        let kubeconfig = dir.join("kubeconfig");
        kubeconfig::write(&kubeconfig, &server, &pki)?;
        let container_log = dir.join("container.log");
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        std::fs::write(&container_log, kwok::cri_log_line(&now, "agent container started (simulated by KWOK)"))
            .map_err(|e| Error::io("write", &container_log, e))?;
        let kwok_config = dir.join("kwok.yaml");
        std::fs::write(&kwok_config, kwok::config(&kwok_module, &container_log)?)
            .map_err(|e| Error::io("write", &kwok_config, e))?;

        let commands = Commands { dir: &dir, pki: &pki, ports: &ports, kubeconfig: &kubeconfig };
        let mut daemons = Vec::new();
        let spawn = |name: &str, exe: PathBuf, args: Vec<String>, env: &[(&str, &str)]| {
            Daemon::spawn(name, &exe, &args, env, &dir.join(format!("{name}.log")))
        };
        let result: Result<Cluster, Error> = async {
            daemons.push(spawn("etcd", etcd_bin.join("etcd"), commands.etcd(), &[])?);
            daemons.push(spawn("kube-apiserver", kubernetes_bin.join("kube-apiserver"), commands.apiserver(), &[])?);
            let mut cluster = Cluster {
                dir: dir.clone(),
                state: State {
                    server: server.clone(),
                    owner_pid,
                    daemons: daemons.clone(),
                    kubernetes_bin: kubernetes_bin.clone(),
                },
            };
            cluster.save()?;
            let client = cluster.client().await?;
            cluster.wait_for_apiserver(&client).await?;
            tracing::info!(elapsed = ?started.elapsed(), "kube-apiserver ready");

            // The controller-manager exits at once if the API server does not answer yet (it
            // reads the request-header CA at start), so the rest starts now.
            daemons.push(spawn(
                "kube-controller-manager",
                kubernetes_bin.join("kube-controller-manager"),
                commands.controller_manager(),
                &[],
            )?);
            daemons.push(spawn("kube-scheduler", kubernetes_bin.join("kube-scheduler"), commands.scheduler(), &[])?);
            daemons.push(spawn("kwok", kwok_bin.join("kwok"), commands.kwok(&kwok_config), &[])?);
            cluster.state.daemons = daemons.clone();
            cluster.save()?;

            let crds: Vec<_> = options.crds.iter().map(|set| set.load(&cache)).collect::<Result<_, _>>()?;
            let timed = |what: &'static str| move |()| tracing::info!(elapsed = ?started.elapsed(), "{what}");
            tokio::try_join!(
                cluster.create_nodes(&client, options.nodes).map_ok(timed("nodes ready")),
                crds::apply(&client, crds.into_iter().flatten().collect()).map_ok(timed("CRDs established")),
                cluster.wait_for_default_service_account(&client).map_ok(timed("default ServiceAccount created")),
            )?;
            tracing::info!(elapsed = ?started.elapsed(), "control plane ready");
            Ok(cluster)
        }
        .await;
        if result.is_err() {
            process::stop_all(&daemons, Duration::from_secs(5));
        }
        result
    }

    /// Records the processes, so `down` (or the next test run) can stop them whatever happens.
    fn save(&self) -> Result<(), Error> {
        let path = self.dir.join("state.json");
        let json = serde_json::to_vec_pretty(&self.state).expect("state serialises");
        std::fs::write(&path, json).map_err(|e| Error::io("write", &path, e))
    }

    /// Polls `/readyz` until the API server answers, failing fast if a component exits.
    async fn wait_for_apiserver(&self, client: &kube::Client) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(dead) = self.state.daemons.iter().find(|d| !d.is_running()) {
                return Err(dead.exited());
            }
            let request = http::Request::get("/readyz").body(Vec::new()).expect("a valid request");
            if client.request_text(request).await.is_ok_and(|body| body.trim() == "ok") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: "kube-apiserver to become ready".into(),
                    hint: format!("see {}", self.dir.join("kube-apiserver.log").display()),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn create_nodes(&self, client: &kube::Client, count: usize) -> Result<(), Error> {
        let nodes: Api<Node> = Api::all(client.clone());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        try_join_all((0..count).map(|i| {
            let nodes = nodes.clone();
            let params = params.clone();
            async move {
                let name = format!("kwok-node-{i}");
                nodes
                    .patch(&name, &params, &Patch::Apply(&kwok::node(&name)))
                    .await
                    .map_err(|e| Error::kube(format!("create the node {name}"), e))?;
                let ready = await_condition(nodes, &name, is_node_ready);
                tokio::time::timeout(START_TIMEOUT, ready)
                    .await
                    .map_err(|_| Error::Timeout {
                        what: format!("node {name} to become Ready"),
                        hint: format!("KWOK is not managing it; see {}", self.dir.join("kwok.log").display()),
                    })?
                    .map_err(|e| Error::Wait(format!("node {name}: {e}")))?;
                Ok::<_, Error>(())
            }
        }))
        .await?;
        Ok(())
    }

    /// Waits for kube-controller-manager to create `default/default`: pods need it.
    async fn wait_for_default_service_account(&self, client: &kube::Client) -> Result<(), Error> {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        let created = await_condition(accounts, "default", |sa: Option<&ServiceAccount>| sa.is_some());
        tokio::time::timeout(START_TIMEOUT, created)
            .await
            .map_err(|_| Error::Timeout {
                what: "the default ServiceAccount".into(),
                hint: format!(
                    "kube-controller-manager is not working; see {}",
                    self.dir.join("kube-controller-manager.log").display()
                ),
            })?
            .map_err(|e| Error::Wait(format!("the default ServiceAccount: {e}")))?;
        Ok(())
    }
}

fn is_node_ready(node: Option<&Node>) -> bool {
    node.and_then(|n| n.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Loopback ports of one cluster, picked free at start so clusters can run side by side.
struct Ports {
    etcd_client: u16,
    etcd_peer: u16,
    apiserver: u16,
    controller_manager: u16,
    scheduler: u16,
    kwok: u16,
}

impl Ports {
    fn pick() -> Result<Self, Error> {
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
struct Commands<'a> {
    dir: &'a Path,
    pki: &'a pki::Pki,
    ports: &'a Ports,
    kubeconfig: &'a Path,
}

fn flags(pairs: &[(&str, String)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| format!("--{k}={v}")).collect()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

impl Commands<'_> {
    fn etcd(&self) -> Vec<String> {
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

    fn apiserver(&self) -> Vec<String> {
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
            ("profiling", "false".into()),
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

    fn controller_manager(&self) -> Vec<String> {
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
        ]);
        flags(&pairs)
    }

    fn scheduler(&self) -> Vec<String> {
        let mut pairs = self.component(self.ports.scheduler);
        pairs.push(("cert-dir", path(&self.dir.join("scheduler"))));
        flags(&pairs)
    }

    fn kwok(&self, config: &Path) -> Vec<String> {
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
        ])
    }
}

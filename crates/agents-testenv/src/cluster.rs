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
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use serde::{Deserialize, Serialize};

use crate::components::{Commands, Ports};
use crate::crds::{self, ARGO_CRDS, CrdSet, FIELD_MANAGER, KWOK_CRDS, TEKTON_CRDS};
use crate::process::{self, Daemon};
use crate::tools::{ETCD, KUBERNETES, KWOK, KWOK_STAGES};
use crate::{Error, TestNamespace, gobuild, kubeconfig, kwok, pki, wait};

const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How a cluster is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fake nodes KWOK manages.
    pub nodes: usize,
    /// CRD sets installed before the cluster is reported ready.
    pub crds: Vec<CrdSet>,
    /// The caller's own CRDs (say, those of the build under test), installed with the sets.
    pub extra_crds: Vec<CustomResourceDefinition>,
}

impl Default for Options {
    fn default() -> Self {
        Options { nodes: 2, crds: vec![TEKTON_CRDS, ARGO_CRDS], extra_crds: Vec::new() }
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
    pub async fn start_for_this_process(options: &Options) -> Result<Cluster, Error> {
        Self::reap_orphans();
        let name = format!("test-{}", std::process::id());
        Self::down(&name)?;
        Self::start(Self::dir_of(&name), Some(std::process::id()), options).await
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

            daemons.push(spawn("kube-scheduler", kubernetes_bin.join("kube-scheduler"), commands.scheduler(), &[])?);
            cluster.state.daemons = daemons.clone();
            cluster.save()?;
            // kwok lists PortForwards at start; without the CRD its watch would back off and
            // retry, and a test's first port-forward could be refused for seconds.
            crds::apply(&client, KWOK_CRDS.load(&cache)?).await?;
            tracing::info!(elapsed = ?started.elapsed(), "KWOK's PortForward CRD established");
            daemons.push(spawn("kwok", kwok_bin.join("kwok"), commands.kwok(&kwok_config), &[])?);
            cluster.state.daemons = daemons.clone();
            cluster.save()?;

            let mut crds: Vec<_> = options.crds.iter().map(|set| set.load(&cache)).collect::<Result<_, _>>()?;
            crds.push(options.extra_crds.clone());
            let timed = |what: &'static str| move |()| tracing::info!(elapsed = ?started.elapsed(), "{what}");
            tokio::try_join!(
                cluster.create_nodes(&client, options.nodes).map_ok(timed("nodes ready")),
                crds::apply(&client, crds.into_iter().flatten().collect()).map_ok(timed("CRDs established")),
            )?;
            // The controller-manager starts once the CRDs are established: its garbage collector
            // learns the kinds there are at start and then only every 30 s, and until it knows an
            // owner's kind it cannot collect that owner's children.
            daemons.push(spawn(
                "kube-controller-manager",
                kubernetes_bin.join("kube-controller-manager"),
                commands.controller_manager(),
                &[],
            )?);
            cluster.state.daemons = daemons.clone();
            cluster.save()?;
            cluster.wait_for_default_service_account(&client).map_ok(timed("default ServiceAccount created")).await?;
            tracing::info!(elapsed = ?started.elapsed(), "control plane ready");
            Ok(cluster)
        }
        .await;
        if result.is_err() {
            process::stop_all(&daemons, Duration::from_secs(5));
        }
        result
    }

    /// Stops kube-apiserver and starts it again with the same flags: the same port, etcd and
    /// certificates, so every kubeconfig still works and clients see only their connections and
    /// watches break. Returns once it answers `/readyz` again. For fault tests: what an operator
    /// sees of an API server upgrade or crash.
    ///
    /// It gets SIGTERM, then SIGKILL after `grace`, as a kubelet stops a pod. On SIGTERM it stops
    /// listening at once, but it waits up to 60 s for open connections (watches) to end before
    /// it exits.
    pub async fn restart_apiserver(&mut self, grace: Duration) -> Result<(), Error> {
        const NAME: &str = "kube-apiserver";
        let restart = |detail: &str| Error::Restart { component: NAME.into(), detail: detail.into() };
        let index = self
            .state
            .daemons
            .iter()
            .position(|d| d.name == NAME)
            .ok_or_else(|| restart("it is not part of this cluster"))?;
        let old = self.state.daemons[index].clone();
        if old.args.is_empty() {
            return Err(restart(
                "its command line was not recorded (an older agents-testenv started this cluster): run `cargo run -p agents-testenv -- down` and start it again",
            ));
        }
        process::stop_all(std::slice::from_ref(&old), grace);
        self.state.daemons[index] = Daemon::spawn(NAME, &old.exe, &old.args, &[], &old.log)?;
        self.save()?;
        let client = self.client().await?;
        self.wait_for_apiserver(&client).await
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
                let hint = format!("KWOK is not managing it; see {}", self.dir.join("kwok.log").display());
                wait::until(nodes, &name, is_node_ready, START_TIMEOUT, format!("node {name} to become Ready"), hint)
                    .await
            }
        }))
        .await?;
        Ok(())
    }

    /// Waits for kube-controller-manager to create `default/default`: pods need it.
    async fn wait_for_default_service_account(&self, client: &kube::Client) -> Result<(), Error> {
        let log = self.dir.join("kube-controller-manager.log");
        let hint = format!("kube-controller-manager is not working; see {}", log.display());
        wait::default_service_account(client, "default", START_TIMEOUT, hint).await
    }
}

fn is_node_ready(node: Option<&Node>) -> bool {
    node.and_then(|n| n.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

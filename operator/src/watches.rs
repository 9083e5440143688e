//! One watch per kind of the agents.dev API, shared by every controller that reads that kind: the
//! Agent controller reads AgentBuilds, ModelAPIs and MCPServers, the AgentWorkflow controller
//! reads Agents. Each kind is then held in memory once (at 5,000 Agents, a second copy of every
//! Agent cost some 15 MiB) and watched once, however many controllers follow its changes. The
//! ConfigMaps and Secrets that pods read are watched once too (`Inputs`), for the three controllers
//! that run pods.
//!
//! The watches start before this replica leads: a standby keeps every cache filled, and once it
//! leads its controllers reconcile at once, from caches that are current (`Reads::gate`).

use std::fmt::Debug;
use std::sync::Arc;

use agents_api::{Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI};
use futures::future::{BoxFuture, Shared as SharedFuture};
use futures::{FutureExt, Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

use crate::cache::fanout::Fanout;
use crate::cache::inputs::Inputs;
use crate::cache::{self, Filled, Reads};
use crate::context::Context;
use crate::metrics::{Metrics, Phased};
use crate::report::Reported;

pub struct Watches {
    pub agents: Shared<Agent>,
    pub builds: Shared<AgentBuild>,
    pub workflows: Shared<AgentWorkflow>,
    pub model_apis: Shared<ModelAPI>,
    pub mcp_servers: Shared<MCPServer>,
    /// The ConfigMaps and Secrets pods read, as digests.
    pub inputs: Inputs,
    /// Resolves once this replica leads.
    leading: SharedFuture<BoxFuture<'static, ()>>,
    metrics: Arc<Metrics>,
}

impl Watches {
    /// The watches of every kind, not started yet; their objects by phase go to the metrics.
    /// No controller reconciles before `leading` resolves.
    pub fn new(ctx: &Context, leading: BoxFuture<'static, ()>) -> Self {
        let watches = Watches {
            agents: Shared::new(ctx),
            builds: Shared::new(ctx),
            workflows: Shared::new(ctx),
            model_apis: Shared::new(ctx),
            mcp_servers: Shared::new(ctx),
            inputs: Inputs::new(ctx),
            leading: leading.shared(),
            metrics: ctx.metrics.clone(),
        };
        ctx.metrics.observe(watches.agents.store.clone());
        ctx.metrics.observe(watches.builds.store.clone());
        ctx.metrics.observe(watches.workflows.store.clone());
        ctx.metrics.observe(watches.model_apis.store.clone());
        ctx.metrics.observe(watches.mcp_servers.store.clone());
        watches
    }

    /// What the reconciles of `K`'s controller read, to register as it is set up: its gate
    /// waits for every cache registered (then `agents_operator_caches_filled` says so) and for
    /// this replica to lead.
    pub fn reads<K: Reported>(&self) -> Reads {
        let metrics = self.metrics.clone();
        Reads::new(self.leading.clone().boxed(), move || metrics.caches_filled(K::KIND))
    }

    /// Starts every watch, once every controller follows what it reads: taken by value, so no
    /// controller can follow a watch after its first list went by.
    pub fn start(self) {
        self.agents.start();
        self.builds.start();
        self.workflows.start();
        self.model_apis.start();
        self.mcp_servers.start();
        self.inputs.start();
    }
}

/// One watch, its cache, and the controllers that follow its changes.
pub struct Shared<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    filled: Filled,
    /// The watch's changes (see `cache::all_of`); a watch error goes to the log (the watch
    /// retries with a backoff), not to the followers.
    changes: Fanout<K>,
}

impl<K> Shared<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + Phased
        + 'static,
{
    fn new(ctx: &Context) -> Self {
        let (store, filled, changes) = cache::all_of(ctx.api::<K>());
        Shared { store, filled, changes: Fanout::new(changes) }
    }

    /// The cache and every change the watch delivers, once the cache holds it (a list's objects
    /// once the list is complete, as `cache::after_lists` says), for a controller that waits for
    /// the cache in its gate.
    pub fn read(
        &self,
        reads: &mut Reads,
    ) -> (Store<K>, impl Stream<Item = Result<K, watcher::Error>> + Send + 'static) {
        reads.wait_for(&self.filled);
        (self.store.clone(), self.changes.follow().map(Ok))
    }

    fn start(self) {
        self.changes.start();
    }
}

//! One watch per kind of the agents.dev API, shared by every controller that reads that kind: the
//! Agent controller reads AgentBuilds, ModelAPIs and MCPServers, the AgentWorkflow controller
//! reads Agents. Each kind is then held in memory once (at 5,000 Agents, a second copy of every
//! Agent cost some 15 MiB) and watched once, however many controllers follow its changes.

use std::fmt::Debug;
use std::sync::Mutex;

use agents_api::{Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

use crate::cache::{self, Filled};
use crate::context::Context;
use crate::metrics::Phased;

pub struct Watches {
    pub agents: Shared<Agent>,
    pub builds: Shared<AgentBuild>,
    pub workflows: Shared<AgentWorkflow>,
    pub model_apis: Shared<ModelAPI>,
    pub mcp_servers: Shared<MCPServer>,
}

impl Watches {
    /// The watches of every kind, not started yet; their objects by phase go to the metrics.
    pub fn new(ctx: &Context) -> Self {
        let watches = Watches {
            agents: Shared::new(ctx),
            builds: Shared::new(ctx),
            workflows: Shared::new(ctx),
            model_apis: Shared::new(ctx),
            mcp_servers: Shared::new(ctx),
        };
        ctx.metrics.observe(watches.agents.store());
        ctx.metrics.observe(watches.builds.store());
        ctx.metrics.observe(watches.workflows.store());
        ctx.metrics.observe(watches.model_apis.store());
        ctx.metrics.observe(watches.mcp_servers.store());
        watches
    }

    /// Starts every watch: call once every controller follows what it reads.
    pub fn start(&self) {
        self.agents.start();
        self.builds.start();
        self.workflows.start();
        self.model_apis.start();
        self.mcp_servers.start();
    }
}

/// One watch, its cache, and the controllers that follow its changes.
pub struct Shared<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    filled: Filled,
    /// The watch's changes (see `cache::all_of`) until it is started.
    changes: Mutex<Option<BoxStream<'static, Result<K, watcher::Error>>>>,
    followers: Mutex<Vec<UnboundedSender<Result<K, watcher::Error>>>>,
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
        Shared { store, filled, changes: Mutex::new(Some(changes.boxed())), followers: Mutex::default() }
    }

    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    pub fn filled(&self) -> &Filled {
        &self.filled
    }

    /// Every change the watch delivers, once the cache holds it (a list's objects once the list is
    /// complete, as `cache::after_lists` says). Follow before the watch starts: a follower added
    /// later would not hear of the objects listed before it came.
    pub fn follow(&self) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
        let (sender, changes) = unbounded();
        let mut followers = self.followers.lock().expect("the followers are never poisoned");
        debug_assert!(self.changes.lock().expect("never poisoned").is_some(), "followed after the start");
        followers.push(sender);
        changes
    }

    /// Drives the watch in a task of its own, handing each change to every follower. A watch
    /// error goes to the log (the watch retries with a backoff), not to the followers.
    fn start(&self) {
        let Some(changes) = self.changes.lock().expect("never poisoned").take() else { return };
        let followers = std::mem::take(&mut *self.followers.lock().expect("never poisoned"));
        let kind = K::kind(&());
        tokio::spawn(changes.for_each(move |change| {
            match change {
                Ok(object) => {
                    for follower in &followers {
                        // A follower gone (its controller stopped) just stops hearing.
                        let _ = follower.unbounded_send(Ok(object.clone()));
                    }
                }
                Err(e) => tracing::warn!(%kind, "watch failed, retrying: {e}"),
            }
            std::future::ready(())
        }));
    }
}

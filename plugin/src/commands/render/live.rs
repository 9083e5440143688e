//! `--cluster`: what the operator would read in the cluster. The agents.dev objects of the input's
//! namespaces (the owners' uids; the state and endpoint of what references name), whether the
//! kinds the operator writes only when installed are served (Tekton, Argo, ServiceMonitors), and
//! the runs each build has.

use std::collections::BTreeSet;
use std::sync::Arc;

use agents_api::{Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI};
use agents_render::{build, labels, workflow};
use anyhow::Context;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use serde::de::DeserializeOwned;

use super::input::Resource;
use crate::kinds::Kind;

/// The cluster, as far as rendering needs it.
#[derive(Default)]
pub struct Live {
    pub agents: Vec<Arc<Agent>>,
    pub builds: Vec<Arc<AgentBuild>>,
    pub model_apis: Vec<Arc<ModelAPI>>,
    pub mcp_servers: Vec<Arc<MCPServer>>,
    pub workflows: Vec<Arc<AgentWorkflow>>,
    /// The operator's PipelineRuns in those namespaces.
    pub runs: Vec<DynamicObject>,
    pub tekton: bool,
    pub argo: bool,
    pub service_monitors: bool,
}

fn is<K: kube::Resource<DynamicType = ()>>(object: &K, namespace: &str, name: &str) -> bool {
    object.meta().namespace.as_deref() == Some(namespace) && object.meta().name.as_deref() == Some(name)
}

fn uid_of<K: kube::Resource<DynamicType = ()>>(objects: &[Arc<K>], namespace: &str, name: &str) -> Option<String> {
    objects.iter().find(|o| is(o.as_ref(), namespace, name)).and_then(|o| o.meta().uid.clone())
}

impl Live {
    /// The uid of the live object of that kind, namespace and name.
    pub fn uid(&self, kind: Kind, namespace: &str, name: &str) -> Option<String> {
        match kind {
            Kind::Agent => uid_of(&self.agents, namespace, name),
            Kind::AgentBuild => uid_of(&self.builds, namespace, name),
            Kind::ModelAPI => uid_of(&self.model_apis, namespace, name),
            Kind::MCPServer => uid_of(&self.mcp_servers, namespace, name),
            Kind::AgentWorkflow => uid_of(&self.workflows, namespace, name),
        }
    }

    pub fn workflow(&self, namespace: &str, name: &str) -> Option<&AgentWorkflow> {
        self.workflows.iter().find(|w| is(w.as_ref(), namespace, name)).map(Arc::as_ref)
    }

    /// The runs of the build `namespace/name`.
    pub fn runs_of(&self, namespace: &str, name: &str) -> Vec<&DynamicObject> {
        self.runs
            .iter()
            .filter(|r| {
                r.metadata.namespace.as_deref() == Some(namespace)
                    && r.metadata.labels.as_ref().and_then(|l| l.get(labels::BUILD)).map(String::as_str) == Some(name)
            })
            .collect()
    }
}

/// Reads what the resources' rendering depends on.
pub async fn read(client: &kube::Client, resources: &[Resource]) -> anyhow::Result<Live> {
    let wants = |kind: Kind| resources.iter().any(|r| r.kind() == kind);
    let monitored = resources.iter().any(|r| matches!(r, Resource::Agent(a) if a.spec.monitoring.is_some()));
    let mut live = Live {
        tekton: wants(Kind::AgentBuild) && served(client, &build::pipeline_run_resource()).await?,
        argo: wants(Kind::AgentWorkflow) && served(client, &workflow::argo::workflow_resource()).await?,
        service_monitors: monitored && served(client, &agents_render::agent::service_monitor_resource()).await?,
        ..Live::default()
    };
    let namespaces: BTreeSet<&str> = resources.iter().map(Resource::namespace).collect();
    for namespace in namespaces {
        live.agents.extend(list(client, namespace).await?);
        live.builds.extend(list(client, namespace).await?);
        live.model_apis.extend(list(client, namespace).await?);
        live.mcp_servers.extend(list(client, namespace).await?);
        live.workflows.extend(list(client, namespace).await?);
        if live.tekton {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), namespace, &build::pipeline_run_resource());
            let runs = api
                .list(&ListParams::default().labels(labels::BUILD))
                .await
                .with_context(|| format!("listing the PipelineRuns of namespace {namespace}"))?;
            live.runs.extend(runs.items);
        }
    }
    Ok(live)
}

async fn list<K>(client: &kube::Client, namespace: &str) -> anyhow::Result<Vec<Arc<K>>>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing the {} of namespace {namespace}", K::plural(&())))?;
    Ok(list.items.into_iter().map(Arc::new).collect())
}

/// Whether the cluster serves the kind (its CRD is installed and established).
async fn served(client: &kube::Client, resource: &ApiResource) -> anyhow::Result<bool> {
    let gvk = GroupVersionKind::gvk(&resource.group, &resource.version, &resource.kind);
    match kube::discovery::pinned_kind(client, &gvk).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Discovery(_)) => Ok(false),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(other) => {
            Err(anyhow::Error::new(other)
                .context(format!("asking whether the cluster serves {}", resource.api_version)))
        }
    }
}

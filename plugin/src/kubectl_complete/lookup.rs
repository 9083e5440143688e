//! The look-ups a plan needs: the kubeconfig's contexts, the cluster's namespaces, the names of
//! a kind's objects. Bounded by the caller; any failure is no names.

use agents_api::{Agent, AgentBuild, AgentWorkflow, MCPServer, ModelAPI};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::Kubeconfig;

use super::plan::Lookup;
use crate::cli::Global;
use crate::kinds::Kind;
use crate::session::Session;

pub async fn find(lookup: Lookup, global: &Global) -> anyhow::Result<Vec<String>> {
    if lookup == Lookup::Contexts {
        return contexts(global);
    }
    let session = Session::connect(global).await?;
    let client = session.client;
    let namespace = session.namespace.as_str();
    match lookup {
        Lookup::Contexts => contexts(global),
        Lookup::Namespaces => names(Api::<Namespace>::all(client)).await,
        Lookup::Names(Kind::Agent) => names(Api::<Agent>::namespaced(client, namespace)).await,
        Lookup::Names(Kind::AgentBuild) => names(Api::<AgentBuild>::namespaced(client, namespace)).await,
        Lookup::Names(Kind::ModelAPI) => names(Api::<ModelAPI>::namespaced(client, namespace)).await,
        Lookup::Names(Kind::MCPServer) => names(Api::<MCPServer>::namespaced(client, namespace)).await,
        Lookup::Names(Kind::AgentWorkflow) => names(Api::<AgentWorkflow>::namespaced(client, namespace)).await,
    }
}

/// The contexts of `--kubeconfig`, else of $KUBECONFIG's files (merged) or ~/.kube/config.
fn contexts(global: &Global) -> anyhow::Result<Vec<String>> {
    let kubeconfig = match &global.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)?,
        None => Kubeconfig::read()?,
    };
    Ok(kubeconfig.contexts.into_iter().map(|context| context.name).collect())
}

/// The objects' names, from their metadata only.
async fn names<K>(api: Api<K>) -> anyhow::Result<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api.list_metadata(&ListParams::default()).await?;
    Ok(list.items.into_iter().filter_map(|object| object.metadata.name).collect())
}

//! The look-ups a plan needs: the kubeconfig's contexts, the cluster's namespaces, the names of
//! a kind's objects (in one namespace or all), an object's runs, an Agent's containers. Bounded
//! by the caller; any failure is no names.

use agents_render::build::pipeline_run_resource;
use agents_render::labels;
use agents_render::workflow::argo::{WORKFLOW_LABEL, workflow_resource};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DynamicObject, ListParams};
use kube::config::Kubeconfig;

use super::plan::Lookup;
use crate::flags::Global;
use crate::session::Session;

pub async fn find(lookup: Lookup, global: &Global) -> anyhow::Result<Vec<String>> {
    match lookup {
        Lookup::Contexts => contexts(global),
        lookup => in_cluster(&Session::connect(global).await?, lookup).await,
    }
}

/// What the cluster of `session` says, in its namespace.
pub async fn in_cluster(session: &Session, lookup: Lookup) -> anyhow::Result<Vec<String>> {
    let client = session.client.clone();
    let namespace = session.namespace.as_str();
    match lookup {
        // The kubeconfig's, not the cluster's: `find` reads them.
        Lookup::Contexts => Ok(Vec::new()),
        Lookup::Namespaces => names(Api::<Namespace>::all(client), &ListParams::default()).await,
        Lookup::Names(kind) => {
            names(Api::<DynamicObject>::namespaced_with(client, namespace, &kind.resource()), &ListParams::default())
                .await
        }
        Lookup::NamesInAllNamespaces(kind) => {
            let mut found =
                names(Api::<DynamicObject>::all_with(client, &kind.resource()), &ListParams::default()).await?;
            // The same name in several namespaces is one completion.
            found.sort();
            found.dedup();
            Ok(found)
        }
        Lookup::BuildRuns(build) => {
            let runs = Api::namespaced_with(client, namespace, &pipeline_run_resource());
            runs_of(runs, &format!("{}={build}", labels::BUILD)).await
        }
        Lookup::WorkflowRuns(workflow) => {
            let runs = Api::namespaced_with(client, namespace, &workflow_resource());
            runs_of(runs, &format!("{WORKFLOW_LABEL}={workflow}")).await
        }
        Lookup::Containers(agent) => containers(Api::namespaced(client, namespace), &agent).await,
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
async fn names<K>(api: Api<K>, params: &ListParams) -> anyhow::Result<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api.list_metadata(params).await?;
    Ok(list.items.into_iter().filter_map(|object| object.metadata.name).collect())
}

/// The names of the runs `selector` selects (as `build list NAME` and the operator find them);
/// none when the cluster does not serve the kind (Tekton or Argo Workflows is not installed).
async fn runs_of(runs: Api<DynamicObject>, selector: &str) -> anyhow::Result<Vec<String>> {
    match names(runs, &ListParams::default().labels(selector)).await {
        Err(error) if is_not_served(&error) => Ok(Vec::new()),
        found => found,
    }
}

fn is_not_served(error: &anyhow::Error) -> bool {
    matches!(error.downcast_ref::<kube::Error>(), Some(kube::Error::Api(status)) if status.code == 404)
}

/// The containers and then the init containers of the Agent's pods, each once: the names
/// `logs -c` accepts, since it picks among the same pods' containers (the Deployment's template
/// would miss the old pods' containers mid-rollout).
async fn containers(pods: Api<Pod>, agent: &str) -> anyhow::Result<Vec<String>> {
    let selector = format!("{}={agent}", labels::AGENT);
    let pods = pods.list(&ListParams::default().labels(&selector)).await?;
    let mut found: Vec<String> = Vec::new();
    let specs: Vec<_> = pods.items.into_iter().filter_map(|pod| pod.spec).collect();
    let regular = specs.iter().flat_map(|spec| spec.containers.iter());
    let init = specs.iter().flat_map(|spec| spec.init_containers.iter().flatten());
    for container in regular.chain(init) {
        if !found.contains(&container.name) {
            found.push(container.name.clone());
        }
    }
    Ok(found)
}

//! The reads every check makes, and how a refused one (403) becomes a row instead of an error.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use serde::de::DeserializeOwned;

use super::{Check, Status};

/// The answer of one probe: what was found, or the reason it may not be seen.
pub(super) type Probe<T> = Result<T, String>;

/// A 403 becomes the sentence of a row; any other failure (the cluster cannot be reached…) stops
/// the command, as it would make every row wrong.
pub(super) fn probe<T>(result: Result<T, kube::Error>) -> anyhow::Result<Probe<T>> {
    match result {
        Ok(found) => Ok(Ok(found)),
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(Err(status.message)),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn not_checked(name: &str, required: bool, why: &str) -> Check {
    Check::new(name, required, Status::Unknown, format!("could not be checked: {why}"))
        .hint("ask for read access to it (RBAC), or use another --context")
}

pub(super) async fn get_crd(
    client: &kube::Client,
    name: &str,
) -> anyhow::Result<Probe<Option<CustomResourceDefinition>>> {
    probe(Api::<CustomResourceDefinition>::all(client.clone()).get_opt(name).await)
}

pub(super) fn established(crd: &CustomResourceDefinition) -> Result<(), String> {
    let conditions = crd.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    match conditions.iter().find(|c| c.type_ == "Established") {
        Some(c) if c.status == "True" => Ok(()),
        Some(c) => Err(c.message.clone().unwrap_or_else(|| c.reason.clone().unwrap_or_default())),
        None => Err("no Established condition yet".into()),
    }
}

pub(super) fn served_versions(crd: &CustomResourceDefinition) -> Vec<String> {
    crd.spec.versions.iter().filter(|v| v.served).map(|v| v.name.clone()).collect()
}

/// The objects `params` selects in every namespace, or, when that is forbidden, in `fallback`
/// alone (then named in the answer).
pub(super) async fn find<K>(
    client: &kube::Client,
    params: &ListParams,
    fallback: &str,
) -> anyhow::Result<Probe<(Vec<K>, Option<String>)>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    match probe(Api::<K>::all(client.clone()).list(params).await)? {
        Ok(list) => Ok(Ok((list.items, None))),
        Err(why) => match probe(Api::<K>::namespaced(client.clone(), fallback).list(params).await)? {
            Ok(list) => Ok(Ok((list.items, Some(fallback.to_string())))),
            Err(_) => Ok(Err(why)),
        },
    }
}

pub(super) fn ready_replicas(deployment: &Deployment) -> (i32, i32) {
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let ready = deployment.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    (ready, wanted)
}

pub(super) fn namespace_of(deployment: &Deployment) -> String {
    deployment.metadata.namespace.clone().unwrap_or_default()
}

pub(super) fn name_of(deployment: &Deployment) -> String {
    deployment.metadata.name.clone().unwrap_or_default()
}

pub(super) fn or_nothing(items: &[String]) -> String {
    if items.is_empty() { "nothing".into() } else { items.join(", ") }
}

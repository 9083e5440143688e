//! The optional systems (Tekton for builds, Argo Workflows for workflows): each CRD served and
//! its controller running. They only ever warn.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::ListParams;

use super::probe::{
    Probe, established, find, get_crd, name_of, namespace_of, not_checked, ready_replicas, served_versions,
};
use super::{Check, Status};

/// An optional system: its CRD served, and its controller's Deployment running.
struct Optional {
    system: &'static str,
    crd: &'static str,
    controller: &'static str,
    /// Where it is usually installed: searched alone when listing in all namespaces is forbidden.
    namespace: &'static str,
    hint: &'static str,
}

const TEKTON: Optional = Optional {
    system: "Tekton",
    crd: "pipelineruns.tekton.dev",
    controller: "tekton-pipelines-controller",
    namespace: "tekton-pipelines",
    hint: "install Tekton Pipelines (https://tekton.dev/docs/installation/pipelines/) to use `kubectl agents build`",
};

const ARGO: Optional = Optional {
    system: "Argo Workflows",
    crd: "workflows.argoproj.io",
    controller: "workflow-controller",
    namespace: "argo",
    hint: "install Argo Workflows (https://argo-workflows.readthedocs.io/en/latest/installation/) to run AgentWorkflows",
};

pub async fn tekton(client: &kube::Client) -> anyhow::Result<Vec<Check>> {
    optional(client, &TEKTON).await
}

pub async fn argo(client: &kube::Client) -> anyhow::Result<Vec<Check>> {
    optional(client, &ARGO).await
}

async fn optional(client: &kube::Client, system: &Optional) -> anyhow::Result<Vec<Check>> {
    let crd = get_crd(client, system.crd).await?;
    let params = ListParams::default().fields(&format!("metadata.name={}", system.controller));
    let controllers = find::<Deployment>(client, &params, system.namespace).await?;
    Ok(vec![optional_crd(system, crd), optional_controller(system, controllers)])
}

fn optional_crd(system: &Optional, found: Probe<Option<CustomResourceDefinition>>) -> Check {
    let name = format!("{} CRD", system.system);
    match found {
        Err(why) => not_checked(&name, false, &why),
        Ok(None) => Check::new(name, false, Status::Warn, format!("{} is not installed (optional)", system.crd))
            .hint(system.hint),
        Ok(Some(crd)) => {
            let served = served_versions(&crd);
            match established(&crd) {
                Ok(()) if !served.is_empty() => {
                    Check::new(name, false, Status::Ok, format!("{} served ({})", system.crd, served.join(", ")))
                }
                Ok(()) => {
                    Check::new(name, false, Status::Warn, format!("{} serves no version", system.crd)).hint(system.hint)
                }
                Err(why) => Check::new(name, false, Status::Warn, format!("{} is not Established: {why}", system.crd))
                    .hint(format!("see `kubectl describe crd {}`", system.crd)),
            }
        }
    }
}

fn optional_controller(system: &Optional, found: Probe<(Vec<Deployment>, Option<String>)>) -> Check {
    let name = format!("{} controller", system.system);
    let (deployments, only_in) = match found {
        Err(why) => return not_checked(&name, false, &why),
        Ok(found) => found,
    };
    let Some(deployment) = deployments.iter().max_by_key(|d| ready_replicas(d).0) else {
        let place = match &only_in {
            Some(namespace) => format!("in namespace {namespace} (the only one you may list Deployments in)"),
            None => "in any namespace".into(),
        };
        let status = if only_in.is_some() { Status::Unknown } else { Status::Warn };
        return Check::new(name, false, status, format!("no Deployment {} {place} (optional)", system.controller))
            .hint(system.hint);
    };
    let (ready, wanted) = ready_replicas(deployment);
    let detail =
        format!("{ready}/{wanted} ready, deployment {} in namespace {}", name_of(deployment), namespace_of(deployment));
    if ready == 0 {
        return Check::new(name, false, Status::Warn, detail).hint(format!(
            "see `kubectl -n {} describe deployment {}`",
            namespace_of(deployment),
            name_of(deployment)
        ));
    }
    Check::new(name, false, Status::Ok, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forbidden_probe_never_fails_an_optional_part() {
        let optional = optional_controller(&TEKTON, Err("forbidden: nope".into()));
        assert_eq!(optional.status, Status::Unknown);
        assert!(optional.passes(), "optional parts never fail the check");
    }

    #[test]
    fn optional_parts_only_warn() {
        let missing = optional_controller(&ARGO, Ok((vec![], None)));
        assert_eq!(missing.status, Status::Warn);
        assert!(missing.detail.contains("no Deployment workflow-controller in any namespace"));
        assert!(missing.hint.as_deref().unwrap().contains("AgentWorkflows"));
        assert!(missing.passes());
        let absent = optional_crd(&TEKTON, Ok(None));
        assert_eq!(absent.status, Status::Warn);
        assert!(absent.hint.as_deref().unwrap().contains("kubectl agents build"));
    }
}

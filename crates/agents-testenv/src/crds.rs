//! The ecosystem's CRDs, from the pinned upstream modules' own release manifests, so Tekton
//! PipelineRuns and Argo Workflows are validated by their real schemas.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::try_join_all;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::conditions;
use serde::Deserialize;

use crate::tools::{ARGO, KWOK_STAGES, ManifestSource, PROMETHEUS_OPERATOR, TEKTON};
use crate::{Error, gobuild, wait};

/// Field manager of everything the test environment applies.
pub const FIELD_MANAGER: &str = "agents-testenv";

/// One set of CRD files from an upstream module.
#[derive(Debug, Clone, Copy)]
pub struct CrdSet {
    pub name: &'static str,
    source: &'static ManifestSource,
    files: &'static [&'static str],
}

/// Tekton Pipelines: every CRD its controller watches.
pub const TEKTON_CRDS: CrdSet = CrdSet {
    name: "Tekton Pipelines",
    source: &TEKTON,
    files: &[
        "config/300-crds/300-customrun.yaml",
        "config/300-crds/300-pipeline.yaml",
        "config/300-crds/300-pipelinerun.yaml",
        "config/300-crds/300-resolutionrequest.yaml",
        "config/300-crds/300-stepaction.yaml",
        "config/300-crds/300-task.yaml",
        "config/300-crds/300-taskrun.yaml",
        "config/300-crds/300-verificationpolicy.yaml",
    ],
};

/// Argo Workflows: the full schema for the kinds the operator creates (Workflow, CronWorkflow) and
/// for the task results and task sets tests write; the minimal one for the templates it never
/// uses, whose full schemas would cost the API server hundreds of MiB for nothing.
pub const ARGO_CRDS: CrdSet = CrdSet {
    name: "Argo Workflows",
    source: &ARGO,
    files: &[
        "manifests/base/crds/full/argoproj.io_workflows.yaml",
        "manifests/base/crds/full/argoproj.io_cronworkflows.yaml",
        "manifests/base/crds/full/argoproj.io_workflowtaskresults.yaml",
        "manifests/base/crds/full/argoproj.io_workflowtasksets.yaml",
        "manifests/base/crds/full/argoproj.io_workflowartifactgctasks.yaml",
        "manifests/base/crds/full/argoproj.io_workfloweventbindings.yaml",
        "manifests/base/crds/minimal/argoproj.io_workflowtemplates.yaml",
        "manifests/base/crds/minimal/argoproj.io_clusterworkflowtemplates.yaml",
    ],
};

/// The ServiceMonitor CRD alone: the operator renders a ServiceMonitor only where it is served,
/// so tests install it when they need it.
pub const SERVICE_MONITOR_CRDS: CrdSet = CrdSet {
    name: "prometheus-operator ServiceMonitor",
    source: &PROMETHEUS_OPERATOR,
    files: &["example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"],
};

/// KWOK's own `PortForward`: kwok (started with `--enable-crds=PortForward`) watches these
/// objects, so a test can route `kubectl port-forward` to a fake pod into a listener of its own
/// (see `kwok::forward_pod`). Standalone kwok does not install the CRD itself (only kwokctl
/// does); every cluster gets it before kwok starts, so kwok's watch starts without retries.
pub const KWOK_CRDS: CrdSet = CrdSet {
    name: "KWOK PortForward",
    source: &KWOK_STAGES,
    files: &["kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml"],
};

impl CrdSet {
    /// Reads the set's CRDs from the module (downloading it into Go's module cache if needed).
    pub fn load(&self, cache: &Path) -> Result<Vec<CustomResourceDefinition>, Error> {
        let dir = gobuild::module_dir(self.source, cache)?;
        let mut crds = Vec::new();
        for file in self.files {
            crds.extend(read_crds(&dir.join(file))?);
        }
        Ok(crds)
    }
}

fn read_crds(path: &PathBuf) -> Result<Vec<CustomResourceDefinition>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read the CRD file", path, e))?;
    let mut crds = Vec::new();
    for document in serde_norway::Deserializer::from_str(&text) {
        let value = serde_json::Value::deserialize(document)
            .map_err(|e| Error::Manifest { path: path.clone(), detail: e.to_string() })?;
        if value.is_null() {
            continue;
        }
        crds.push(
            serde_json::from_value(value).map_err(|e| Error::Manifest { path: path.clone(), detail: e.to_string() })?,
        );
    }
    Ok(crds)
}

/// Server-side applies `crds` (client-side apply fails on Argo's: the last-applied annotation
/// would exceed 256 KiB) and waits until each is Established.
pub async fn apply(client: &kube::Client, crds: Vec<CustomResourceDefinition>) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    try_join_all(crds.into_iter().map(|crd| {
        let api = api.clone();
        let params = params.clone();
        async move {
            let name = crd.metadata.name.clone().unwrap_or_default();
            api.patch(&name, &params, &Patch::Apply(&crd))
                .await
                .map_err(|e| Error::kube(format!("apply the CRD {name}"), e))?;
            let what = format!("the CRD {name} to become Established");
            let hint = "the API server may be overloaded; see its log in the cluster directory";
            wait::until(api, &name, conditions::is_crd_established(), Duration::from_secs(60), what, hint).await
        }
    }))
    .await?;
    Ok(())
}

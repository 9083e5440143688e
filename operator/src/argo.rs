//! Argo Workflows may not be installed. This follows the `workflows.argoproj.io` CRD: while it is
//! served, the operator caches the Workflows and CronWorkflows it created (by label) and maps
//! their changes to the AgentWorkflow they belong to; when it appears or goes, every
//! AgentWorkflow is reconciled again. (Argo installs both CRDs together.)

use agents_api::AgentWorkflow;
use agents_render::workflow::argo::{WORKFLOW_LABEL, cron_workflow_resource, workflow_resource};
use futures::Stream;
use kube::api::DynamicObject;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::cache;
use crate::optional::{self, Crd, Optional};

pub const CRD_NAME: &str = "workflows.argoproj.io";

/// The caches of the operator's Argo objects, while the cluster serves them.
#[derive(Clone)]
pub struct Caches {
    pub workflows: Store<DynamicObject>,
    pub cron_workflows: Store<DynamicObject>,
}

/// Shared view of Argo in the cluster.
pub type Argo = Optional<Caches>;

/// Follows the CRD until the operator stops. Returns the shared view, a stream that fires when
/// every AgentWorkflow must be reconciled (Argo came or went), and one of AgentWorkflows whose
/// runs or CronWorkflow changed (by the `agents.dev/workflow` label, so runs a CronWorkflow
/// starts count too).
pub fn follow(
    client: kube::Client,
    namespace: Option<String>,
) -> (Argo, impl Stream<Item = ()> + Send + 'static, impl Stream<Item = ObjectRef<AgentWorkflow>> + Send + 'static) {
    let crd = Crd {
        name: CRD_NAME,
        served: "the cluster serves Argo Workflows: AgentWorkflows can run",
        not_served: "the cluster does not serve Argo Workflows",
    };
    optional::follow(client, crd, move |client| {
        let owner = |object: &DynamicObject| optional::owner_by_label(object, WORKFLOW_LABEL);
        let ns = namespace.as_deref();
        let prune = cache::prune_metadata;
        let (workflows, workflow_changes) =
            optional::cache(client, ns, workflow_resource(), WORKFLOW_LABEL, prune, owner);
        let (cron_workflows, cron_changes) =
            optional::cache(client, ns, cron_workflow_resource(), WORKFLOW_LABEL, prune, owner);
        (Caches { workflows, cron_workflows }, vec![workflow_changes, cron_changes])
    })
}

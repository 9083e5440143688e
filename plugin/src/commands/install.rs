//! `kubectl agents install [--crds-only] [--follow-secrets] [--dry-run] [--wait]` and `kubectl
//! agents uninstall [--crds] [--yes] [--wait]`: the CRDs and the operator embedded in the plugin
//! (see `manifests`), so the plugin installs the operator of its own version.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use agents_api::Agent;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::wait::{Condition, await_condition, conditions};

use super::apply::FIELD_MANAGER;
use crate::error::{Explained, explain};
use crate::manifests::{self, NAMESPACE, OPERATOR_NAME, Object};
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Install only the CRDs (when the operator runs elsewhere, e.g. on a developer machine).
    #[arg(long)]
    pub crds_only: bool,
    /// Run the operator with --follow-secrets: pods roll when a Secret they read changes. It
    /// may then list and watch Secrets (it keeps a digest of each, not their contents). An
    /// install without this flag takes both away again.
    #[arg(long)]
    pub follow_secrets: bool,
    /// Print the manifests (multi-document YAML) instead of installing them; contacts nothing.
    /// With --follow-secrets, the two objects it changes are printed as they will be applied.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until the operator's Deployment is available.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait for the CRDs to be established, and with --wait for the operator.
    #[arg(long, default_value = "5m", value_parser = crate::flags::parse_duration)]
    pub timeout: Duration,
}

#[derive(clap::Args, Debug)]
pub struct UninstallArgs {
    /// Also delete the agents.dev CRDs, and with them every Agent in the cluster.
    #[arg(long)]
    pub crds: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Wait until everything deleted is gone.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = crate::flags::parse_duration)]
    pub timeout: Duration,
}

impl InstallArgs {
    /// Refuses what cannot be installed as asked.
    fn check(&self) -> Result<(), Explained> {
        if self.crds_only && self.follow_secrets {
            return Err(Explained(
                "--crds-only installs no operator to follow Secrets: drop --crds-only to install the operator with \
                 --follow-secrets, or start the operator you run yourself with --follow-secrets (and grant it list \
                 and watch on secrets)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The operator's objects this install applies, in order.
    fn operator(&self) -> anyhow::Result<Vec<Object>> {
        let objects = manifests::operator();
        Ok(if self.follow_secrets { manifests::follow_secrets(objects)? } else { objects })
    }
}

/// `install --dry-run`: the manifests, printed; needs no cluster (nor a kubeconfig).
pub fn dry_run(args: &InstallArgs) -> anyhow::Result<ExitCode> {
    args.check()?;
    print!("{}", dry_run_stream(args)?);
    Ok(ExitCode::SUCCESS)
}

/// The files as they are, comments included; with --follow-secrets, what will be applied.
fn dry_run_stream(args: &InstallArgs) -> anyhow::Result<String> {
    if args.crds_only {
        return Ok(manifests::yaml(manifests::CRDS));
    }
    let files = [manifests::CRDS, manifests::OPERATOR].concat();
    if !args.follow_secrets {
        return Ok(manifests::yaml(&files));
    }
    let objects = [manifests::crds(), args.operator()?].concat();
    manifests::yaml_of(manifests::FOLLOW_SECRETS_HEADER, &files, &objects)
}

pub async fn install(session: &Session, args: InstallArgs) -> anyhow::Result<ExitCode> {
    if args.dry_run {
        return dry_run(&args);
    }
    args.check()?;
    let operator = args.operator()?;
    let deadline = Instant::now() + args.timeout;
    // Force: the installed objects are the plugin's; an install (or an upgrade) makes them what
    // this version ships, whoever edited them since.
    let params = PatchParams::apply(FIELD_MANAGER).force();

    let crds = manifests::crds();
    for crd in &crds {
        apply(session, crd, &params).await?;
    }
    let api: Api<CustomResourceDefinition> = Api::all(session.client.clone());
    for crd in &crds {
        let established = wait_until(&api, crd.name(), deadline, conditions::is_crd_established()).await;
        if established.is_err() {
            return Err(Explained(format!(
                "the CRD {} is not Established after {:?}: see `kubectl describe crd {}`",
                crd.name(),
                args.timeout,
                crd.name()
            ))
            .into());
        }
    }
    if args.crds_only {
        eprintln!(
            "CRDs installed; run the operator yourself (agents-operator --kubeconfig …), or `kubectl agents install` to run it in the cluster."
        );
        return Ok(ExitCode::SUCCESS);
    }

    // Every install applies as the same field manager, so one without --follow-secrets takes that
    // rule and flag away again: server-side apply removes what the manager no longer applies.
    for object in operator {
        if object.kind() == "Namespace" {
            wait_for_namespace_deletion(session, object.name(), deadline, args.timeout).await?;
        }
        apply(session, &object, &params).await?;
    }
    if args.wait {
        let deployments: Api<Deployment> = Api::namespaced(session.client.clone(), NAMESPACE);
        eprintln!("Waiting for deployment {OPERATOR_NAME} in {NAMESPACE} to be available…");
        if wait_until(&deployments, OPERATOR_NAME, deadline, is_available).await.is_err() {
            let current = deployments.get_opt(OPERATOR_NAME).await.ok().flatten();
            return Err(Explained(format!(
                "the operator is not available after {:?} ({}): see `kubectl -n {NAMESPACE} describe deployment {OPERATOR_NAME}` and its pods' logs",
                args.timeout,
                replicas(current.as_ref())
            ))
            .into());
        }
        println!("deployment.apps/{OPERATOR_NAME} available");
    }
    let following = if args.follow_secrets { " (following Secrets)" } else { "" };
    eprintln!(
        "Installed the CRDs and the operator{following} of kubectl-agents {}: `kubectl agents check` tells whether the cluster is ready.",
        env!("CARGO_PKG_VERSION")
    );
    Ok(ExitCode::SUCCESS)
}

/// Server-side applies one object of the manifests and prints it like `apply` does.
async fn apply(session: &Session, object: &Object, params: &PatchParams) -> anyhow::Result<()> {
    let api = dynamic_api(session, object)?;
    api.patch(object.name(), params, &Patch::Apply(&object.value))
        .await
        .map_err(|e| Explained(format!("{}: {}", object.label(), explain(&anyhow::Error::new(e)))))?;
    println!("{} applied", object.label());
    Ok(())
}

fn dynamic_api(session: &Session, object: &Object) -> anyhow::Result<Api<DynamicObject>> {
    let (resource, namespaced) = object
        .resource()
        .ok_or_else(|| anyhow::anyhow!("{} ({}) is of a kind the plugin does not know", object.label(), object.file))?;
    Ok(if namespaced {
        Api::namespaced_with(session.client.clone(), object.namespace().unwrap_or(NAMESPACE), &resource)
    } else {
        Api::all_with(session.client.clone(), &resource)
    })
}

/// Nothing can be created in a namespace being deleted (after a recent uninstall): wait it out.
async fn wait_for_namespace_deletion(
    session: &Session,
    name: &str,
    deadline: Instant,
    timeout: Duration,
) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(session.client.clone());
    let Some(namespace) = api.get_opt(name).await? else { return Ok(()) };
    if namespace.metadata.deletion_timestamp.is_none() {
        return Ok(());
    }
    eprintln!("Namespace {name} is being deleted (an earlier uninstall): waiting until it is gone…");
    let uid = namespace.metadata.uid.unwrap_or_default();
    wait_until(&api, name, deadline, conditions::is_deleted(&uid)).await.map_err(|_| {
        Explained(format!(
            "namespace {name} is still being deleted after {timeout:?}: see `kubectl get namespace {name} -o yaml` for what holds it"
        ))
    })?;
    Ok(())
}

/// Waits until `condition` holds for the named object, or the deadline passes (Err).
async fn wait_until<K>(api: &Api<K>, name: &str, deadline: Instant, condition: impl Condition<K>) -> Result<(), ()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let remaining = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(remaining, await_condition(api.clone(), name, condition)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            tracing::debug!("waiting for {name}: {e}");
            Err(())
        }
        Err(_) => Err(()),
    }
}

/// The annotation that makes Kubernetes' CRD finalizer try again (see [`wait_for_crd_deletion`]).
pub const DELETION_RETRY_ANNOTATION: &str = "agents.dev/deletion-retry";
/// How often a CRD being deleted is looked at.
const CRD_POLL: Duration = Duration::from_millis(500);

/// Waits until the CRD is gone, or the deadline passes (Err).
///
/// Kubernetes' CRD finalizer can leave a CRD `Terminating` for up to five minutes: when its first
/// try to list the CRD's objects finds their cache re-initializing, it records
/// `InstanceDeletionFailed`, and its retry loses to that very status write (a conflict, which it
/// drops) and then ignores changes to its own condition, so only its informer's 5-minute resync
/// tries again (`crd_finalizer.go` in k8s.io/apiextensions-apiserver; operator-framework/
/// operator-controller#1437). Any other change requeues it: while a CRD says so, an annotation is
/// touched, once per look.
async fn wait_for_crd_deletion(session: &Session, name: &str, uid: &str, deadline: Instant) -> Result<(), ()> {
    let api: Api<CustomResourceDefinition> = Api::all(session.client.clone());
    let mut retries = 0;
    loop {
        match api.get_opt(name).await {
            Ok(None) => return Ok(()),
            Ok(Some(crd)) if crd.metadata.uid.as_deref() != Some(uid) => return Ok(()),
            Ok(Some(crd)) if finalizer_stalled(&crd) => {
                retries += 1;
                tracing::debug!(crd = name, retries, "the CRD finalizer could not list the objects: asking it again");
                let patch =
                    serde_json::json!({"metadata": {"annotations": {DELETION_RETRY_ANNOTATION: retries.to_string()}}});
                if let Err(e) = api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    tracing::debug!(crd = name, "could not annotate the CRD: {e}");
                }
            }
            Ok(Some(_)) => {}
            Err(e) => tracing::debug!(crd = name, "looking at the CRD: {e}"),
        }
        if Instant::now() + CRD_POLL > deadline {
            return Err(());
        }
        tokio::time::sleep(CRD_POLL).await;
    }
}

/// Whether the CRD finalizer's last try to delete the CRD's objects failed.
fn finalizer_stalled(crd: &CustomResourceDefinition) -> bool {
    let conditions = crd.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| {
        c.type_ == "Terminating" && c.status == "True" && c.reason.as_deref() == Some("InstanceDeletionFailed")
    })
}

/// What `kubectl rollout status` waits for: the current generation rolled out, every replica
/// updated and available, none of the old ones left.
fn is_available(deployment: Option<&Deployment>) -> bool {
    let Some(deployment) = deployment else { return false };
    let Some(status) = &deployment.status else { return false };
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let observed = status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    observed
        && updated >= wanted
        && status.replicas.unwrap_or(0) <= updated
        && status.available_replicas.unwrap_or(0) >= updated
}

fn replicas(deployment: Option<&Deployment>) -> String {
    let Some(deployment) = deployment else { return "the Deployment does not exist".into() };
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let ready = deployment.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    format!("{ready}/{wanted} replicas ready")
}

pub async fn uninstall(session: &Session, args: UninstallArgs) -> anyhow::Result<ExitCode> {
    let mut objects: Vec<Object> = manifests::operator().into_iter().rev().collect();
    let agents = if args.crds {
        objects.extend(manifests::crds());
        Some(count_agents(session).await)
    } else {
        None
    };
    let consequences = consequences(agents.as_ref());
    if !args.yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(Explained(format!(
                "not uninstalling without confirmation: {consequences} Pass --yes to confirm."
            ))
            .into());
        }
        let prompt = format!("{consequences} Continue?");
        if !dialoguer::Confirm::new().with_prompt(prompt).default(false).interact()? {
            eprintln!("Nothing removed.");
            return Ok(ExitCode::FAILURE);
        }
    }

    let mut deleted = Vec::new();
    for object in &objects {
        let api = dynamic_api(session, object)?;
        match api.delete(object.name(), &DeleteParams::background()).await {
            Ok(either) => {
                println!("{} deleted", object.label());
                let uid = either.left().and_then(|o| o.metadata.uid);
                deleted.push((object, api, uid));
            }
            Err(kube::Error::Api(status)) if status.code == 404 => println!("{} already absent", object.label()),
            Err(e) => {
                return Err(Explained(format!("{}: {}", object.label(), explain(&anyhow::Error::new(e)))).into());
            }
        }
    }
    if args.wait {
        let deadline = Instant::now() + args.timeout;
        for (object, api, uid) in &deleted {
            // Without a uid (deleted at once), any object of that name is a new one: gone.
            let gone = match uid {
                Some(uid) if object.kind() == "CustomResourceDefinition" => {
                    wait_for_crd_deletion(session, object.name(), uid, deadline).await
                }
                Some(uid) => wait_until(api, object.name(), deadline, conditions::is_deleted(uid)).await,
                None => Ok(()),
            };
            if gone.is_err() {
                return Err(Explained(format!(
                    "{} is still being deleted after {:?}: its finalizers may be waiting on something",
                    object.label(),
                    args.timeout
                ))
                .into());
            }
        }
    }
    if !args.crds {
        eprintln!("The CRDs and the Agents were kept: `kubectl agents uninstall --crds` removes them too.");
    }
    Ok(ExitCode::SUCCESS)
}

/// The Agents deleting the CRDs would delete.
#[derive(Debug, PartialEq, Eq)]
enum AgentCount {
    /// How many, and their namespaces.
    Counted { agents: usize, namespaces: Vec<String> },
    /// The CRD is not installed: there are none.
    NoCrd,
    /// Listing them failed (forbidden, say): why.
    Unknown(String),
}

async fn count_agents(session: &Session) -> AgentCount {
    let api: Api<Agent> = Api::all(session.client.clone());
    match api.list_metadata(&ListParams::default()).await {
        Ok(list) => {
            let namespaces: std::collections::BTreeSet<String> =
                list.items.iter().filter_map(|a| a.metadata.namespace.clone()).collect();
            AgentCount::Counted { agents: list.items.len(), namespaces: namespaces.into_iter().collect() }
        }
        Err(kube::Error::Api(status)) if status.code == 404 => AgentCount::NoCrd,
        Err(e) => AgentCount::Unknown(explain(&anyhow::Error::new(e))),
    }
}

/// What the uninstall will do, in a sentence (the prompt, or the refusal).
fn consequences(agents: Option<&AgentCount>) -> String {
    let operator = format!(
        "This removes the agents operator (the Deployment {OPERATOR_NAME}, its RBAC and the namespace {NAMESPACE})"
    );
    let Some(agents) = agents else {
        return format!(
            "{operator}; the agents.dev CRDs and the Agents stay, unreconciled until an operator runs again."
        );
    };
    let count = match agents {
        AgentCount::Counted { agents: 0, .. } | AgentCount::NoCrd => "there are none now".to_string(),
        AgentCount::Counted { agents, namespaces } => {
            let agents = if *agents == 1 { "1 Agent".to_string() } else { format!("{agents} Agents") };
            match namespaces.len() {
                1 => format!("{agents} now, in namespace {}", namespaces[0]),
                2..=3 => format!("{agents} now, in namespaces {}", namespaces.join(", ")),
                n => format!("{agents} now, in {n} namespaces"),
            }
        }
        AgentCount::Unknown(why) => format!("they could not be counted: {why}"),
    };
    format!(
        "{operator} and the agents.dev CRDs, which deletes every Agent in the cluster ({count}) with the Deployments, Services and ConfigMaps that run them."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(value: serde_json::Value) -> Deployment {
        serde_json::from_value(value).unwrap()
    }

    fn args(crds_only: bool, follow_secrets: bool) -> InstallArgs {
        InstallArgs { crds_only, follow_secrets, dry_run: true, wait: false, timeout: Duration::from_secs(1) }
    }

    #[test]
    fn follow_secrets_without_the_operator_is_refused() {
        let refused = args(true, true).check().unwrap_err().to_string();
        assert!(
            refused.starts_with("--crds-only installs no operator to follow Secrets: drop --crds-only"),
            "{refused}"
        );
        for (crds_only, follow_secrets) in [(false, false), (true, false), (false, true)] {
            assert!(args(crds_only, follow_secrets).check().is_ok());
        }
    }

    #[test]
    fn the_dry_run_prints_the_files_unless_secrets_are_followed() {
        let files = [manifests::CRDS, manifests::OPERATOR].concat();
        assert_eq!(dry_run_stream(&args(false, false)).unwrap(), manifests::yaml(&files));
        assert_eq!(dry_run_stream(&args(true, false)).unwrap(), manifests::yaml(manifests::CRDS));
        let followed = dry_run_stream(&args(false, true)).unwrap();
        assert!(followed.starts_with(manifests::FOLLOW_SECRETS_HEADER) && followed.contains("- --follow-secrets\n"));
        assert!(followed.contains("  - secrets\n  verbs:\n  - list\n  - watch\n"), "{followed}");
    }

    #[test]
    fn a_stalled_crd_finalizer_is_recognised_by_its_condition() {
        let crd = |reason: &str| -> CustomResourceDefinition {
            serde_json::from_value(json!({
                "metadata": {"name": "agents.agents.dev"},
                "spec": {"group": "agents.dev", "names": {"kind": "Agent", "plural": "agents"}, "scope": "Namespaced", "versions": []},
                "status": {"conditions": [{"type": "Terminating", "status": "True", "reason": reason,
                    "message": "could not list instances: storage is (re)initializing"}]},
            }))
            .unwrap()
        };
        assert!(finalizer_stalled(&crd("InstanceDeletionFailed")));
        assert!(!finalizer_stalled(&crd("InstanceDeletionInProgress")));
    }

    #[test]
    fn available_means_rolled_out_like_kubectl_rollout_status() {
        let rolled_out = json!({
            "metadata": {"generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2},
        });
        assert!(is_available(Some(&deployment(rolled_out.clone()))));
        let mut stale = rolled_out.clone();
        stale["status"]["observedGeneration"] = json!(1);
        assert!(!is_available(Some(&deployment(stale))));
        let mut rolling = rolled_out.clone();
        rolling["status"]["replicas"] = json!(3);
        assert!(!is_available(Some(&deployment(rolling))));
        let mut unavailable = rolled_out;
        unavailable["status"]["availableReplicas"] = json!(1);
        let unavailable = deployment(unavailable);
        assert!(!is_available(Some(&unavailable)));
        assert_eq!(replicas(Some(&unavailable)), "2/2 replicas ready");
        assert!(!is_available(None));
    }

    #[test]
    fn the_confirmation_says_what_goes() {
        let operator_only = consequences(None);
        assert!(
            operator_only.contains("namespace agents-system") && operator_only.contains("CRDs and the Agents stay")
        );
        let counted = |agents, namespaces: &[&str]| {
            consequences(Some(&AgentCount::Counted {
                agents,
                namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
            }))
        };
        let crds = counted(3, &["a", "b"]);
        assert!(crds.contains("deletes every Agent in the cluster (3 Agents now, in namespaces a, b)"), "{crds}");
        assert!(counted(1, &["team"]).contains("(1 Agent now, in namespace team)"));
        assert!(counted(9, &["a", "b", "c", "d"]).contains("(9 Agents now, in 4 namespaces)"));
        assert!(counted(0, &[]).contains("(there are none now)"));
        assert!(consequences(Some(&AgentCount::NoCrd)).contains("(there are none now)"));
        let unknown = consequences(Some(&AgentCount::Unknown("forbidden".into())));
        assert!(unknown.contains("every Agent in the cluster (they could not be counted: forbidden)"), "{unknown}");
    }
}

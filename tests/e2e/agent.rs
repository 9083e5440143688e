//! The Agent operator against the real control plane: an Agent becomes a running, observable
//! workload; its status tells the truth; its children follow its spec and go with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use agents_api::{Agent, AgentPhase};
use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, EnvVar, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::wait::conditions;
use libtest_mimic::Trial;
use serde_json::json;

use crate::support::{Ctx, Env, phase_is, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "agent",
        [
            becomes_ready_with_its_children,
            an_earlier_operators_status_is_tidied,
            deployment_follows_the_spec,
            optional_children_come_and_go,
            deleting_it_removes_its_children,
            unschedulable_pods_degrade_it,
            its_status_says_why_its_pods_do_not_run,
            pods_that_cannot_be_created_fail_it,
            restricted_namespaces_admit_its_pods,
            a_foreign_object_is_never_taken_over,
            peers_are_waited_for_and_resolved,
            unsupported_references_are_not_ignored,
            a_settled_agent_costs_no_writes,
            scale_subresource_and_autoscaler_own_replicas,
            hand_edits_to_its_children_are_reverted,
            a_child_the_api_server_refuses_is_reported,
            a_service_monitor_once_the_cluster_serves_them,
        ]
    )
}

const SAMPLE: &str = r#"
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata:
  name: research
spec:
  description: Finds and summarises papers
  instructions: You are a careful research assistant.
  image: ghcr.io/example/research-agent:v1
  model:
    provider: openai
    name: gpt-4o
    maxTokens: 4096
    temperature: 0.2
    apiKeySecretRef: {name: openai, key: api-key}
  config:
    memory: {kind: local}
  features: {reflection: true}
  agenticLoop: {maxSteps: 8, enableTools: true}
  replicas: 2
  healthCheck: {path: /health, intervalSeconds: 15}
"#;

fn ready_condition(agent: &Agent) -> (String, String) {
    let status = agent.status.as_ref().expect("a status");
    let ready = agents_api::conditions::find(&status.conditions, "Ready").expect("a Ready condition");
    (ready.reason.clone(), ready.message.clone())
}

fn env_of(deployment: &Deployment) -> Vec<EnvVar> {
    deployment.spec.template.spec.as_ref().unwrap().containers[0].env.clone().unwrap_or_default()
}

fn env_value<'a>(env: &'a [EnvVar], name: &str) -> Option<&'a str> {
    env.iter().find(|e| e.name == name).and_then(|e| e.value.as_deref())
}

async fn becomes_ready_with_its_children(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(SAMPLE).await?;
    let agents: Api<Agent> = ctx.api();
    let agent = ctx.wait_for(&agents, "research", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let uid = agent.metadata.uid.clone().unwrap();
    let status = agent.status.clone().unwrap();
    ensure!(status.ready_replicas == Some(2) && status.replicas == Some(2), "{status:?}");
    ensure!(status.endpoint.as_deref() == Some(&*format!("http://research.{}.svc.cluster.local", ctx.ns)));
    ensure!(status.image.as_deref() == Some("ghcr.io/example/research-agent:v1"));
    ensure!(status.observed_generation == agent.metadata.generation);
    ensure!(status.selector.as_deref() == Some("agents.dev/agent=research"));

    let owned = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta.owner_references.iter().flatten().any(|r| r.uid == uid && r.controller == Some(true) && r.kind == "Agent")
    };
    let account = ctx.api::<ServiceAccount>().get("research").await?;
    ensure!(owned(&account.metadata) && account.automount_service_account_token == Some(false));

    let config = ctx.api::<ConfigMap>().get("research").await?;
    ensure!(owned(&config.metadata));
    let file = &config.data.as_ref().context("no data")?["agent.yaml"];
    ensure!(file.contains("gpt-4o") && file.contains("kind: local"), "agent.yaml: {file}");
    ensure!(!file.contains("api-key"), "a secret reference leaked into the ConfigMap: {file}");

    let deployment = ctx.api::<Deployment>().get("research").await?;
    ensure!(owned(&deployment.metadata));
    let pod = deployment.spec.template.spec.as_ref().unwrap();
    ensure!(pod.service_account_name.as_deref() == Some("research"));
    ensure!(pod.automount_service_account_token == Some(false));
    let container = &pod.containers[0];
    let env = env_of(&deployment);
    ensure!(env_value(&env, "MODEL_NAME") == Some("gpt-4o"));
    ensure!(env_value(&env, "AGENT_INSTRUCTIONS") == Some("You are a careful research assistant."));
    ensure!(env_value(&env, "AGENTIC_LOOP_MAX_STEPS") == Some("8"));
    let key = env.iter().find(|e| e.name == "MODEL_API_KEY").context("no MODEL_API_KEY")?;
    let reference = key.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).context("not a secretKeyRef")?;
    ensure!(key.value.is_none() && reference.name == "openai" && reference.key == "api-key");
    let probe = container.readiness_probe.as_ref().context("no readiness probe")?;
    ensure!(probe.http_get.as_ref().and_then(|g| g.path.as_deref()) == Some("/health"));
    ensure!(probe.period_seconds == Some(15));
    let security = container.security_context.as_ref().context("no securityContext")?;
    ensure!(security.read_only_root_filesystem == Some(true) && security.allow_privilege_escalation == Some(false));

    let service = ctx.api::<Service>().get("research").await?;
    ensure!(owned(&service.metadata));
    let port = &service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    ensure!(port.port == 80, "{port:?}");

    // The pods are real (KWOK runs them): two, Ready, with the agent's labels.
    let pods = ctx.api::<Pod>().list(&ListParams::default().labels("agents.dev/agent=research")).await?;
    ensure!(pods.items.len() == 2, "expected 2 pods, found {}", pods.items.len());
    ctx.wait_for_event("research", "Normal Ready").await?;
    Ok(())
}

/// Earlier operators listed an Agent's children in its status and repeated the `Ready` reason
/// in a `DependenciesReady` condition. The schema still takes such a write (an older operator
/// may run while the operator is upgraded), and this operator's first write removes both: the
/// server-side apply drops what its field manager no longer applies.
async fn an_earlier_operators_status_is_tidied(ctx: Ctx) -> anyhow::Result<()> {
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: old}\nspec: {image: a:1}\n").await?;
    let agents: Api<Agent> = ctx.api();
    let at = "2026-12-01T00:00:00Z";
    let earlier = json!({
        "apiVersion": "agents.dev/v1alpha1", "kind": "Agent",
        "status": {
            "phase": "Pending",
            "children": [{"kind": "ServiceAccount", "name": "old"}, {"kind": "ConfigMap", "name": "old"}],
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "PodsStarting", "message": "creating the Deployment",
                 "lastTransitionTime": at},
                {"type": "DependenciesReady", "status": "True", "reason": "DependenciesReady",
                 "message": "the agent has no dependencies", "lastTransitionTime": at},
            ],
        },
    });
    let params = PatchParams::apply(agents_render::FIELD_MANAGER).force();
    let written = agents.patch_status("old", &params, &Patch::Apply(&earlier)).await?;
    ensure!(written.status.is_some_and(|s| s.children.len() == 2), "the schema no longer takes status.children");

    let _operator = ctx.operator(&[])?;
    let agent = ctx.wait_for(&agents, "old", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let status = agent.status.context("a status")?;
    let types: Vec<&str> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
    ensure!(status.children.is_empty() && types == ["Ready"], "children {:?}, conditions {types:?}", status.children);
    Ok(())
}

async fn deployment_follows_the_spec(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(SAMPLE).await?;
    let agents: Api<Agent> = ctx.api();
    let deployments: Api<Deployment> = ctx.api();
    ctx.wait_for(&agents, "research", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let before = deployments.get("research").await?;
    let hash = |d: &Deployment| {
        d.spec.template.metadata.as_ref().unwrap().annotations.as_ref().unwrap()["agents.dev/config-hash"].clone()
    };

    let patch = |spec: serde_json::Value| {
        let agents = agents.clone();
        async move { agents.patch("research", &PatchParams::default(), &Patch::Merge(json!({"spec": spec}))).await }
    };
    patch(json!({"replicas": 3})).await?;
    ctx.wait_for(&agents, "research", "3 ready replicas", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref())
            .is_some_and(|s| s.ready_replicas == Some(3) && s.phase == Some(AgentPhase::Ready))
    })
    .await?;
    ensure!(deployments.get("research").await?.spec.replicas == Some(3));

    patch(json!({"config": {"memory": {"kind": "redis"}}})).await?;
    let changed = ctx
        .wait_for(&deployments, "research", "a new config hash", |d: Option<&Deployment>| {
            d.is_some_and(|d| hash(d) != hash(&before))
        })
        .await?;
    let config = ctx.api::<ConfigMap>().get("research").await?;
    ensure!(config.data.unwrap()["agent.yaml"].contains("redis"));
    ensure!(changed.metadata.generation > before.metadata.generation, "the pods were not rolled");

    patch(json!({"image": "ghcr.io/example/research-agent:v2"})).await?;
    ctx.wait_for(&agents, "research", "status.image v2 and Ready", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref()).is_some_and(|s| {
            s.image.as_deref() == Some("ghcr.io/example/research-agent:v2") && s.phase == Some(AgentPhase::Ready)
        })
    })
    .await?;

    patch(json!({"replicas": 0})).await?;
    let stopped = ctx.wait_for(&agents, "research", "phase Stopped", phase_is(AgentPhase::Stopped)).await?;
    ensure!(ready_condition(&stopped).0 == "Stopped");
    ensure!(deployments.get("research").await?.spec.replicas == Some(0));
    ctx.wait_for(&agents, "research", "no pods left", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref()).is_some_and(|s| s.replicas == Some(0))
    })
    .await?;
    Ok(())
}

async fn optional_children_come_and_go(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        r#"
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: helper}
spec:
  image: ghcr.io/example/helper:v1
  autoscaling: {minReplicas: 2, maxReplicas: 5, targetCPUUtilization: 70}
  disruptionBudget: {maxUnavailable: 1}
  networkPolicy:
    ingress: [{from: [{podSelector: {matchLabels: {role: gateway}}}]}]
    egress: []
"#,
    )
    .await?;
    let hpas: Api<HorizontalPodAutoscaler> = ctx.api();
    let pdbs: Api<PodDisruptionBudget> = ctx.api();
    let policies: Api<NetworkPolicy> = ctx.api();
    ctx.wait_for(&hpas, "helper", "the HPA", conditions::is_created()).await?;
    ctx.wait_for(&pdbs, "helper", "the PDB", conditions::is_created()).await?;
    let policy = ctx.wait_for(&policies, "helper", "the NetworkPolicy", conditions::is_created()).await?;
    let types = policy.spec.unwrap().policy_types.unwrap_or_default();
    ensure!(types == ["Ingress", "Egress"], "{types:?}");
    let hpa = hpas.get("helper").await?;
    ensure!(hpa.spec.min_replicas == Some(2) && hpa.spec.max_replicas == 5);

    // Turned off in the spec: removed from the cluster.
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: helper}\nspec: {image: ghcr.io/example/helper:v1}\n")
        .await?;
    ctx.wait_gone(&hpas, "helper").await?;
    ctx.wait_gone(&pdbs, "helper").await?;
    ctx.wait_gone(&policies, "helper").await?;
    Ok(())
}

async fn deleting_it_removes_its_children(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(SAMPLE).await?;
    let agents: Api<Agent> = ctx.api();
    let agent = ctx.wait_for(&agents, "research", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    ensure!(agent.metadata.uid.is_some());
    agents.delete("research", &DeleteParams::foreground()).await?;
    ctx.wait_gone(&agents, "research").await?;
    // Foreground deletion finishes once the children are gone (blockOwnerDeletion).
    ensure!(ctx.api::<Deployment>().get_opt("research").await?.is_none(), "the Deployment outlived its Agent");
    ensure!(ctx.api::<Service>().get_opt("research").await?.is_none(), "the Service outlived its Agent");
    ensure!(ctx.api::<ConfigMap>().get_opt("research").await?.is_none(), "the ConfigMap outlived its Agent");
    ensure!(ctx.api::<ServiceAccount>().get_opt("research").await?.is_none(), "the ServiceAccount outlived its Agent");
    Ok(())
}

/// Each KWOK node offers 1000 CPUs: three pods asking 600 each leave one unschedulable.
async fn unschedulable_pods_degrade_it(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        r#"
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: hungry}
spec:
  image: ghcr.io/example/hungry:v1
  replicas: 3
  resources: {requests: {cpu: "600"}}
"#,
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    let agent = ctx
        .wait_for(&agents, "hungry", "Degraded with the 2 pods that fit", |a: Option<&Agent>| {
            a.and_then(|a| a.status.as_ref())
                .is_some_and(|s| s.phase == Some(AgentPhase::Degraded) && s.ready_replicas == Some(2))
        })
        .await?;
    // The scheduler's own words, from the pod that does not fit.
    let (reason, message) = ready_condition(&agent);
    ensure!(
        reason == "Unschedulable" && message.contains("2/3") && message.contains("Insufficient cpu"),
        "{reason}: {message}"
    );
    Ok(())
}

/// What the kubelet says of a pod that does not run reaches the Agent's status and `get -o
/// wide` (KWOK plays each state through the stages in agents-testenv's `stages/pod-faults.yaml`,
/// chosen by image or by the Secret's name), and goes when the pods are fixed.
async fn its_status_says_why_its_pods_do_not_run(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let agent = |name: &str, spec: &str| {
        format!("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: {name}}}\nspec: {spec}\n---\n")
    };
    let fault = |name| format!("{{image: faults.kwok.invalid/{name}:1}}");
    let manifests = [
        agent("pull", &fault("image-pull-backoff")),
        agent("crash", &fault("crash-loop")),
        agent("oom", &fault("oom-killed")),
        agent(
            "keyless",
            "{image: ghcr.io/example/a:v1, model: {provider: openai, name: gpt-4o, \
             apiKeySecretRef: {name: absent-secret, key: api-key}}}",
        ),
    ];
    ctx.apply_yaml(&manifests.concat()).await?;
    let agents: Api<Agent> = ctx.api();
    let expected = [
        (
            "pull",
            AgentPhase::Failed,
            "ImagePullBackOff",
            "Back-off pulling image \"faults.kwok.invalid/image-pull-backoff:1\"",
        ),
        ("crash", AgentPhase::Failed, "CrashLoopBackOff", "keeps exiting (last exit code 1 (Error))"),
        ("oom", AgentPhase::Failed, "OOMKilled", "raise its memory limit"),
        ("keyless", AgentPhase::Waiting, "CreateContainerConfigError", "secret \"absent-secret\" not found"),
    ];
    for (name, phase, reason, words) in expected {
        let agent = ctx.wait_for(&agents, name, &format!("phase {phase}"), phase_is(phase)).await?;
        let (said_reason, message) = ready_condition(&agent);
        ensure!(said_reason == reason && message.contains(words), "{name}: {said_reason}: {message}");
        ensure!(message.starts_with("0/1 pods ready: pod "), "{name} names the pod: {message}");
    }
    let wide = ctx.agents_ok(&["get", "agents", "-o", "wide"])?;
    let row = |name: &str| wide.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_default().to_string();
    ensure!(row("crash").contains("Failed") && row("crash").contains("CrashLoopBackOff"), "{wide}");
    ensure!(row("keyless").contains("Waiting") && row("keyless").contains("CreateContainerConfigError"), "{wide}");
    ctx.wait_for_event("pull", "Warning Failed").await?;
    // `status` puts the same reasons on one screen, and exits 1 while anything needs attention.
    let output = crate::support::output_within(&mut ctx.agents(&["status"]))?;
    let screen = crate::support::text(&output.stdout);
    ensure!(output.status.code() == Some(1), "status exited {:?}:\n{screen}", output.status.code());
    let line = |name: &str| screen.lines().find(|l| l.starts_with(&format!("Agent   {name} "))).unwrap_or_default();
    ensure!(line("oom").contains("Failed") && line("oom").contains("OOMKilled: 0/1 pods ready"), "{screen}");
    ensure!(screen.contains("4 of 4 objects need attention"), "{screen}");

    // A good image replaces the pod that could not pull, and the problem goes with it.
    agents
        .patch(
            "pull",
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(json!({
                "apiVersion": "agents.dev/v1alpha1", "kind": "Agent", "spec": {"image": "ghcr.io/example/a:v2"},
            })),
        )
        .await?;
    ctx.wait_for(&agents, "pull", "Ready with every pod updated", |a: Option<&Agent>| {
        a.is_some_and(|a| a.status.is_some() && ready_condition(a).0 == "Ready")
    })
    .await?;
    Ok(())
}

/// A quota that allows no pods: the ReplicaSet cannot create any, and the Agent says why.
async fn pods_that_cannot_be_created_fail_it(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: no-pods}\nspec: {hard: {pods: \"0\"}}\n")
        .await?;
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: blocked}\nspec: {image: ghcr.io/example/a:v1}\n")
        .await?;
    let agents: Api<Agent> = ctx.api();
    let agent = ctx.wait_for(&agents, "blocked", "phase Failed", phase_is(AgentPhase::Failed)).await?;
    let (reason, message) = ready_condition(&agent);
    ensure!(reason == "PodsCannotBeCreated" && message.contains("exceeded quota"), "{reason}: {message}");
    ctx.wait_for_event("blocked", "Warning Failed").await?;
    Ok(())
}

/// The real PodSecurity admission plugin, enforcing `restricted`, admits the agent's pods.
async fn restricted_namespaces_admit_its_pods(ctx: Ctx) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let label = json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }}});
    namespaces.patch(&ctx.ns, &PatchParams::default(), &Patch::Merge(label)).await?;
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(SAMPLE).await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "research", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    Ok(())
}

async fn a_foreign_object_is_never_taken_over(ctx: Ctx) -> anyhow::Result<()> {
    ctx.apply_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: taken}\ndata: {precious: \"yes\"}\n").await?;
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: taken}\nspec: {image: ghcr.io/example/a:v1}\n",
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    let agent = ctx.wait_for(&agents, "taken", "phase Failed", phase_is(AgentPhase::Failed)).await?;
    let (reason, message) = ready_condition(&agent);
    ensure!(reason == "ChildConflict" && message.contains("ConfigMap taken already exists"), "{reason}: {message}");
    let config = ctx.api::<ConfigMap>().get("taken").await?;
    ensure!(config.data.unwrap().get("precious").map(String::as_str) == Some("yes"), "the ConfigMap was changed");
    ensure!(config.metadata.owner_references.is_none(), "the ConfigMap was adopted");
    ensure!(
        ctx.api::<Deployment>().get_opt("taken").await?.is_none(),
        "pods were started with a configuration that is not the Agent's"
    );

    // Once the foreign object is gone, the Agent comes up on its own.
    ctx.api::<ConfigMap>().delete("taken", &DeleteParams::default()).await?;
    ctx.wait_for(&agents, "taken", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    Ok(())
}

async fn peers_are_waited_for_and_resolved(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: lead}\n\
         spec: {image: ghcr.io/example/a:v1, peers: [{name: writer-bot}]}\n",
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    let waiting = ctx.wait_for(&agents, "lead", "phase Waiting", phase_is(AgentPhase::Waiting)).await?;
    let (reason, message) = ready_condition(&waiting);
    ensure!(
        reason == "DependenciesNotReady" && message.contains("Agent writer-bot does not exist"),
        "{reason}: {message}"
    );
    ensure!(
        ctx.api::<Deployment>().get_opt("lead").await?.is_none(),
        "a Deployment was created before its peer existed"
    );

    // The peer lists the lead back: a cycle must not deadlock.
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: writer-bot}\n\
         spec: {image: ghcr.io/example/a:v1, peers: [{name: lead}]}\n",
    )
    .await?;
    ctx.wait_for(&agents, "lead", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    ctx.wait_for(&agents, "writer-bot", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let env = env_of(&ctx.api::<Deployment>().get("lead").await?);
    ensure!(env_value(&env, "PEER_AGENTS") == Some("writer-bot"));
    let card = format!("http://writer-bot.{}.svc.cluster.local/.well-known/agent-card.json", ctx.ns);
    ensure!(env_value(&env, "PEER_AGENT_WRITER_BOT_CARD_URL") == Some(card.as_str()), "{env:?}");
    Ok(())
}

async fn unsupported_references_are_not_ignored(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: gated}\n\
         spec: {image: ghcr.io/example/a:v1, model: {name: m, modelAPIRef: {name: gateway}}, mcpServers: [{name: github}]}\n",
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    let agent = ctx.wait_for(&agents, "gated", "phase Waiting", phase_is(AgentPhase::Waiting)).await?;
    let (_, message) = ready_condition(&agent);
    ensure!(message.contains("ModelAPI gateway") && message.contains("MCPServer github"), "{message}");
    Ok(())
}

/// Once settled, a reconcile (forced by touching the Agent's annotations) writes nothing.
async fn a_settled_agent_costs_no_writes(ctx: Ctx) -> anyhow::Result<()> {
    let operator = ctx.operator(&[])?;
    ctx.apply_yaml(SAMPLE).await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "research", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    // The Ready event is the last write of the rollout; the operator counts an Event once the API
    // server has answered, a moment after a list can show it.
    ctx.wait_for_event("research", "Normal Ready").await?;
    let by_name = ListParams::default().fields("regarding.name=research,reportingController=agents-operator");
    let published = ctx.api::<Event>().list(&by_name).await?.items.len() as f64;
    operator
        .wait_for_metrics(&[(r#"agents_operator_api_writes_total{kind="Event",verb="create"}"#, published)])
        .await?;
    let writes = operator.writes()?;
    // Counted when a reconcile ends, so a rise means the touch's reconcile has written all it would.
    let finished = "agents_operator_reconcile_duration_seconds_count{kind=\"Agent\"}";
    let reconciles = operator.metric(finished)?;
    agents
        .patch(
            "research",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"touched": "1"}}})),
        )
        .await?;
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    while operator.metric(finished)? <= reconciles {
        ensure!(std::time::Instant::now() < deadline, "the touch did not cause a reconcile");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let after = operator.writes()?;
    ensure!(after == writes, "a settled reconcile wrote {} times", after - writes);
    Ok(())
}

/// `kubectl scale` on the Agent (its scale subresource) sets spec.replicas; with autoscaling the
/// operator leaves the Deployment's replica count to the HPA.
async fn scale_subresource_and_autoscaler_own_replicas(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: elastic}\nspec: {image: ghcr.io/example/a:v1, replicas: 1}\n")
        .await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "elastic", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    crate::support::run_ok(ctx.kubectl().args(["scale", "-n", &ctx.ns, "agents.agents.dev/elastic", "--replicas=3"]))?;
    ctx.wait_for(&agents, "elastic", "3 ready", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref()).is_some_and(|s| s.ready_replicas == Some(3))
    })
    .await?;

    // Autoscaled: the count in the Deployment belongs to whoever scales it, not to the operator.
    let deployments: Api<Deployment> = ctx.api();
    agents
        .patch(
            "elastic",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": null, "autoscaling": {"minReplicas": 1, "maxReplicas": 4}}})),
        )
        .await?;
    ctx.wait_for(&ctx.api::<HorizontalPodAutoscaler>(), "elastic", "the HPA", conditions::is_created()).await?;
    // The HPA and the Deployment are applied in one pass, not atomically: wait for the Deployment's turn.
    let operator_owns_replicas = |deployment: &Deployment| {
        deployment.metadata.managed_fields.iter().flatten().any(|m| {
            m.manager.as_deref() == Some("agents-operator")
                && m.fields_v1.as_ref().is_some_and(|f| f.0.pointer("/f:spec/f:replicas").is_some())
        })
    };
    let deployment = ctx
        .wait_for(&deployments, "elastic", "the operator to release spec.replicas", |d: Option<&Deployment>| {
            d.is_some_and(|d| !operator_owns_replicas(d))
        })
        .await?;
    let managers: BTreeMap<String, bool> = deployment
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            let owns_replicas = m.fields_v1.as_ref().is_some_and(|f| f.0.pointer("/f:spec/f:replicas").is_some());
            (m.manager.clone().unwrap_or_default(), owns_replicas)
        })
        .collect();
    ensure!(
        managers.get("agents-operator") == Some(&false),
        "the operator no longer applies the Deployment: {managers:?}"
    );
    Ok(())
}

/// `ReplicaSet`s are listed to prove a restart did not double anything.
pub async fn replica_sets(ctx: &Ctx, agent: &str) -> anyhow::Result<usize> {
    let sets =
        ctx.api::<ReplicaSet>().list(&ListParams::default().labels(&format!("agents.dev/agent={agent}"))).await?;
    Ok(sets.items.len())
}

/// `kubectl scale` and `kubectl set image` on the Deployment of an Agent that owns its replica
/// count: the operator puts both back. Without spec.replicas, scaling the Deployment sticks.
async fn hand_edits_to_its_children_are_reverted(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(SAMPLE).await?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: free}\nspec: {image: ghcr.io/example/a:v1}\n",
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "research", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    ctx.wait_for(&agents, "free", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let deployments: Api<Deployment> = ctx.api();
    let kubectl = |args: &[&str]| {
        let mut command = ctx.kubectl();
        command.args(args).args(["-n", &ctx.ns]);
        crate::support::run_ok(&mut command)
    };
    kubectl(&["scale", "deployment/research", "--replicas=5"])?;
    kubectl(&["set", "image", "deployment/research", "agent=evil:1"])?;
    ctx.wait_for(&deployments, "research", "replicas and image put back", |d: Option<&Deployment>| {
        d.is_some_and(|d| {
            d.spec.replicas == Some(2)
                && d.spec.template.spec.as_ref().unwrap().containers[0].image.as_deref()
                    == Some("ghcr.io/example/research-agent:v1")
        })
    })
    .await?;
    let configs: Api<ConfigMap> = ctx.api();
    configs
        .patch("research", &PatchParams::default(), &Patch::Merge(json!({"data": {"agent.yaml": "tampered"}})))
        .await?;
    ctx.wait_for(&configs, "research", "the configuration put back", |c: Option<&ConfigMap>| {
        c.and_then(|c| c.data.as_ref()).is_some_and(|d| d["agent.yaml"].contains("gpt-4o"))
    })
    .await?;

    kubectl(&["scale", "deployment/free", "--replicas=3"])?;
    ctx.wait_for(&agents, "free", "3 ready", |a: Option<&Agent>| {
        a.and_then(|a| a.status.as_ref()).is_some_and(|s| s.ready_replicas == Some(3))
    })
    .await?;
    ensure!(deployments.get("free").await?.spec.replicas == Some(3), "the operator fought kubectl scale");
    Ok(())
}

/// A valid Agent whose child the API server refuses (the namespace's quota allows no Deployment,
/// as a cluster's own policy may refuse what the schema cannot foresee): the Agent says so, in
/// one sentence.
async fn a_child_the_api_server_refuses_is_reported(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.limit_deployments(0).await?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: greedy}\nspec: {image: ghcr.io/example/a:v1}\n",
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    let agent = ctx.wait_for(&agents, "greedy", "phase Failed", phase_is(AgentPhase::Failed)).await?;
    let (reason, message) = ready_condition(&agent);
    ensure!(reason == "ReconcileFailed" && message.contains("Deployment greedy"), "{reason}: {message}");
    ensure!(!message.contains("Status {") && !message.contains('\n'), "not one readable sentence: {message}");
    ctx.wait_for_event("greedy", "Warning Failed").await?;
    Ok(())
}

/// Monitoring asked for on a cluster without the Prometheus Operator's CRD: the Agent runs and
/// says what is missing; once the CRD is installed, its ServiceMonitor appears by itself.
async fn a_service_monitor_once_the_cluster_serves_them(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: watched}\n\
         spec: {image: ghcr.io/example/a:v1, monitoring: {path: /metrics, interval: 15s}}\n",
    )
    .await?;
    let agents: Api<Agent> = ctx.api();
    let features = |a: &Agent| {
        let status = a.status.clone().unwrap_or_default();
        agents_api::conditions::find(&status.conditions, "FeaturesAvailable")
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    let agent = ctx.wait_for(&agents, "watched", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    ensure!(features(&agent) == Some(("False".into(), "ServiceMonitorCRDMissing".into())), "{:?}", agent.status);
    // Other tests never ask for monitoring, so installing the CRD in the shared cluster is safe.
    ctx.cluster.install_crds(&agents_testenv::crds::SERVICE_MONITOR_CRDS).await?;
    let resource = agents_render::agent::service_monitor_resource();
    let monitors: Api<kube::api::DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, &resource);
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    let monitor = loop {
        if let Some(monitor) = monitors.get_opt("watched").await? {
            break monitor;
        }
        ensure!(std::time::Instant::now() < deadline, "no ServiceMonitor after the CRD was installed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    ensure!(monitor.data["spec"]["endpoints"][0]["interval"] == "15s", "{:?}", monitor.data);
    ctx.wait_for(&agents, "watched", "FeaturesAvailable True", |a: Option<&Agent>| {
        a.is_some_and(|a| features(a).is_some_and(|(status, _)| status == "True"))
    })
    .await?;
    Ok(())
}

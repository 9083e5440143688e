//! ModelAPIs and MCPServers run as their own workloads, and Agents wait for them: applied in any
//! order, an Agent comes up as soon as what it references serves, and goes back to waiting when
//! that goes away.

use std::sync::Arc;

use agents_api::{Agent, AgentPhase, MCPServer, ModelAPI, ServerPhase};
use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, EnvVar, PersistentVolumeClaim, Service, ServiceAccount};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use libtest_mimic::Trial;
use serde_json::json;

use crate::support::{Ctx, Env, phase_is, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "dependencies",
        [
            an_agent_waits_for_its_model_api_and_tools_in_any_order,
            model_apis_run_what_their_mode_says,
            the_plugin_scaffolds_lists_and_describes_them,
            servers_say_why_their_pods_do_not_run,
        ]
    )
}

const AGENT: &str = "apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: researcher}
spec:
  image: ghcr.io/example/agent:v1
  model: {name: gpt-4o, modelAPIRef: {name: gateway}}
  mcpServers: [{name: fetch}]
";

const MCP_SERVER: &str = "apiVersion: agents.dev/v1alpha1
kind: MCPServer
metadata: {name: fetch}
spec:
  package: {runtime: uvx, name: mcp-server-fetch, version: '2025.4.7'}
";

const MODEL_API: &str = "apiVersion: agents.dev/v1alpha1
kind: ModelAPI
metadata: {name: gateway}
spec:
  mode: Proxy
  proxy:
    models:
    - {name: gpt-4o, model: openai/gpt-4o, apiKeySecretRef: {name: openai, key: api-key}}
";

fn server_phase_is<K>(phase: ServerPhase) -> impl Fn(Option<&K>) -> bool
where
    K: serde::Serialize,
{
    move |object| {
        object.and_then(|o| serde_json::to_value(o).ok()).is_some_and(|v| v["status"]["phase"] == json!(phase.as_str()))
    }
}

fn ready_message(agent: &Agent) -> String {
    let status = agent.status.as_ref().expect("a status");
    agents_api::conditions::find(&status.conditions, "Ready").map(|c| c.message.clone()).unwrap_or_default()
}

fn env_of(deployment: &Deployment) -> Vec<EnvVar> {
    deployment.spec.template.spec.as_ref().unwrap().containers[0].env.clone().unwrap_or_default()
}

fn env_value<'a>(env: &'a [EnvVar], name: &str) -> Option<&'a str> {
    env.iter().find(|e| e.name == name).and_then(|e| e.value.as_deref())
}

async fn an_agent_waits_for_its_model_api_and_tools_in_any_order(ctx: Ctx) -> anyhow::Result<()> {
    let operator = ctx.operator(&[])?;
    let agents: Api<Agent> = ctx.api();

    // The Agent first: it waits, naming both of what it lacks, and runs nothing.
    ctx.apply_yaml(AGENT).await?;
    let waiting = ctx.wait_for(&agents, "researcher", "phase Waiting", phase_is(AgentPhase::Waiting)).await?;
    let message = ready_message(&waiting);
    ensure!(
        message.contains("ModelAPI gateway does not exist") && message.contains("MCPServer fetch does not exist"),
        "{message}"
    );
    ensure!(ctx.api::<Deployment>().get_opt("researcher").await?.is_none(), "a Deployment before its dependencies");

    // Then its tool server: once it serves, only the ModelAPI is missing.
    ctx.apply_yaml(MCP_SERVER).await?;
    let servers: Api<MCPServer> = ctx.api();
    let server = ctx.wait_for(&servers, "fetch", "phase Ready", server_phase_is(ServerPhase::Ready)).await?;
    let mcp_url = format!("http://fetch.{}.svc.cluster.local:8000/mcp", ctx.ns);
    ensure!(server.status.as_ref().and_then(|s| s.endpoint.as_deref()) == Some(mcp_url.as_str()));
    ctx.wait_for(&agents, "researcher", "only the ModelAPI missing", |a: Option<&Agent>| {
        a.is_some_and(|a| {
            let message = ready_message(a);
            message.contains("ModelAPI gateway") && !message.contains("MCPServer fetch")
        })
    })
    .await?;

    // Then its model gateway: the Agent comes up with both URLs in its environment.
    ctx.apply_yaml(MODEL_API).await?;
    let model_apis: Api<ModelAPI> = ctx.api();
    let gateway = ctx.wait_for(&model_apis, "gateway", "phase Ready", server_phase_is(ServerPhase::Ready)).await?;
    let ready = ctx.wait_for(&agents, "researcher", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let env = env_of(&ctx.api::<Deployment>().get("researcher").await?);
    let model_url = format!("http://gateway.{}.svc.cluster.local:8000", ctx.ns);
    ensure!(env_value(&env, "MODEL_API_URL") == Some(model_url.as_str()), "{env:?}");
    let servers_json: serde_json::Value =
        serde_json::from_str(env_value(&env, "MCP_SERVERS").context("MCP_SERVERS is set")?)?;
    ensure!(servers_json == json!({"fetch": mcp_url}), "MCP_SERVERS is {servers_json}");
    ensure!(env.iter().all(|e| e.name != "MODEL_API_KEY"), "the gateway holds the provider key, not the agent");
    status_tells_the_story(&ctx, &ready, &gateway, &model_url, &mcp_url).await?;

    // Counted by kind and phase from the operator's caches.
    operator
        .wait_for_metrics(&[
            (r#"agents_operator_objects{kind="Agent",phase="Ready"}"#, 1.0),
            (r#"agents_operator_objects{kind="Agent",phase="Waiting"}"#, 0.0),
            (r#"agents_operator_objects{kind="ModelAPI",phase="Ready"}"#, 1.0),
            (r#"agents_operator_objects{kind="MCPServer",phase="Ready"}"#, 1.0),
            (r#"agents_operator_objects{kind="MCPServer",phase="Pending"}"#, 0.0),
        ])
        .await?;

    // The ModelAPI goes: the Agent waits again, and keeps running what it ran.
    model_apis.delete("gateway", &DeleteParams::default()).await?;
    let waiting = ctx.wait_for(&agents, "researcher", "phase Waiting", phase_is(AgentPhase::Waiting)).await?;
    ensure!(ready_message(&waiting).contains("ModelAPI gateway does not exist"), "{}", ready_message(&waiting));
    ensure!(ctx.api::<Deployment>().get_opt("researcher").await?.is_some(), "the running Deployment was removed");

    // It comes back: Ready again without anything else changing.
    ctx.apply_yaml(MODEL_API).await?;
    ctx.wait_for(&model_apis, "gateway", "phase Ready", server_phase_is(ServerPhase::Ready)).await?;
    ctx.wait_for(&agents, "researcher", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    Ok(())
}

/// Seeds 000 and 001: the status alone says what the Agent uses and where, and when its health
/// check last answered; its children (not listed: they are named after it) are the Agent's.
async fn status_tells_the_story(
    ctx: &Ctx,
    agent: &Agent,
    gateway: &ModelAPI,
    model_url: &str,
    mcp_url: &str,
) -> anyhow::Result<()> {
    let status = agent.status.as_ref().context("a status")?;
    let uid = agent.metadata.uid.as_deref().context("a uid")?;
    let owners = [
        ctx.api::<ServiceAccount>().get_metadata("researcher").await?.metadata.owner_references,
        ctx.api::<ConfigMap>().get_metadata("researcher").await?.metadata.owner_references,
        ctx.api::<Deployment>().get_metadata("researcher").await?.metadata.owner_references,
        ctx.api::<Service>().get_metadata("researcher").await?.metadata.owner_references,
    ];
    ensure!(owners.iter().all(|o| o.iter().flatten().any(|r| r.uid == uid)), "a child is not the Agent's");
    let dependencies = serde_json::to_value(&status.dependencies)?;
    ensure!(
        dependencies
            == json!([
                {"kind": "ModelAPI", "name": "gateway", "ready": true, "endpoint": model_url},
                {"kind": "MCPServer", "name": "fetch", "ready": true, "endpoint": mcp_url},
            ]),
        "{dependencies}"
    );
    ensure!(status.last_health_check.is_some() && status.ready_replicas == Some(1), "{status:?}");
    let gateway_children: Vec<String> =
        gateway.status.iter().flat_map(|s| &s.children).map(|c| format!("{} {}", c.kind, c.name)).collect();
    ensure!(gateway_children == ["ConfigMap gateway", "Deployment gateway", "Service gateway"], "{gateway_children:?}");
    Ok(())
}

async fn model_apis_run_what_their_mode_says(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let model_apis: Api<ModelAPI> = ctx.api();

    // Proxy: a LiteLLM config naming the key's variable, never the key; the key as a secretKeyRef.
    ctx.apply_yaml(MODEL_API).await?;
    let gateway = ctx.wait_for(&model_apis, "gateway", "phase Ready", server_phase_is(ServerPhase::Ready)).await?;
    ensure!(gateway.status.as_ref().map(|s| s.models.clone()) == Some(vec!["gpt-4o".to_string()]));
    let config = ctx.api::<ConfigMap>().get("gateway").await?;
    let litellm = config.data.as_ref().and_then(|d| d.get("config.yaml")).context("config.yaml")?;
    ensure!(litellm.contains("os.environ/MODEL_0_API_KEY") && litellm.contains("openai/gpt-4o"), "{litellm}");
    let deployment = ctx.api::<Deployment>().get("gateway").await?;
    let key = env_of(&deployment).into_iter().find(|e| e.name == "MODEL_0_API_KEY").context("the key variable")?;
    let selector = key.value_from.and_then(|v| v.secret_key_ref).context("a secretKeyRef")?;
    ensure!(key.value.is_none() && selector.name == "openai" && selector.key == "api-key");
    let ports = |service: Service| service.spec.and_then(|s| s.ports).unwrap_or_default();
    ensure!(ports(ctx.api::<Service>().get("gateway").await?)[0].port == 8000);

    // A config change rolls the pods: the template's config hash follows the model list.
    let hash = |d: &Deployment| {
        d.spec.template.metadata.as_ref().and_then(|m| m.annotations.clone()).unwrap_or_default()
            ["agents.dev/config-hash"]
            .clone()
    };
    let before = hash(&deployment);
    model_apis
        .patch(
            "gateway",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"proxy": {"models": [{"name": "gpt-4.1", "model": "openai/gpt-4.1"}]}}})),
        )
        .await?;
    let deployments: Api<Deployment> = ctx.api();
    ctx.wait_for(&deployments, "gateway", "a new config hash", |d: Option<&Deployment>| {
        d.is_some_and(|d| hash(d) != before)
    })
    .await?;

    // Hosted: Ollama on 11434 with a claim for its models.
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {name: local}\n\
         spec: {mode: Hosted, hosted: {models: [llama3.2], storage: {size: 20Gi}}}\n",
    )
    .await?;
    let claims: Api<PersistentVolumeClaim> = ctx.api();
    ctx.wait_for(&claims, "local-models", "the models claim", |c: Option<&PersistentVolumeClaim>| c.is_some()).await?;
    let local = ctx
        .wait_for(&model_apis, "local", "an endpoint", |m: Option<&ModelAPI>| {
            m.and_then(|m| m.status.as_ref()).is_some_and(|s| s.endpoint.is_some())
        })
        .await?;
    let url = format!("http://local.{}.svc.cluster.local:11434", ctx.ns);
    ensure!(local.status.and_then(|s| s.endpoint) == Some(url));
    ensure!(ports(ctx.api::<Service>().get("local").await?)[0].port == 11434);

    // External: nothing runs; an Agent using it gets its URL and its key as a secretKeyRef.
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {name: platform}\n\
         spec: {mode: External, external: {url: 'https://llm.platform.example/v1', apiKeySecretRef: {name: gw, key: token}}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: caller}\n\
         spec: {image: ghcr.io/example/agent:v1, model: {name: m, modelAPIRef: {name: platform}}}\n",
    )
    .await?;
    ctx.wait_for(&model_apis, "platform", "phase Ready", server_phase_is(ServerPhase::Ready)).await?;
    ensure!(deployments.get_opt("platform").await?.is_none(), "an External ModelAPI runs nothing");
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "caller", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let env = env_of(&deployments.get("caller").await?);
    ensure!(env_value(&env, "MODEL_API_URL") == Some("https://llm.platform.example/v1"), "{env:?}");
    let key = env.iter().find(|e| e.name == "MODEL_API_KEY").context("MODEL_API_KEY")?;
    let selector = key.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).context("a secretKeyRef")?;
    ensure!(key.value.is_none() && selector.name == "gw" && selector.key == "token");
    Ok(())
}

/// `kubectl agents` for the server kinds: create (printed, then for real), apply --wait, get in
/// a table, and describe pages that show the dependency tree from both ends.
async fn the_plugin_scaffolds_lists_and_describes_them(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let scaffold = ["create", "modelapi", "gateway", "--mode", "proxy", "--model", "gpt-4o=openai/gpt-4o"];
    let printed = ctx.agents_ok(
        &[&scaffold[..], &["--api-key-secret", "openai:api-key", "--dry-run=client", "-o", "yaml"]].concat(),
    )?;
    let manifest: serde_json::Value = serde_norway::from_str(&printed)?;
    ensure!(
        manifest["spec"]["proxy"]["models"][0]
            == json!({"name": "gpt-4o", "model": "openai/gpt-4o", "apiKeySecretRef": {"name": "openai", "key": "api-key"}}),
        "{printed}"
    );
    ensure!(ctx.api::<ModelAPI>().get_opt("gateway").await?.is_none(), "a client dry run created it");
    let missing = ctx.agents_err(&["create", "modelapi", "gateway", "--mode", "hosted"])?;
    ensure!(missing.contains("--model llama3.2"), "{missing}");

    // Apply the printed manifest with --wait: it returns once the ModelAPI serves.
    let file = ctx.cluster.dir().join(format!("{}-gateway.yaml", ctx.ns));
    std::fs::write(&file, &printed)?;
    let applied = ctx.agents_ok(&["apply", "-f", file.to_str().unwrap(), "--wait"])?;
    ensure!(applied.contains("modelapi.agents.dev/gateway Ready"), "{applied}");

    let created = ctx.agents_ok(&["create", "mcpserver", "fetch", "--uvx", "mcp-server-fetch@2025.4.7"])?;
    ensure!(created.trim() == "mcpserver.agents.dev/fetch created", "{created}");
    ctx.apply_yaml(AGENT).await?;
    let agents: Api<Agent> = ctx.api();
    ctx.wait_for(&agents, "researcher", "phase Ready", phase_is(AgentPhase::Ready)).await?;

    let table = ctx.agents_ok(&["get", "modelapis"])?;
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    ensure!(header == ["NAME", "MODE", "PHASE", "ENDPOINT", "MODELS", "AGE"], "{table}");
    let row: Vec<&str> = table.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    let url = format!("http://gateway.{}.svc.cluster.local:8000", ctx.ns);
    ensure!(row[..5] == ["gateway", "Proxy", "Ready", url.as_str(), "gpt-4o"], "{table}");
    let servers = ctx.agents_ok(&["get", "mcp", "-o", "name"])?;
    ensure!(servers.trim() == "mcpserver.agents.dev/fetch", "{servers}");

    // The Agent's page lists each dependency with its state; the server's lists who uses it.
    let page = ctx.agents_ok(&["describe", "researcher"])?;
    let dependency =
        |kind: &str| page.lines().find(|l| l.trim_start().starts_with(kind)).unwrap_or_default().to_string();
    ensure!(dependency("ModelAPI").contains(&format!("ready: {url}")), "{page}");
    ensure!(dependency("MCPServer").contains("ready: http://fetch."), "{page}");
    let page = ctx.agents_ok(&["describe", "modelapi", "gateway"])?;
    ensure!(page.contains("gpt-4o -> openai/gpt-4o, key from Secret openai/api-key"), "{page}");
    ensure!(page.lines().any(|l| l.contains("agent/researcher") && l.contains("Ready")), "{page}");
    let page = ctx.agents_ok(&["describe", "mcpserver", "fetch"])?;
    ensure!(page.contains("uvx:mcp-server-fetch@2025.4.7") && page.contains("Tools:"), "{page}");

    let deleted = ctx.agents_ok(&["delete", "modelapi", "gateway", "--yes"])?;
    ensure!(deleted.trim() == "modelapi.agents.dev/gateway deleted", "{deleted}");
    ctx.wait_for(&agents, "researcher", "phase Waiting", phase_is(AgentPhase::Waiting)).await?;
    Ok(())
}

/// A server's status carries what the kubelet says of its pods (KWOK plays the states, see
/// agents-testenv's `stages/pod-faults.yaml`), and its Agents say which server holds them.
async fn servers_say_why_their_pods_do_not_run(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1
kind: MCPServer
metadata: {name: fetch}
spec: {image: faults.kwok.invalid/crash-loop:1, port: 8080}
---
apiVersion: agents.dev/v1alpha1
kind: ModelAPI
metadata: {name: gateway}
spec:
  mode: Proxy
  proxy:
    models:
    - {name: gpt-4o, model: openai/gpt-4o, apiKeySecretRef: {name: absent-secret, key: api-key}}
",
    )
    .await?;
    ctx.apply_yaml(AGENT).await?;
    let servers: Api<MCPServer> = ctx.api();
    let server = ctx.wait_for(&servers, "fetch", "phase Failed", server_phase_is(ServerPhase::Failed)).await?;
    let (reason, message) = server_ready(&server)?;
    ensure!(reason == "CrashLoopBackOff" && message.contains("keeps exiting"), "{reason}: {message}");
    // A missing Secret is awaited: the pod starts once it exists.
    let gateways: Api<ModelAPI> = ctx.api();
    let gateway = ctx.wait_for(&gateways, "gateway", "phase Waiting", server_phase_is(ServerPhase::Waiting)).await?;
    let (reason, message) = server_ready(&gateway)?;
    ensure!(
        reason == "CreateContainerConfigError" && message.contains("secret \"absent-secret\" not found"),
        "{reason}: {message}"
    );
    let agents: Api<Agent> = ctx.api();
    let agent = ctx.wait_for(&agents, "researcher", "phase Waiting", phase_is(AgentPhase::Waiting)).await?;
    let message = ready_message(&agent);
    ensure!(message.contains("gateway") && message.contains("fetch"), "{message}");

    // A ConfigMap of the user's that does not exist is named, and awaited (the operator looks
    // again every 15 s: it caches only its own ConfigMaps).
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1
kind: ModelAPI
metadata: {name: own}
spec: {mode: Proxy, proxy: {configMapRef: {name: litellm-own}}}
",
    )
    .await?;
    let own = ctx.wait_for(&gateways, "own", "phase Waiting", server_phase_is(ServerPhase::Waiting)).await?;
    let (reason, message) = server_ready(&own)?;
    ensure!(
        reason == "ConfigMapNotFound"
            && message.starts_with("ConfigMap litellm-own (spec.proxy.configMapRef) does not exist"),
        "{reason}: {message}"
    );
    ctx.apply_yaml(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: litellm-own}\ndata: {config.yaml: 'model_list: []'}\n",
    )
    .await?;
    ctx.wait_for(&gateways, "own", "phase Ready once the ConfigMap exists", server_phase_is(ServerPhase::Ready))
        .await?;
    Ok(())
}

/// The reason and message of a server's Ready condition.
fn server_ready(server: &impl serde::Serialize) -> anyhow::Result<(String, String)> {
    let status = serde_json::to_value(server)?["status"].clone();
    let ready = status["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == "Ready");
    let ready = ready.context("a Ready condition")?;
    let text = |field: &str| ready[field].as_str().unwrap_or_default().to_string();
    Ok((text("reason"), text("message")))
}

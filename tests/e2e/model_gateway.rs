//! Proxy ModelAPIs served by the real LiteLLM proxy: seed 001's row "ModelAPI Proxy mode via
//! LiteLLM" (a LiteLLM container, its config generated from the model list or the user's own).
//!
//! The operator renders the ModelAPIs; the test runs what their pods would run (`in_pod`):
//! `litellm` 1.74.9 from PyPI (`litellm[proxy]`, `agents_testenv::python::LITELLM_PROXY`, the
//! release of the image the operator renders), with the rendered arguments and environment (its
//! Secret keys resolved as the kubelet would) and the mounted `config.yaml` written out here,
//! bound to the pod's loopback address. Every provider is one scripted OpenAI-compatible server
//! (`ScriptedModel`), which sees the model name and the key LiteLLM sends it.
//!
//! The same scenario proves the proxy's guards (issue 20's security findings): with
//! `masterKeySecretRef` LiteLLM refuses a request without the master key or with another, the
//! Agent gets the key from the Secret and still answers, and the key shows nowhere; a provider's
//! wildcard (`openai/*`) does not carry its key to another provider.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agents_api::{Agent, AgentPhase, ModelAPI, ServerPhase};
use agents_testenv::model::{Reply, ScriptedModel, Seen, last_message};
use agents_testenv::python::{self, Venv};
use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::in_pod::{self, PodProcess};
use crate::support::{Ctx, Env, output_within, phase_is, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "model_gateway", [litellm_serves_each_proxy_mode_and_an_agent_answers_through_it])
}

/// Each provider answers with the model it was asked for.
fn script(request: &Value) -> Reply {
    let model = request["model"].as_str().unwrap_or_default();
    Reply::Text(format!("{model} answers: {}", last_message(request)["content"].as_str().unwrap_or_default()))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The master key Agents send to `gateway`: it must show nowhere but in its Secret and requests.
const MASTER_KEY: &str = "sk-master-e2e-5b1f";

/// The three ways to configure the proxy, in two ModelAPIs: `gateway` lists a model (its own
/// provider endpoint and key) and OpenAI's wildcard `openai/*` (any `openai/...` model, with the
/// OpenAI key), and is guarded by a master key; `own` is the user's complete LiteLLM config in a
/// ConfigMap, its key from `spec.env`, with no master key (open, as every proxy was before the
/// field existed). An Agent uses `gateway`.
///
/// `DEEPSEEK_API_BASE` is a trap: DeepSeek is a LiteLLM provider that speaks OpenAI's API at the
/// base this variable names, so were `gateway` to pass a `deepseek/...` request on, it would reach
/// the scripted provider, and the test would see it (with `*` and a key, LiteLLM 1.74.9 does: it
/// was checked by hand, and the schema now refuses that spec).
fn manifests(provider: &str, gateway_port: u16, own_port: u16, agent_port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: provider-keys}}\n\
         stringData: {{listed: sk-listed-e2e, wildcard: sk-wildcard-e2e, own: sk-own-e2e}}\n\
         ---\napiVersion: v1\nkind: Secret\nmetadata: {{name: gateway-master}}\nstringData: {{key: {MASTER_KEY}}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {{name: gateway}}\n\
         spec:\n  mode: Proxy\n  port: {gateway_port}\n  proxy:\n\
         \x20   masterKeySecretRef: {{name: gateway-master, key: key}}\n    models:\n\
         \x20   - {{name: smart, model: openai/scripted-large, apiBase: '{provider}',\n\
         \x20      apiKeySecretRef: {{name: provider-keys, key: listed}}}}\n\
         \x20   - {{name: 'openai/*', apiBase: '{provider}', apiKeySecretRef: {{name: provider-keys, key: wildcard}}}}\n\
         \x20 env: [{{name: DEEPSEEK_API_BASE, value: '{provider}'}}]\n\
         ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: team-litellm}}\ndata:\n  litellm.yaml: |\n\
         \x20   model_list:\n\
         \x20   - model_name: team-model\n\
         \x20     litellm_params: {{model: openai/scripted-own, api_base: '{provider}', api_key: os.environ/TEAM_KEY}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {{name: own}}\n\
         spec:\n  mode: Proxy\n  port: {own_port}\n  proxy: {{configMapRef: {{name: team-litellm, key: litellm.yaml}}}}\n\
         \x20 env: [{{name: TEAM_KEY, valueFrom: {{secretKeyRef: {{name: provider-keys, key: own}}}}}}]\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: assistant}}\n\
         spec: {{port: {agent_port}, model: {{name: smart, modelAPIRef: {{name: gateway}}}}}}\n"
    )
}

/// The ModelAPI `name`'s pod, run here as rendered: the image's entrypoint is `litellm` (the
/// container sets no command), given the rendered arguments, with each file of a mounted
/// ConfigMap read from its copy under `dir`, and the rendered environment only (its `HOME` is
/// `/tmp`, the pod's one writable directory). One argument is added: `--host` with the pod's
/// address (in the pod LiteLLM listens on every address, its default; here pods share this
/// machine's ports).
async fn start_litellm(ctx: &Ctx, name: &str, venv: &Venv, dir: &Path) -> anyhow::Result<PodProcess> {
    let (_, ip) = in_pod::running_pod(ctx, &format!("{}={name}", agents_render::labels::MODEL_API)).await?;
    let deployment = ctx.api::<Deployment>().get(name).await?;
    let pod = deployment.spec.template.spec.context("a Deployment without a pod template")?;
    let container = pod.containers.first().context("a pod without a container")?;
    ensure!(container.command.is_none(), "the image's entrypoint runs LiteLLM: {:?}", container.command);
    let port = container.ports.iter().flatten().next().context("no container port")?.container_port;
    let mut args = container.args.clone().unwrap_or_default();
    for mount in container.volume_mounts.iter().flatten() {
        let volume = pod.volumes.iter().flatten().find(|v| v.name == mount.name).context("a mount without a volume")?;
        // The other volume is the writable /tmp (an emptyDir): this machine's serves.
        let Some(source) = &volume.config_map else { continue };
        let here = dir.join(name).join(&mount.name);
        write_volume(&ctx.api::<ConfigMap>().get(&source.name).await?, source, &here)?;
        for arg in &mut args {
            if let Some(file) = arg.strip_prefix(&mount.mount_path) {
                *arg = format!("{}{file}", here.display());
            }
        }
    }
    let env = agents_testenv::pods::resolved_env(&ctx.client, &ctx.ns, container).await?;
    let mut command = Command::new(venv.bin("litellm"));
    command.args(args).args(["--host", &ip.to_string()]).env_clear().envs(env);
    let address = SocketAddr::new(ip, u16::try_from(port)?);
    Ok(in_pod::start_program(command, address, dir.join(format!("{name}.log")))?)
}

/// How long LiteLLM may take to serve: its imports take 5 s on two idle cores, 10 s for two
/// proxies at once, more beside other tests (the usual deadline of a wait is 30 s).
const STARTUP: Duration = Duration::from_secs(120);

/// Waits until the proxy answers its readiness probe's path, or fails with its log.
async fn started(proxy: &mut PodProcess) -> anyhow::Result<()> {
    let deadline = Instant::now() + STARTUP;
    loop {
        proxy.check_running()?;
        let address = proxy.address;
        if tokio::task::spawn_blocking(move || agents_testenv::http::get(address, "/health/readiness")).await?.is_ok() {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "LiteLLM did not serve within {STARTUP:?}:\n{}", proxy.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A ConfigMap's files as its volume shows them: the listed keys under their paths, or every key.
fn write_volume(
    config_map: &ConfigMap,
    source: &k8s_openapi::api::core::v1::ConfigMapVolumeSource,
    dir: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let data = config_map.data.clone().unwrap_or_default();
    let files: Vec<(String, String)> = match &source.items {
        Some(items) => items.iter().map(|i| (i.key.clone(), i.path.clone())).collect(),
        None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
    };
    for (key, path) in files {
        let content = data.get(&key).with_context(|| format!("ConfigMap {:?} has no key {key}", source.name))?;
        std::fs::write(dir.join(path), content)?;
    }
    Ok(())
}

/// Sends one chat completion to the endpoint `url`, with `key` as its bearer token: the status
/// and the body.
async fn chat(url: &str, key: Option<&str>, model: &str, message: &str) -> anyhow::Result<(u16, Value)> {
    let body = json!({"model": model, "messages": [{"role": "user", "content": message}]});
    let mut request = agents_runtime::http_client()?
        .post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(30));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).with_context(|| format!("a non-JSON answer ({status}): {text}"))?))
}

/// The endpoint of the ModelAPI `name`, once it is Ready.
async fn endpoint(ctx: &Ctx, name: &str) -> anyhow::Result<String> {
    let ready = ctx
        .wait_for(&ctx.api::<ModelAPI>(), name, "Ready", |m: Option<&ModelAPI>| {
            m.and_then(|m| m.status.as_ref()).is_some_and(|s| s.phase == Some(ServerPhase::Ready))
        })
        .await?;
    ready.status.and_then(|s| s.endpoint).context("a Ready ModelAPI without an endpoint")
}

/// What reached the provider: (model, Authorization header).
fn reached(seen: &Seen) -> (String, String) {
    (seen.body["model"].as_str().unwrap_or_default().into(), seen.authorization.clone().unwrap_or_default())
}

/// Seed 001, "ModelAPI Proxy mode via LiteLLM": each way to configure the proxy serves through
/// the real LiteLLM, guarded by its master key where one is set, and an Agent answers through it.
async fn litellm_serves_each_proxy_mode_and_an_agent_answers_through_it(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let provider = ScriptedModel::start(script, Duration::ZERO).await?;
    let venv = tokio::task::spawn_blocking(|| python::LITELLM_PROXY.ensure());
    let (gateway_port, own_port, agent_port) = (free_port()?, free_port()?, free_port()?);
    ctx.apply_yaml(&manifests(&provider.url(), gateway_port, own_port, agent_port)).await?;
    let venv = venv.await??;

    let dir = ctx.cluster.dir().join("runtime").join(&ctx.ns);
    std::fs::create_dir_all(&dir)?;
    let mut gateway = start_litellm(&ctx, "gateway", &venv, &dir).await?;
    let mut own = start_litellm(&ctx, "own", &venv, &dir).await?;
    // The probes the operator renders answer once LiteLLM has read its config, without a key
    // (the kubelet sends none): LiteLLM leaves these two paths open under a master key.
    for proxy in [&mut gateway, &mut own] {
        started(proxy).await?;
        ensure!(proxy.get("/health/liveliness").is_ok(), "the liveness probe's path:\n{}", proxy.log_text());
    }
    let logs = || format!("gateway's log:\n{}\nown's log:\n{}", gateway.log_text(), own.log_text());

    // Each ModelAPI's endpoint (its Service, led here to the pod that plays it) reaches LiteLLM.
    let (gateway_endpoint, own_endpoint) = (endpoint(&ctx, "gateway").await?, endpoint(&ctx, "own").await?);
    let cluster_urls = agents_testenv::pods::cluster_urls(&ctx.client, &ctx.ns).await?;
    let gateway_url = agents_testenv::pods::replace_urls(&gateway_endpoint, &cluster_urls);
    let own_url = agents_testenv::pods::replace_urls(&own_endpoint, &cluster_urls);
    ensure!(gateway_url == format!("http://{}", gateway.address), "{gateway_endpoint} leads to {gateway_url}");
    ensure!(own_url == format!("http://{}", own.address), "{own_endpoint} leads to {own_url}");

    // Each mode's request reaches the provider with its provider model and the key of its Secret
    // (never the master key).
    for (url, key, model, provider_model, provider_key) in [
        (&gateway_url, Some(MASTER_KEY), "smart", "scripted-large", "sk-listed-e2e"),
        (&gateway_url, Some(MASTER_KEY), "openai/scripted-any", "scripted-any", "sk-wildcard-e2e"),
        (&own_url, None, "team-model", "scripted-own", "sk-own-e2e"),
    ] {
        let before = provider.seen().len();
        let (status, answer) = chat(url, key, model, "hi").await?;
        ensure!(status == 200, "{model}: {status} {answer}\n{}", logs());
        let content = &answer["choices"][0]["message"]["content"];
        ensure!(*content == format!("{provider_model} answers: hi"), "{model}: {answer}");
        let seen: Vec<_> = provider.seen()[before..].iter().map(reached).collect();
        ensure!(seen == [(provider_model.to_string(), format!("Bearer {provider_key}"))], "{model}: {seen:?}");
    }
    // Refused, and nothing reaches a provider: a model the user's config does not list (the
    // config is the whole config); another provider's model on gateway (`openai/*` matches
    // `openai/...` only, so the OpenAI key never goes to DeepSeek); a request to gateway without
    // its master key, or with another key (LiteLLM 1.74.9 without a database answers 400 then:
    // a key that is not the master key could only be a virtual key, which lives in a database).
    for (url, key, model, (code, message)) in [
        (&own_url, None, "smart", (400, "Invalid model name")),
        (&gateway_url, Some(MASTER_KEY), "deepseek/scripted-any", (400, "no healthy deployments for this model")),
        (&gateway_url, None, "smart", (401, "No api key passed in")),
        (&gateway_url, Some("sk-wrong-e2e"), "smart", (400, "No connected db")),
    ] {
        let before = provider.seen().len();
        let (status, answer) = chat(url, key, model, "hi").await?;
        ensure!(status == code && answer.to_string().contains(message), "{model}: {status} {answer}");
        ensure!(provider.seen().len() == before, "{model} with {key:?}: {:?} reached a provider", provider.seen());
    }

    // An Agent using the ModelAPI gets the master key from its Secret and answers through LiteLLM.
    ctx.wait_for(&ctx.api::<Agent>(), "assistant", "Ready", phase_is(AgentPhase::Ready)).await?;
    let container = in_pod::rendered_container(&ctx, "assistant").await?;
    let key = container.env.iter().flatten().find(|e| e.name == "MODEL_API_KEY").context("no MODEL_API_KEY")?;
    let from = key.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref());
    ensure!(
        key.value.is_none() && from.is_some_and(|s| (s.name.as_str(), s.key.as_str()) == ("gateway-master", "key")),
        "MODEL_API_KEY must come from the Secret gateway-master: {key:?}"
    );
    let agent = in_pod::start_runtime(&ctx, "assistant", &cluster_urls, &dir).await?;
    let before = provider.seen().len();
    let output = output_within(&mut ctx.agents(&["invoke", "assistant", "What is 2+2?"]))?;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    ensure!(
        output.status.success(),
        "invoke failed:\n{stdout}\n{stderr}\nagent's log:\n{}\n{}",
        agent.log_text(),
        logs()
    );
    ensure!(stdout.contains("scripted-large answers: What is 2+2?"), "{stdout}\n{stderr}");
    let seen: Vec<_> = provider.seen()[before..].iter().map(reached).collect();
    ensure!(seen == [("scripted-large".to_string(), "Bearer sk-listed-e2e".to_string())], "{seen:?}");

    // The master key is in no object the operator writes (status included), no Event and no log.
    let events = ctx.api::<Event>().list(&Default::default()).await?;
    let written = [
        ("ModelAPI gateway", serde_json::to_string(&ctx.api::<ModelAPI>().get("gateway").await?)?),
        ("Agent assistant", serde_json::to_string(&ctx.api::<Agent>().get("assistant").await?)?),
        ("Deployment gateway", serde_json::to_string(&ctx.api::<Deployment>().get("gateway").await?)?),
        ("Deployment assistant", serde_json::to_string(&ctx.api::<Deployment>().get("assistant").await?)?),
        ("the Events", serde_json::to_string(&events.items)?),
        ("invoke's output", format!("{stdout}{stderr}")),
        ("gateway's log", gateway.log_text()),
        ("the agent's log", agent.log_text()),
    ];
    let leaked: Vec<_> = written.iter().filter(|(_, text)| text.contains(MASTER_KEY)).map(|(what, _)| what).collect();
    ensure!(leaked.is_empty(), "the master key shows in {leaked:?}");
    Ok(())
}

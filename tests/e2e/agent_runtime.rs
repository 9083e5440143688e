//! Agents that answer: Agents with no image run the reference runtime (`agents-runtime`), and
//! `kubectl agents invoke` talks to them through the API server.
//!
//! The operator renders two Agents (a helper that uses an MCPServer and delegates to a writer)
//! and their dependencies; the test then runs what their pods would run, with exactly what the
//! operator rendered (`in_pod`): `agents-runtime` for each Agent, and for the MCPServer the
//! bridge it renders (mcp-proxy) over `mcp-server-time`, a published MCP server from PyPI that
//! this project did not write. The model is a scripted OpenAI-compatible server (the ModelAPI is
//! External and points at it).

use std::sync::Arc;
use std::time::Duration;

use agents_api::{Agent, AgentPhase, MCPServer};
use agents_testenv::model::{Reply, ScriptedModel, USAGE, last_message, tool_names};
use agents_testenv::python;
use anyhow::{Context, ensure};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::in_pod::{self, PodProcess, service_url};
use crate::support::{Ctx, Env, output_within, phase_is, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "agent_runtime",
        [
            an_agent_answers_with_a_tool_and_a_peer,
            invoke_says_why_it_cannot_answer,
            a_published_a2a_client_talks_to_the_runtime
        ]
    )
}

/// A free port on loopback, for a pod's address to use too.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The helper asks for the time, hands it to the writer, and answers with the writer's words;
/// the writer answers at once. A question containing "fail" gets a model error. (The monitoring
/// tests drive the runtime with it too.)
pub(crate) fn script(request: &Value) -> Reply {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let last = last_message(request);
    let content = last["content"].as_str().unwrap_or_default().to_string();
    if request["model"] == "scripted-writer" {
        return Reply::Text(format!("writer says: {content}"));
    }
    match last["role"].as_str() {
        Some("user") if content.contains("fail") => Reply::Error(503, "overloaded, try later".into()),
        Some("user") if content == "Thanks" => {
            Reply::Text(format!("You're welcome: I remember {} earlier messages.", messages.len() - 2))
        }
        Some("user") => Reply::Calls(vec![("get_current_time".into(), json!({"timezone": "UTC"}))]),
        Some("tool") => {
            let called = messages.iter().rev().find_map(|m| m["tool_calls"][0]["function"]["name"].as_str());
            match called {
                Some("get_current_time") => {
                    Reply::Calls(vec![("ask_writer".into(), json!({"message": format!("Say this nicely: {content}")}))])
                }
                _ => Reply::Text(format!("Here you are. {content}")),
            }
        }
        _ => Reply::Text("unexpected".into()),
    }
}

async fn an_agent_answers_with_a_tool_and_a_peer(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let model = ScriptedModel::start(script, Duration::ZERO).await?;
    let (bridge_venv, time_venv) = tokio::task::spawn_blocking(|| {
        Ok::<_, agents_testenv::Error>((python::MCP_PROXY.ensure()?, python::MCP_SERVER_TIME.ensure()?))
    })
    .await??;
    let (helper_port, writer_port, time_port) = (free_port()?, free_port()?, free_port()?);
    ctx.apply_yaml(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: model-key}}\nstringData: {{api-key: sk-e2e-not-a-real-key}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {{name: gateway}}\n\
         spec: {{mode: External, external: {{url: '{url}', apiKeySecretRef: {{name: model-key, key: api-key}}}}}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {{name: time}}\n\
         spec: {{package: {{runtime: uvx, name: mcp-server-time, version: '{time_version}'}}, port: {time_port}}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: writer}}\n\
         spec: {{description: Turns notes into one friendly sentence, port: {writer_port},\n\
                 model: {{name: scripted-writer, modelAPIRef: {{name: gateway}}}}}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: helper}}\n\
         spec:\n  instructions: You tell people the time.\n  port: {helper_port}\n\
         \x20 model: {{name: scripted-helper, modelAPIRef: {{name: gateway}}, maxTokens: 256, temperature: 0.1}}\n\
         \x20 mcpServers: [{{name: time}}]\n  peers: [{{name: writer}}]\n\
         \x20 agenticLoop: {{maxSteps: 5, enableTools: true, enableDelegation: true}}\n",
        url = model.url(),
        time_version = pinned_version(&python::MCP_SERVER_TIME)?,
    ))
    .await?;

    // The MCPServer's pod runs the bridge the operator rendered, from the cached environment.
    let dir = ctx.cluster.dir().join("runtime").join(&ctx.ns);
    std::fs::create_dir_all(&dir)?;
    let (_, time_ip) = in_pod::running_pod(&ctx, "agents.dev/mcpserver=time").await?;
    let bridge = in_pod::rendered_container(&ctx, "time").await?;
    let time_address = std::net::SocketAddr::new(time_ip, time_port);
    let mut time = in_pod::start_program(
        in_pod::as_rendered(bridge.command.as_deref().unwrap_or_default(), time_ip, |tool| match tool {
            "mcp-proxy" => bridge_venv.bin(tool),
            _ => time_venv.bin(tool),
        })?,
        time_address,
        dir.join("time.log"),
    )?;
    time.wait_listening()?;
    // The operator lists the tools from the real server.
    let servers = ctx.api::<MCPServer>();
    ctx.wait_for(&servers, "time", "get_current_time in status.tools", |m: Option<&MCPServer>| {
        m.and_then(|m| m.status.as_ref()).is_some_and(|s| s.tools.iter().flatten().any(|t| t == "get_current_time"))
    })
    .await?;

    let agents = ctx.api::<Agent>();
    for name in ["writer", "helper"] {
        ctx.wait_for(&agents, name, "Ready", phase_is(AgentPhase::Ready)).await?;
    }
    // In-cluster names that do not resolve here, and the addresses that serve them.
    let writer_ip = in_pod::running_pod(&ctx, "agents.dev/agent=writer").await?.1;
    let cluster_urls = vec![
        (service_url(&ctx, "writer"), format!("http://{writer_ip}:{writer_port}")),
        (format!("{}:{time_port}", service_url(&ctx, "time")), format!("http://{time_address}")),
    ];
    let _writer = in_pod::start_runtime(&ctx, "writer", &cluster_urls, &dir).await?;
    let helper = in_pod::start_runtime(&ctx, "helper", &cluster_urls, &dir).await?;
    let logs = |helper: &PodProcess| format!("helper's log:\n{}\ntime's log:\n{}", helper.log_text(), time.log_text());

    // One question: a tool call to the MCP server, a delegation to the peer, then the answer.
    let output = output_within(&mut ctx.agents(&["invoke", "helper", "What time is it in UTC?"]))?;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    ensure!(output.status.success(), "invoke failed:\n{stdout}\n{stderr}\n{}", logs(&helper));
    ensure!(stdout.contains("Here you are. writer says: Say this nicely:"), "{stdout}\n{stderr}");
    ensure!(
        stderr.contains("… calling get_current_time") && stderr.contains("… calling ask_writer"),
        "the progress names each call:\n{stderr}"
    );
    let context = stderr
        .split("--context-id ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == ')').next())
        .context(format!("the answer tells its context id:\n{stderr}"))?
        .to_string();
    // What the model was sent: the instructions, the settings, the key from the Secret, and the
    // real server's answer to the tool call.
    let seen = model.seen();
    let helper_requests: Vec<_> = seen.iter().filter(|s| s.body["model"] == "scripted-helper").collect();
    ensure!(helper_requests.len() == 3, "three turns of the helper: {helper_requests:#?}");
    let first = &helper_requests[0].body;
    ensure!(first["messages"][0] == json!({"role": "system", "content": "You tell people the time."}), "{first}");
    ensure!(first["max_tokens"] == 256 && first["temperature"] == 0.1, "{first}");
    ensure!(helper_requests[0].authorization.as_deref() == Some("Bearer sk-e2e-not-a-real-key"));
    let tool_names: Vec<String> = tool_names(first);
    ensure!(
        tool_names.contains(&"get_current_time".into()) && tool_names.contains(&"ask_writer".into()),
        "{tool_names:?}"
    );
    let tool_result = last_message(&helper_requests[1].body)["content"].as_str().unwrap_or_default().to_string();
    ensure!(tool_result.contains("\"timezone\": \"UTC\"") && tool_result.contains("datetime"), "{tool_result}");

    // The runtime's metrics count what happened, with the tokens the model reported.
    let metrics = helper.get("/metrics")?;
    for (sample, expected) in [
        ("llm_tokens_total{model=\"scripted-helper\",type=\"prompt\"}", 3 * USAGE.0),
        ("llm_tokens_total{model=\"scripted-helper\",type=\"completion\"}", 3 * USAGE.1),
        ("llm_requests_total{model=\"scripted-helper\",status=\"success\"}", 3),
        ("agent_tool_calls_total{server=\"time\",tool=\"get_current_time\",status=\"success\"}", 1),
        ("agent_delegations_total{peer=\"writer\",status=\"success\"}", 1),
        ("a2a_requests_total{method=\"SendStreamingMessage\",status=\"ok\"}", 1),
    ] {
        let value = agents_testenv::http::sample(&metrics, sample);
        ensure!(value == expected as f64, "{sample} is {value}, not {expected}:\n{metrics}");
    }

    // The conversation goes on with its context id.
    let again = ctx.agents_ok(&["invoke", "helper", "Thanks", "--context-id", &context])?;
    ensure!(again.contains("You're welcome: I remember 6 earlier messages."), "{again}");

    // The A2A result, for scripts.
    let json_out = ctx.agents_ok(&["invoke", "writer", "hi", "-o", "json"])?;
    let result: Value = serde_json::from_str(&json_out)?;
    ensure!(result["task"]["status"]["state"] == "TASK_STATE_COMPLETED", "{result:#}");
    ensure!(result["task"]["artifacts"][0]["parts"][0]["text"] == "writer says: hi", "{result:#}");

    // A model error fails the task, and invoke with it.
    let output = output_within(&mut ctx.agents(&["invoke", "helper", "please fail"]))?;
    ensure!(output.status.code() == Some(1), "a failed task exits 1: {output:?}");
    let stderr = text(&output.stderr);
    ensure!(
        stderr.contains("the agent's task failed: the model endpoint answered 503: overloaded, try later"),
        "{stderr}"
    );

    // describe shows the card's skills, read from the running agent.
    let described = ctx.agents_ok(&["describe", "agent", "writer"])?;
    ensure!(
        described.contains("Skills:") && described.contains("Turns notes into one friendly sentence"),
        "{described}"
    );
    ensure!(described.contains("Runs:") && described.contains("the reference runtime"), "{described}");

    // On a terminal, without a message: a chat, one line a message, until Ctrl-D.
    let command = ctx.agents(&["invoke", "writer"]);
    let chatted = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut session = rexpect::session::spawn_command(command, Some(20_000))?;
        session.exp_string("Talking to writer")?;
        session.exp_string("you> ")?;
        session.send_line("hello there")?;
        session.exp_string("writer says: hello there")?;
        session.exp_string("you> ")?;
        session.send_line("and again")?;
        session.exp_string("writer says: and again")?;
        session.exp_string("you> ")?;
        session.send_control('d')?;
        Ok(session.exp_eof()?)
    })
    .await??;
    ensure!(!chatted.contains("error"), "the chat ended cleanly: {chatted}");
    Ok(())
}

/// An Agent that cannot answer gets a sentence saying why, not a protocol error.
async fn invoke_says_why_it_cannot_answer(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&[])?;
    let port = free_port()?;
    ctx.apply_yaml(&format!(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: waiting}}\n\
         spec: {{model: {{name: m, modelAPIRef: {{name: absent}}}}}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: stopped}}\nspec: {{image: x:1, replicas: 0}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: silent}}\nspec: {{image: x:1, port: {port}}}\n"
    ))
    .await?;
    let agents = ctx.api::<Agent>();
    ctx.wait_for(&agents, "waiting", "Waiting", phase_is(AgentPhase::Waiting)).await?;
    ctx.wait_for(&agents, "stopped", "Stopped", phase_is(AgentPhase::Stopped)).await?;
    ctx.wait_for(&agents, "silent", "Ready", phase_is(AgentPhase::Ready)).await?;

    let stderr = ctx.agents_err(&["invoke", "nope", "hi"])?;
    ensure!(stderr.contains("agent \"nope\" not found in namespace"), "{stderr}");
    let stderr = ctx.agents_err(&["invoke", "waiting", "hi"])?;
    ensure!(
        stderr.contains(
            "agent/waiting is not ready to answer: it is Waiting (DependenciesNotReady: ModelAPI absent does not exist"
        ),
        "{stderr}"
    );
    let stderr = ctx.agents_err(&["invoke", "stopped", "hi"])?;
    ensure!(stderr.contains("agent/stopped is Stopped") && stderr.contains("kubectl agents scale stopped"), "{stderr}");

    // The silent agent's image serves HTTP, but not the agent contract.
    let (pod, ip) = in_pod::running_pod(&ctx, "agents.dev/agent=silent").await?;
    let address = std::net::SocketAddr::new(ip, port);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let server = tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "nothing here") });
        let _ = axum::serve(listener, app).await;
    });
    agents_testenv::kwok::forward_pod(&ctx.client, &ctx.ns, &pod, port, address).await?;
    let stderr = ctx.agents_err(&["invoke", "silent", "hi"])?;
    ensure!(
        stderr.contains(&format!(
            "agent/silent does not speak A2A: pod {pod} answered HTTP 404 Not Found for /.well-known/agent-card.json"
        )),
        "{stderr}"
    );
    // Through the service proxy the API server answers for itself: on this control plane pods
    // have loopback addresses, which Services cannot list as endpoints.
    let stderr = ctx.agents_err(&["invoke", "silent", "hi", "--via", "service"])?;
    ensure!(stderr.contains("the API server could not reach agent/silent through service silent:"), "{stderr}");
    server.abort();
    Ok(())
}

/// The runtime's A2A side, exercised by the published A2A Python SDK (`a2a-sdk`, protocol 1.0):
/// its card resolver reads the card, its client sends a message and streams another.
async fn a_published_a2a_client_talks_to_the_runtime(ctx: Ctx) -> anyhow::Result<()> {
    let _ = ctx;
    let model = ScriptedModel::start(
        |request| Reply::Text(format!("echo: {}", last_message(request)["content"].as_str().unwrap_or_default())),
        Duration::ZERO,
    )
    .await?;
    let venv = tokio::task::spawn_blocking(|| python::A2A_SDK.ensure()).await??;
    let port = free_port()?;
    let address: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let dir = tempdir("a2a-sdk")?;
    let mut command = std::process::Command::new(crate::support::binaries_dir().join("agents-runtime"));
    command.env_clear().envs([
        ("AGENT_NAME", "echo"),
        ("AGENT_DESCRIPTION", "Echoes what it is told"),
        ("AGENT_PORT", &port.to_string()),
        ("AGENT_BIND_ADDRESS", "127.0.0.1"),
        ("MODEL_NAME", "scripted"),
        ("MODEL_API_URL", &model.url()),
    ]);
    let mut runtime = in_pod::start_program(command, address, dir.join("runtime.log"))?;
    runtime.wait_serving("/health")?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/a2a_sdk_client.py");
    let output =
        output_within(std::process::Command::new(venv.python()).arg(&script).arg(format!("http://{address}")))?;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    ensure!(output.status.success(), "the SDK client failed:\n{stdout}\n{stderr}\nruntime:\n{}", runtime.log_text());
    let lines: Vec<Value> = stdout.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let find = |kind: &str| lines.iter().filter(|l| l["kind"] == kind).cloned().collect::<Vec<_>>();
    let card = &find("card")[0]["card"];
    ensure!(card["name"] == "echo" && card["capabilities"]["streaming"] == true, "{card}");
    let sent = &find("send")[0]["response"];
    ensure!(sent["task"]["status"]["state"] == "TASK_STATE_COMPLETED", "{sent}");
    ensure!(sent["task"]["artifacts"][0]["parts"][0]["text"] == "echo: hello", "{sent}");
    let streamed = find("stream");
    let payloads: Vec<&str> = streamed.iter().filter_map(|e| e["payload"].as_str()).collect();
    ensure!(payloads.first() == Some(&"task") && payloads.contains(&"artifact_update"), "{payloads:?}");
    let last = &streamed.last().context("no stream events")?["event"];
    ensure!(last["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED", "{last}");
    let text: String =
        streamed.iter().filter_map(|e| e["event"]["artifactUpdate"]["artifact"]["parts"][0]["text"].as_str()).collect();
    ensure!(text == "echo: hello stream", "the chunks make the answer: {text:?}");
    Ok(())
}

/// The version a pinned set installs of its package (`NAME==VERSION`).
fn pinned_version(set: &python::PinnedSet) -> anyhow::Result<&'static str> {
    set.requirements.first().and_then(|r| r.split_once("==")).map(|(_, v)| v).context("an unpinned set")
}

fn tempdir(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("agents-e2e-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

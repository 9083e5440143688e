//! Monitoring: the PrometheusRule and the Grafana dashboards of `operator/config/monitoring`,
//! held to Prometheus' own tools and to what the real binaries export.
//!
//! - `promtool check rules` accepts the rules and `promtool test rules` runs their unit tests
//!   (`tests/alerts.test.yaml`): each alert fires on the series it is meant for, with the labels
//!   that identify the object, and not on healthy ones;
//! - every metric a rule or a dashboard reads (listed by Prometheus' own PromQL parser) is
//!   exported by the real operator and the real `agents-runtime`, both driven until each family
//!   has samples (prometheus-client prints no `# TYPE` line for a family without one), and every
//!   family they export is on a dashboard;
//! - the dashboards are well-formed for Grafana, `kubectl kustomize` builds the directory, and
//!   the API server accepts its objects against the Prometheus Operator's real CRDs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agents_testenv::model::ScriptedModel;
use agents_testenv::pods::{PodProcess, start_program};
use agents_testenv::tools::{GoTool, PROMETHEUS_OPERATOR, PROMQL_SELECTORS, PROMTOOL};
use agents_testenv::{cache_dir, gobuild, python};
use anyhow::{Context, bail, ensure};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::support::{Ctx, DEADLINE, Env, binaries_dir, output_before, run_ok, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "monitoring",
        [
            the_rules_pass_promtool_and_their_unit_tests,
            every_metric_named_is_exported_by_the_binaries,
            the_dashboards_and_the_kustomization_are_well_formed
        ]
    )
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .join("operator/config/monitoring")
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn yaml(path: &Path) -> anyhow::Result<Value> {
    serde_norway::from_str(&read(path)?).with_context(|| format!("parsing {}", path.display()))
}

/// The PrometheusRule manifest.
fn prometheus_rule() -> anyhow::Result<Value> {
    yaml(&monitoring_dir().join("prometheus-rule.yaml"))
}

/// Every rule of every group.
fn rules(rule: &Value) -> Vec<&Value> {
    rule["spec"]["groups"].as_array().into_iter().flatten().flat_map(|g| g["rules"].as_array()).flatten().collect()
}

/// The dashboards, by file name.
fn dashboards() -> anyhow::Result<BTreeMap<String, Value>> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(monitoring_dir().join("dashboards"))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let dashboard: Value = serde_json::from_str(&read(&path)?).with_context(|| format!("{name} is not JSON"))?;
        all.insert(name, dashboard);
    }
    Ok(all)
}

/// A Go tool from the cache, built the first time.
async fn tool(tool: &'static GoTool) -> anyhow::Result<PathBuf> {
    let bin = tokio::task::spawn_blocking(move || gobuild::ensure(tool, &cache_dir()))
        .await?
        .with_context(|| format!("building {}", tool.name))?;
    Ok(bin.join(tool.binaries()[0]))
}

fn work_dir(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    let dir = ctx.cluster.dir().join("monitoring").join(&ctx.ns);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `promtool check rules` accepts the PrometheusRule's groups (and refuses a broken rule, so it
/// really reads them); `promtool test rules` passes the unit tests of every alert. Each alert
/// has a severity, a `for`, a summary and a description naming what it is about, a runbook that
/// says what to run, and a unit test in which it fires.
async fn the_rules_pass_promtool_and_their_unit_tests(ctx: Ctx) -> anyhow::Result<()> {
    let rule = prometheus_rule()?;
    ensure!(rule["apiVersion"] == "monitoring.coreos.com/v1" && rule["kind"] == "PrometheusRule", "{rule}");
    ensure!(rule["metadata"]["namespace"] == "agents-system", "{}", rule["metadata"]);
    ensure!(
        rule["metadata"]["labels"]["app.kubernetes.io/version"] == VERSION,
        "the version label is not this build's {VERSION}: {}",
        rule["metadata"]["labels"]
    );
    let rules = rules(&rule);
    let alerts: BTreeMap<&str, &Value> = rules.iter().filter_map(|r| Some((r["alert"].as_str()?, *r))).collect();
    let recorded = rules.iter().filter(|r| r["record"].is_string()).count();
    ensure!(alerts.len() >= 9 && recorded >= 3, "{} alerts, {recorded} recording rules", alerts.len());
    for (name, alert) in &alerts {
        let severity = alert["labels"]["severity"].as_str().unwrap_or_default();
        ensure!(["warning", "critical"].contains(&severity), "{name}: severity {severity:?}");
        ensure!(alert["for"].is_string(), "{name} has no `for`");
        for annotation in ["summary", "description", "runbook"] {
            ensure!(alert["annotations"][annotation].is_string(), "{name} has no {annotation}");
        }
        ensure!(
            alert["annotations"]["runbook"].as_str().is_some_and(|r| r.contains("kubectl ")),
            "{name}'s runbook says nothing to run"
        );
        // An agent's alert names the agent and its namespace; the operator's, its kind or namespace.
        let summary = alert["annotations"]["summary"].as_str().unwrap_or_default();
        let identifies = if name.starts_with("AgentsOperator") {
            *name == "AgentsOperatorAbsent" || summary.contains("$labels.kind") || summary.contains("$labels.namespace")
        } else {
            summary.contains("$labels.service") && summary.contains("$labels.namespace")
        };
        ensure!(identifies, "{name}'s summary does not say which object: {summary}");
    }

    let dir = work_dir(&ctx)?;
    let rules_file = dir.join("prometheus-rule.rules.yaml");
    std::fs::write(&rules_file, serde_norway::to_string(&rule["spec"])?)?;
    let test_source = monitoring_dir().join("tests/alerts.test.yaml");
    std::fs::copy(&test_source, dir.join("alerts.test.yaml"))?;
    let tests = yaml(&test_source)?;
    let tested: BTreeSet<&str> = tests["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["alert_rule_test"].as_array())
        .flatten()
        .filter(|t| t["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .filter_map(|t| t["alertname"].as_str())
        .collect();
    let untested: Vec<&&str> = alerts.keys().filter(|a| !tested.contains(**a)).collect();
    ensure!(untested.is_empty(), "alerts no unit test sees firing: {untested:?}");

    let promtool = tool(&PROMTOOL).await?;
    let started = Instant::now();
    let check = run_ok(Command::new(&promtool).arg("check").arg("rules").arg(&rules_file))?;
    let stdout = text(&check.stdout);
    ensure!(stdout.contains(&format!("SUCCESS: {} rules found", rules.len())), "{stdout}");

    // promtool reads the expressions: a broken one is refused.
    let broken = dir.join("broken.rules.yaml");
    std::fs::write(
        &broken,
        "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum by (kind (rate(x[5m]))\n",
    )?;
    let refused = output_before(Command::new(&promtool).arg("check").arg("rules").arg(&broken), DEADLINE)?;
    ensure!(!refused.status.success(), "promtool accepted a broken rule:\n{}", text(&refused.stdout));

    let unit = output_before(
        Command::new(&promtool).arg("test").arg("rules").arg("alerts.test.yaml").current_dir(&dir),
        DEADLINE,
    )?;
    ensure!(unit.status.success(), "promtool test rules failed:\n{}\n{}", text(&unit.stdout), text(&unit.stderr));
    eprintln!("monitoring: promtool checked and tested the rules in {:.1?}", started.elapsed());
    Ok(())
}

/// Grafana's variables, replaced by values that make a dashboard's expression plain PromQL.
fn without_grafana_variables(expr: &str) -> String {
    let mut expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h");
    for name in ["datasource", "namespace", "agent"] {
        expr = expr.replace(&format!("${{{name}}}"), "x").replace(&format!("${name}"), "x");
    }
    expr
}

/// Every PromQL expression of the rules and the dashboards (targets, and the metric selectors of
/// `label_values(...)` variable queries), with where it comes from.
fn expressions() -> anyhow::Result<Vec<(String, String)>> {
    let rule = prometheus_rule()?;
    let mut all: Vec<(String, String)> = rules(&rule)
        .iter()
        .map(|r| {
            let name = r["alert"].as_str().or(r["record"].as_str()).unwrap_or("?");
            (format!("prometheus-rule.yaml {name}"), r["expr"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    for (file, dashboard) in dashboards()? {
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default();
                all.push((format!("{file} panel {}", panel["title"]), without_grafana_variables(expr)));
            }
        }
        for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
            if variable["type"] != "query" {
                continue;
            }
            let query = variable["query"]["query"].as_str().or(variable["query"].as_str()).unwrap_or_default();
            let selector = query
                .strip_prefix("label_values(")
                .and_then(|rest| rest.rsplit_once(','))
                .map(|(selector, _)| selector.trim())
                .with_context(|| {
                    format!("{file}: variable {} is not label_values(selector, label)", variable["name"])
                })?;
            all.push((format!("{file} variable {}", variable["name"]), without_grafana_variables(selector)));
        }
    }
    Ok(all)
}

/// The metric names each expression reads, by Prometheus' own parser.
async fn selected_names(exprs: &[(String, String)]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let selectors = tool(&PROMQL_SELECTORS).await?;
    let mut child = Command::new(&selectors)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting promql-selectors")?;
    let input = serde_json::to_vec(&exprs.iter().map(|(_, e)| e).collect::<Vec<_>>())?;
    std::io::Write::write_all(&mut child.stdin.take().context("stdin")?, &input)?;
    let output = child.wait_with_output()?;
    ensure!(output.status.success(), "promql-selectors failed: {}", text(&output.stderr));
    let results: Vec<Value> = serde_json::from_slice(&output.stdout)?;
    ensure!(results.len() == exprs.len(), "{} results for {} expressions", results.len(), exprs.len());
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((place, expr), result) in exprs.iter().zip(&results) {
        if let Some(error) = result["error"].as_str() {
            bail!("{place}: {error}\n{expr}");
        }
        let found: Vec<&str> = result["names"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        ensure!(!found.is_empty(), "{place} reads no metric: {expr}");
        for name in found {
            names.entry(name.to_string()).or_default().push(place.clone());
        }
    }
    Ok(names)
}

/// The names of the samples of an exposition (`x_total`, `x_bucket`, `x_count`, ...).
fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The families of an exposition, from its `# TYPE` lines.
fn families(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .map(str::to_string)
        .collect()
}

fn free_address() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// This build's `agents-runtime` on loopback, as the operator's environment configures it.
async fn start_runtime(
    name: &str,
    address: SocketAddr,
    env: &[(&str, String)],
    dir: &Path,
) -> anyhow::Result<PodProcess> {
    let mut command = Command::new(binaries_dir().join("agents-runtime"));
    command
        .env_clear()
        .env("AGENT_NAME", name)
        .env("AGENT_PORT", address.port().to_string())
        .env("AGENT_BIND_ADDRESS", address.ip().to_string())
        .envs(env.iter().map(|(k, v)| (k, v)));
    let mut runtime = start_program(command, address, dir.join(format!("{name}.log")))?;
    runtime.serving("/health").await?;
    Ok(runtime)
}

/// One A2A 1.0 `SendMessage`; the task's state.
async fn send(client: &reqwest::Client, address: SocketAddr, question: &str) -> anyhow::Result<String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
        "params": {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": question}]}}});
    let response = client
        .post(format!("http://{address}/"))
        .header("content-type", "application/json")
        .header("A2A-Version", "1.0")
        .body(body.to_string())
        .timeout(DEADLINE)
        .send()
        .await?;
    let answer: Value = serde_json::from_slice(&response.bytes().await?)?;
    answer["result"]["task"]["status"]["state"].as_str().map(str::to_string).with_context(|| format!("{answer}"))
}

/// Every metric a rule or a dashboard reads is exported by the binaries. The operator (the real
/// binary, for this test's namespace) reconciles an Agent and fails one the API server refuses;
/// the runtime (the real binary) answers a question with a tool call to a published MCP server
/// (mcp-server-time behind mcp-proxy, as the operator runs it) and a delegation to a peer
/// runtime, and fails one on a model error. Then every family has samples, the runtime's count
/// what happened, and every family of both is on a dashboard.
async fn every_metric_named_is_exported_by_the_binaries(ctx: Ctx) -> anyhow::Result<()> {
    let exprs = expressions()?;
    let used = selected_names(&exprs).await?;
    let rule = prometheus_rule()?;
    let recorded: BTreeSet<String> =
        rules(&rule).iter().filter_map(|r| r["record"].as_str()).map(str::to_string).collect();

    // The operator: one Agent reconciled, one failing (the namespace's quota lets one Deployment in).
    let operator = ctx.operator(&[])?;
    ctx.limit_deployments(1).await?;
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: fine}\nspec: {image: ghcr.io/example/a:v1}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: greedy}\nspec: {image: ghcr.io/example/a:v1}\n",
    )
    .await?;
    let operator_used: Vec<&String> = used.keys().filter(|n| n.starts_with("agents_operator_")).collect();
    let deadline = Instant::now() + DEADLINE;
    let operator_text = loop {
        let text = operator.get("/metrics")?;
        let exported = sample_names(&text);
        let failed = agents_testenv::http::family_sum(&text, "agents_operator_reconcile_failures_total");
        if failed >= 1.0 && operator_used.iter().all(|n| exported.contains(*n)) {
            break text;
        }
        if Instant::now() > deadline {
            bail!("after {DEADLINE:?} the operator exports no samples of some of {operator_used:?}:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // The runtime: a helper with an MCP server and a peer.
    let dir = work_dir(&ctx)?;
    let model = ScriptedModel::start(crate::agent_runtime::script, Duration::ZERO).await?;
    let (bridge, time) = tokio::task::spawn_blocking(|| {
        Ok::<_, agents_testenv::Error>((python::MCP_PROXY.ensure()?, python::MCP_SERVER_TIME.ensure()?))
    })
    .await??;
    let time_address = free_address()?;
    let mut bridge_command = Command::new(bridge.bin("mcp-proxy"));
    bridge_command
        .args(["--host", "127.0.0.1", "--port", &time_address.port().to_string(), "--pass-environment", "--"])
        .arg(time.bin("mcp-server-time"));
    let mut mcp = start_program(bridge_command, time_address, dir.join("time.log"))?;
    tokio::task::block_in_place(|| mcp.wait_listening())?;
    let (writer_address, helper_address) = (free_address()?, free_address()?);
    let model_env = |name: &str| [("MODEL_NAME", name.to_string()), ("MODEL_API_URL", model.url())];
    let _writer = start_runtime("writer", writer_address, &model_env("scripted-writer"), &dir).await?;
    let helper_env: Vec<(&str, String)> = model_env("scripted-helper")
        .into_iter()
        .chain([
            ("MCP_SERVERS", json!({"time": format!("http://{time_address}/mcp")}).to_string()),
            ("PEER_AGENTS", "writer".into()),
            ("PEER_AGENT_WRITER_CARD_URL", format!("http://{writer_address}/.well-known/agent-card.json")),
        ])
        .collect();
    let helper = start_runtime("helper", helper_address, &helper_env, &dir).await?;
    let client = agents_runtime::http_client()?;
    let logs = || format!("helper's log:\n{}\ntime's log:\n{}", helper.log_text(), mcp.log_text());
    let answered = send(&client, helper_address, "What time is it in UTC?").await?;
    ensure!(answered == "TASK_STATE_COMPLETED", "the question ended {answered}\n{}", logs());
    let failed = send(&client, helper_address, "please fail").await?;
    ensure!(failed == "TASK_STATE_FAILED", "the failing question ended {failed}\n{}", logs());
    let runtime_text = helper.get("/metrics")?;
    for (sample, expected) in [
        (r#"agent_tasks_total{status="completed"}"#, 1.0),
        (r#"agent_tasks_total{status="failed"}"#, 1.0),
        ("agent_task_duration_seconds_count", 2.0),
        (r#"llm_requests_total{model="scripted-helper",status="success"}"#, 3.0),
        (r#"llm_requests_total{model="scripted-helper",status="error"}"#, 1.0),
        (r#"agent_tool_calls_total{server="time",tool="get_current_time",status="success"}"#, 1.0),
        (r#"agent_delegations_total{peer="writer",status="success"}"#, 1.0),
        (r#"a2a_requests_total{method="SendMessage",status="ok"}"#, 2.0),
    ] {
        let value = agents_testenv::http::sample(&runtime_text, sample);
        ensure!(value == expected, "{sample} is {value}, not {expected}:\n{runtime_text}");
    }

    // Every name read is exported (recording rules' names are the rules' own).
    let exported: BTreeSet<String> =
        sample_names(&operator_text).into_iter().chain(sample_names(&runtime_text)).collect();
    let missing: Vec<String> = used
        .iter()
        .filter(|(name, _)| !recorded.contains(*name) && !exported.contains(*name))
        .map(|(name, places)| format!("{name} (in {})", places.join(", ")))
        .collect();
    ensure!(missing.is_empty(), "read but not exported by the binaries:\n{}", missing.join("\n"));
    // And every family exported is on a dashboard.
    let on_dashboards: BTreeSet<String> = used
        .iter()
        .filter(|(_, places)| places.iter().any(|p| p.ends_with(".json") || p.contains(".json ")))
        .map(|(name, _)| name.clone())
        .collect();
    let shown = |family: &str| {
        ["", "_total", "_bucket", "_count", "_sum"]
            .iter()
            .any(|suffix| on_dashboards.contains(&format!("{family}{suffix}")))
    };
    let unshown: Vec<String> =
        families(&operator_text).into_iter().chain(families(&runtime_text)).filter(|f| !shown(f)).collect();
    ensure!(unshown.is_empty(), "exported but on no dashboard: {unshown:?}");
    Ok(())
}

/// Walks a JSON value, calling `f` on every object.
fn each_object<'a>(value: &'a Value, f: &mut impl FnMut(&'a serde_json::Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            f(map);
            map.values().for_each(|v| each_object(v, f));
        }
        Value::Array(items) => items.iter().for_each(|v| each_object(v, f)),
        _ => {}
    }
}

/// The dashboards: a current schema, a Prometheus data source variable used everywhere (no data
/// source uid written in), the namespace (and, for agents, agent) variables, unique uids and
/// panel ids, every panel with queries. The kustomization builds with kubectl's kustomize into
/// the PodMonitor, the PrometheusRule and a ConfigMap with the dashboards as they are on disk;
/// `operator/config/default` leaves them out; and the API server, with the Prometheus
/// Operator's own CRDs installed, accepts the objects (server-side dry run, strict fields).
async fn the_dashboards_and_the_kustomization_are_well_formed(ctx: Ctx) -> anyhow::Result<()> {
    let dashboards = dashboards()?;
    ensure!(
        dashboards.keys().collect::<Vec<_>>() == ["agents-operator.json", "agents.json"],
        "{:?}",
        dashboards.keys()
    );
    let mut uids = BTreeSet::new();
    for (file, dashboard) in &dashboards {
        let uid = dashboard["uid"].as_str().unwrap_or_default();
        ensure!(!uid.is_empty() && uids.insert(uid.to_string()), "{file}: uid {uid:?}");
        ensure!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 39), "{file}: {}", dashboard["schemaVersion"]);
        ensure!(dashboard["title"].is_string(), "{file} has no title");
        let variables: BTreeMap<&str, &Value> = dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v["name"].as_str()?, v)))
            .collect();
        let source = variables.get("datasource").with_context(|| format!("{file}: no datasource variable"))?;
        ensure!(source["type"] == "datasource" && source["query"] == "prometheus", "{file}: {source}");
        let wanted: &[&str] = if file == "agents.json" { &["namespace", "agent"] } else { &["namespace"] };
        for name in wanted {
            ensure!(variables.get(name).is_some_and(|v| v["type"] == "query"), "{file}: no query variable {name}");
        }
        let mut hard_coded = vec![];
        each_object(dashboard, &mut |object| {
            if let Some(source) = object.get("datasource").and_then(Value::as_object)
                && source.get("type").is_some_and(|t| t == "prometheus")
                && source.get("uid").is_none_or(|uid| uid != "${datasource}")
            {
                hard_coded.push(Value::Object(source.clone()));
            }
        });
        ensure!(hard_coded.is_empty(), "{file}: data sources not ${{datasource}}: {hard_coded:?}");
        let panels = dashboard["panels"].as_array().with_context(|| format!("{file} has no panels"))?;
        let mut ids = BTreeSet::new();
        let mut queried = 0;
        for panel in panels {
            let id =
                panel["id"].as_u64().with_context(|| format!("{file}: a panel without an id: {}", panel["title"]))?;
            ensure!(ids.insert(id), "{file}: panel id {id} twice");
            ensure!(
                panel["gridPos"]["w"].is_u64() && panel["gridPos"]["h"].is_u64(),
                "{file}: {} has no place",
                panel["title"]
            );
            if panel["type"] == "row" {
                continue;
            }
            let targets = panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
            ensure!(!targets.is_empty(), "{file}: panel {} has no targets", panel["title"]);
            for target in targets {
                ensure!(
                    target["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                    "{file}: panel {} has a target without expr",
                    panel["title"]
                );
                ensure!(target["refId"].is_string(), "{file}: panel {} has a target without refId", panel["title"]);
            }
            queried += 1;
        }
        ensure!(queried >= 8, "{file}: only {queried} panels with queries");
    }

    // kubectl's kustomize builds the directory.
    let dir = monitoring_dir();
    let built = run_ok(ctx.kubectl().arg("kustomize").arg(&dir))?;
    let mut objects = vec![];
    for document in serde_norway::Deserializer::from_slice(&built.stdout) {
        let object = <Value as serde::Deserialize>::deserialize(document)?;
        if !object.is_null() {
            objects.push(object);
        }
    }
    let kinds: BTreeSet<String> = objects
        .iter()
        .map(|o| format!("{}/{}", o["kind"].as_str().unwrap_or("?"), o["metadata"]["name"].as_str().unwrap_or("?")))
        .collect();
    ensure!(
        kinds
            == BTreeSet::from(
                ["ConfigMap/agents-dashboards", "PodMonitor/agents-operator", "PrometheusRule/agents-operator"]
                    .map(String::from)
            ),
        "{kinds:?}"
    );
    let config_map = objects.iter().find(|o| o["kind"] == "ConfigMap").context("no ConfigMap")?;
    ensure!(config_map["metadata"]["labels"]["grafana_dashboard"] == "1", "{}", config_map["metadata"]);
    for file in dashboards.keys() {
        let on_disk = read(&dir.join("dashboards").join(file))?;
        ensure!(
            config_map["data"][file].as_str() == Some(on_disk.as_str()),
            "the ConfigMap's {file} differs from the file"
        );
    }
    ensure!(objects.iter().all(|o| o["metadata"]["namespace"] == "agents-system"), "not all in agents-system");
    let rule = objects.iter().find(|o| o["kind"] == "PrometheusRule").context("no PrometheusRule")?;
    ensure!(rule["spec"] == prometheus_rule()?["spec"], "the built PrometheusRule differs from the file");
    let default = run_ok(ctx.kubectl().arg("kustomize").arg(dir.parent().context("config")?.join("default")))?;
    ensure!(!text(&default.stdout).contains("monitoring.coreos.com/v1"), "operator/config/default includes monitoring");

    // The Prometheus Operator's own CRDs, from its module, then a server-side dry run of every
    // object (moved to this test's namespace: agents-system need not exist here).
    let module = tokio::task::spawn_blocking(|| gobuild::module_dir(&PROMETHEUS_OPERATOR, &cache_dir())).await??;
    let crds = module.join("example/prometheus-operator-crd");
    let mut apply_crds = ctx.kubectl();
    apply_crds.args(["apply", "--server-side", "--field-manager=agents-testenv"]);
    for crd in ["monitoring.coreos.com_prometheusrules.yaml", "monitoring.coreos.com_podmonitors.yaml"] {
        apply_crds.arg("-f").arg(crds.join(crd));
    }
    run_ok(&mut apply_crds)?;
    run_ok(ctx.kubectl().args([
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/prometheusrules.monitoring.coreos.com",
        "crd/podmonitors.monitoring.coreos.com",
    ]))?;
    let mut stream = String::new();
    for mut object in objects {
        object["metadata"]["namespace"] = json!(ctx.ns);
        stream.push_str(&format!("---\n{}", serde_norway::to_string(&object)?));
    }
    let input = dir_file(&ctx, "monitoring.yaml", &stream)?;
    // Discovery may lag the CRDs' establishment by a moment: retry until the deadline.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let output = output_before(
            ctx.kubectl().args(["apply", "--server-side", "--dry-run=server", "--validate=strict", "-f"]).arg(&input),
            DEADLINE,
        )?;
        let stdout = text(&output.stdout);
        if output.status.success() {
            for name in [
                "configmap/agents-dashboards",
                "podmonitor.monitoring.coreos.com/agents-operator",
                "prometheusrule.monitoring.coreos.com/agents-operator",
            ] {
                ensure!(stdout.contains(name), "{name} not applied:\n{stdout}");
            }
            break;
        }
        let stderr = text(&output.stderr);
        ensure!(
            Instant::now() < deadline && stderr.contains("no matches for kind"),
            "the API server refused the monitoring objects:\n{stdout}\n{stderr}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn dir_file(ctx: &Ctx, name: &str, content: &str) -> anyhow::Result<PathBuf> {
    let path = work_dir(ctx)?.join(name);
    std::fs::write(&path, content)?;
    Ok(path)
}

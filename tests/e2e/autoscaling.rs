//! Autoscaling as seed 002 describes it: an Agent's `spec.autoscaling` becomes seed 002's
//! HorizontalPodAutoscaler (CPU and memory utilisation, requests per second per pod through the
//! Prometheus Adapter, scale-up and scale-down behaviour), the real API server stores it as
//! rendered, the HPA owns the replica count without the operator ever fighting it, and what an
//! HPA would refuse is refused with the Agent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use agents_api::Agent;
use agents_testenv::tools::{GoTool, PROMTOOL};
use agents_testenv::{cache_dir, gobuild};
use anyhow::{Context, bail, ensure};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec};
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::wait::conditions;
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::support::{Ctx, DEADLINE, Env, output_before, run_ok, text, trials, workspace_root};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "autoscaling",
        [
            seed_002s_autoscaler_owns_the_replicas,
            invalid_autoscaling_is_refused,
            the_adapter_rule_serves_the_hpas_metric
        ]
    )
}

/// The custom metric of `targetRequestsPerSecond`: what the HPA asks the custom metrics API for.
const REQUESTS_METRIC: &str = "a2a_requests_per_second";

/// Seed 002's `behavior`, as the Agent takes it and the HPA stores it.
/// Indented to sit under `autoscaling.behavior:` in the Agent (deeper than the HPA needs).
const SEED_002_BEHAVIOR: &str = "
      scaleDown:
        stabilizationWindowSeconds: 300
        policies: [{type: Percent, value: 50, periodSeconds: 60}]
      scaleUp:
        stabilizationWindowSeconds: 0
        policies:
        - {type: Percent, value: 100, periodSeconds: 15}
        - {type: Pods, value: 2, periodSeconds: 15}
        selectPolicy: Max";

fn agent_yaml(image: &str) -> String {
    format!(
        "apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {{name: elastic}}
spec:
  image: {image}
  resources: {{requests: {{cpu: 500m, memory: 1Gi}}}}
  autoscaling:
    minReplicas: 2
    maxReplicas: 10
    targetCPUUtilization: 70
    targetMemoryUtilization: 80
    targetRequestsPerSecond: \"100\"
    behavior:{SEED_002_BEHAVIOR}
"
    )
}

/// The HPA seed 002 writes by hand, with the metric name the shipped Prometheus Adapter rule
/// (`operator/config/monitoring/prometheus-adapter.yaml`) gives the runtime's
/// `a2a_requests_total`, and the one default the API server adds (scaleDown's selectPolicy).
fn seed_002_hpa() -> anyhow::Result<HorizontalPodAutoscalerSpec> {
    let yaml = format!(
        "scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: elastic}}
minReplicas: 2
maxReplicas: 10
metrics:
- type: Resource
  resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
- type: Resource
  resource: {{name: memory, target: {{type: Utilization, averageUtilization: 80}}}}
- type: Pods
  pods:
    metric: {{name: {REQUESTS_METRIC}}}
    target: {{type: AverageValue, averageValue: \"100\"}}
behavior:{SEED_002_BEHAVIOR}
"
    );
    let mut spec: HorizontalPodAutoscalerSpec = serde_norway::from_str(&yaml)?;
    if let Some(down) = spec.behavior.as_mut().and_then(|b| b.scale_down.as_mut()) {
        down.select_policy = Some("Max".into());
    }
    Ok(spec)
}

/// The operator applies seed 002's HPA and the API server keeps every field of it. Then the HPA
/// owns the count: the real HPA controller of the test cluster (kube-controller-manager v1.37.2)
/// raises the Deployment from the 1 it was created with to minReplicas; with no metrics API here
/// it can go no further, so the test plays a metrics-driven decision as the HPA makes one (its
/// status, then a PUT of the Deployment's scale subresource to 5). The operator reconciles on
/// that, then applies an image change, without ever writing the count back: the Deployment is
/// watched from the scale-up until the operator's new image is in it, and no event shows another
/// count.
async fn seed_002s_autoscaler_owns_the_replicas(ctx: Ctx) -> anyhow::Result<()> {
    let operator = ctx.operator(&[])?;
    ctx.apply_yaml(&agent_yaml("ghcr.io/example/a:v1")).await?;
    let hpas: Api<HorizontalPodAutoscaler> = ctx.api();
    let hpa = ctx.wait_for(&hpas, "elastic", "the HPA", conditions::is_created()).await?;
    let expected = seed_002_hpa()?;
    ensure!(
        hpa.spec == expected,
        "the stored HPA differs from seed 002's:\nstored:   {}\nexpected: {}",
        serde_json::to_string(&hpa.spec)?,
        serde_json::to_string(&expected)?
    );

    // The real HPA controller enforces minReplicas through the scale subresource, and says so in
    // the HPA's status (only it writes that status until the test plays it below).
    let deployments: Api<Deployment> = ctx.api();
    let replicas = |d: Option<&Deployment>| d.and_then(|d| d.spec.replicas);
    ctx.wait_for(
        &hpas,
        "elastic",
        "the HPA controller to rescale to minReplicas (2)",
        |h: Option<&HorizontalPodAutoscaler>| {
            h.and_then(|h| h.status.as_ref()).is_some_and(|s| s.last_scale_time.is_some() && s.desired_replicas == 2)
        },
    )
    .await?;
    ctx.wait_for(&deployments, "elastic", "2 replicas", move |d: Option<&Deployment>| replicas(d) == Some(2)).await?;

    // With no metrics API here, the HPA controller says it cannot scale, and the Agent says so
    // in the HPA's words.
    let agents: Api<Agent> = ctx.api();
    let agent = ctx
        .wait_for(&agents, "elastic", "FeaturesAvailable False from the HPA", |a: Option<&Agent>| {
            let conditions = a.and_then(|a| a.status.as_ref()).map(|s| s.conditions.as_slice()).unwrap_or_default();
            agents_api::conditions::find(conditions, "FeaturesAvailable")
                .is_some_and(|c| c.status == "False" && c.reason == "AutoscalingInactive")
        })
        .await?;
    let status = agent.status.context("no status")?;
    let features = agents_api::conditions::find(&status.conditions, "FeaturesAvailable").context("no condition")?;
    ensure!(
        features.message.starts_with("the HorizontalPodAutoscaler cannot scale (FailedGetResourceMetric): ")
            && features.message.contains("pods.metrics.k8s.io")
            && features.message.ends_with("is the metrics API served? (metrics-server for CPU and memory, the Prometheus Adapter for requests per second)"),
        "FeaturesAvailable: {}",
        features.message
    );

    // A metrics-driven scale-up, as the HPA writes it: its status, then the target's scale. The
    // operator watches its HPAs, so it reconciles on the status change.
    let before = operator.settled_reconciles("Agent").await?;
    let status = json!({"status": {
        "currentReplicas": 2,
        "desiredReplicas": 5,
        "lastScaleTime": k8s_openapi::jiff::Timestamp::now(),
        "currentMetrics": [{"type": "Pods", "pods": {
            "metric": {"name": REQUESTS_METRIC},
            "current": {"averageValue": "250"},
        }}],
    }});
    hpas.patch_status("elastic", &PatchParams::default(), &Patch::Merge(&status)).await?;
    let hpa_manager = PostParams { field_manager: Some("e2e-horizontal-pod-autoscaler".into()), ..Default::default() };
    let scaled = ctx
        .wait_for_value("the scale-up to be written", || async {
            let mut scale = deployments.get_scale("elastic").await?;
            scale.spec.get_or_insert_default().replicas = Some(5);
            // Like the HPA, read-modify-write: a Deployment changed in between is read again.
            match deployments.replace_scale("elastic", &hpa_manager, &scale).await {
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(None),
                written => Ok(Some(written?)),
            }
        })
        .await?;
    let from = scaled.metadata.resource_version.context("the scale has no resourceVersion")?;
    operator.reconciled_since("Agent", before).await?;

    // A change the operator must apply to the Deployment: once it is there, the operator has
    // reconciled and applied since the scale-up, so an unchanged count means it left it alone.
    ctx.apply_yaml(&agent_yaml("ghcr.io/example/a:v2")).await?;
    let image =
        |d: &Deployment| d.spec.template.spec.as_ref().and_then(|p| p.containers.first()).and_then(|c| c.image.clone());
    let mut events = deployments.watch(&WatchParams::default().fields("metadata.name=elastic"), &from).await?.boxed();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .context("the operator did not apply the new image within the deadline")?
            .context("the watch ended")??;
        let deployment = match event {
            WatchEvent::Added(d) | WatchEvent::Modified(d) => d,
            WatchEvent::Deleted(_) => bail!("the Deployment was deleted"),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => bail!("watching the Deployment: {e:?}"),
        };
        let count = replicas(Some(&deployment));
        ensure!(count == Some(5), "the Deployment's replicas went from the HPA's 5 to {count:?}");
        if image(&deployment).as_deref() == Some("ghcr.io/example/a:v2") {
            let operator_owns_replicas = deployment.metadata.managed_fields.iter().flatten().any(|m| {
                m.manager.as_deref() == Some("agents-operator")
                    && m.fields_v1.as_ref().is_some_and(|f| f.0.pointer("/f:spec/f:replicas").is_some())
            });
            ensure!(!operator_owns_replicas, "the operator's apply claims spec.replicas");
            break;
        }
    }
    // Nor did it touch the HPA's spec.
    ensure!(hpas.get("elastic").await?.spec == expected, "the HPA's spec changed");
    Ok(())
}

/// (what is wrong, `spec.autoscaling` in YAML, a fragment the rejection must contain)
const CASES: &[(&str, &str, &str)] = &[
    (
        "a CPU target of 0",
        "{maxReplicas: 3, targetCPUUtilization: 0}",
        "spec.autoscaling.targetCPUUtilization: Invalid value: 0: spec.autoscaling.targetCPUUtilization in body should be greater than or equal to 1",
    ),
    (
        "a memory target of 0",
        "{maxReplicas: 3, targetMemoryUtilization: 0}",
        "spec.autoscaling.targetMemoryUtilization: Invalid value: 0",
    ),
    (
        "a requests-per-second target that is no quantity",
        "{maxReplicas: 3, targetRequestsPerSecond: lots}",
        "spec.autoscaling.targetRequestsPerSecond: Invalid value: \"lots\": must be a positive quantity of requests per second per pod",
    ),
    (
        "a requests-per-second target of 0",
        "{maxReplicas: 3, targetRequestsPerSecond: \"0\"}",
        "spec.autoscaling.targetRequestsPerSecond: Invalid value: \"0\": must be a positive quantity",
    ),
    (
        "a policy of 0 pods",
        "{maxReplicas: 3, behavior: {scaleUp: {policies: [{type: Pods, value: 0, periodSeconds: 15}]}}}",
        "spec.autoscaling.behavior.scaleUp.policies[0].value: Invalid value: a scaling policy's value must be greater than 0",
    ),
    (
        "a policy period over 30 minutes",
        "{maxReplicas: 3, behavior: {scaleDown: {policies: [{type: Percent, value: 10, periodSeconds: 1801}]}}}",
        "spec.autoscaling.behavior.scaleDown.policies[0].periodSeconds: Invalid value: a scaling policy's periodSeconds must be from 1 to 1800",
    ),
    (
        "a policy period of 0",
        "{maxReplicas: 3, behavior: {scaleUp: {policies: [{type: Pods, value: 1, periodSeconds: 0}]}}}",
        "spec.autoscaling.behavior.scaleUp.policies[0].periodSeconds: Invalid value: a scaling policy's periodSeconds must be from 1 to 1800",
    ),
    (
        "a policy type the HPA does not know",
        "{maxReplicas: 3, behavior: {scaleUp: {policies: [{type: Replicas, value: 1, periodSeconds: 15}]}}}",
        "spec.autoscaling.behavior.scaleUp.policies[0].type: Invalid value: a scaling policy's type is Pods",
    ),
    (
        "a stabilisation window over an hour",
        "{maxReplicas: 3, behavior: {scaleDown: {stabilizationWindowSeconds: 3601}}}",
        "spec.autoscaling.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: stabilizationWindowSeconds must be from 0 to 3600",
    ),
    (
        "a negative stabilisation window",
        "{maxReplicas: 3, behavior: {scaleUp: {stabilizationWindowSeconds: -1}}}",
        "spec.autoscaling.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: stabilizationWindowSeconds must be from 0 to 3600",
    ),
    (
        "a selectPolicy the HPA does not know",
        "{maxReplicas: 3, behavior: {scaleUp: {selectPolicy: Maximum}}}",
        "spec.autoscaling.behavior.scaleUp.selectPolicy: Invalid value: selectPolicy is Max",
    ),
    (
        "an empty list of policies",
        "{maxReplicas: 3, behavior: {scaleDown: {policies: []}}}",
        "spec.autoscaling.behavior.scaleDown.policies: Invalid value: policies must list at least one policy",
    ),
    (
        "a negative tolerance",
        "{maxReplicas: 3, behavior: {scaleDown: {tolerance: \"-0.1\"}}}",
        "spec.autoscaling.behavior.scaleDown.tolerance: Invalid value: tolerance must be a quantity of at least 0",
    ),
];

/// Each case is sent to the real API server, which must refuse it with a message naming the
/// field; then a valid Agent using every checked field, at its limits, is accepted.
async fn invalid_autoscaling_is_refused(ctx: Ctx) -> anyhow::Result<()> {
    let agent = |autoscaling: &str| {
        format!(
            "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: a}}\nspec: {{image: x:1, autoscaling: {autoscaling}}}\n"
        )
    };
    let mut failures = Vec::new();
    for (what, autoscaling, expected) in CASES {
        match ctx.apply_yaml(&agent(autoscaling)).await {
            Ok(()) => failures.push(format!("{what}: accepted")),
            Err(e) => {
                let message = format!("{e:#}");
                if !message.contains(expected) {
                    failures.push(format!("{what}: rejected with {message:?}, which lacks {expected:?}"));
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!("{} of {} cases went wrong:\n{}", failures.len(), CASES.len(), failures.join("\n"));
    }
    ctx.apply_yaml(&agent(
        "{minReplicas: 3, maxReplicas: 3, targetCPUUtilization: 150, targetMemoryUtilization: 1, \
         targetRequestsPerSecond: 500m, behavior: {scaleUp: {stabilizationWindowSeconds: 3600, selectPolicy: Min, \
         policies: [{type: Pods, value: 1, periodSeconds: 1800}, {type: Percent, value: 1000, periodSeconds: 1}]}, \
         scaleDown: {stabilizationWindowSeconds: 0, selectPolicy: Disabled, tolerance: 50m}}}",
    ))
    .await
    .context("a valid Agent using every checked autoscaling field")?;
    let stored = ctx.api::<Agent>().get("a").await?;
    let autoscaling = stored.spec.autoscaling.context("autoscaling was not stored")?;
    ensure!(
        autoscaling.behavior.and_then(|b| b.scale_down).and_then(|d| d.tolerance).map(|t| t.0).as_deref()
            == Some("50m"),
        "the tolerance was not stored"
    );
    Ok(())
}

/// The Prometheus Adapter's own configuration loader and naming code (`pkg/config`,
/// `pkg/naming`): for a configuration file and the series Prometheus lists, what the adapter
/// serves: each kept series' custom metric name, the resources it is about, and the query it
/// sends Prometheus for the pods named.
const ADAPTER_NAMING: GoTool = GoTool {
    name: "prometheus-adapter-naming",
    module: "sigs.k8s.io/prometheus-adapter",
    version: "v0.12.0",
    packages: &[],
    main_go: Some(ADAPTER_NAMING_MAIN),
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[],
    cgo: None,
};

const ADAPTER_NAMING_MAIN: &str = r#"package main

import (
	"encoding/json"
	"fmt"
	"os"

	pmodel "github.com/prometheus/common/model"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	prom "sigs.k8s.io/prometheus-adapter/pkg/client"
	"sigs.k8s.io/prometheus-adapter/pkg/config"
	"sigs.k8s.io/prometheus-adapter/pkg/naming"
)

type input struct {
	Series    []map[string]string `json:"series"`
	Namespace string              `json:"namespace"`
	Pods      []string            `json:"pods"`
}

type metric struct {
	Series    string   `json:"series"`
	Name      string   `json:"name"`
	Resources []string `json:"resources"`
	Query     string   `json:"query"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: prometheus-adapter-naming CONFIG INPUT.json")
	}
	cfg, err := config.FromFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	raw, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fail("%s: %v", os.Args[2], err)
	}
	mapper := apimeta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, apimeta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, apimeta.RESTScopeRoot)
	namers, err := naming.NamersFromConfig(cfg.Rules, mapper)
	if err != nil {
		fail("%v", err)
	}
	var series []prom.Series
	for _, s := range in.Series {
		set := pmodel.LabelSet{}
		for k, v := range s {
			if k != "__name__" {
				set[pmodel.LabelName(k)] = pmodel.LabelValue(v)
			}
		}
		series = append(series, prom.Series{Name: s["__name__"], Labels: set})
	}
	out := []metric{}
	pods := schema.GroupResource{Resource: "pods"}
	for _, namer := range namers {
		for _, s := range namer.FilterSeries(series) {
			name, err := namer.MetricNameForSeries(s)
			if err != nil {
				fail("%v", err)
			}
			m := metric{Series: s.Name, Name: name, Resources: []string{}}
			resources, _ := namer.ResourcesForSeries(s)
			for _, r := range resources {
				m.Resources = append(m.Resources, r.String())
			}
			query, err := namer.QueryForSeries(s.Name, pods, in.Namespace, labels.Everything(), in.Pods...)
			if err != nil {
				fail("%v", err)
			}
			m.Query = string(query)
			out = append(out, m)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
"#;

/// A Go tool from the cache, built the first time.
async fn tool(tool: &'static GoTool) -> anyhow::Result<PathBuf> {
    let bin = tokio::task::spawn_blocking(move || gobuild::ensure(tool, &cache_dir()))
        .await?
        .with_context(|| format!("building {}", tool.name))?;
    Ok(bin.join(tool.binaries()[0]))
}

/// The label sets of one family in the exposition text (`name{k="v",...} value` lines).
fn series_of(exposition: &str, family: &str) -> Vec<BTreeMap<String, String>> {
    let prefix = format!("{family}{{");
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix)?.split_once('}'))
        .map(|(labels, _)| {
            labels
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect()
        })
        .collect()
}

/// The HPA's metric comes from the adapter rule this repository ships: the Prometheus Adapter's
/// own code (sigs.k8s.io/prometheus-adapter v0.12.0, `pkg/config` and `pkg/naming`), given the
/// rule of `operator/config/monitoring/prometheus-adapter.yaml` and the `a2a_requests_total`
/// series the agent runtime's own metrics code exports (with the `namespace` and `pod` labels a
/// scrape adds), names them `a2a_requests_per_second` for pods and namespaces; Prometheus' own
/// engine (promtool v0.316.0's `test rules`) evaluates the query the adapter builds to one rate
/// per pod, summed over A2A methods, other namespaces left out.
async fn the_adapter_rule_serves_the_hpas_metric(ctx: Ctx) -> anyhow::Result<()> {
    let dir = ctx.cluster.dir().join("autoscaling").join(&ctx.ns);
    std::fs::create_dir_all(&dir)?;
    let values_file = workspace_root().join("operator/config/monitoring/prometheus-adapter.yaml");
    let values: Value = serde_norway::from_str(&std::fs::read_to_string(&values_file)?)
        .with_context(|| format!("parsing {}", values_file.display()))?;
    // The chart's `rules.custom` entries are the adapter's configuration `rules`, as they are.
    let rules = values["rules"]["custom"].clone();
    ensure!(rules.as_array().is_some_and(|r| !r.is_empty()), "{} has no rules.custom", values_file.display());
    let config = dir.join("adapter-config.json");
    std::fs::write(&config, serde_json::to_vec(&json!({"rules": rules}))?)?;

    // What the runtime exports after two kinds of A2A request.
    let metrics = agents_runtime::metrics::Metrics::new();
    metrics.a2a_request("SendMessage", true);
    metrics.a2a_request("GetTask", true);
    let exported = series_of(&metrics.render(), "a2a_requests_total");
    ensure!(exported.len() == 2, "the runtime exported {exported:?}");
    let scraped = |labels: &BTreeMap<String, String>, namespace: &str, pod: &str| {
        let mut labels = labels.clone();
        labels.extend(
            [("namespace", namespace), ("pod", pod), ("service", "research")].map(|(k, v)| (k.into(), v.into())),
        );
        labels
    };
    let mut series: Vec<BTreeMap<String, String>> =
        exported.iter().map(|l| scraped(l, "team-a", "research-abc")).collect();
    for labels in &mut series {
        labels.insert("__name__".into(), "a2a_requests_total".into());
    }
    let input = dir.join("series.json");
    let pods = ["research-abc", "research-def"];
    std::fs::write(&input, serde_json::to_vec(&json!({"series": series, "namespace": "team-a", "pods": pods}))?)?;
    let naming = tool(&ADAPTER_NAMING).await?;
    let output = run_ok(Command::new(&naming).arg(&config).arg(&input))?;
    let served: Vec<Value> = serde_json::from_slice(&output.stdout)?;
    ensure!(served.len() == series.len(), "the adapter kept {} of {} series: {served:?}", served.len(), series.len());
    for metric in &served {
        ensure!(metric["name"] == REQUESTS_METRIC, "the adapter names the runtime's counter {}", metric["name"]);
        let resources: BTreeSet<&str> =
            metric["resources"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        ensure!(resources == BTreeSet::from(["pods", "namespaces"]), "the metric is about {resources:?}, not pods");
    }
    let query = served[0]["query"].as_str().context("no query")?;

    // The query over scraped series: per pod, 1.5/s for research-abc (1/s + 0.5/s of its two
    // methods), 2/s for research-def; the same pod name in another namespace does not count.
    // A sample every 20 s makes Prometheus' extrapolated rate exact.
    let mut input_series = Vec::new();
    for (labels, per_20s) in exported.iter().zip(["20", "10"]) {
        input_series.push((scraped(labels, "team-a", "research-abc"), per_20s));
        input_series.push((scraped(labels, "team-b", "research-abc"), "200"));
    }
    input_series.push((scraped(&exported[0], "team-a", "research-def"), "40"));
    let input_series: Vec<Value> = input_series
        .iter()
        .map(|(labels, per_20s)| {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            json!({"series": format!("a2a_requests_total{{{}}}", labels.join(",")), "values": format!("0+{per_20s}x12")})
        })
        .collect();
    let unit = json!({
        "rule_files": [],
        "tests": [{
            "interval": "20s",
            "input_series": input_series,
            "promql_expr_test": [{
                "expr": query,
                "eval_time": "3m",
                "exp_samples": [
                    {"labels": "{pod=\"research-abc\"}", "value": 1.5},
                    {"labels": "{pod=\"research-def\"}", "value": 2},
                ],
            }],
        }],
    });
    std::fs::write(dir.join("adapter-query.test.yaml"), serde_json::to_vec(&unit)?)?;
    let promtool = tool(&PROMTOOL).await?;
    let result = output_before(
        Command::new(&promtool).arg("test").arg("rules").arg("adapter-query.test.yaml").current_dir(&dir),
        DEADLINE,
    )?;
    ensure!(
        result.status.success(),
        "Prometheus evaluates the adapter's query {query} otherwise:\n{}\n{}",
        text(&result.stdout),
        text(&result.stderr)
    );
    Ok(())
}

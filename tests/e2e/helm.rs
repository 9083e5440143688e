//! The Helm chart `charts/agents-operator`, driven by the real `helm` (v4, built from its Go
//! module like the control plane's tools): its files are copies of `operator/config/`, its
//! version the workspace's, `helm lint` passes, `helm template` renders what the kustomization
//! builds, its schema refuses wrong values, its values do what they say, and it installs,
//! upgrades and uninstalls on a private control plane (installing touches CRDs, which the shared
//! cluster's other tests rely on).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use agents_api::{Agent, AgentPhase};
use agents_testenv::crds::SERVICE_MONITOR_CRDS;
use agents_testenv::tools::HELM;
use agents_testenv::{Cluster, Options, cache_dir, gobuild};
use anyhow::{Context, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::operator_lifecycle::kubeconfig_of;
use crate::plugin_install::{identity, numbers_as_floats, objects};
use crate::support::{Ctx, Env, output_before, output_within, phase_is, run_ok, text, trials, workspace_root};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "helm",
        [
            chart_files_are_copies_of_operator_config,
            chart_follows_the_workspace_version,
            lint_passes_strict,
            template_renders_what_kustomize_builds,
            schema_refuses_wrong_values,
            values_render_what_they_say,
            install_upgrade_uninstall_on_a_cluster_of_its_own,
        ]
    )
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
const RELEASE: &str = "agents-operator";
const NAMESPACE: &str = "agents-system";
const OPERATOR: &str = "agents-operator";
/// Labels Helm's conventions add to every templated object, which the kustomization has no
/// reason to carry. The comparison with the kustomization strips these, and nothing else.
const HELM_LABELS: [&str; 3] = ["helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"];
/// helm's own deadline for `--wait`, and ours for the command (a first `install` also sends the
/// CRDs and waits for them).
const HELM_WAIT: &str = "60s";
const HELM_DEADLINE: Duration = Duration::from_secs(90);

fn chart() -> PathBuf {
    workspace_root().join("charts/agents-operator")
}

fn story(output: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// The real `helm`, with a home of its own (no user config, cache or repositories) and proxies on
/// a closed loopback port: anything it tried to download would fail the test. Loopback API
/// servers are never proxied by Go's client.
struct Helm {
    bin: PathBuf,
    home: PathBuf,
}

impl Helm {
    async fn new(ctx: &Ctx) -> anyhow::Result<Helm> {
        // A first build takes minutes (the suite builds it before the cluster starts, see
        // support::build_test_tools); afterwards this is a lookup.
        let bin = tokio::task::spawn_blocking(|| gobuild::ensure(&HELM, &cache_dir())).await??.join("helm");
        let home = ctx.cluster.dir().join(format!("helm-{}", ctx.ns));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home)?;
        Ok(Helm { bin, home })
    }

    /// `helm ARGS` against the cluster of `kubeconfig`; `None` for commands that need no cluster
    /// (a kubeconfig that does not exist: one that tried to reach a cluster would fail).
    fn command(&self, kubeconfig: Option<&Path>, args: &[&str]) -> Command {
        let kubeconfig = kubeconfig.map(Path::to_path_buf).unwrap_or_else(|| self.home.join("no-cluster.kubeconfig"));
        let mut command = Command::new(&self.bin);
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_DATA_HOME", self.home.join("data"))
            .env("KUBECONFIG", kubeconfig)
            .args(args);
        for proxy in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
            command.env(proxy, "http://127.0.0.1:9");
        }
        command
    }

    /// Runs a command that needs no cluster.
    fn offline(&self, args: &[&str]) -> anyhow::Result<Output> {
        output_within(&mut self.command(None, args))
    }

    /// `helm template agents-operator CHART -n agents-system ARGS`, parsed; fails if helm does.
    fn template(&self, chart: &Path, args: &[&str]) -> anyhow::Result<Vec<Value>> {
        let chart = chart.to_str().context("a UTF-8 path")?;
        let mut all = vec!["template", RELEASE, chart, "--namespace", NAMESPACE];
        all.extend_from_slice(args);
        let output = self.offline(&all)?;
        ensure!(output.status.success(), "helm {}: {}", all.join(" "), story(&output));
        objects(&text(&output.stdout))
    }
}

/// The object of this kind and name among `objects`.
fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> anyhow::Result<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .with_context(|| format!("no {kind} {name} among {:?}", objects.iter().map(identity).collect::<Vec<_>>()))
}

/// The first place where two values differ, as a path, or None.
fn difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => a.keys().chain(b.keys()).find_map(|key| {
            difference(a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null), &format!("{path}.{key}"))
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (a, b))| difference(a, b, &format!("{path}[{i}]")))
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: {a} vs {b}")),
    }
}

/// Every file of `dir` (recursively), as paths relative to it; none when it does not exist.
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(found) };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            let sub = path.file_name().map(PathBuf::from).unwrap_or_default();
            found.extend(files_under(&path)?.into_iter().map(|f| sub.join(f)));
        } else if let Some(name) = path.file_name() {
            found.push(PathBuf::from(name));
        }
    }
    found.sort();
    Ok(found)
}

/// A copy of the chart to change without touching the tree.
fn copy_chart(to: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(to);
    for file in files_under(&chart())? {
        let target = to.join(&file);
        std::fs::create_dir_all(target.parent().context("a file has a parent")?)?;
        std::fs::copy(chart().join(&file), &target)?;
    }
    Ok(())
}

/// Which files of a source directory the chart carries copies of.
type SourceFilter = fn(&Path) -> bool;

/// Every file under `charts/agents-operator/crds/` and `files/` is byte-equal to its source in
/// `operator/config/` (the CRDs: `crd/`; the monitoring files: `monitoring/`), and every source
/// has its copy: the chart cannot carry a stale CRD, alert or dashboard. The monitoring sources
/// may not exist yet; then the chart carries none either.
async fn chart_files_are_copies_of_operator_config(_ctx: Ctx) -> anyhow::Result<()> {
    let config = workspace_root().join("operator/config");
    let mut wrong = Vec::new();
    // (the chart's directory, the source directory, which source files belong, how to fix)
    let crd_fix = "run `UPDATE_CRDS=1 cargo test -q -p agents-api crd`, which writes both";
    let pairs: [(&str, &str, SourceFilter, &str); 2] = [
        ("crds", "crd", |f| f.extension().is_some_and(|e| e == "yaml") && !f.ends_with("kustomization.yaml"), crd_fix),
        (
            "files",
            "monitoring",
            |f| {
                f == Path::new("prometheus-rule.yaml")
                    || f == Path::new("prometheus-adapter.yaml")
                    || (f.starts_with("dashboards") && f.extension().is_some_and(|e| e == "json"))
            },
            "copy it",
        ),
    ];
    for (copies, sources, belongs, fix) in pairs {
        let (copies, sources) = (chart().join(copies), config.join(sources));
        let copied = files_under(&copies)?;
        let wanted: Vec<PathBuf> = files_under(&sources)?.into_iter().filter(|f| belongs(f)).collect();
        for file in &copied {
            let (copy, source) = (copies.join(file), sources.join(file));
            match std::fs::read(&source) {
                Err(_) => wrong.push(format!(
                    "{} has no source {}: delete it, or restore the source",
                    copy.display(),
                    source.display()
                )),
                Ok(bytes) if bytes != std::fs::read(&copy)? => wrong.push(format!(
                    "{} differs from {}: {fix} (cp {} {})",
                    copy.display(),
                    source.display(),
                    source.display(),
                    copy.display()
                )),
                Ok(_) => {}
            }
        }
        for file in wanted.iter().filter(|f| !copied.contains(f)) {
            let (copy, source) = (copies.join(file), sources.join(file));
            wrong.push(format!(
                "{} is not in the chart: {fix} (mkdir -p {} && cp {} {})",
                source.display(),
                copy.parent().unwrap_or(&copies).display(),
                source.display(),
                copy.display()
            ));
        }
    }
    ensure!(wrong.is_empty(), "the chart's copies of operator/config drifted:\n{}", wrong.join("\n"));
    // There is something to compare: the CRDs at least.
    let crds = files_under(&chart().join("crds"))?;
    ensure!(crds.len() == agents_api::crd::all().len(), "charts/agents-operator/crds holds {crds:?}");
    Ok(())
}

/// Chart.yaml's `version` and `appVersion` are the workspace's, so a release bump cannot forget
/// the chart (and the default image tag, v + appVersion, is the release's).
async fn chart_follows_the_workspace_version(_ctx: Ctx) -> anyhow::Result<()> {
    let chart_yaml: Value = serde_norway::from_str(&std::fs::read_to_string(chart().join("Chart.yaml"))?)?;
    for field in ["version", "appVersion"] {
        ensure!(
            chart_yaml[field] == VERSION,
            "charts/agents-operator/Chart.yaml has {field}: {}, the workspace is {VERSION}: set it to \"{VERSION}\"",
            chart_yaml[field]
        );
    }
    Ok(())
}

/// `helm lint` and `helm lint --strict` (warnings fail) pass, with the defaults and with every
/// optional object turned on.
async fn lint_passes_strict(ctx: Ctx) -> anyhow::Result<()> {
    let helm = Helm::new(&ctx).await?;
    let chart = chart();
    let chart = chart.to_str().context("a UTF-8 path")?;
    let everything = "serviceMonitor.enabled=true,metrics.service.enabled=true,prometheusRule.enabled=true,\
                      dashboards.enabled=true,commonLabels.team=a,commonAnnotations.owner=b,watchNamespace=team-a";
    for args in
        [vec!["lint", chart], vec!["lint", "--strict", chart], vec!["lint", "--strict", chart, "--set", everything]]
    {
        let output = helm.offline(&args)?;
        ensure!(
            output.status.success() && text(&output.stdout).contains("1 chart(s) linted, 0 chart(s) failed"),
            "helm {}: {}",
            args.join(" "),
            story(&output)
        );
    }
    Ok(())
}

/// `helm template` with the default values renders the same objects as `kubectl kustomize
/// operator/config/default`, field for field (CRDs included, `--include-crds`), but for:
/// - Helm's own labels (`helm.sh/chart`, `app.kubernetes.io/managed-by`,
///   `app.kubernetes.io/instance`), stripped from the chart's objects, and nothing else;
/// - the Namespace object: the kustomization creates `agents-system`, the chart installs into the
///   release's namespace (`helm install -n agents-system`, see docs/install.md) and creates none.
async fn template_renders_what_kustomize_builds(ctx: Ctx) -> anyhow::Result<()> {
    let helm = Helm::new(&ctx).await?;
    renders_what_kustomize_builds(&ctx, &helm, &[], "operator/config/default")?;
    // The operator that follows Secrets: the chart's value and the kustomize overlay grant the
    // same permission and pass the same flag.
    renders_what_kustomize_builds(&ctx, &helm, &["--set", "followSecrets=true"], "operator/config/follow-secrets")?;

    // Turned on, the monitoring objects carry what operator/config/monitoring applies: the same
    // rules and the same dashboards ConfigMap (the metadata is the chart's).
    let monitoring = workspace_root().join("operator/config/monitoring");
    if monitoring.join("kustomization.yaml").is_file() {
        let built = run_ok(ctx.kubectl().arg("kustomize").arg(&monitoring))?;
        let built = objects(&text(&built.stdout))?;
        let rendered = helm.template(&chart(), &["--set", "prometheusRule.enabled=true,dashboards.enabled=true"])?;
        for (kind, field) in [("PrometheusRule", "spec"), ("ConfigMap", "data")] {
            let wanted =
                built.iter().find(|o| o["kind"] == kind).with_context(|| format!("no {kind} in {monitoring:?}"))?;
            let name = wanted["metadata"]["name"].as_str().unwrap_or_default();
            let got = find(&rendered, kind, name)?;
            ensure!(
                numbers_as_floats(got[field].clone()) == numbers_as_floats(wanted[field].clone()),
                "the chart's {kind} {name} differs from operator/config/monitoring's in .{field}: copy the files again \
                 (see helm::chart_files_are_copies_of_operator_config)"
            );
        }
    }
    Ok(())
}

/// `helm template` with `values` renders what `kubectl kustomize` builds of `kustomization` (Helm's
/// labels and the Namespace aside).
fn renders_what_kustomize_builds(ctx: &Ctx, helm: &Helm, values: &[&str], kustomization: &str) -> anyhow::Result<()> {
    let mut rendered = helm.template(&chart(), &[&["--include-crds"], values].concat())?;
    for object in &mut rendered {
        // crds/ is not templated: the CRDs are the files as they are, without Helm's labels.
        if object["kind"] == "CustomResourceDefinition" {
            continue;
        }
        let name = identity(object);
        let labels = object.pointer_mut("/metadata/labels").and_then(Value::as_object_mut);
        let labels = labels.with_context(|| format!("{name} carries no labels"))?;
        for label in HELM_LABELS {
            ensure!(labels.remove(label).is_some(), "{name} lacks Helm's label {label}");
        }
    }
    let built = run_ok(ctx.kubectl().arg("kustomize").arg(workspace_root().join(kustomization)))?;
    let mut built = objects(&text(&built.stdout))?;
    let namespaces = built.iter().filter(|o| o["kind"] == "Namespace").count();
    ensure!(namespaces == 1, "{kustomization} builds {namespaces} Namespaces");
    built.retain(|o| o["kind"] != "Namespace");

    rendered.sort_by_key(identity);
    built.sort_by_key(identity);
    let names = |objects: &[Value]| objects.iter().map(identity).collect::<Vec<_>>();
    ensure!(
        names(&rendered) == names(&built),
        "helm template {values:?} renders {:?}\nkustomize builds {:?} of {kustomization}",
        names(&rendered),
        names(&built)
    );
    for (rendered, built) in rendered.into_iter().zip(built) {
        // kustomize writes a CRD's `minimum: 1.0` as `1`: numbers compare as numbers.
        let (rendered, built) = (numbers_as_floats(rendered), numbers_as_floats(built));
        if let Some(place) = difference(&rendered, &built, "") {
            bail!(
                "{} differs between helm template {values:?} and kustomize at {place}\nedit charts/agents-operator/templates to match {kustomization} (or the other way)",
                identity(&built)
            );
        }
    }
    Ok(())
}

/// values.schema.json refuses what the operator could not run with, naming the value and why;
/// a cross-field rule (no leader election with several replicas) fails the render with advice.
async fn schema_refuses_wrong_values(ctx: Ctx) -> anyhow::Result<()> {
    let helm = Helm::new(&ctx).await?;
    let chart = chart();
    let chart = chart.to_str().context("a UTF-8 path")?;
    let cases: [(&str, &[&str]); 8] = [
        ("replicaCount=two", &["at '/replicaCount'", "got string, want integer"]),
        ("logFormat=yaml", &["at '/logFormat'", "value must be one of 'json', 'text'"]),
        ("replicas=3", &["additional properties 'replicas' not allowed"]),
        ("image.digest=abc123", &["at '/image/digest'", "'abc123' does not match pattern"]),
        ("watchNamespace=Team_A", &["at '/watchNamespace'", "'Team_A' does not match pattern"]),
        ("leaderElection.leaseDuration=0", &["at '/leaderElection/leaseDuration'", "minimum"]),
        ("extraArgs[0]=verbose", &["at '/extraArgs/0'", "'verbose' does not match pattern"]),
        (
            "leaderElection.enabled=false",
            &["leaderElection.enabled=false with replicaCount > 1", "set replicaCount=1 or enable leader election"],
        ),
    ];
    for (value, said) in cases {
        let output = helm.offline(&["template", RELEASE, chart, "--namespace", NAMESPACE, "--set", value])?;
        let stderr = text(&output.stderr);
        ensure!(!output.status.success(), "helm template --set {value} was accepted: {}", story(&output));
        for needle in said {
            ensure!(stderr.contains(needle), "helm template --set {value} does not say {needle:?}:\n{stderr}");
        }
    }
    // A digest of the right shape passes (the pattern is not simply too strict).
    let ok = format!("image.digest=sha256:{}", "0".repeat(64));
    helm.template(Path::new(chart), &["--set", &ok])?;
    Ok(())
}

/// Non-default values reach what they configure: a digest pins the image, the watched namespace,
/// the runtime image, leader election and lease flags become the operator's flags, pull
/// secrets, scheduling and resources reach the pod, extra labels and annotations reach every
/// object (the pod's selector stays put), the metrics Service and the ServiceMonitor appear with
/// their labels, and the PrometheusRule and dashboards ConfigMap carry the files they come from
/// (rendered from a copy of the chart given such files, whether or not operator/config has them
/// yet).
async fn values_render_what_they_say(ctx: Ctx) -> anyhow::Result<()> {
    let helm = Helm::new(&ctx).await?;
    let digest = format!("sha256:{}", "ab".repeat(32));
    let values = helm.home.join("values.yaml");
    let document = json!({
        "image": {"repository": "mirror.example/agents-operator", "digest": digest, "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
        "replicaCount": 1,
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
        "watchNamespace": "team-a",
        "leaderElection": {"enabled": false, "leaseDuration": 30, "leaseGrace": 10},
        "logFormat": "text",
        "agentRuntime": {"image": "mirror.example/agents-runtime:v9"},
        "extraArgs": ["--concurrency=32"],
        "serviceMonitor": {"enabled": true, "interval": "15s", "labels": {"release": "prom"}},
        "prometheusRule": {"enabled": true, "labels": {"role": "alerts"}},
        "dashboards": {"enabled": true, "annotations": {"grafana_folder": "Agents"}},
        "commonLabels": {"team": "platform"},
        "commonAnnotations": {"owner": "platform@example.com"},
        "podLabels": {"sidecar.istio.io/inject": "false"},
        "podAnnotations": {"example.com/scrape": "yes"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    });
    // As JSON: serde_norway writes the string "yes" bare, which Helm's YAML 1.1 reads as true.
    std::fs::write(&values, serde_json::to_string(&document)?)?;

    // The chart, plus monitoring files of its own (what operator/config/monitoring will hold).
    let copy = helm.home.join("chart");
    copy_chart(&copy)?;
    let _ = std::fs::remove_dir_all(copy.join("files"));
    std::fs::create_dir_all(copy.join("files/dashboards"))?;
    let rule = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: x\nspec:\n  groups:\n  \
                - name: agents-operator\n    rules:\n    - alert: AgentsOperatorDown\n      expr: absent(up{job=\"agents-operator\"})\n      \
                for: 5m\n      annotations:\n        summary: \"{{ $labels.instance }} is down\"\n";
    std::fs::write(copy.join("files/prometheus-rule.yaml"), rule)?;
    let dashboard = "{\n  \"title\": \"Agents <operator> & co\",\n  \"panels\": []\n}\n";
    std::fs::write(copy.join("files/dashboards/agents-operator.json"), dashboard)?;

    let rendered = helm.template(&copy, &["--values", values.to_str().context("a UTF-8 path")?])?;
    for object in &rendered {
        let metadata = &object["metadata"];
        ensure!(metadata["labels"]["team"] == "platform", "{} lacks commonLabels", identity(object));
        ensure!(
            metadata["annotations"]["owner"] == "platform@example.com",
            "{} lacks commonAnnotations",
            identity(object)
        );
    }
    let deployment = find(&rendered, "Deployment", OPERATOR)?;
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    ensure!(
        container["image"] == format!("mirror.example/agents-operator:v{VERSION}@{digest}")
            && container["imagePullPolicy"] == "Always",
        "{container:#}"
    );
    let args: Vec<&str> = container["args"].as_array().context("no args")?.iter().filter_map(Value::as_str).collect();
    ensure!(
        args == [
            "--log-format=text",
            "--namespace=team-a",
            "--leader-elect=false",
            "--lease-duration=30",
            "--lease-grace=10",
            "--agent-runtime-image=mirror.example/agents-runtime:v9",
            "--concurrency=32",
        ],
        "the operator's flags: {args:?}"
    );
    ensure!(deployment["spec"]["replicas"] == 1, "{deployment:#}");
    ensure!(
        deployment["spec"]["selector"] == json!({"matchLabels": {"app.kubernetes.io/name": OPERATOR}}),
        "the selector changed (it is immutable: upgrades would fail): {:#}",
        deployment["spec"]["selector"]
    );
    ensure!(
        pod["metadata"]["labels"]
            == json!({"app.kubernetes.io/name": OPERATOR, "app.kubernetes.io/part-of": "kubectl-agents",
                      "team": "platform", "sidecar.istio.io/inject": "false"}),
        "pod labels: {:#}",
        pod["metadata"]["labels"]
    );
    // The chart's own pod annotations stay unless set to null; podAnnotations add to them.
    ensure!(
        pod["metadata"]["annotations"]
            == json!({"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "example.com/scrape": "yes"}),
        "pod annotations: {:#}",
        pod["metadata"]["annotations"]
    );
    ensure!(pod["spec"]["imagePullSecrets"] == json!([{"name": "regcred"}]), "{pod:#}");
    ensure!(pod["spec"]["nodeSelector"] == json!({"kubernetes.io/os": "linux"}), "{pod:#}");
    ensure!(pod["spec"]["tolerations"][0]["key"] == "dedicated", "{pod:#}");
    // Helm merges maps with the defaults: the default limit stays unless set to null.
    ensure!(
        container["resources"] == json!({"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "256Mi"}}),
        "{container:#}"
    );

    let service = find(&rendered, "Service", "agents-operator-metrics")?;
    ensure!(
        service["spec"]["selector"] == json!({"app.kubernetes.io/name": OPERATOR})
            && service["spec"]["ports"][0]["targetPort"] == "http-metrics"
            && service["metadata"]["labels"]["app.kubernetes.io/component"] == "metrics",
        "{service:#}"
    );
    let monitor = find(&rendered, "ServiceMonitor", OPERATOR)?;
    ensure!(monitor["metadata"]["labels"]["release"] == "prom", "{monitor:#}");
    // The ServiceMonitor selects the metrics Service (and only it) in the release's namespace.
    let selected = monitor["spec"]["selector"]["matchLabels"].as_object().context("no matchLabels")?;
    ensure!(
        selected.iter().all(|(k, v)| service["metadata"]["labels"][k] == *v)
            && selected.contains_key("app.kubernetes.io/component")
            && monitor["spec"]["namespaceSelector"]["matchNames"] == json!([NAMESPACE])
            && monitor["spec"]["endpoints"][0]["port"] == "http-metrics"
            && monitor["spec"]["endpoints"][0]["interval"] == "15s",
        "{monitor:#}"
    );
    let alerts = find(&rendered, "PrometheusRule", OPERATOR)?;
    let source: Value = serde_norway::from_str(rule)?;
    ensure!(alerts["spec"] == source["spec"] && alerts["metadata"]["labels"]["role"] == "alerts", "{alerts:#}");
    let dashboards = find(&rendered, "ConfigMap", "agents-dashboards")?;
    ensure!(
        dashboards["data"] == json!({"agents-operator.json": dashboard})
            && dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
            && dashboards["metadata"]["annotations"]["grafana_folder"] == "Agents",
        "{dashboards:#}"
    );

    // Without such files (the chart as it is, whatever operator/config holds today) the switches
    // render only what exists.
    let plain = helm.template(&chart(), &["--set", "prometheusRule.enabled=true,dashboards.enabled=true"])?;
    let has_rule = chart().join("files/prometheus-rule.yaml").is_file();
    let has_dashboards = !files_under(&chart().join("files/dashboards"))?.is_empty();
    ensure!(
        plain.iter().any(|o| o["kind"] == "PrometheusRule") == has_rule
            && plain.iter().any(|o| o["kind"] == "ConfigMap") == has_dashboards,
        "rendered {:?} with files/prometheus-rule.yaml {has_rule} and dashboards {has_dashboards}",
        plain.iter().map(identity).collect::<Vec<_>>()
    );
    Ok(())
}

/// One private control plane (with the ServiceMonitor CRD) and helm aimed at it only.
struct Private<'a> {
    ctx: &'a Ctx,
    /// The same test seen from the private cluster: its waits, applies and operator go there.
    here: Ctx,
    helm: Helm,
}

impl Private<'_> {
    fn kubeconfig(&self) -> PathBuf {
        self.here.cluster.kubeconfig()
    }

    fn helm(&self, args: &[&str]) -> anyhow::Result<Output> {
        output_before(&mut self.helm.command(Some(&self.kubeconfig()), args), HELM_DEADLINE)
    }

    fn helm_ok(&self, args: &[&str]) -> anyhow::Result<Output> {
        let output = self.helm(args)?;
        ensure!(output.status.success(), "helm {}: {}", args.join(" "), story(&output));
        Ok(output)
    }

    /// kubectl (with this build's plugin on PATH) aimed at the private cluster only.
    fn kubectl(&self) -> Command {
        let mut command = self.ctx.kubectl();
        command.env("KUBECONFIG", self.kubeconfig());
        command
    }

    fn client(&self) -> kube::Client {
        self.here.client.clone()
    }

    async fn deployment(&self) -> anyhow::Result<Option<Deployment>> {
        Ok(Api::<Deployment>::namespaced(self.client(), NAMESPACE).get_opt(OPERATOR).await?)
    }

    /// Waits until the operator's Deployment has rolled out `replicas` Available pods (KWOK's).
    async fn wait_rolled_out(&self, replicas: i32) -> anyhow::Result<Deployment> {
        let api: Api<Deployment> = Api::namespaced(self.client(), NAMESPACE);
        self.here
            .wait_for(&api, OPERATOR, &format!("{replicas} pods available"), move |d: Option<&Deployment>| {
                d.is_some_and(|d| {
                    let status = d.status.clone().unwrap_or_default();
                    status.observed_generation == d.metadata.generation
                        && status.updated_replicas == Some(replicas)
                        && status.available_replicas == Some(replicas)
                        && status.replicas == Some(replicas)
                })
            })
            .await
    }

    fn monitors(&self) -> Api<DynamicObject> {
        let resource = agents_render::agent::service_monitor_resource();
        Api::namespaced_with(self.client(), NAMESPACE, &resource)
    }
}

async fn install_upgrade_uninstall_on_a_cluster_of_its_own(ctx: Ctx) -> anyhow::Result<()> {
    let name = format!("helm-{}", ctx.ns);
    let helm = Helm::new(&ctx).await?;
    let result = async {
        let options = Options { nodes: 1, crds: vec![SERVICE_MONITOR_CRDS], extra_crds: vec![] };
        let cluster = Cluster::up(&name, &options).await.context("starting the private control plane")?;
        let client = cluster.client().await?;
        let here = Ctx { cluster, client, ns: ctx.ns.clone(), env: ctx.env.clone() };
        let private = Private { ctx: &ctx, here, helm };
        install(&private).await?;
        operator_runs_with_what_the_chart_installed(&private).await?;
        upgrade(&private).await?;
        uninstall(&private).await?;
        helm_takes_over_a_plugin_install(&private).await
    }
    .await;
    let down = Cluster::down(&name).with_context(|| format!("stopping the private control plane {name}"));
    result?;
    down?;
    Ok(())
}

/// As docs/install.md says: the namespace first (Pod Security `restricted`, which the operator's
/// pods must pass), then `helm install --wait`, which returns once the CRDs are in and the
/// Deployment is Available (KWOK's pods become Ready). `kubectl agents check` then finds the
/// cluster ready, the operator at this version.
async fn install(p: &Private<'_>) -> anyhow::Result<()> {
    run_ok(p.kubectl().args(["create", "namespace", NAMESPACE]))?;
    run_ok(p.kubectl().args(["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted"]))?;
    let chart = chart();
    let chart = chart.to_str().context("a UTF-8 path")?;
    let installed =
        p.helm_ok(&["install", RELEASE, chart, "--namespace", NAMESPACE, "--wait", "--timeout", HELM_WAIT])?;
    ensure!(text(&installed.stdout).contains("STATUS: deployed"), "{}", story(&installed));

    let listed = p.helm_ok(&["list", "--namespace", NAMESPACE, "--output", "json"])?;
    let releases: Value = serde_json::from_slice(&listed.stdout)?;
    ensure!(
        releases[0]["name"] == RELEASE
            && releases[0]["status"] == "deployed"
            && releases[0]["chart"] == format!("agents-operator-{VERSION}")
            && releases[0]["app_version"] == VERSION,
        "helm list: {releases:#}"
    );

    let crds: Api<CustomResourceDefinition> = Api::all(p.client());
    for crd in agents_api::crd::all() {
        let name = crd.metadata.name.unwrap_or_default();
        let conditions = crds.get(&name).await?.status.and_then(|s| s.conditions).unwrap_or_default();
        ensure!(conditions.iter().any(|c| c.type_ == "Established" && c.status == "True"), "{name}: {conditions:?}");
    }
    let deployment = p.deployment().await?.context("helm install made no operator Deployment")?;
    let status = deployment.status.clone().unwrap_or_default();
    ensure!(status.available_replicas == Some(2) && status.ready_replicas == Some(2), "--wait returned at {status:?}");
    let labels = deployment.metadata.labels.clone().unwrap_or_default();
    ensure!(
        labels.get("app.kubernetes.io/managed-by").map(String::as_str) == Some("Helm")
            && labels.get("app.kubernetes.io/version").map(String::as_str) == Some(VERSION),
        "{labels:?}"
    );

    let check = output_within(p.kubectl().args(["agents", "check", "-o", "json", "--kubeconfig"]).arg(p.kubeconfig()))?;
    ensure!(check.status.success(), "kubectl agents check after helm install: {}", story(&check));
    let report: Value = serde_json::from_slice(&check.stdout)?;
    let operator = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "Operator"))
        .with_context(|| format!("no Operator row: {report:#}"))?;
    ensure!(
        report["ready"] == true
            && operator["status"] == "ok"
            && operator["detail"].as_str().unwrap_or_default().contains(&format!("2/2 ready, version {VERSION}")),
        "{report:#}"
    );
    Ok(())
}

/// Nothing runs in KWOK's pods, so the in-cluster operator cannot reconcile anything. What the
/// chart decides about it is tested instead with the real binary run here: with a token of the
/// chart's ServiceAccount (so the chart's ClusterRole and Role are all it may use, RBAC being
/// enforced), the flags of the chart's Deployment, and leader election in the release's
/// namespace as POD_NAMESPACE would give it, and as one of the chart's pods (POD_NAME), whose
/// metrics port KWOK forwards to it. It takes the Lease and reconciles an Agent to Ready, and
/// `kubectl agents status` reads its reconciles from its /metrics over a port-forward.
async fn operator_runs_with_what_the_chart_installed(p: &Private<'_>) -> anyhow::Result<()> {
    let here = &p.here;
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": here.ns}}))?;
    Api::<Namespace>::all(p.client()).create(&PostParams::default(), &namespace).await?;
    let kubeconfig = kubeconfig_of(here, NAMESPACE, OPERATOR).await?;
    let deployment = p.deployment().await?.context("no operator Deployment")?;
    let container = deployment.spec.template.spec.map(|s| s.containers[0].clone());
    let metrics_port = container
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|port| port.name.as_deref() == Some("http-metrics"))
        .map(|port| port.container_port)
        .context("the chart's container has no http-metrics port")?;
    let mut args = container.and_then(|c| c.args).context("the chart's container has no args")?;
    ensure!(args == ["--log-format=json"], "the chart's default flags: {args:?}");
    args.extend(["--leader-elect=true".to_string(), format!("--leader-election-namespace={NAMESPACE}")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pods: Api<Pod> = Api::namespaced(p.client(), NAMESPACE);
    let pod = pods.list(&ListParams::default().labels("app.kubernetes.io/name=agents-operator")).await?.items;
    let pod = pod.first().and_then(|p| p.metadata.name.clone()).context("the chart's Deployment has no pod")?;
    let mut operator = here.operator_as_pod(&kubeconfig, &args, &pod)?;
    agents_testenv::kwok::forward_pod(&p.client(), NAMESPACE, &pod, u16::try_from(metrics_port)?, operator.metrics)
        .await?;

    here.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: charted}\nspec: {image: ghcr.io/example/a:v1}\n")
        .await?;
    let agents: Api<Agent> = here.api();
    here.wait_for(&agents, "charted", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let leases: Api<Lease> = Api::namespaced(p.client(), NAMESPACE);
    let lease = leases.get(OPERATOR).await.context("the operator took no Lease in the release's namespace")?;
    ensure!(lease.spec.and_then(|s| s.holder_identity).is_some_and(|h| !h.is_empty()), "the Lease has no holder");
    ensure!(
        operator.metric("agents_operator_reconcile_failures_total{kind=\"Agent\",error=\"apply\"}")? == 0.0,
        "some writes were forbidden to the chart's ServiceAccount:\n{}",
        operator.log_text()
    );
    // `status` finds the leader's pod by the Lease and reads its reconciles over a port-forward
    // (KWOK learns of the forward through a watch: the first tries may find it missing).
    let reconciles = here
        .wait_for_value("a Reconciles row read from the leader's metrics", || async {
            let status = output_within(
                p.kubectl()
                    .args(["agents", "status", "-o", "json", "-n", &here.ns, "--kubeconfig"])
                    .arg(p.kubeconfig()),
            )?;
            let report: Value = serde_json::from_slice(&status.stdout).with_context(|| story(&status))?;
            let row =
                report["operator"].as_array().and_then(|rows| rows.iter().find(|r| r["name"] == "Reconciles")).cloned();
            Ok(row.filter(|row| row["status"] == "ok"))
        })
        .await?;
    let detail = reconciles["detail"].as_str().unwrap_or_default();
    let run: f64 = detail.split(' ').next().unwrap_or_default().parse().with_context(|| detail.to_string())?;
    ensure!(
        run >= 1.0 && detail.ends_with(&format!("since the leader {pod} started, none failed")),
        "the Reconciles row: {reconciles}"
    );
    let log = operator.log_text();
    let first = log.lines().next().context("the operator logged nothing")?;
    serde_json::from_str::<Value>(first).with_context(|| format!("--log-format=json logged: {first}"))?;
    operator.stop()?;
    Ok(())
}

/// `helm upgrade` with changed values changes the Deployment (replicas, flags, image digest,
/// labels) and adds the metrics Service and the ServiceMonitor, which the API server accepts (its
/// CRD is installed). A newer chart's CRDs are not applied: Helm never upgrades `crds/`, so the
/// CRD keeps its resourceVersion; `kubectl apply --server-side --force-conflicts -f crds/`, as
/// docs/install.md says, then does (without `--force-conflicts` it conflicts with Helm's
/// ownership of the fields that change).
async fn upgrade(p: &Private<'_>) -> anyhow::Result<()> {
    let before = p.deployment().await?.context("no operator Deployment")?;
    let crds: Api<CustomResourceDefinition> = Api::all(p.client());
    let crd_before = crds.get("agents.agents.dev").await?;

    // The next release's chart, as far as CRDs go: the Agent CRD's version label moved on.
    let next = p.helm.home.join("next-chart");
    copy_chart(&next)?;
    let crd_file = next.join("crds/agents.dev_agents.yaml");
    let crd_text = std::fs::read_to_string(&crd_file)?;
    let old_label = format!("app.kubernetes.io/version: {VERSION}\n");
    ensure!(crd_text.contains(&old_label), "the CRD has no version label {old_label:?}");
    std::fs::write(&crd_file, crd_text.replacen(&old_label, "app.kubernetes.io/version: next\n", 1))?;

    let digest = format!("sha256:{}", "cd".repeat(32));
    let next_arg = next.to_str().context("a UTF-8 path")?;
    let values = format!(
        "replicaCount=3,logFormat=text,image.digest={digest},serviceMonitor.enabled=true,\
         serviceMonitor.labels.release=prom,commonLabels.team=platform"
    );
    p.helm_ok(&[
        "upgrade",
        RELEASE,
        next_arg,
        "--namespace",
        NAMESPACE,
        "--set",
        &values,
        "--wait",
        "--timeout",
        HELM_WAIT,
    ])?;

    let after = p.wait_rolled_out(3).await?;
    ensure!(after.metadata.uid == before.metadata.uid, "helm upgrade replaced the Deployment");
    ensure!(after.metadata.generation > before.metadata.generation, "the Deployment's spec did not change");
    let pod = after.spec.template.spec.clone().context("no pod spec")?;
    let container = &pod.containers[0];
    ensure!(
        container.args.as_deref() == Some(&["--log-format=text".to_string()][..])
            && container.image.as_deref()
                == Some(&format!("ghcr.io/kubectl-agents/agents-operator:v{VERSION}@{digest}")),
        "{container:?}"
    );
    ensure!(
        after.metadata.labels.clone().unwrap_or_default().get("team").map(String::as_str) == Some("platform"),
        "commonLabels did not reach the Deployment"
    );
    Api::<Service>::namespaced(p.client(), NAMESPACE)
        .get("agents-operator-metrics")
        .await
        .context("no metrics Service")?;
    let monitor = p.monitors().get(OPERATOR).await.context("no ServiceMonitor after the upgrade")?;
    ensure!(monitor.metadata.labels.unwrap_or_default().get("release").map(String::as_str) == Some("prom"));
    let history = p.helm_ok(&["history", RELEASE, "--namespace", NAMESPACE, "--output", "json"])?;
    let history: Value = serde_json::from_slice(&history.stdout)?;
    ensure!(history.as_array().map(Vec::len) == Some(2) && history[1]["status"] == "deployed", "{history:#}");

    // Helm left the CRD alone.
    let crd_after = crds.get("agents.agents.dev").await?;
    ensure!(
        crd_after.metadata.resource_version == crd_before.metadata.resource_version,
        "helm upgrade changed the CRD: Helm's documented behaviour changed, update docs/install.md"
    );
    let crd_dir = next.join("crds");
    let crd_dir = crd_dir.to_str().context("a UTF-8 path")?;
    let refused = output_within(p.kubectl().args(["apply", "--server-side", "-f", crd_dir]))?;
    ensure!(
        !refused.status.success() && text(&refused.stderr).contains("conflict"),
        "kubectl apply --server-side over Helm's CRDs did not conflict (simplify docs/install.md): {}",
        story(&refused)
    );
    run_ok(p.kubectl().args(["apply", "--server-side", "--force-conflicts", "-f", crd_dir]))?;
    let version = crd_version(&crds).await?;
    ensure!(version.as_deref() == Some("next"), "the CRD was not upgraded: version label {version:?}");
    // The other way docs/install.md gives: the plugin applies its own version's CRDs, forcing.
    let plugin =
        output_within(p.kubectl().args(["agents", "install", "--crds-only", "--kubeconfig"]).arg(p.kubeconfig()))?;
    ensure!(plugin.status.success(), "kubectl agents install --crds-only over Helm's CRDs: {}", story(&plugin));
    let version = crd_version(&crds).await?;
    ensure!(version.as_deref() == Some(VERSION), "install --crds-only left the version label {version:?}");
    Ok(())
}

async fn crd_version(crds: &Api<CustomResourceDefinition>) -> anyhow::Result<Option<String>> {
    let crd = crds.get("agents.agents.dev").await?;
    Ok(crd.metadata.labels.unwrap_or_default().get("app.kubernetes.io/version").cloned())
}

/// `helm uninstall --wait` removes every object of the release; the CRDs stay (Helm never deletes
/// `crds/`), so do the Agents, and so does the namespace it was installed into.
async fn uninstall(p: &Private<'_>) -> anyhow::Result<()> {
    let removed = p.helm_ok(&["uninstall", RELEASE, "--namespace", NAMESPACE, "--wait", "--timeout", HELM_WAIT])?;
    ensure!(text(&removed.stdout).contains(&format!("release \"{RELEASE}\" uninstalled")), "{}", story(&removed));
    let client = p.client();
    ensure!(p.deployment().await?.is_none(), "the Deployment is still there");
    ensure!(Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE).get_opt(OPERATOR).await?.is_none());
    ensure!(Api::<ClusterRole>::all(client.clone()).get_opt(OPERATOR).await?.is_none(), "the ClusterRole is left");
    ensure!(Api::<ClusterRoleBinding>::all(client.clone()).get_opt(OPERATOR).await?.is_none());
    let role = "agents-operator-leader-election";
    ensure!(Api::<Role>::namespaced(client.clone(), NAMESPACE).get_opt(role).await?.is_none());
    ensure!(Api::<RoleBinding>::namespaced(client.clone(), NAMESPACE).get_opt(role).await?.is_none());
    ensure!(Api::<Service>::namespaced(client.clone(), NAMESPACE).get_opt("agents-operator-metrics").await?.is_none());
    ensure!(p.monitors().get_opt(OPERATOR).await?.is_none(), "the ServiceMonitor is left");
    let listed = p.helm_ok(&["list", "--namespace", NAMESPACE, "--output", "json"])?;
    ensure!(serde_json::from_slice::<Value>(&listed.stdout)? == json!([]), "{}", story(&listed));

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in agents_api::crd::all() {
        let name = crd.metadata.name.unwrap_or_default();
        ensure!(crds.get_opt(&name).await?.is_some(), "helm uninstall deleted the CRD {name}");
    }
    p.here.api::<Agent>().get("charted").await.context("helm uninstall deleted the Agent")?;
    ensure!(Api::<Namespace>::all(client).get_opt(NAMESPACE).await?.is_some(), "the namespace went");
    Ok(())
}

/// An operator installed by `kubectl agents install` moves under Helm with `helm install
/// --take-ownership` (as docs/install.md says): the same Deployment, now Helm's, and `helm
/// uninstall` then removes it.
async fn helm_takes_over_a_plugin_install(p: &Private<'_>) -> anyhow::Result<()> {
    let installed = output_within(
        p.kubectl().args(["agents", "install", "--wait", "--timeout", "60s", "--kubeconfig"]).arg(p.kubeconfig()),
    )?;
    ensure!(installed.status.success(), "kubectl agents install: {}", story(&installed));
    let before = p.deployment().await?.context("kubectl agents install made no Deployment")?;
    let chart = chart();
    let chart = chart.to_str().context("a UTF-8 path")?;
    let refused = p.helm(&["install", RELEASE, chart, "--namespace", NAMESPACE])?;
    ensure!(
        !refused.status.success() && text(&refused.stderr).contains("exists and cannot be imported"),
        "helm install over objects it does not own: {}",
        story(&refused)
    );
    p.helm_ok(&[
        "install",
        RELEASE,
        chart,
        "--namespace",
        NAMESPACE,
        "--take-ownership",
        "--wait",
        "--timeout",
        HELM_WAIT,
    ])?;
    let after = p.wait_rolled_out(2).await?;
    let managed = after.metadata.labels.clone().unwrap_or_default().get("app.kubernetes.io/managed-by").cloned();
    ensure!(
        after.metadata.uid == before.metadata.uid && managed.as_deref() == Some("Helm"),
        "the Deployment was not adopted: managed-by {managed:?}"
    );
    p.helm_ok(&["uninstall", RELEASE, "--namespace", NAMESPACE, "--wait", "--timeout", HELM_WAIT])?;
    ensure!(p.deployment().await?.is_none(), "helm uninstall left the adopted Deployment");
    Ok(())
}

//! The control plane is real: Deployments roll out on KWOK nodes, pod logs are served through the
//! API server, and Tekton's and Argo's own schemas accept what is valid and reject what is not.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, LogParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use libtest_mimic::Trial;
use serde_json::json;

use crate::support::{
    Ctx, Env, binaries_dir, ends_quietly_on_a_closed_stdout, output_within, read_lines, run_ok, run_ok_within, trials,
    wait_for_line,
};

/// How long `agents-testenv up` may take to start a cluster on a busy machine (about 10 s idle).
const UP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(180);

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "control_plane",
        [
            deployment_rolls_out_and_pods_log,
            tekton_schema_validates_pipelineruns,
            argo_schema_validates_workflows,
            kubectl_finds_the_plugin,
            testenv_cli_up_status_down,
        ]
    )
}

async fn deployment_rolls_out_and_pods_log(ctx: Ctx) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = ctx.api();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "example.invalid/web:1"}]},
            },
        },
    }))?;
    deployments.create(&PostParams::default(), &deployment).await?;
    ctx.wait_for(&deployments, "web", "2 ready replicas", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref()).and_then(|s| s.ready_replicas) == Some(2)
    })
    .await?;

    let pods: Api<Pod> = ctx.api();
    let listed = pods.list(&ListParams::default().labels("app=web")).await?;
    ensure!(listed.items.len() == 2, "expected 2 pods, found {}", listed.items.len());
    let nodes: std::collections::BTreeSet<_> =
        listed.items.iter().filter_map(|p| p.spec.as_ref()?.node_name.clone()).collect();
    ensure!(!nodes.is_empty(), "pods were not scheduled: {listed:?}");
    let pod = listed.items[0].metadata.name.clone().context("pod without a name")?;

    // Through the API server's log endpoint (what the plugin will use) ...
    let log = pods.logs(&pod, &LogParams::default()).await?;
    ensure!(log.contains("agent container started"), "unexpected log of {pod}: {log:?}");
    // ... and through the real kubectl of the same minor, with its flags.
    let output = run_ok(ctx.kubectl().args(["logs", "-n", &ctx.ns, &pod, "--timestamps", "--tail=1"]))?;
    let line = String::from_utf8(output.stdout)?;
    ensure!(
        line.starts_with("20") && line.contains(" agent container started"),
        "kubectl logs --timestamps printed {line:?}"
    );

    // `logs -f` streams lines written after it started.
    let mut follow = ctx.kubectl().args(["logs", "-f", "-n", &ctx.ns, &pod]).stdout(Stdio::piped()).spawn()?;
    let (lines, _reader) = read_lines(follow.stdout.take().context("no stdout")?);
    let started = wait_for_line(&lines, "from logs -f", |l| l.contains("agent container started")).await;
    let marker = format!("followed line {}", ctx.ns);
    let stamp = k8s_openapi::jiff::Timestamp::now();
    let mut file = std::fs::OpenOptions::new().append(true).open(ctx.cluster.container_log())?;
    file.write_all(format!("{stamp} stdout F {marker}\n").as_bytes())?;
    let followed = wait_for_line(&lines, "appended while following", |l| l.contains(&marker)).await;
    follow.kill()?;
    follow.wait()?;
    started?;
    followed
}

fn resource(group: &str, version: &str, kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

/// Creates `object` and returns the API server's answer: Ok when stored, the rejection otherwise.
async fn create(ctx: &Ctx, resource: &ApiResource, object: serde_json::Value) -> Result<(), kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.ns, resource);
    let object: DynamicObject = serde_json::from_value(object).expect("test objects are valid JSON objects");
    api.create(&PostParams::default(), &object).await.map(|_| ())
}

fn rejection(result: Result<(), kube::Error>) -> anyhow::Result<String> {
    match result {
        Ok(()) => anyhow::bail!("the API server accepted an invalid object"),
        Err(kube::Error::Api(status)) => {
            ensure!(status.code == 422, "expected 422 Invalid, got {status:?}");
            Ok(status.message)
        }
        Err(other) => Err(other).context("expected a validation error"),
    }
}

async fn tekton_schema_validates_pipelineruns(ctx: Ctx) -> anyhow::Result<()> {
    let pipelinerun = resource("tekton.dev", "v1", "PipelineRun");
    let valid = json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": "build"},
        "spec": {
            "params": [{"name": "revision", "value": "main"}],
            "timeouts": {"pipeline": "1h0m0s"},
            "pipelineSpec": {"tasks": [{"name": "clone", "taskSpec": {"steps": [
                {"name": "git", "image": "example.invalid/git", "script": "git clone"}
            ]}}]},
        },
    });
    create(&ctx, &pipelinerun, valid.clone()).await.context("a valid PipelineRun")?;

    let mut invalid = valid;
    invalid["metadata"]["name"] = json!("params-not-a-list");
    invalid["spec"]["params"] = json!("revision=main");
    let message = rejection(create(&ctx, &pipelinerun, invalid).await)?;
    ensure!(message.contains("spec.params"), "rejection does not name the field: {message}");
    Ok(())
}

async fn argo_schema_validates_workflows(ctx: Ctx) -> anyhow::Result<()> {
    let workflow = resource("argoproj.io", "v1alpha1", "Workflow");
    let valid = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "review"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": [
                    {"name": "approve", "template": "approval"},
                ]}},
                {"name": "approval", "suspend": {}},
            ],
        },
    });
    create(&ctx, &workflow, valid.clone()).await.context("a valid Workflow")?;

    let mut invalid = valid;
    invalid["metadata"]["name"] = json!("dag-tasks-not-a-list");
    invalid["spec"]["templates"][0]["dag"]["tasks"] = json!({"name": "approve"});
    let message = rejection(create(&ctx, &workflow, invalid).await)?;
    ensure!(message.contains("spec.templates[0].dag.tasks"), "rejection does not name the field: {message}");
    Ok(())
}

async fn kubectl_finds_the_plugin(ctx: Ctx) -> anyhow::Result<()> {
    let output = run_ok(ctx.kubectl().args(["plugin", "list"]))?;
    let listed = String::from_utf8(output.stdout)?;
    ensure!(listed.contains("kubectl-agents"), "kubectl plugin list did not find it:\n{listed}");
    let output = run_ok(ctx.kubectl().args(["agents", "--version"]))?;
    let version = String::from_utf8(output.stdout)?;
    ensure!(
        version.trim() == format!("kubectl agents {}", env!("CARGO_PKG_VERSION")),
        "kubectl agents --version printed {version:?}"
    );
    Ok(())
}

/// The command-line entry point the README and the demo use: `up` starts a second, named cluster
/// beside the suite's and prints its kubeconfig last; `status` sees it; `down` removes it.
async fn testenv_cli_up_status_down(ctx: Ctx) -> anyhow::Result<()> {
    let name = format!("cli-{}", ctx.ns);
    let testenv = || {
        let mut command = Command::new(binaries_dir().join("agents-testenv"));
        command.args(["--name", &name]);
        command
    };
    // A loaded machine (the suite runs several clusters at once) can take longer than a command's deadline.
    let up = run_ok_within(testenv().arg("up"), UP_DEADLINE);
    let result = async {
        let stdout = String::from_utf8(up?.stdout)?;
        let kubeconfig = stdout.lines().last().context("up printed nothing")?;
        ensure!(kubeconfig.ends_with("/kubeconfig"), "up's last line is not a kubeconfig path: {stdout:?}");
        let nodes = run_ok(Command::new(ctx.cluster.kubernetes_bin().join("kubectl")).args([
            "get",
            "nodes",
            "-o",
            "name",
            "--kubeconfig",
            kubeconfig,
        ]))?;
        let nodes = String::from_utf8(nodes.stdout)?;
        ensure!(nodes.lines().count() == 2, "expected 2 nodes, got {nodes:?}");
        let again = String::from_utf8(run_ok_within(testenv().arg("up"), UP_DEADLINE)?.stdout)?;
        ensure!(again.trim() == kubeconfig, "a second up did not reuse the running cluster: {again:?}");
        let status = run_ok(testenv().arg("status"))?;
        ensure!(String::from_utf8(status.stdout)?.contains("is running"), "status does not see the cluster");
        ends_quietly_on_a_closed_stdout(testenv().arg("status"))?;
        Ok(())
    }
    .await;
    run_ok(testenv().arg("down"))?;
    result?;
    let status = output_within(testenv().arg("status"))?;
    ensure!(status.status.code() == Some(3), "status after down exited with {:?}", status.status);
    Ok(())
}

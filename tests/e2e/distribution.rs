//! Distribution: the release task's archive and krew manifest, validated by krew's own validator
//! and installed by krew itself, offline; and the operator's install paths (`kubectl apply -k`
//! and `kubectl agents install`), which must put the same objects in a cluster.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use agents_testenv::tools::KREW;
use agents_testenv::{Cluster, Options, cache_dir, gobuild};
use anyhow::{Context, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::plugin_install::{identity, objects};
use crate::support::{
    Ctx, DEADLINE, Env, binaries_dir, output_before, output_within, run_ok, run_ok_within, text, trials, workspace_root,
};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "distribution",
        [krew_installs_the_released_archive_offline, kustomize_and_the_plugin_install_the_same_operator]
    )
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
const OPERATOR: &str = "agents-operator";
const NAMESPACE: &str = "agents-system";
/// Building the xtask (a few seconds) or krew (a first time, ~1 min) takes longer than a command.
const BUILD: Duration = Duration::from_secs(10 * 60);

fn story(output: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// The release target of the machine the tests run on (the fast path packs this build's binary
/// as that target's).
fn host_target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "aarch64") => "aarch64-unknown-linux-musl",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        _ => "x86_64-unknown-linux-musl",
    }
}

/// `cargo xtask release ARGS`, the way a maintainer runs it.
fn xtask(args: &[&str]) -> anyhow::Result<Output> {
    let mut command = agents_testenv::cargo::command();
    command.arg("xtask").arg("release").args(args).current_dir(workspace_root());
    output_before(&mut command, BUILD)
}

/// `kubectl` whose PATH holds krew (as `kubectl-krew`), `$KREW_ROOT/bin` and the testenv's
/// binaries, but not this build's plugin: `kubectl agents` must be krew's copy.
fn kubectl_with_krew(ctx: &Ctx, krew_root: &Path, tools: &Path) -> Command {
    let path = std::env::join_paths([
        krew_root.join("bin"),
        tools.to_path_buf(),
        ctx.cluster.kubernetes_bin().into(),
        "/usr/bin".into(),
        "/bin".into(),
    ])
    .expect("valid PATH entries");
    let mut command = Command::new(ctx.cluster.kubernetes_bin().join("kubectl"));
    command
        .env_clear()
        .env("PATH", path)
        .env("HOME", krew_root)
        .env("KREW_ROOT", krew_root)
        .env("KREW_NO_UPGRADE_CHECK", "1")
        .env("KUBECONFIG", ctx.cluster.kubeconfig())
        .env("NO_COLOR", "1");
    command
}

/// `cargo xtask release` packs this build's plugin with the LICENSE and writes a manifest whose
/// sha256 is the archive's; krew's validator accepts it (and rejects the unfilled template);
/// krew installs it from the archive without the network, `kubectl agents version` then runs
/// krew's copy, and `kubectl krew uninstall` removes it.
async fn krew_installs_the_released_archive_offline(ctx: Ctx) -> anyhow::Result<()> {
    let work = ctx.cluster.dir().join(format!("dist-{}", ctx.ns));
    let _ = std::fs::remove_dir_all(&work);
    let (out, krew_root, tools) = (work.join("out"), work.join("krew"), work.join("tools"));
    for dir in [&out, &krew_root, &tools] {
        std::fs::create_dir_all(dir)?;
    }
    let krew = tokio::task::spawn_blocking(|| gobuild::ensure(&KREW, &cache_dir())).await??;

    // The release, fast path: this build's binaries instead of release builds (the images' ones
    // stripped, as the release profile does, so packing them takes seconds).
    let target = host_target();
    let binary = format!("{target}={}", binaries_dir().join("kubectl-agents").display());
    let runtime = format!("{target}={}", crate::images::stripped("agents-runtime", &work)?.display());
    let operator = format!("{target}={}", crate::images::stripped("agents-operator", &work)?.display());
    let out_arg = out.to_str().context("a UTF-8 path")?;
    let released = xtask(&[
        "--target",
        target,
        "--binary",
        &binary,
        "--runtime-binary",
        &runtime,
        "--operator-binary",
        &operator,
        "--out",
        out_arg,
        "--partial",
    ])?;
    ensure!(released.status.success(), "cargo xtask release: {}", story(&released));
    // A partial release's images say which platform they lack (images.rs checks full ones).
    if target.contains("linux") {
        let other = if target.starts_with("x86_64") { "linux/arm64" } else { "linux/amd64" };
        let images: Value = serde_json::from_str(&std::fs::read_to_string(out.join("images.json"))?)?;
        ensure!(
            images.as_array().is_some_and(|i| i.len() == 2 && i.iter().all(|i| i["missing"] == json!([other])))
                && text(&released.stderr).contains(&format!("PARTIAL: no {other}"))
                && std::fs::read_to_string(out.join("kustomization.yaml"))?.contains("# PARTIAL"),
            "{images:#}\n{}",
            story(&released)
        );
    }
    let manifest_path = out.join("agents.yaml");
    ensure!(text(&released.stdout).trim() == manifest_path.display().to_string(), "{}", story(&released));
    let archive = out.join(format!("kubectl-agents-v{VERSION}-{target}.tar.gz"));
    let listing = run_ok(Command::new("tar").arg("-tzf").arg(&archive))?;
    let mut files: Vec<String> = text(&listing.stdout).lines().map(str::to_string).collect();
    files.sort();
    ensure!(files == ["LICENSE", "kubectl-agents", "kubectl_complete-agents"], "the archive holds {files:?}");
    // sha256 by another implementation than the release task's.
    let sum = text(&run_ok(Command::new("sha256sum").arg(&archive))?.stdout);
    let sum = sum.split_whitespace().next().context("no sha256sum output")?.to_string();
    let manifest_text = std::fs::read_to_string(&manifest_path)?;
    ensure!(manifest_text.contains("# PARTIAL: no archive for"), "{manifest_text}");
    let manifest: Value = serde_norway::from_str(&manifest_text)?;
    ensure!(manifest["spec"]["version"] == format!("v{VERSION}"), "{manifest:#}");
    let platforms = manifest["spec"]["platforms"].as_array().context("no platforms")?;
    ensure!(platforms.len() == 1 && platforms[0]["sha256"] == sum.as_str(), "sha256 {sum} vs {manifest:#}");
    ensure!(
        platforms[0]["uri"].as_str().unwrap_or_default().ends_with(&format!("/v{VERSION}/{}", archive_name(target))),
        "{manifest:#}"
    );
    let checksum_file = std::fs::read_to_string(out.join(format!("{}.sha256", archive_name(target))))?;
    ensure!(checksum_file == format!("{sum}  {}\n", archive_name(target)), "{checksum_file}");
    // The agent runtime's binary, for its image, with its checksum.
    if target.contains("linux") {
        let runtime_name = format!("agents-runtime-v{VERSION}-{target}");
        let runtime_sum = text(&run_ok(Command::new("sha256sum").arg(out.join(&runtime_name)))?.stdout);
        let runtime_checksum = std::fs::read_to_string(out.join(format!("{runtime_name}.sha256")))?;
        ensure!(
            runtime_checksum == format!("{}  {runtime_name}\n", runtime_sum.split_whitespace().next().unwrap_or("?"))
        );
    }

    // Without --partial, a target it cannot build (macOS, from here) means no manifest, not even
    // one left by an earlier run.
    std::fs::create_dir_all(work.join("refused"))?;
    std::fs::write(work.join("refused/agents.yaml"), "stale")?;
    let refused = xtask(&[
        "--target",
        target,
        "--target",
        "x86_64-apple-darwin",
        "--archives",
        out_arg,
        "--out",
        work.join("refused").to_str().context("a UTF-8 path")?,
    ])?;
    let stderr = text(&refused.stderr);
    ensure!(
        !refused.status.success()
            && stderr.lines().any(|l| l.starts_with("error: no archive for") && l.contains("x86_64-apple-darwin"))
            && stderr.contains("--partial")
            && !work.join("refused/agents.yaml").exists(),
        "{}",
        story(&refused)
    );
    if std::env::consts::OS == "linux" {
        ensure!(stderr.contains("macOS SDK"), "the reason is not given: {stderr}");
    }

    // krew's own validation: the released manifest passes, the template does not (its sha256s).
    let validator = krew.join("validate-krew-manifest");
    let valid = output_within(Command::new(&validator).arg("-manifest").arg(&manifest_path).arg("-skip-install"))?;
    ensure!(
        valid.status.success() && text(&valid.stderr).contains("structural validation OK"),
        "validate-krew-manifest: {}",
        story(&valid)
    );
    let template = work.join("agents.yaml");
    std::fs::copy(workspace_root().join("krew-manifest.yaml"), &template)?;
    let invalid = output_within(Command::new(&validator).arg("-manifest").arg(&template).arg("-skip-install"))?;
    ensure!(
        !invalid.status.success() && text(&invalid.stderr).contains("`sha256` value"),
        "the template passed validation: {}",
        story(&invalid)
    );

    // krew installs from the archive, offline.
    std::os::unix::fs::symlink(krew.join("krew"), tools.join("kubectl-krew"))?;
    let kubectl = |args: &[&str]| -> anyhow::Result<Output> {
        output_within(kubectl_with_krew(&ctx, &krew_root, &tools).args(args))
    };
    // krew's commands get proxies at a closed port on loopback: any download krew tried would
    // fail the test. (Not the plugin's: kube's client refuses a proxy it was built without.)
    let krew = |args: &[&str]| -> anyhow::Result<Output> {
        let mut command = kubectl_with_krew(&ctx, &krew_root, &tools);
        for proxy in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
            command.env(proxy, "http://127.0.0.1:9");
        }
        output_within(command.arg("krew").args(args))
    };
    let manifest_arg = format!("--manifest={}", manifest_path.display());
    let archive_arg = format!("--archive={}", archive.display());
    let installed = krew(&["install", &manifest_arg, &archive_arg])?;
    let said = format!("{}{}", text(&installed.stdout), text(&installed.stderr));
    ensure!(
        installed.status.success()
            && said.contains("Installed plugin: agents")
            && said.contains("kubectl agents install"),
        "krew install (with its caveats): {}",
        story(&installed)
    );
    let store = krew_root.join("store/agents").join(format!("v{VERSION}"));
    ensure!(store.join("LICENSE").is_file(), "krew did not extract the LICENSE into {}", store.display());
    let link = std::fs::canonicalize(krew_root.join("bin/kubectl-agents"))?;
    ensure!(link == std::fs::canonicalize(store.join("kubectl-agents"))?, "bin/kubectl-agents -> {}", link.display());

    let plugins = kubectl(&["plugin", "list"])?;
    let listed = text(&plugins.stdout);
    ensure!(
        listed.contains(&krew_root.join("bin/kubectl-agents").display().to_string())
            && !listed.contains(&binaries_dir().display().to_string()),
        "kubectl plugin list: {}",
        story(&plugins)
    );
    let version = kubectl(&["agents", "version"])?;
    ensure!(
        version.status.success() && text(&version.stdout).contains(&format!("Plugin:   kubectl-agents {VERSION}")),
        "kubectl agents version through krew: {}",
        story(&version)
    );

    // Completion through kubectl: krew links only the plugin; the completer, copied from the
    // store onto PATH as the caveats say, makes kubectl complete the plugin's commands.
    let completer = krew_root.join("bin/kubectl_complete-agents");
    ensure!(!completer.exists(), "krew linked the completer after all: simplify the caveats and docs/install.md");
    std::fs::copy(store.join("kubectl_complete-agents"), &completer)?;
    let completed = kubectl(&["__complete", "agents", "ver"])?;
    ensure!(
        completed.status.success()
            && text(&completed.stdout).lines().next().is_some_and(|l| l.starts_with("version\t")),
        "kubectl __complete agents ver: {}",
        story(&completed)
    );
    std::fs::remove_file(&completer)?;

    // `krew uninstall` needs an index; offline, an empty one does (`krew update` would clone it).
    let index = krew_root.join("index/default");
    std::fs::create_dir_all(index.join("plugins"))?;
    run_ok(Command::new("git").args(["init", "--quiet"]).current_dir(&index))?;
    // Installed from a manifest rather than an index, krew lists it as "detached".
    let list = krew(&["list"])?;
    ensure!(
        list.status.success() && text(&list.stdout).lines().any(|l| l.trim() == "detached/agents"),
        "{}",
        story(&list)
    );
    let removed = krew(&["uninstall", "agents"])?;
    ensure!(removed.status.success(), "krew uninstall: {}", story(&removed));
    ensure!(!krew_root.join("bin/kubectl-agents").exists() && !store.exists(), "krew uninstall left files behind");
    let gone = kubectl(&["agents", "version"])?;
    ensure!(!gone.status.success(), "kubectl agents still runs after krew uninstall: {}", story(&gone));
    std::fs::remove_dir_all(&work)?;
    Ok(())
}

fn archive_name(target: &str) -> String {
    format!("kubectl-agents-v{VERSION}-{target}.tar.gz")
}

/// A live object without what the server writes about this particular copy (uid, times,
/// versions, managers, status): what is left is what the install path decided.
fn settled(mut object: Value) -> Value {
    if let Some(metadata) = object["metadata"].as_object_mut() {
        for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"] {
            metadata.remove(field);
        }
    }
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    object
}

/// `wanted` is in `live`: every field it sets has that value (the server only adds defaults).
/// Numbers compare as numbers (YAML's `1.0` is JSON's `1`).
fn contains(live: &Value, wanted: &Value, path: &str) -> Result<(), String> {
    match (live, wanted) {
        (Value::Object(live), Value::Object(wanted)) => wanted.iter().try_for_each(|(key, value)| {
            contains(live.get(key).unwrap_or(&Value::Null), value, &format!("{path}.{key}"))
        }),
        (Value::Array(live), Value::Array(wanted)) if live.len() == wanted.len() => {
            live.iter().zip(wanted).enumerate().try_for_each(|(i, (l, w))| contains(l, w, &format!("{path}[{i}]")))
        }
        (Value::Number(l), Value::Number(w)) if l.as_f64() == w.as_f64() => Ok(()),
        (l, w) if l == w => Ok(()),
        (l, w) => Err(format!("{path}: the cluster has {l}, the manifests say {w}")),
    }
}

struct Private {
    cluster: Cluster,
    client: kube::Client,
    kustomization: String,
}

impl Private {
    fn kubectl(&self, ctx: &Ctx) -> Command {
        let mut command = ctx.kubectl();
        command.env("KUBECONFIG", self.cluster.kubeconfig());
        command
    }

    /// Every object of operator/config/default as the cluster has it now, by identity.
    fn live(&self, ctx: &Ctx) -> anyhow::Result<Vec<Value>> {
        let output = run_ok(self.kubectl(ctx).args(["get", "-k", &self.kustomization, "-o", "json"]))?;
        let mut objects = objects(&text(&output.stdout))?;
        objects.sort_by_key(identity);
        Ok(objects)
    }

    async fn wait_available(&self, ctx: &Ctx) -> anyhow::Result<Deployment> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), NAMESPACE);
        ctx.wait_for(&api, OPERATOR, "the operator available", |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref()).and_then(|s| s.available_replicas).unwrap_or(0) >= 1
        })
        .await
    }
}

async fn kustomize_and_the_plugin_install_the_same_operator(ctx: Ctx) -> anyhow::Result<()> {
    let name = format!("paths-{}", ctx.ns);
    let result = async {
        let options = Options { nodes: 1, crds: vec![], extra_crds: vec![] };
        let cluster = Cluster::up(&name, &options).await.context("starting the private control plane")?;
        let client = cluster.client().await?;
        let kustomization =
            workspace_root().join("operator/config/default").to_str().context("a UTF-8 path")?.to_string();
        install_paths(&ctx, &Private { cluster, client, kustomization }).await
    }
    .await;
    let down = Cluster::down(&name).with_context(|| format!("stopping the private control plane {name}"));
    result?;
    down?;
    Ok(())
}

/// `kubectl apply --server-side -k operator/config/default` installs what the manifests say;
/// `kubectl agents uninstall --crds` removes it; `kubectl agents install` then creates the very
/// same objects; kustomize applied again over them conflicts with nothing and changes nothing;
/// `kubectl delete -k` removes them.
async fn install_paths(ctx: &Ctx, p: &Private) -> anyhow::Result<()> {
    let k = p.kustomization.as_str();
    let applied = run_ok(p.kubectl(ctx).args(["apply", "--server-side", "-k", k]))?;
    let built = run_ok(p.kubectl(ctx).args(["kustomize", k]))?;
    let mut built = objects(&text(&built.stdout))?;
    built.sort_by_key(identity);
    ensure!(
        text(&applied.stdout).lines().filter(|l| l.ends_with(" serverside-applied")).count() == built.len(),
        "kubectl apply -k: {}",
        story(&applied)
    );
    let first = p.wait_available(ctx).await?;
    let by_kustomize = p.live(ctx)?;
    ensure!(
        by_kustomize.iter().map(identity).collect::<Vec<_>>() == built.iter().map(identity).collect::<Vec<_>>(),
        "kustomize built {:?}, the cluster has {:?}",
        built.iter().map(identity).collect::<Vec<_>>(),
        by_kustomize.iter().map(identity).collect::<Vec<_>>()
    );
    // The Deployment, the RBAC and the CRDs are what the manifests say, to the field.
    for (live, wanted) in by_kustomize.iter().zip(&built) {
        contains(live, wanted, &identity(wanted)).map_err(anyhow::Error::msg)?;
    }
    let crds: Api<CustomResourceDefinition> = Api::all(p.client.clone());
    for crd in built.iter().filter(|o| o["kind"] == "CustomResourceDefinition") {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        let established = crds.get(name).await?.status.and_then(|s| s.conditions).unwrap_or_default();
        ensure!(established.iter().any(|c| c.type_ == "Established" && c.status == "True"), "{name} not Established");
    }

    let removed = output_before(
        p.kubectl(ctx)
            .args(["agents", "uninstall", "--yes", "--crds", "--wait", "--timeout", "60s"])
            .args(["--kubeconfig", p.cluster.kubeconfig().to_str().context("a UTF-8 path")?]),
        Duration::from_secs(70),
    )?;
    ensure!(removed.status.success(), "kubectl agents uninstall of a kustomize install: {}", story(&removed));
    let left = p.live(ctx).err().map(|e| e.to_string()).unwrap_or_default();
    ensure!(left.contains("NotFound"), "objects left after uninstall: {left}");

    let installed = output_within(
        p.kubectl(ctx)
            .args(["agents", "install", "--wait", "--timeout", "60s", "--kubeconfig"])
            .arg(p.cluster.kubeconfig()),
    )?;
    ensure!(installed.status.success(), "kubectl agents install: {}", story(&installed));
    let second = p.wait_available(ctx).await?;
    ensure!(first.metadata.uid != second.metadata.uid, "the Deployment was not recreated");
    let by_plugin = p.live(ctx)?;
    ensure!(by_kustomize.len() == by_plugin.len(), "{} objects vs {}", by_kustomize.len(), by_plugin.len());
    for (kustomized, plugged) in by_kustomize.iter().zip(&by_plugin) {
        let (kustomized, plugged) = (settled(kustomized.clone()), settled(plugged.clone()));
        ensure!(
            kustomized == plugged,
            "{} differs between the install paths:\nkubectl apply -k: {kustomized:#}\nkubectl agents install: {plugged:#}",
            identity(&kustomized)
        );
    }

    // Switching paths (or upgrading through the other one) conflicts with nothing.
    run_ok(p.kubectl(ctx).args(["apply", "--server-side", "-k", k]))?;
    let after = Api::<Deployment>::namespaced(p.client.clone(), NAMESPACE).get(OPERATOR).await?;
    ensure!(
        after.metadata.generation == second.metadata.generation,
        "kustomize over the plugin's install changed the Deployment"
    );

    run_ok_within(p.kubectl(ctx).args(["delete", "-k", k, "--wait=false"]), Duration::from_secs(60))?;
    for crd in built.iter().filter(|o| o["kind"] == "CustomResourceDefinition") {
        crd_gone(&crds, crd["metadata"]["name"].as_str().unwrap_or_default()).await?;
    }
    Ok(())
}

/// Waits until a deleted CRD is gone; while Kubernetes' CRD finalizer says it could not list the
/// CRD's objects, does what docs/install.md says for that: annotate the CRD so it tries again (it
/// would otherwise wait for its 5-minute resync).
async fn crd_gone(crds: &Api<CustomResourceDefinition>, name: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut retries = 0;
    loop {
        let Some(crd) = crds.get_opt(name).await? else { return Ok(()) };
        let conditions = crd.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        if conditions.iter().any(|c| c.type_ == "Terminating" && c.reason.as_deref() == Some("InstanceDeletionFailed"))
        {
            retries += 1;
            let annotation = json!({"metadata": {"annotations": {"agents.dev/deletion-retry": retries.to_string()}}});
            match crds.patch(name, &PatchParams::default(), &Patch::Merge(&annotation)).await {
                // The finalizer may finish between the read above and this write.
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
                outcome => _ = outcome?,
            }
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "{name} is still there after {DEADLINE:?} ({retries} retries asked for); its conditions: {:#}",
                json!(conditions)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

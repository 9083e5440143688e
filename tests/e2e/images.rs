//! The release's container images, checked by an OCI implementation that is not ours: crane
//! (go-containerregistry) pushes each OCI archive's layout to its in-memory registry on loopback,
//! validates what it received (every blob's digest and size, every layer's diff_id), and reads
//! back each platform's config and files. Two releases of the same binaries give the same bytes.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agents_testenv::tools::CRANE;
use agents_testenv::{cache_dir, gobuild};
use anyhow::{Context, ensure};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::support::{Ctx, Env, binaries_dir, output_before, run_ok, text, trials, workspace_root};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "images", [crane_validates_the_released_multi_platform_images])
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The workspace's `repository` (this crate does not inherit it).
const REPOSITORY: &str = "https://github.com/kubectl-agents/kubectl-agents";
/// The release's Linux targets, in the order the image index lists their platforms.
const LINUX: [(&str, &str); 2] = [("x86_64-unknown-linux-musl", "amd64"), ("aarch64-unknown-linux-musl", "arm64")];
/// A release run packs two plugin archives and two images; crane builds once (~1 min).
const SLOW: Duration = Duration::from_secs(10 * 60);

/// A stripped copy of this build's `name` in `dir`: release-sized (the release profile strips),
/// so packing it takes seconds, not the minutes of a 500 MB debug binary.
pub fn stripped(name: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    run_ok(Command::new("strip").arg("-o").arg(&path).arg(binaries_dir().join(name)))?;
    Ok(path)
}

/// `crane registry serve` on a free loopback port, stopped when dropped.
struct Registry {
    child: Child,
    address: String,
}

impl Registry {
    fn start(crane: &Path, log: &Path) -> anyhow::Result<Registry> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(log)?;
        let child = Command::new(crane)
            .args(["registry", "serve", "--address", &address])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting crane registry serve")?;
        let registry = Registry { child, address };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&registry.address).is_err() {
            ensure!(Instant::now() < deadline, "crane's registry does not listen on {}", registry.address);
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cargo xtask release ARGS --out OUT`.
fn release(args: &[String], out: &Path) -> anyhow::Result<String> {
    let output = output_before(
        agents_testenv::cargo::command()
            .args(["xtask", "release"])
            .args(args)
            .arg("--out")
            .arg(out)
            .current_dir(workspace_root()),
        SLOW,
    )?;
    ensure!(output.status.success(), "cargo xtask release: exit {:?}\n{}", output.status.code(), text(&output.stderr));
    Ok(text(&output.stderr))
}

fn json_of(output: &std::process::Output) -> anyhow::Result<Value> {
    serde_json::from_slice(&output.stdout).with_context(|| format!("not JSON: {}", text(&output.stdout)))
}

/// `cargo xtask release` for both Linux targets (the x86-64 binaries stand for arm64 too: this
/// machine cannot build arm64, and what is tested is the index's shape, not the code) writes an
/// OCI archive per image. crane accepts each as a layout, its registry receives and validates
/// it, the pushed index's digest is the one `images.json` reports, and each platform's image is
/// what the release promises: the user 65532, the entrypoint, the port, the OCI labels with this
/// commit, and exactly the binary (byte for byte), passwd, group, /tmp (1777) and for the
/// runtime the CA bundle, all root's; no shell. A second release gives the same digests and
/// bytes. The release's kustomize overlay (applied to this checkout's operator/config/default)
/// and Helm values pin both images by tag and digest.
async fn crane_validates_the_released_multi_platform_images(ctx: Ctx) -> anyhow::Result<()> {
    let work = ctx.cluster.dir().join(format!("images-{}", ctx.ns));
    let _ = std::fs::remove_dir_all(&work);
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin)?;
    let crane = tokio::task::spawn_blocking(|| gobuild::ensure(&CRANE, &cache_dir())).await??.join("crane");
    let plugin = stripped("kubectl-agents", &bin)?;
    let operator = stripped("agents-operator", &bin)?;
    let runtime = stripped("agents-runtime", &bin)?;

    let mut args = vec!["--partial".to_string()];
    for (triple, _) in LINUX {
        args.push("--target".into());
        args.push(triple.into());
        for (flag, binary) in [("--binary", &plugin), ("--operator-binary", &operator), ("--runtime-binary", &runtime)]
        {
            args.push(flag.into());
            args.push(format!("{triple}={}", binary.display()));
        }
    }
    let (first, second) = (work.join("first"), work.join("second"));
    let started = Instant::now();
    let said = release(&args, &first)?;
    eprintln!("images: one release in {:.0?}", started.elapsed());
    ensure!(!said.contains("PARTIAL"), "both Linux platforms were given: {said}");
    release(&args, &second)?;

    // Reproducible: the same digests, the same archive bytes.
    let images_json = std::fs::read_to_string(first.join("images.json"))?;
    ensure!(images_json == std::fs::read_to_string(second.join("images.json"))?, "images.json differs between runs");
    let images: Value = serde_json::from_str(&images_json)?;
    let images = images.as_array().context("images.json is not a list")?;
    ensure!(images.len() == 2, "{images_json}");
    for image in images {
        let archive = image["archive"].as_str().context("no archive")?;
        let sums: Vec<String> = [&first, &second]
            .iter()
            .map(|dir| Ok(text(&run_ok(Command::new("sha256sum").arg(dir.join(archive)))?.stdout)[..64].to_string()))
            .collect::<anyhow::Result<_>>()?;
        ensure!(sums[0] == sums[1], "{archive} differs between runs: {sums:?}");
    }

    let revision = text(&run_ok(Command::new("git").args(["rev-parse", "HEAD"]).current_dir(workspace_root()))?.stdout);
    let registry = Registry::start(&crane, &work.join("registry.log"))?;
    let crane_run = |args: &[&str]| run_ok(Command::new(&crane).args(args));
    for (image, binary, port, ca) in [(&images[0], &operator, 8080, false), (&images[1], &runtime, 8000, true)] {
        let name = image["name"].as_str().context("no name")?;
        let digest = image["digest"].as_str().context("no digest")?;
        ensure!(image["reference"] == format!("ghcr.io/kubectl-agents/{name}:v{VERSION}@{digest}"), "{image}");
        ensure!(
            image["platforms"] == json!(["linux/amd64", "linux/arm64"]) && image["missing"] == json!([]),
            "{image}"
        );

        // The archive is an OCI image layout.
        let archive = first.join(format!("{name}-v{VERSION}.oci.tar"));
        let layout = work.join(format!("layout-{name}"));
        std::fs::create_dir_all(&layout)?;
        run_ok(Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&layout))?;
        let top: Value = serde_json::from_str(&std::fs::read_to_string(layout.join("index.json"))?)?;
        ensure!(
            top["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == format!("v{VERSION}"),
            "{top}"
        );

        // crane pushes it (the layout's one index) and its registry validates what it got.
        let tagged = format!("{}/{name}:v{VERSION}", registry.address);
        let pushed = crane_run(&["push", layout.to_str().context("a UTF-8 path")?, &tagged])?;
        let pushed = text(&pushed.stdout);
        ensure!(
            pushed.trim() == format!("{}/{name}@{digest}", registry.address),
            "crane pushed {pushed}, images.json says {digest}"
        );
        ensure!(text(&crane_run(&["digest", &tagged])?.stdout).trim() == digest);
        let valid = crane_run(&["validate", "--remote", &tagged])?;
        ensure!(text(&valid.stdout).contains("PASS"), "crane validate: {}{}", text(&valid.stdout), text(&valid.stderr));

        let index = json_of(&crane_run(&["manifest", &tagged])?)?;
        ensure!(index["mediaType"] == "application/vnd.oci.image.index.v1+json", "{index}");
        let platforms: Vec<&Value> =
            index["manifests"].as_array().context("no manifests")?.iter().map(|m| &m["platform"]).collect();
        ensure!(
            platforms
                == [&json!({"architecture": "amd64", "os": "linux"}), &json!({"architecture": "arm64", "os": "linux"})],
            "{index}"
        );
        let labels = &index["annotations"];
        for (key, value) in [
            ("title", name),
            ("version", VERSION),
            ("revision", revision.trim()),
            ("source", REPOSITORY),
            ("licenses", env!("CARGO_PKG_LICENSE")),
        ] {
            ensure!(labels[format!("org.opencontainers.image.{key}")] == value, "{key}: {labels}");
        }
        ensure!(labels["org.opencontainers.image.created"].as_str().is_some_and(|c| c.ends_with('Z')), "{labels}");

        for (_, arch) in LINUX {
            let platform = format!("linux/{arch}");
            let config = json_of(&crane_run(&["config", "--platform", &platform, &tagged])?)?;
            ensure!(config["architecture"] == arch && config["os"] == "linux", "{platform}: {config}");
            let run = &config["config"];
            ensure!(run["User"] == "65532:65532", "{platform}: {run}");
            ensure!(run["Entrypoint"] == json!([format!("/{name}")]) && run["Cmd"].is_null(), "{platform}: {run}");
            ensure!(run["ExposedPorts"] == json!({format!("{port}/tcp"): {}}), "{platform}: {run}");
            ensure!(&run["Labels"] == labels, "{platform}: the config's labels are not the index's annotations");

            // The files: exactly these, root's, with these modes; the binary is the one given.
            let filesystem = work.join(format!("{name}-{arch}.tar"));
            crane_run(&["export", "--platform", &platform, &tagged, filesystem.to_str().context("a UTF-8 path")?])?;
            let listing = run_ok(Command::new("tar").arg("-tvf").arg(&filesystem).arg("--numeric-owner"))?;
            let mut files: Vec<(String, String, String)> = text(&listing.stdout)
                .lines()
                .map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    (fields[5].trim_end_matches('/').to_string(), fields[0].to_string(), fields[1].to_string())
                })
                .collect();
            files.sort();
            let file = |path: &str, mode: &str| (path.to_string(), mode.to_string(), "0/0".to_string());
            let mut expected = vec![
                file(name, "-rwxr-xr-x"),
                file("etc", "drwxr-xr-x"),
                file("etc/group", "-rw-r--r--"),
                file("etc/passwd", "-rw-r--r--"),
                file("tmp", "drwxrwxrwt"),
            ];
            if ca {
                expected.push(file("etc/ssl", "drwxr-xr-x"));
                expected.push(file("etc/ssl/certs", "drwxr-xr-x"));
                expected.push(file("etc/ssl/certs/ca-certificates.crt", "-rw-r--r--"));
            }
            expected.sort();
            ensure!(files == expected, "{name} {platform} holds {files:?}");
            let unpacked = work.join(format!("fs-{name}-{arch}"));
            std::fs::create_dir_all(&unpacked)?;
            run_ok(Command::new("tar").arg("-xf").arg(&filesystem).arg("-C").arg(&unpacked))?;
            ensure!(std::fs::read(unpacked.join(name))? == std::fs::read(binary)?, "{name} is not the binary given");
            let passwd = std::fs::read_to_string(unpacked.join("etc/passwd"))?;
            ensure!(passwd.lines().any(|l| l.starts_with("nonroot:x:65532:65532:")), "{passwd}");
            if ca {
                let bundle = std::fs::read_to_string(unpacked.join("etc/ssl/certs/ca-certificates.crt"))?;
                ensure!(bundle.matches("-----BEGIN CERTIFICATE-----").count() > 100, "a thin CA bundle");
            }
        }
    }
    drop(registry);

    // The install paths pin both images: kustomize (the overlay over this checkout's
    // operator/config/default, since the release tag cannot be fetched offline) and Helm's values.
    let reference = |i: usize| images[i]["reference"].as_str().unwrap_or_default().to_string();
    let (operator_image, runtime_image) = (reference(0), reference(1));
    let overlay = work.join("overlay");
    std::fs::create_dir_all(&overlay)?;
    let config = workspace_root().join("operator/config/default");
    let relative = format!("{}{}", "../".repeat(overlay.components().count() - 1), config.strip_prefix("/")?.display());
    let remote = format!("{}//operator/config/default?ref=v{VERSION}", REPOSITORY);
    let kustomization = std::fs::read_to_string(first.join("kustomization.yaml"))?;
    ensure!(kustomization.contains(&remote), "{kustomization}");
    std::fs::write(overlay.join("kustomization.yaml"), kustomization.replace(&remote, &relative))?;
    let kubectl = ctx.cluster.kubernetes_bin().join("kubectl");
    let built = run_ok(Command::new(kubectl).arg("kustomize").arg(&overlay))?;
    let deployment = crate::plugin_install::objects(&text(&built.stdout))?
        .into_iter()
        .find(|o| o["kind"] == "Deployment")
        .context("no Deployment")?;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    ensure!(container["image"] == operator_image.as_str(), "{container}");
    ensure!(
        container["args"] == json!(["--log-format=json", format!("--agent-runtime-image={runtime_image}")]),
        "{container}"
    );
    let values: Value = serde_norway::from_str(&std::fs::read_to_string(first.join("values-release.yaml"))?)?;
    ensure!(
        values
            == json!({
                "image": {"tag": format!("v{VERSION}"), "digest": images[0]["digest"]},
                "agentRuntime": {"image": runtime_image},
            }),
        "{values}"
    );
    std::fs::remove_dir_all(&work)?;
    Ok(())
}

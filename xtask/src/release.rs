//! `cargo xtask release`: builds the plugin for each target this machine can build, packs each
//! archive with its completer (`kubectl_complete-agents`) and the LICENSE, and writes the krew
//! manifest with every archive's sha256. Before the plugin, it builds the operator's and the
//! agent runtime's static Linux binaries and writes their images as OCI archives (`image.rs`),
//! so the plugin is built knowing their digests and `kubectl agents install` pins them, as the
//! release's kustomize overlay and Helm values do (`install.rs`).
//!
//! The rule for targets it cannot build (macOS and Windows from Linux, say): their archives come
//! from the runners that can (`--archives DIR`); without them no manifest is written, because a
//! manifest must not name archives that do not exist. `--partial` writes one for the archives at
//! hand only (testing, or a pre-release for those platforms), and says so in its first lines.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::manifest::{self, Archive};
use crate::targets::{self, Host, TARGETS, Target, ThisMachine};
use crate::{archive, image, install};

/// The workspace: xtask lives in `<root>/xtask`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

/// The version every binary of the workspace is built with (`[workspace.package] version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where the release archives are published (`[workspace.package] repository`).
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
/// The license the images declare (`[workspace.package] license`).
pub const LICENSE: &str = env!("CARGO_PKG_LICENSE");

#[derive(Debug, clap::Args)]
pub struct Options {
    /// Cargo profile to build with (`dev` for a quick local try).
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Only these targets (Rust triples; repeat the flag). Default: every released target.
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// A directory of archives built elsewhere (a macOS or Windows runner), used as they are.
    #[arg(long, value_name = "DIR")]
    pub archives: Option<PathBuf>,
    /// Pack this binary for TRIPLE instead of building it (TRIPLE=PATH; repeat the flag).
    #[arg(long = "binary", value_name = "TRIPLE=PATH", value_parser = parse_binary)]
    pub binaries: Vec<(Target, PathBuf)>,
    /// Release this agents-runtime binary for TRIPLE instead of building it (TRIPLE=PATH; repeat the flag).
    #[arg(long = "runtime-binary", value_name = "TRIPLE=PATH", value_parser = parse_binary)]
    pub runtime_binaries: Vec<(Target, PathBuf)>,
    /// Release this agents-operator binary for TRIPLE instead of building it (TRIPLE=PATH; repeat the flag).
    #[arg(long = "operator-binary", value_name = "TRIPLE=PATH", value_parser = parse_binary)]
    pub operator_binaries: Vec<(Target, PathBuf)>,
    /// Where the archives and the manifest go. Default: target/dist/v<version>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write a manifest (and images) even if some targets have no archive (binary), leaving their platforms out.
    #[arg(long)]
    pub partial: bool,
}

fn parse_binary(value: &str) -> Result<(Target, PathBuf), String> {
    let (triple, path) = value.split_once('=').ok_or("expected TRIPLE=PATH")?;
    let target = Target::by_triple(triple).ok_or_else(|| format!("{triple} is not a release target"))?;
    Ok((target, PathBuf::from(path)))
}

/// Where one binary (or the plugin's archive) of a release comes from.
enum Source {
    /// An archive from `--archives`, used as it is.
    Archive(PathBuf),
    /// A binary built elsewhere (`--binary`, `--operator-binary`, `--runtime-binary`).
    Given(PathBuf),
    /// Built here with this toolchain.
    Build(targets::Toolchain),
    /// Not buildable here, and why (a sentence that says what to do).
    NotHere(String),
}

/// Where `target`'s binary comes from: given, else built if this machine can.
fn binary_source(given: &[(Target, PathBuf)], target: &Target, host: &Host) -> Source {
    match given.iter().find(|(t, _)| t == target) {
        Some((_, path)) => Source::Given(path.clone()),
        None => match targets::toolchain(target, host, &ThisMachine) {
            Ok(toolchain) => Source::Build(toolchain),
            Err(why) => Source::NotHere(why),
        },
    }
}

/// The given or built binary of `package`; `env` is added to a build's environment.
fn obtain(
    root: &Path,
    package: &str,
    target: &Target,
    source: &Source,
    profile: &str,
    env: &[(String, String)],
) -> anyhow::Result<PathBuf> {
    match source {
        Source::Archive(path) | Source::Given(path) => Ok(path.clone()),
        Source::Build(toolchain) => build(root, package, target, profile, toolchain, env),
        Source::NotHere(why) => bail!("{package} for {}: {why}", target.triple),
    }
}

pub fn run(options: Options) -> anyhow::Result<()> {
    let root = root();
    let out = options.out.clone().unwrap_or_else(|| root.join("target/dist").join(format!("v{VERSION}")));
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // krew names a plugin after its manifest's file name. A manifest of an earlier run would
    // name archives this run replaces: it goes first, and comes back only if this run succeeds.
    let manifest_path = out.join("agents.yaml");
    let _ = fs::remove_file(&manifest_path);
    let selected: Vec<Target> = if options.targets.is_empty() {
        TARGETS.to_vec()
    } else {
        options
            .targets
            .iter()
            .map(|t| Target::by_triple(t).with_context(|| format!("{t} is not a release target (see TARGETS)")))
            .collect::<anyhow::Result<_>>()?
    };
    let host = Host::current();

    // Where everything comes from, decided before anything is built: a release that will be
    // refused builds nothing.
    let plugin: Vec<(Target, Source)> = selected.iter().map(|t| (*t, plugin_source(t, &host, &options))).collect();
    let not_here: Vec<&'static str> =
        plugin.iter().filter(|(_, s)| matches!(s, Source::NotHere(_))).map(|(t, _)| t.triple).collect();
    for (target, source) in &plugin {
        if let Source::NotHere(why) = source {
            eprintln!("not here {:<28} {why}", target.triple);
        }
    }
    if !not_here.is_empty() && !options.partial {
        return Err(manifest::ManifestError::Missing(not_here).into());
    }
    let linux: Vec<Target> = selected.iter().copied().filter(|t| t.os == "linux").collect();
    let mut images = Vec::new();
    for (image, given) in [(image::OPERATOR, &options.operator_binaries), (image::RUNTIME, &options.runtime_binaries)] {
        let sources: Vec<(Target, Source)> = linux.iter().map(|t| (*t, binary_source(given, t, &host))).collect();
        // Every Linux platform the release ships without a binary here, selected or not (as the
        // krew manifest counts its platforms).
        let mut missing = Vec::new();
        for target in TARGETS.iter().filter(|t| t.os == "linux") {
            match sources.iter().find(|(t, _)| t == target) {
                Some((_, Source::NotHere(why))) => eprintln!("not here {:<28} {}: {why}", target.triple, image.name),
                Some(_) => continue,
                None => {}
            }
            missing.push(image::platform(target));
        }
        if !missing.is_empty() && !options.partial {
            bail!(
                "no {} binary for {}: an image must not lack a platform the release ships (pass its binary with --{}-binary TRIPLE=PATH, or --partial for images of the built platforms only)",
                image.name,
                missing.join(", "),
                image.name.trim_start_matches("agents-")
            );
        }
        images.push((image, sources, missing));
    }

    // The images: they depend on nothing of the plugin's, and the plugin names their digests.
    let stamp = stamp(&root)?;
    let mut released = Vec::new();
    for (image, sources, missing) in &images {
        if let Some(published) = release_image(&root, &out, image, sources, missing, &stamp, &options.profile)? {
            released.push(published);
        }
    }
    if !released.is_empty() {
        let path = out.join("images.json");
        let list: Vec<serde_json::Value> = released.iter().map(Published::json).collect();
        fs::write(&path, serde_json::to_string_pretty(&list)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let pinned = |name: &str| released.iter().find(|p| p.image.name == name).map(|p| p.pinned.clone());
    let (operator, runtime) = (pinned(image::OPERATOR.name), pinned(image::RUNTIME.name));
    // A release build of the plugin embeds the digests (plugin/src/manifests.rs reads them).
    let mut plugin_env = Vec::new();
    if let (Some(operator), Some(runtime)) = (&operator, &runtime) {
        plugin_env.push(("AGENTS_OPERATOR_IMAGE_DIGEST".to_string(), operator.digest.clone()));
        plugin_env.push(("AGENTS_RUNTIME_IMAGE_DIGEST".to_string(), runtime.digest.clone()));
    }

    let mut archives = Vec::new();
    for (target, source) in &plugin {
        if matches!(source, Source::NotHere(_)) {
            continue;
        }
        let (path, archive) = release_target(&root, &out, target, source, &host, &options, &plugin_env)
            .with_context(|| format!("releasing {}", target.triple))?;
        eprintln!("packed   {:<28} {}  {}", target.triple, archive.sha256, path.display());
        if matches!(source, Source::Given(_)) && !plugin_env.is_empty() {
            eprintln!(
                "note     {:<28} the given plugin was not built by this run: its `install` pins the images only if it was built with {}",
                target.triple,
                plugin_env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
            );
        }
        archives.push(archive);
    }
    let template_path = root.join("krew-manifest.yaml");
    let template =
        fs::read_to_string(&template_path).with_context(|| format!("reading {}", template_path.display()))?;
    let manifest = manifest::render(&template, VERSION, REPOSITORY, &archives, options.partial)?;
    fs::write(&manifest_path, manifest).with_context(|| format!("writing {}", manifest_path.display()))?;

    // The operator's install paths, pinned to the images by digest.
    if let (Some(operator), Some(runtime)) = (&operator, &runtime) {
        let mut missing: Vec<String> = images.iter().flat_map(|(_, _, m)| m.clone()).collect();
        missing.sort();
        missing.dedup();
        for (name, text) in [
            ("kustomization.yaml", install::kustomization(REPOSITORY, operator, runtime, &missing)),
            ("values-release.yaml", install::helm_values(operator, runtime, &missing)),
        ] {
            let path = out.join(name);
            fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    println!("{}", manifest_path.display());
    Ok(())
}

/// An image the release wrote.
struct Published {
    image: image::Image,
    pinned: install::Pinned,
    archive: PathBuf,
    platforms: Vec<String>,
    missing: Vec<String>,
}

impl Published {
    /// Its entry in `images.json`.
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.image.name,
            "repository": self.pinned.repository,
            "tag": self.pinned.tag,
            "digest": self.pinned.digest,
            "reference": self.pinned.reference(),
            "archive": self.archive.file_name().map(|n| n.to_string_lossy()),
            "platforms": self.platforms,
            "missing": self.missing,
        })
    }
}

/// Builds (or takes) `image`'s binary for each Linux target it has one for, copies each into the
/// release with its `.sha256`, and writes the image's OCI archive. `None` without any binary.
fn release_image(
    root: &Path,
    out: &Path,
    image: &image::Image,
    sources: &[(Target, Source)],
    missing: &[String],
    stamp: &image::Stamp,
    profile: &str,
) -> anyhow::Result<Option<Published>> {
    let mut binaries = Vec::new();
    for (target, source) in sources.iter().filter(|(_, s)| !matches!(s, Source::NotHere(_))) {
        let built = obtain(root, image.name, target, source, profile, &[])?;
        let name = format!("{}-v{VERSION}-{}", image.name, target.triple);
        let path = out.join(&name);
        if built.canonicalize()? != path.canonicalize().unwrap_or_default() {
            fs::copy(&built, &path).with_context(|| format!("copying {}", built.display()))?;
        }
        let sha256 = archive::sha256(&path)?;
        fs::write(out.join(format!("{name}.sha256")), format!("{sha256}  {name}\n"))?;
        eprintln!("built    {:<28} {sha256}  {}", target.triple, path.display());
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        binaries.push((*target, bytes));
    }
    if binaries.is_empty() {
        return Ok(None);
    }
    let platforms: Vec<String> = binaries.iter().map(|(t, _)| image::platform(t)).collect();
    let layout = image::layout(image, binaries, stamp)?;
    let archive = image::write_archive(image, &layout, stamp, out)?;
    let partial = if missing.is_empty() { String::new() } else { format!(" PARTIAL: no {}", missing.join(", ")) };
    eprintln!(
        "image    {:<28} {}  {} ({}){partial}",
        image.name,
        layout.digest,
        archive.display(),
        platforms.join(", ")
    );
    let pinned = install::Pinned { repository: image.repository(), tag: stamp.tag(), digest: layout.digest };
    Ok(Some(Published { image: *image, pinned, archive, platforms, missing: missing.to_vec() }))
}

/// What the images are stamped with: this version, the commit, and a time that is the same for
/// every run of the same commit (`SOURCE_DATE_EPOCH`, else the commit's time, else 0).
fn stamp(root: &Path) -> anyhow::Result<image::Stamp> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git").args(args).current_dir(root).output().ok()?;
        let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
        (output.status.success() && !text.is_empty()).then_some(text)
    };
    let epoch = match std::env::var("SOURCE_DATE_EPOCH").ok().filter(|v| !v.is_empty()) {
        Some(value) => {
            value.parse().with_context(|| format!("SOURCE_DATE_EPOCH={value} is not a number of seconds"))?
        }
        None => git(&["log", "-1", "--format=%ct"]).and_then(|t| t.parse().ok()).unwrap_or(0),
    };
    Ok(image::Stamp {
        version: VERSION.to_string(),
        revision: git(&["rev-parse", "HEAD"]),
        source: REPOSITORY.to_string(),
        licenses: LICENSE.to_string(),
        epoch,
    })
}

/// Where `target`'s plugin archive comes from: `--archives`, else its binary's source.
fn plugin_source(target: &Target, host: &Host, options: &Options) -> Source {
    if let Some(dir) = &options.archives {
        let given = dir.join(target.archive(VERSION));
        if given.is_file() {
            return Source::Archive(given);
        }
    }
    binary_source(&options.binaries, target, host)
}

fn release_target(
    root: &Path,
    out: &Path,
    target: &Target,
    source: &Source,
    host: &Host,
    options: &Options,
    env: &[(String, String)],
) -> anyhow::Result<(PathBuf, Archive)> {
    let name = target.archive(VERSION);
    if let Source::Archive(given) = source {
        let path = out.join(&name);
        if given.canonicalize()? != path.canonicalize().unwrap_or_default() {
            fs::copy(given, &path).with_context(|| format!("copying {}", given.display()))?;
        }
        let sha256 = archive::sha256(&path)?;
        return Ok((path, Archive { target: *target, sha256 }));
    }
    let binary = obtain(root, PLUGIN, target, source, &options.profile, env)?;
    if target.runs_on(host) {
        check_version(&binary)?;
    }
    let completer = root.join("plugin").join(target.completer());
    let extras = archive::Extras { completer: &completer, license: &root.join("LICENSE") };
    let path = archive::pack(target, VERSION, &binary, &extras, out)?;
    let sha256 = archive::sha256(&path)?;
    fs::write(out.join(format!("{name}.sha256")), format!("{sha256}  {name}\n"))?;
    Ok((path, Archive { target: *target, sha256 }))
}

/// The plugin's package (and binary).
const PLUGIN: &str = "kubectl-agents";

/// `cargo build -p PACKAGE --target T --profile P`; returns the binary (named as the package).
fn build(
    root: &Path,
    package: &str,
    target: &Target,
    profile: &str,
    toolchain: &targets::Toolchain,
    env: &[(String, String)],
) -> anyhow::Result<PathBuf> {
    eprintln!("building {package} for {} ({profile} profile)…", target.triple);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--locked", "-p", package, "--target", target.triple, "--profile", profile])
        .envs(toolchain.env.iter().chain(env).map(|(k, v)| (k, v)))
        .current_dir(root)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo build for {} failed (its output is above)", target.triple);
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let profile_dir = match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    };
    let bin = if target.os == "windows" { format!("{package}.exe") } else { package.to_string() };
    Ok(target_dir.join(target.triple).join(profile_dir).join(bin))
}

/// The binary must be this release's: a stale `--binary` would ship another version.
fn check_version(binary: &Path) -> anyhow::Result<()> {
    let output = Command::new(binary)
        .args(["version", "--client", "-o", "json"])
        .output()
        .with_context(|| format!("running {} version", binary.display()))?;
    let versions: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{} version --client -o json printed no JSON", binary.display()))?;
    if versions["plugin"] != VERSION {
        bail!("{} is version {}, but Cargo.toml says {VERSION}: rebuild it", binary.display(), versions["plugin"]);
    }
    Ok(())
}

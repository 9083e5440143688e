//! `cargo xtask release`: builds the plugin for each target this machine can build, packs each
//! archive with its completer (`kubectl_complete-agents`) and the LICENSE, and writes the krew
//! manifest with every archive's sha256. It also builds the agent runtime's static Linux
//! binaries, what its image is made of.
//!
//! The rule for targets it cannot build (macOS and Windows from Linux, say): their archives come
//! from the runners that can (`--archives DIR`); without them no manifest is written, because a
//! manifest must not name archives that do not exist. `--partial` writes one for the archives at
//! hand only (testing, or a pre-release for those platforms), and says so in its first lines.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::archive;
use crate::manifest::{self, Archive};
use crate::targets::{self, Host, TARGETS, Target, ThisMachine};

/// The workspace: xtask lives in `<root>/xtask`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

/// The reference agent runtime: a static binary for each Linux target, for its image.
const RUNTIME: &str = "agents-runtime";

/// The version every binary of the workspace is built with (`[workspace.package] version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where the release archives are published (`[workspace.package] repository`).
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

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
    /// Where the archives and the manifest go. Default: target/dist/v<version>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write a manifest even if some targets have no archive, leaving their platforms out.
    #[arg(long)]
    pub partial: bool,
}

fn parse_binary(value: &str) -> Result<(Target, PathBuf), String> {
    let (triple, path) = value.split_once('=').ok_or("expected TRIPLE=PATH")?;
    let target = Target::by_triple(triple).ok_or_else(|| format!("{triple} is not a release target"))?;
    Ok((target, PathBuf::from(path)))
}

/// What became of one target.
enum Outcome {
    Packed(PathBuf, Archive),
    NotBuilt(String),
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
    let mut outcomes = Vec::new();
    for target in &selected {
        let outcome = release_target(&root, &out, target, &host, &options)
            .with_context(|| format!("releasing {}", target.triple))?;
        outcomes.push((*target, outcome));
    }

    let mut archives = Vec::new();
    for (target, outcome) in &outcomes {
        match outcome {
            Outcome::Packed(path, archive) => {
                eprintln!("packed   {:<28} {}  {}", target.triple, archive.sha256, path.display());
                archives.push(archive.clone());
            }
            Outcome::NotBuilt(why) => eprintln!("not here {:<28} {why}", target.triple),
        }
    }
    let template_path = root.join("krew-manifest.yaml");
    let template =
        fs::read_to_string(&template_path).with_context(|| format!("reading {}", template_path.display()))?;
    let manifest = manifest::render(&template, VERSION, REPOSITORY, &archives, options.partial)?;
    fs::write(&manifest_path, manifest).with_context(|| format!("writing {}", manifest_path.display()))?;
    // The runtime's binaries once the plugin's release stands (a refused release builds none).
    for target in selected.iter().filter(|t| t.os == "linux") {
        let built = match options.runtime_binaries.iter().find(|(t, _)| t == target) {
            Some((_, path)) => path.clone(),
            None => match targets::toolchain(target, &host, &ThisMachine) {
                Ok(toolchain) => build(&root, RUNTIME, target, &options.profile, &toolchain)?,
                Err(why) => {
                    eprintln!("not here {:<28} {RUNTIME}: {why}", target.triple);
                    continue;
                }
            },
        };
        let name = format!("{RUNTIME}-v{VERSION}-{}", target.triple);
        let path = out.join(&name);
        fs::copy(&built, &path).with_context(|| format!("copying {}", built.display()))?;
        let sha256 = archive::sha256(&path)?;
        fs::write(out.join(format!("{name}.sha256")), format!("{sha256}  {name}\n"))?;
        eprintln!("built    {:<28} {sha256}  {}", target.triple, path.display());
    }
    println!("{}", manifest_path.display());
    Ok(())
}

fn release_target(root: &Path, out: &Path, target: &Target, host: &Host, options: &Options) -> anyhow::Result<Outcome> {
    let name = target.archive(VERSION);
    if let Some(dir) = &options.archives {
        let given = dir.join(&name);
        if given.is_file() {
            let path = out.join(&name);
            if given.canonicalize()? != path.canonicalize().unwrap_or_default() {
                fs::copy(&given, &path).with_context(|| format!("copying {}", given.display()))?;
            }
            let sha256 = archive::sha256(&path)?;
            return Ok(Outcome::Packed(path, Archive { target: *target, sha256 }));
        }
    }
    let binary = match options.binaries.iter().find(|(t, _)| t == target) {
        Some((_, path)) => path.clone(),
        None => match targets::toolchain(target, host, &ThisMachine) {
            Ok(toolchain) => build(root, PLUGIN, target, &options.profile, &toolchain)?,
            Err(why) => return Ok(Outcome::NotBuilt(why)),
        },
    };
    if target.runs_on(host) {
        check_version(&binary)?;
    }
    let completer = root.join("plugin").join(target.completer());
    let extras = archive::Extras { completer: &completer, license: &root.join("LICENSE") };
    let path = archive::pack(target, VERSION, &binary, &extras, out)?;
    let sha256 = archive::sha256(&path)?;
    fs::write(out.join(format!("{name}.sha256")), format!("{sha256}  {name}\n"))?;
    Ok(Outcome::Packed(path, Archive { target: *target, sha256 }))
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
) -> anyhow::Result<PathBuf> {
    eprintln!("building {package} for {} ({profile} profile)…", target.triple);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--locked", "-p", package, "--target", target.triple, "--profile", profile])
        .envs(toolchain.env.iter().map(|(k, v)| (k, v)))
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

//! The released krew manifest, rendered from the committed template (`krew-manifest.yaml`): the
//! version from Cargo.toml, and each platform's archive URI and sha256 from the packed archives.
//! Pure: the caller reads the template and the archives.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::targets::{TARGETS, Target};

/// A packed archive of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub target: Target,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("the template is not a krew Plugin manifest: {0}")]
    Template(String),
    #[error(
        "the template's platform {index} ({os}/{arch}) is not a release target: add it to TARGETS in xtask/src/targets.rs"
    )]
    UnknownPlatform { index: usize, os: String, arch: String },
    #[error("the template's platform {index} runs `{found}`, but {triple} builds `{expected}`")]
    WrongBin { index: usize, triple: &'static str, found: String, expected: &'static str },
    #[error("the template's platform {index} does not install `{file}` from the archive (add it to its `files`)")]
    MissingFile { index: usize, file: &'static str },
    #[error("the template has no platform for {0}: add one to krew-manifest.yaml")]
    NoPlatform(&'static str),
    #[error("the template has two platforms for {0}")]
    TwoPlatforms(&'static str),
    #[error(
        "no archive for {}: a manifest must not point at archives that do not exist (pass them with --archives, or --partial for a manifest of the built ones only)",
        .0.join(", ")
    )]
    Missing(Vec<&'static str>),
    #[error("no archive at all: nothing to write a manifest for")]
    Empty,
}

/// Where the release's archive for `target` is downloaded from.
pub fn uri(repository: &str, version: &str, target: &Target) -> String {
    format!("{}/releases/download/v{version}/{}", repository.trim_end_matches('/'), target.archive(version))
}

/// The template's platforms, each with its release target, checked against TARGETS.
fn platforms(template: &Value) -> Result<Vec<Target>, ManifestError> {
    let platforms = template["spec"]["platforms"]
        .as_array()
        .ok_or_else(|| ManifestError::Template("no spec.platforms list".into()))?;
    let mut seen = BTreeMap::new();
    let mut targets = Vec::new();
    for (index, platform) in platforms.iter().enumerate() {
        let labels = &platform["selector"]["matchLabels"];
        let os = labels["os"].as_str().unwrap_or_default();
        let arch = labels["arch"].as_str().unwrap_or_default();
        let target = Target::by_platform(os, arch).ok_or_else(|| ManifestError::UnknownPlatform {
            index,
            os: os.into(),
            arch: arch.into(),
        })?;
        let bin = platform["bin"].as_str().unwrap_or_default();
        if bin != target.bin() {
            return Err(ManifestError::WrongBin {
                index,
                triple: target.triple,
                found: bin.into(),
                expected: target.bin(),
            });
        }
        // krew links only `bin` onto PATH, but the completer must be in the store for users to link.
        let files = platform["files"].as_array().map(Vec::as_slice).unwrap_or_default();
        for file in [target.bin(), target.completer()] {
            if !files.iter().any(|f| f["from"] == file) {
                return Err(ManifestError::MissingFile { index, file });
            }
        }
        if seen.insert(target.triple, index).is_some() {
            return Err(ManifestError::TwoPlatforms(target.triple));
        }
        targets.push(target);
    }
    if let Some(missing) = TARGETS.iter().find(|t| !seen.contains_key(t.triple)) {
        return Err(ManifestError::NoPlatform(missing.triple));
    }
    Ok(targets)
}

/// The manifest of release `version`. Every platform gets its archive's URI and sha256; a
/// platform without an archive is an error, unless `partial`, which leaves it out (the manifest
/// then installs on the built platforms only).
pub fn render(
    template: &str,
    version: &str,
    repository: &str,
    archives: &[Archive],
    partial: bool,
) -> Result<String, ManifestError> {
    let mut manifest: Value = serde_norway::from_str(template).map_err(|e| ManifestError::Template(e.to_string()))?;
    if manifest["kind"] != "Plugin" {
        return Err(ManifestError::Template(format!("kind is {}, not Plugin", manifest["kind"])));
    }
    let targets = platforms(&manifest)?;
    manifest["spec"]["version"] = Value::from(format!("v{version}"));
    let mut kept = Vec::new();
    let mut missing = Vec::new();
    let platforms = manifest["spec"]["platforms"].as_array().cloned().unwrap_or_default();
    for (mut platform, target) in platforms.into_iter().zip(targets) {
        match archives.iter().find(|a| a.target == target) {
            Some(archive) => {
                platform["uri"] = Value::from(uri(repository, version, &target));
                platform["sha256"] = Value::from(archive.sha256.clone());
                kept.push(platform);
            }
            None => missing.push(target.triple),
        }
    }
    if !missing.is_empty() && !partial {
        return Err(ManifestError::Missing(missing));
    }
    if kept.is_empty() {
        return Err(ManifestError::Empty);
    }
    manifest["spec"]["platforms"] = Value::Array(kept);
    let yaml = serde_norway::to_string(&manifest).map_err(|e| ManifestError::Template(e.to_string()))?;
    let note = if missing.is_empty() {
        String::new()
    } else {
        format!("# PARTIAL: no archive for {}, so no platform for them.\n", missing.join(", "))
    };
    Ok(format!(
        "# The krew manifest of kubectl-agents v{version}, written by `cargo xtask release` from krew-manifest.yaml.\n{note}{yaml}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../krew-manifest.yaml");
    const VERSION: &str = env!("CARGO_PKG_VERSION");
    const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

    fn archives(targets: &[Target]) -> Vec<Archive> {
        targets.iter().enumerate().map(|(i, t)| Archive { target: *t, sha256: format!("{i}").repeat(64) }).collect()
    }

    fn parse(yaml: &str) -> Value {
        serde_norway::from_str(yaml).unwrap()
    }

    /// The committed template is the released manifest but for the sha256s: same version as
    /// Cargo.toml, the URIs a release uploads to, one platform per target.
    #[test]
    fn the_template_is_the_current_release_but_for_the_checksums() {
        let template = parse(TEMPLATE);
        assert_eq!(template["metadata"]["name"], "agents");
        assert_eq!(template["spec"]["version"], format!("v{VERSION}"), "bump krew-manifest.yaml with Cargo.toml");
        assert!(template["spec"]["caveats"].as_str().unwrap().contains("kubectl agents install"));
        assert!(!template["spec"]["shortDescription"].as_str().unwrap().contains('\n'));
        let targets = platforms(&template).unwrap();
        assert_eq!(targets, TARGETS);
        for (platform, target) in template["spec"]["platforms"].as_array().unwrap().iter().zip(targets) {
            assert_eq!(platform["uri"], uri(REPOSITORY, VERSION, &target));
        }
        let full = parse(&render(TEMPLATE, VERSION, REPOSITORY, &archives(&TARGETS), false).unwrap());
        let mut without_checksums = full.clone();
        for platform in without_checksums["spec"]["platforms"].as_array_mut().unwrap() {
            platform["sha256"] = Value::Null;
        }
        let mut template = template;
        for platform in template["spec"]["platforms"].as_array_mut().unwrap() {
            platform["sha256"] = Value::Null;
        }
        assert_eq!(without_checksums, template);
    }

    #[test]
    fn a_release_stamps_the_version_uris_and_checksums() {
        let manifest = parse(&render(TEMPLATE, "2.0.1", "https://example.com/x/", &archives(&TARGETS), false).unwrap());
        assert_eq!(manifest["spec"]["version"], "v2.0.1");
        let platforms = manifest["spec"]["platforms"].as_array().unwrap();
        assert_eq!(platforms.len(), 5);
        assert_eq!(
            platforms[0]["uri"],
            "https://example.com/x/releases/download/v2.0.1/kubectl-agents-v2.0.1-x86_64-unknown-linux-musl.tar.gz"
        );
        assert_eq!(platforms[0]["sha256"], "0".repeat(64));
        assert_eq!(platforms[4]["sha256"], "4".repeat(64));
        assert_eq!(platforms[4]["bin"], "kubectl-agents.exe");
    }

    #[test]
    fn a_missing_archive_refuses_unless_partial_which_leaves_its_platform_out() {
        let linux = archives(&TARGETS[..1]);
        let refused = render(TEMPLATE, VERSION, REPOSITORY, &linux, false).unwrap_err();
        assert_eq!(
            refused,
            ManifestError::Missing(vec![
                "aarch64-unknown-linux-musl",
                "x86_64-apple-darwin",
                "aarch64-apple-darwin",
                "x86_64-pc-windows-msvc"
            ])
        );
        assert!(refused.to_string().contains("--partial"));
        let partial = render(TEMPLATE, VERSION, REPOSITORY, &linux, true).unwrap();
        assert!(partial.contains("# PARTIAL: no archive for aarch64-unknown-linux-musl"));
        let platforms = parse(&partial)["spec"]["platforms"].as_array().unwrap().clone();
        assert_eq!(platforms.len(), 1);
        assert_eq!(platforms[0]["selector"]["matchLabels"]["os"], "linux");
        assert_eq!(render(TEMPLATE, VERSION, REPOSITORY, &[], true), Err(ManifestError::Empty));
    }

    #[test]
    fn a_template_that_drifts_from_the_targets_is_refused() {
        let mut template = parse(TEMPLATE);
        template["spec"]["platforms"].as_array_mut().unwrap().pop();
        let yaml = serde_norway::to_string(&template).unwrap();
        assert_eq!(
            render(&yaml, VERSION, REPOSITORY, &[], true),
            Err(ManifestError::NoPlatform("x86_64-pc-windows-msvc"))
        );

        let mut template = parse(TEMPLATE);
        template["spec"]["platforms"][1]["selector"]["matchLabels"]["arch"] = Value::from("s390x");
        let yaml = serde_norway::to_string(&template).unwrap();
        assert!(matches!(render(&yaml, VERSION, REPOSITORY, &[], true), Err(ManifestError::UnknownPlatform { .. })));

        let mut template = parse(TEMPLATE);
        template["spec"]["platforms"][2]["files"].as_array_mut().unwrap().retain(|f| f["from"] == "kubectl-agents");
        let yaml = serde_norway::to_string(&template).unwrap();
        assert_eq!(
            render(&yaml, VERSION, REPOSITORY, &[], true),
            Err(ManifestError::MissingFile { index: 2, file: "kubectl_complete-agents" })
        );

        let mut template = parse(TEMPLATE);
        template["spec"]["platforms"][4]["bin"] = Value::from("kubectl-agents");
        let yaml = serde_norway::to_string(&template).unwrap();
        assert!(matches!(render(&yaml, VERSION, REPOSITORY, &[], true), Err(ManifestError::WrongBin { index: 4, .. })));
    }
}

//! The operator's and the agent runtime's container images, written without a container runtime:
//! an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) packed as one tar, the
//! "OCI archive" that `skopeo copy oci-archive:…` and `crane push` (once extracted) read.
//!
//! Each image is an image index with one manifest per Linux platform; each manifest has one gzip
//! layer holding the static binary at `/<name>` and what distroless/static gave it that it uses:
//! `/etc/passwd` and `/etc/group` naming the non-root user 65532, `/tmp` (1777), and for the
//! runtime only the CA certificates (it reaches model providers over HTTPS and trusts the system's
//! roots; the operator talks to the API server only, with the service account's CA). No shell.
//!
//! Reproducible: entries sorted, owned by root, dated the release's epoch; gzip headers without a
//! time; JSON of fixed field order. The same binaries and epoch give the same digests. Pure but
//! for [`write_archive`].

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::targets::Target;

/// Where the release's images are published.
pub const REGISTRY: &str = "ghcr.io/kubectl-agents";

/// The user the images run as (distroless' `nonroot`), which the operator's pods require.
const USER: u32 = 65532;

/// One of the release's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    /// The image's (and its binary's) name.
    pub name: &'static str,
    pub description: &'static str,
    /// The port the program serves on, as its Dockerfile's EXPOSE.
    pub port: u16,
    /// Whether the program needs the CA certificates at `/etc/ssl/certs/ca-certificates.crt`.
    pub ca_certificates: bool,
}

pub const OPERATOR: Image = Image {
    name: "agents-operator",
    description: "Reconciles agents.dev/v1alpha1 resources into the Kubernetes objects that run them",
    port: 8080,
    ca_certificates: false,
};

pub const RUNTIME: Image = Image {
    name: "agents-runtime",
    description: "The reference agent of kubectl-agents: serves A2A, calls its model, uses MCP tools and peer agents",
    port: 8000,
    ca_certificates: true,
};

impl Image {
    /// `ghcr.io/kubectl-agents/agents-operator`.
    pub fn repository(&self) -> String {
        format!("{REGISTRY}/{}", self.name)
    }

    /// `agents-operator-v0.1.0.oci.tar`, beside the plugin's `kubectl-agents-v0.1.0-….tar.gz`.
    pub fn archive(&self, version: &str) -> String {
        format!("{}-v{version}.oci.tar", self.name)
    }
}

/// The OCI platform of a Linux release target: `linux/amd64`.
pub fn platform(target: &Target) -> String {
    format!("{}/{}", target.os, target.arch)
}

/// What every image of a release is stamped with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// `0.1.0`; the tag is `v0.1.0`.
    pub version: String,
    /// The commit (`git rev-parse HEAD`), when built from a git checkout.
    pub revision: Option<String>,
    /// The repository's URL.
    pub source: String,
    /// SPDX expression.
    pub licenses: String,
    /// Seconds since 1970: the files' mtime and the images' `created`.
    pub epoch: u64,
}

impl Stamp {
    pub fn tag(&self) -> String {
        format!("v{}", self.version)
    }

    /// The `org.opencontainers.image.*` annotations (and labels) of `image`.
    fn annotations(&self, image: &Image) -> BTreeMap<String, String> {
        let mut annotations: BTreeMap<String, String> = [
            ("title", image.name.to_string()),
            ("description", image.description.to_string()),
            ("version", self.version.clone()),
            ("source", self.source.clone()),
            ("licenses", self.licenses.clone()),
            ("created", rfc3339(self.epoch)),
        ]
        .into_iter()
        .map(|(key, value)| (format!("org.opencontainers.image.{key}"), value))
        .collect();
        if let Some(revision) = &self.revision {
            annotations.insert("org.opencontainers.image.revision".into(), revision.clone());
        }
        annotations
    }
}

/// `2026-12-06T11:43:11Z` (UTC), from seconds since 1970 (Howard Hinnant's civil-from-days).
pub fn rfc3339(epoch: u64) -> String {
    let (days, seconds) = ((epoch / 86_400) as i64, epoch % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// One entry of a layer: a directory or a file, with its mode. Owned by root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32 },
    File { mode: u32, content: Vec<u8> },
}

/// The files of `image`'s layer, by path (relative to `/`, sorted: parents before children).
pub fn files(image: &Image, binary: Vec<u8>) -> BTreeMap<String, Entry> {
    let text = |text: String| Entry::File { mode: 0o644, content: text.into_bytes() };
    let mut files = BTreeMap::from([
        (image.name.to_string(), Entry::File { mode: 0o755, content: binary }),
        ("etc".into(), Entry::Dir { mode: 0o755 }),
        // Home and shell name nothing that exists: there is no shell, and /tmp is the only
        // directory the pods can write (their root filesystem is read-only).
        (
            "etc/passwd".into(),
            text(format!("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{USER}:{USER}:nonroot:/tmp:/sbin/nologin\n")),
        ),
        ("etc/group".into(), text(format!("root:x:0:\nnonroot:x:{USER}:\n"))),
        // Scratch space for an image run without the pods' emptyDir; sticky and world-writable.
        ("tmp".into(), Entry::Dir { mode: 0o1777 }),
    ]);
    if image.ca_certificates {
        files.insert("etc/ssl".into(), Entry::Dir { mode: 0o755 });
        files.insert("etc/ssl/certs".into(), Entry::Dir { mode: 0o755 });
        files.insert("etc/ssl/certs/ca-certificates.crt".into(), text(ca_certificates()));
    }
    files
}

/// Mozilla's root certificates as a PEM bundle, from the `webpki-root-certs` crate: the version
/// Cargo.lock pins, so the bundle (and the digest) does not depend on the machine's own.
fn ca_certificates() -> String {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|der| pem("CERTIFICATE", der)).collect()
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64(der);
    let lines: Vec<&str> =
        encoded.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// Standard base64 with padding (RFC 4648), for PEM.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// A tar of `entries` in path order, every entry owned by root:root and dated `mtime`.
pub fn tar(entries: &BTreeMap<String, Entry>, mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, entry) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        let (mode, content): (u32, &[u8]) = match entry {
            Entry::Dir { mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                (*mode, &[])
            }
            Entry::File { mode, content } => {
                header.set_entry_type(tar::EntryType::Regular);
                (*mode, content)
            }
        };
        header.set_mode(mode);
        header.set_size(content.len() as u64);
        tar.append_data(&mut header, path, content)?;
    }
    tar.into_inner()
}

/// gzip of `bytes`, with no time or name in its header. The default level: `best` takes three
/// times as long on a binary for 3% less.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// `sha256:<hex>`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    format!("sha256:{}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

// The OCI types, as their specifications order their fields (serde keeps struct order, so the
// JSON, and its digest, never depends on a map's order).

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: &'static str,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<Platform>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Platform {
    architecture: &'static str,
    os: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Config {
    created: String,
    architecture: &'static str,
    os: &'static str,
    config: RunConfig,
    rootfs: RootFs,
    history: Vec<History>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    user: String,
    exposed_ports: BTreeMap<String, Empty>,
    entrypoint: Vec<String>,
    working_dir: &'static str,
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Empty {}

#[derive(Debug, Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
struct History {
    created: String,
    created_by: String,
    comment: String,
}

/// A blob of the layout, by its digest.
#[derive(Debug, Clone)]
pub struct Blob {
    pub media_type: &'static str,
    pub digest: String,
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Blob {
        Blob { media_type, digest: digest(&bytes), bytes }
    }

    fn json(media_type: &'static str, value: &impl Serialize) -> Blob {
        Blob::new(media_type, serde_json::to_vec(value).expect("OCI types serialize"))
    }

    fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type,
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// The image config of `image` on `target`, whose one layer's uncompressed digest is `diff_id`.
fn config(image: &Image, target: &Target, stamp: &Stamp, diff_id: String) -> Config {
    let created = rfc3339(stamp.epoch);
    Config {
        created: created.clone(),
        architecture: target.arch,
        os: target.os,
        config: RunConfig {
            user: format!("{USER}:{USER}"),
            exposed_ports: BTreeMap::from([(format!("{}/tcp", image.port), Empty {})]),
            entrypoint: vec![format!("/{}", image.name)],
            working_dir: "/",
            labels: stamp.annotations(image),
        },
        rootfs: RootFs { kind: "layers", diff_ids: vec![diff_id] },
        history: vec![History {
            created,
            created_by: "cargo xtask release".into(),
            comment: format!("{} {} for {}, with passwd, group and /tmp", image.name, stamp.tag(), target.triple),
        }],
    }
}

/// An image of one platform: its manifest, config and layer blobs. `compressed` holds the
/// layers compressed so far, by diff_id: a layer two platforms share is compressed once.
fn platform_image(
    image: &Image,
    target: &Target,
    binary: Vec<u8>,
    stamp: &Stamp,
    compressed: &mut BTreeMap<String, Blob>,
) -> anyhow::Result<Vec<Blob>> {
    let layer = tar(&files(image, binary), stamp.epoch).context("writing the layer")?;
    let diff_id = digest(&layer);
    let layer = match compressed.get(&diff_id) {
        Some(blob) => blob.clone(),
        None => {
            let blob = Blob::new(LAYER_MEDIA_TYPE, gzip(&layer).context("compressing the layer")?);
            compressed.insert(diff_id.clone(), blob.clone());
            blob
        }
    };
    let config = Blob::json(CONFIG_MEDIA_TYPE, &config(image, target, stamp, diff_id));
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE,
        config: config.descriptor(),
        layers: vec![layer.descriptor()],
        annotations: stamp.annotations(image),
    };
    Ok(vec![Blob::json(MANIFEST_MEDIA_TYPE, &manifest), config, layer])
}

/// An image's OCI layout, in memory.
#[derive(Debug)]
pub struct Layout {
    /// The image index's digest: what `image@sha256:…` pins.
    pub digest: String,
    /// Every blob (the index, the manifests, configs and layers), by digest.
    pub blobs: BTreeMap<String, Vec<u8>>,
    /// The layout's `index.json`.
    pub index_json: Vec<u8>,
}

/// The layout of `image` for the given platforms' binaries (in release-target order).
pub fn layout(image: &Image, binaries: Vec<(Target, Vec<u8>)>, stamp: &Stamp) -> anyhow::Result<Layout> {
    let mut blobs = BTreeMap::new();
    let mut manifests = Vec::new();
    let mut compressed = BTreeMap::new();
    for (target, binary) in binaries {
        let platform = platform_image(image, &target, binary, stamp, &mut compressed)
            .with_context(|| format!("building {} for {}", image.name, platform(&target)))?;
        let mut descriptor = platform[0].descriptor();
        descriptor.platform = Some(Platform { architecture: target.arch, os: target.os });
        manifests.push(descriptor);
        blobs.extend(platform.into_iter().map(|blob| (blob.digest, blob.bytes)));
    }
    let index = Blob::json(
        INDEX_MEDIA_TYPE,
        &Index { schema_version: 2, media_type: INDEX_MEDIA_TYPE, manifests, annotations: stamp.annotations(image) },
    );
    // The layout's own index names the image index by its tag (`skopeo copy oci-archive:F:v0.1.0`).
    let mut top = index.descriptor();
    top.annotations.insert("org.opencontainers.image.ref.name".into(), stamp.tag());
    let index_json = serde_json::to_vec(&Index {
        schema_version: 2,
        media_type: INDEX_MEDIA_TYPE,
        manifests: vec![top],
        annotations: BTreeMap::new(),
    })?;
    let digest = index.digest.clone();
    blobs.insert(index.digest, index.bytes);
    Ok(Layout { digest, blobs, index_json })
}

/// The layout's files, by path: `oci-layout`, `index.json`, `blobs/sha256/<hex>` and their directories.
pub fn layout_files(layout: &Layout) -> BTreeMap<String, Entry> {
    let file = |content: Vec<u8>| Entry::File { mode: 0o644, content };
    let mut files = BTreeMap::from([
        ("blobs".to_string(), Entry::Dir { mode: 0o755 }),
        ("blobs/sha256".to_string(), Entry::Dir { mode: 0o755 }),
        ("oci-layout".to_string(), file(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())),
        ("index.json".to_string(), file(layout.index_json.clone())),
    ]);
    for (digest, bytes) in &layout.blobs {
        let hex = digest.trim_start_matches("sha256:");
        files.insert(format!("blobs/sha256/{hex}"), file(bytes.clone()));
    }
    files
}

/// Writes the layout as an OCI archive `dir/<image archive name>`; returns its path.
pub fn write_archive(image: &Image, layout: &Layout, stamp: &Stamp, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(image.archive(&stamp.version));
    let bytes = tar(&layout_files(layout), stamp.epoch).context("packing the OCI layout")?;
    fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            version: "1.2.3".into(),
            revision: Some("abc123".into()),
            source: "https://example.com/repo".into(),
            licenses: "Apache-2.0".into(),
            epoch: 1_765_020_191,
        }
    }

    fn linux() -> [Target; 2] {
        [
            Target::by_triple("x86_64-unknown-linux-musl").unwrap(),
            Target::by_triple("aarch64-unknown-linux-musl").unwrap(),
        ]
    }

    fn entries(tar_bytes: &[u8]) -> Vec<(String, u32, u64, u64, String, u64)> {
        tar::Archive::new(tar_bytes)
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                let path = e.path().unwrap().display().to_string();
                (
                    path,
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.username().unwrap().unwrap().to_string(),
                    h.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn dates_are_utc_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_765_020_191), "2025-12-06T11:23:11Z");
    }

    #[test]
    fn base64_and_pem_are_the_standard_ones() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(pem("X", &[0xff; 48]), format!("-----BEGIN X-----\n{}\n-----END X-----\n", "/".repeat(64)));
    }

    /// The layer holds the binary, the non-root user and /tmp, all root's, dated the epoch, in
    /// path order; the runtime adds the CA bundle; nothing else (no shell).
    #[test]
    fn a_layer_holds_the_binary_the_user_and_tmp_only() {
        let layer = tar(&files(&OPERATOR, b"binary".to_vec()), 7).unwrap();
        let root = |path: &str, mode| (path.to_string(), mode, 0, 0, "root".to_string(), 7);
        assert_eq!(
            entries(&layer),
            [
                root("agents-operator", 0o755),
                root("etc", 0o755),
                root("etc/group", 0o644),
                root("etc/passwd", 0o644),
                root("tmp", 0o1777)
            ]
        );
        let files = files(&RUNTIME, b"binary".to_vec());
        let paths: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "agents-runtime",
                "etc",
                "etc/group",
                "etc/passwd",
                "etc/ssl",
                "etc/ssl/certs",
                "etc/ssl/certs/ca-certificates.crt",
                "tmp"
            ]
        );
        let Entry::File { content, .. } = &files["etc/ssl/certs/ca-certificates.crt"] else { panic!("not a file") };
        let bundle = String::from_utf8(content.clone()).unwrap();
        assert!(bundle.matches("-----BEGIN CERTIFICATE-----").count() > 100, "Mozilla's roots");
        let Entry::File { content, .. } = &files["etc/passwd"] else { panic!("not a file") };
        assert!(String::from_utf8_lossy(content).contains("nonroot:x:65532:65532:"));
    }

    #[test]
    fn the_same_binaries_give_the_same_digests() {
        let build = |epoch| {
            let stamp = Stamp { epoch, ..stamp() };
            let binaries = linux().map(|t| (t, format!("binary for {}", t.arch).into_bytes())).to_vec();
            layout(&OPERATOR, binaries, &stamp).unwrap()
        };
        let (first, second) = (build(7), build(7));
        assert_eq!(first.digest, second.digest);
        assert_eq!(first.blobs, second.blobs);
        assert_eq!(tar(&layout_files(&first), 7).unwrap(), tar(&layout_files(&second), 7).unwrap());
        assert_ne!(first.digest, build(8).digest, "the epoch is in the files and the config");
    }

    /// index.json → image index (one manifest per platform) → manifest → config and layer, each
    /// blob named by its sha256 and described with its size; diff_ids are the uncompressed layer's.
    #[test]
    fn the_layout_links_index_manifests_configs_and_layers() {
        let stamp = stamp();
        let binaries = linux().map(|t| (t, format!("binary for {}", t.arch).into_bytes())).to_vec();
        let layout = layout(&RUNTIME, binaries, &stamp).unwrap();
        let blob = |digest: &Value| -> Vec<u8> { layout.blobs[digest.as_str().unwrap()].clone() };
        let parse = |bytes: Vec<u8>| -> Value { serde_json::from_slice(&bytes).unwrap() };
        for (digest, bytes) in &layout.blobs {
            assert_eq!(&super::digest(bytes), digest);
        }
        let top = parse(layout.index_json.clone());
        assert_eq!(top["manifests"][0]["digest"], layout.digest);
        assert_eq!(top["manifests"][0]["mediaType"], INDEX_MEDIA_TYPE);
        assert_eq!(top["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "v1.2.3");
        let index = parse(blob(&top["manifests"][0]["digest"]));
        assert_eq!(index["annotations"]["org.opencontainers.image.revision"], "abc123");
        assert_eq!(index["annotations"]["org.opencontainers.image.created"], "2025-12-06T11:23:11Z");
        let manifests = index["manifests"].as_array().unwrap();
        let platforms: Vec<&Value> = manifests.iter().map(|m| &m["platform"]).collect();
        assert_eq!(
            platforms,
            [&json!({"architecture": "amd64", "os": "linux"}), &json!({"architecture": "arm64", "os": "linux"})]
        );
        for descriptor in manifests {
            let bytes = blob(&descriptor["digest"]);
            assert_eq!(descriptor["size"], bytes.len());
            let manifest = parse(bytes);
            assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
            assert_eq!(manifest["annotations"]["org.opencontainers.image.title"], "agents-runtime");
            let config = parse(blob(&manifest["config"]["digest"]));
            assert_eq!(config["architecture"], descriptor["platform"]["architecture"]);
            assert_eq!(config["config"]["User"], "65532:65532");
            assert_eq!(config["config"]["Entrypoint"], json!(["/agents-runtime"]));
            assert_eq!(config["config"]["ExposedPorts"], json!({"8000/tcp": {}}));
            assert_eq!(config["config"]["Labels"], manifest["annotations"]);
            assert_eq!(config["created"], "2025-12-06T11:23:11Z");
            let layer = blob(&manifest["layers"][0]["digest"]);
            assert_eq!(manifest["layers"][0]["mediaType"], LAYER_MEDIA_TYPE);
            let mut uncompressed = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&layer[..]), &mut uncompressed).unwrap();
            assert_eq!(config["rootfs"], json!({"type": "layers", "diff_ids": [digest(&uncompressed)]}));
        }
        let files: Vec<String> = layout_files(&layout).into_keys().collect();
        assert_eq!(files[..2], ["blobs", "blobs/sha256"]);
        assert_eq!(files[files.len() - 2..], ["index.json", "oci-layout"]);
        assert_eq!(files.len(), 4 + 1 + 2 * 3, "the index, and per platform a manifest, a config and a layer");
    }

    #[test]
    fn names_follow_the_release_archives() {
        assert_eq!(OPERATOR.archive("0.1.0"), "agents-operator-v0.1.0.oci.tar");
        assert_eq!(RUNTIME.repository(), "ghcr.io/kubectl-agents/agents-runtime");
        assert_eq!(platform(&linux()[1]), "linux/arm64");
    }
}

//! Packs one target's archive (the plugin, its completer `kubectl_complete-agents` and the LICENSE,
//! flat, as the manifest's `files` expect) and computes its sha256.
//!
//! The archive is reproducible: its entries carry no time, owner or umask of the machine that
//! packed it (`SOURCE_DATE_EPOCH`, else 0, as the time; root; 0755 for the plugin and the completer, 0644 for the
//! LICENSE), and the gzip header no time either, so the same binary always gives the same sha256.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::targets::Target;

/// The files an archive packs besides the plugin.
pub struct Extras<'a> {
    /// The target's completer (`plugin/kubectl_complete-agents`, or its `.cmd` on Windows).
    pub completer: &'a Path,
    pub license: &'a Path,
}

/// Packs `binary` (as the target's `bin`), the completer and the LICENSE into
/// `dir/<archive name>`; returns its path.
pub fn pack(target: &Target, version: &str, binary: &Path, extras: &Extras, dir: &Path) -> anyhow::Result<PathBuf> {
    let plugin = fs::read(binary)
        .with_context(|| format!("reading the plugin {} (build it first, or fix --binary)", binary.display()))?;
    let read = |path: &Path| fs::read(path).with_context(|| format!("reading {}", path.display()));
    let (completer, license) = (read(extras.completer)?, read(extras.license)?);
    let archive = dir.join(target.archive(version));
    let file = fs::File::create(&archive).with_context(|| format!("creating {}", archive.display()))?;
    let entries: [(&str, u32, &[u8]); 3] =
        [(target.bin(), 0o755, &plugin), (target.completer(), 0o755, &completer), ("LICENSE", 0o644, &license)];
    write_tar_gz(file, &entries, source_date_epoch()).with_context(|| format!("writing {}", archive.display()))?;
    Ok(archive)
}

/// `SOURCE_DATE_EPOCH` (the reproducible-builds convention), else 0.
fn source_date_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A gzipped tar of `entries` (name, mode, content), in that order, stamped with `mtime`.
fn write_tar_gz(out: impl Write, entries: &[(&str, u32, &[u8])], mtime: u64) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(GzEncoder::new(out, Compression::best()));
    for (name, mode, content) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, *content)?;
    }
    tar.into_inner()?.finish()?.flush()
}

/// The file's sha256, in lowercase hex (what krew compares).
pub fn sha256(path: &Path) -> anyhow::Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file.read(&mut buffer).with_context(|| format!("reading {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_files_give_the_same_bytes() {
        let pack = |mtime| {
            let mut out = Vec::new();
            write_tar_gz(&mut out, &[("kubectl-agents", 0o755, b"binary"), ("LICENSE", 0o644, b"MIT")], mtime).unwrap();
            out
        };
        assert_eq!(pack(0), pack(0));
        assert_ne!(pack(0), pack(1), "the time is in the entries");
        let bytes = pack(0);
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let header = e.header();
                (e.path().unwrap().display().to_string(), header.mode().unwrap(), header.uid().unwrap())
            })
            .collect();
        assert_eq!(entries, [("kubectl-agents".to_string(), 0o755, 0), ("LICENSE".to_string(), 0o644, 0)]);
    }

    /// Each target's archive holds the plugin and the completer of its OS, both executable, as
    /// they are in the repository.
    #[test]
    fn an_archive_holds_the_plugin_its_completer_and_the_license() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = std::env::temp_dir().join(format!("xtask-pack-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("binary");
        fs::write(&binary, "plugin").unwrap();
        for target in crate::targets::TARGETS {
            let completer = root.join("plugin").join(target.completer());
            let script = fs::read_to_string(&completer).unwrap();
            assert!(script.contains("__complete"), "{}", completer.display());
            let extras = Extras { completer: &completer, license: &root.join("LICENSE") };
            let archive = pack(&target, "1.2.3", &binary, &extras, &dir).unwrap();
            let bytes = fs::read(&archive).unwrap();
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
            let entries: Vec<(String, u32)> = archive
                .entries()
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (e.path().unwrap().display().to_string(), e.header().mode().unwrap())
                })
                .collect();
            let expected = [(target.bin(), 0o755), (target.completer(), 0o755), ("LICENSE", 0o644)];
            assert_eq!(entries, expected.map(|(name, mode)| (name.to_string(), mode)), "{}", target.triple);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sha256_is_lowercase_hex_of_the_content() {
        let dir = std::env::temp_dir().join(format!("xtask-sha-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("abc");
        fs::write(&file, "abc").unwrap();
        assert_eq!(sha256(&file).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        fs::remove_dir_all(&dir).unwrap();
    }
}

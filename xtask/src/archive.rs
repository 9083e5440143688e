//! Packs one target's archive (the plugin and the LICENSE, flat, as the manifest's `files` expect)
//! and computes its sha256.
//!
//! The archive is reproducible: its entries carry no time, owner or umask of the machine that
//! packed it (`SOURCE_DATE_EPOCH`, else 0, as the time; root; 0755 for the plugin, 0644 for the
//! LICENSE), and the gzip header no time either, so the same binary always gives the same sha256.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::targets::Target;

/// Packs `binary` (as the target's `bin`) and `license` into `dir/<archive name>`; returns its path.
pub fn pack(target: &Target, version: &str, binary: &Path, license: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let plugin = fs::read(binary)
        .with_context(|| format!("reading the plugin {} (build it first, or fix --binary)", binary.display()))?;
    let license = fs::read(license).with_context(|| format!("reading {}", license.display()))?;
    let archive = dir.join(target.archive(version));
    let file = fs::File::create(&archive).with_context(|| format!("creating {}", archive.display()))?;
    write_tar_gz(file, &[(target.bin(), 0o755, &plugin), ("LICENSE", 0o644, &license)], source_date_epoch())
        .with_context(|| format!("writing {}", archive.display()))?;
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

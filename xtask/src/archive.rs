//! Packs one target's archive (the plugin and the LICENSE, flat, as the manifest's `files` expect)
//! and computes its sha256.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::targets::Target;

/// Packs `binary` (as the target's `bin`) and `license` into `dir/<archive name>`; returns its path.
pub fn pack(target: &Target, version: &str, binary: &Path, license: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let stage = dir.join(format!(".stage-{}", target.triple));
    let _ = fs::remove_dir_all(&stage);
    fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    fs::copy(binary, stage.join(target.bin()))
        .with_context(|| format!("copying the plugin {} (build it first, or fix --binary)", binary.display()))?;
    fs::copy(license, stage.join("LICENSE")).with_context(|| format!("copying {}", license.display()))?;
    let archive = dir.join(target.archive(version));
    // tar is on every release runner (GNU tar on Linux, bsdtar on macOS and Windows 10+).
    let output = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(&stage)
        .args([target.bin(), "LICENSE"])
        .output()
        .context("running tar (is it installed?)")?;
    let _ = fs::remove_dir_all(&stage);
    if !output.status.success() {
        bail!("tar could not pack {}: {}", archive.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(archive)
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
    fn sha256_is_lowercase_hex_of_the_content() {
        let dir = std::env::temp_dir().join(format!("xtask-sha-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("abc");
        fs::write(&file, "abc").unwrap();
        assert_eq!(sha256(&file).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        fs::remove_dir_all(&dir).unwrap();
    }
}

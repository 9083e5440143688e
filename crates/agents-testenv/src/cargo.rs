//! Cargo, run from a test or a benchmark that cargo itself started.

use std::process::Command;

/// The variables cargo sets for the package whose test or benchmark runs. Build scripts declare
/// `rerun-if-env-changed` on some of them (ring's, for `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME` and
/// `OUT_DIR`): a build started with them set reruns those scripts and rebuilds everything above
/// them (ring, rustls, kube: 3.5 to 10 minutes on 2 cores), and the next build from a shell does
/// it all again.
const PACKAGE_PREFIXES: [&str; 2] = ["CARGO_PKG_", "CARGO_MANIFEST_"];
const PACKAGE_VARIABLES: [&str; 6] = [
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// `cargo` (the one running this process, else the one on `PATH`) with the environment a build
/// from a shell has: none of the variables cargo set for the calling package.
pub fn command() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if PACKAGE_VARIABLES.contains(&name) || PACKAGE_PREFIXES.iter().any(|p| name.starts_with(p)) {
            command.env_remove(name);
        }
    }
    command
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_calling_package_is_forgotten() {
        // Run by cargo, this test has its package's variables set.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let command = super::command();
        let removed: Vec<_> =
            command.get_envs().filter(|(_, value)| value.is_none()).map(|(name, _)| name.to_owned()).collect();
        assert!(removed.iter().any(|n| n == "CARGO_MANIFEST_DIR"), "{removed:?}");
        assert!(removed.iter().any(|n| n == "CARGO_PKG_NAME"), "{removed:?}");
        assert!(!removed.iter().any(|n| n == "CARGO_HOME" || n == "CARGO_TARGET_DIR"), "{removed:?}");
    }
}

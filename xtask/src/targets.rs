//! The targets a release ships, one per krew platform, and whether this machine can build each.

use std::path::Path;
use std::process::Command;

/// One released build of the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Rust's target triple.
    pub triple: &'static str,
    /// krew's (Go's) `os` and `arch` labels.
    pub os: &'static str,
    pub arch: &'static str,
}

/// Every released target. Linux builds are static (musl) so they run on any distribution;
/// Windows builds are MSVC ones, as a Windows runner makes them.
pub const TARGETS: [Target; 5] = [
    Target { triple: "x86_64-unknown-linux-musl", os: "linux", arch: "amd64" },
    Target { triple: "aarch64-unknown-linux-musl", os: "linux", arch: "arm64" },
    Target { triple: "x86_64-apple-darwin", os: "darwin", arch: "amd64" },
    Target { triple: "aarch64-apple-darwin", os: "darwin", arch: "arm64" },
    Target { triple: "x86_64-pc-windows-msvc", os: "windows", arch: "amd64" },
];

impl Target {
    pub fn by_triple(triple: &str) -> Option<Target> {
        TARGETS.iter().copied().find(|t| t.triple == triple)
    }

    pub fn by_platform(os: &str, arch: &str) -> Option<Target> {
        TARGETS.iter().copied().find(|t| t.os == os && t.arch == arch)
    }

    /// The plugin's file name on this target.
    pub fn bin(&self) -> &'static str {
        if self.os == "windows" { "kubectl-agents.exe" } else { "kubectl-agents" }
    }

    /// The file kubectl runs to complete `kubectl agents …` (`kubectl_complete-agents` on PATH):
    /// a shell script, a batch file on Windows. It lives in `plugin/` under this name.
    pub fn completer(&self) -> &'static str {
        if self.os == "windows" { "kubectl_complete-agents.cmd" } else { "kubectl_complete-agents" }
    }

    /// `kubectl-agents-v0.1.0-x86_64-unknown-linux-musl.tar.gz`.
    pub fn archive(&self, version: &str) -> String {
        format!("kubectl-agents-v{version}-{}.tar.gz", self.triple)
    }

    /// Whether a binary built for this target runs here (to check its version before packing).
    pub fn runs_on(&self, host: &Host) -> bool {
        self.os == host.os && self.arch == host.arch
    }

    /// The environment variable that names the linker cargo uses for this target.
    fn linker_variable(&self) -> String {
        format!("CARGO_TARGET_{}_LINKER", self.triple.to_uppercase().replace('-', "_"))
    }

    /// The variable `cc` (ring's build script) reads for this target's C compiler.
    fn cc_variable(&self) -> String {
        format!("CC_{}", self.triple.replace('-', "_"))
    }
}

/// The machine the release runs on, in krew's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub os: &'static str,
    pub arch: &'static str,
}

impl Host {
    pub fn current() -> Host {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        Host { os, arch }
    }
}

/// How cargo must be told to build a target: extra environment for cross-compiling.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Toolchain {
    pub env: Vec<(String, String)>,
}

/// What this machine has: the installed Rust standard libraries and the programs on PATH.
pub trait Machine {
    fn has_std(&self, target: &Target) -> bool;
    fn has_program(&self, name: &str) -> bool;
    fn var(&self, name: &str) -> Option<String>;
}

/// The real machine.
pub struct ThisMachine;

impl Machine for ThisMachine {
    fn has_std(&self, target: &Target) -> bool {
        let Ok(output) = Command::new("rustc").args(["--print", "target-libdir", "--target", target.triple]).output()
        else {
            return false;
        };
        let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
        output.status.success() && Path::new(&dir).is_dir()
    }

    fn has_program(&self, name: &str) -> bool {
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
            .unwrap_or(false)
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The GCC cross compiler Debian and Ubuntu package for each Linux architecture
/// (`gcc-aarch64-linux-gnu`): it compiles ring's C code and links the static musl binary.
fn cross_gcc(arch: &str) -> Option<&'static str> {
    match arch {
        "amd64" => Some("x86_64-linux-gnu-gcc"),
        "arm64" => Some("aarch64-linux-gnu-gcc"),
        _ => None,
    }
}

/// How to build `target` here, or why it cannot be built here (a sentence that says what to do).
pub fn toolchain(target: &Target, host: &Host, machine: &dyn Machine) -> Result<Toolchain, String> {
    match (target.os, host.os) {
        ("darwin", "darwin") | ("windows", "windows") | ("linux", "linux") => {}
        ("darwin", _) => {
            return Err(format!(
                "{} needs Apple's linker and the macOS SDK (libSystem), which do not exist on {}: build it on a macOS runner and pass its archive with --archives",
                target.triple, host.os
            ));
        }
        ("windows", _) => {
            return Err(format!(
                "{} needs MSVC's link.exe and the Windows SDK's import libraries, which do not exist on {}: build it on a Windows runner and pass its archive with --archives",
                target.triple, host.os
            ));
        }
        _ => {
            return Err(format!(
                "{} is built on a {} runner, not on {}: pass its archive with --archives",
                target.triple, target.os, host.os
            ));
        }
    }
    if !machine.has_std(target) {
        return Err(format!(
            "the Rust standard library for {0} is not installed: rustup target add {0}",
            target.triple
        ));
    }
    // Apple's toolchain links either architecture; elsewhere another architecture needs a cross linker.
    if target.os == "darwin" || target.os == "windows" || machine.var(&target.linker_variable()).is_some() {
        return Ok(Toolchain::default());
    }
    if target.arch == host.arch {
        // Rust links musl itself; ring's C code wants a C compiler for the target, which cc-rs
        // looks for as `x86_64-linux-musl-gcc`. musl-gcc (Debian: musl-tools) or, failing that,
        // the host's cc compile it (ring's C needs no libc headers of musl's).
        let musl_gcc = format!("{}-linux-musl-gcc", target.triple.split('-').next().unwrap_or_default());
        if machine.var(&target.cc_variable()).is_some() || machine.has_program(&musl_gcc) {
            return Ok(Toolchain::default());
        }
        let cc = if machine.has_program("musl-gcc") { "musl-gcc" } else { "cc" };
        return Ok(Toolchain { env: vec![(target.cc_variable(), cc.to_string())] });
    }
    match cross_gcc(target.arch).filter(|gcc| target.os == "linux" && machine.has_program(gcc)) {
        Some(gcc) => Ok(Toolchain {
            env: vec![(target.linker_variable(), gcc.to_string()), (target.cc_variable(), gcc.to_string())],
        }),
        None => Err(format!(
            "{} needs a C cross compiler and linker for {} (ring has C code): install {} (Debian: gcc-{}) or set {} and {}",
            target.triple,
            target.arch,
            cross_gcc(target.arch).unwrap_or("one"),
            cross_gcc(target.arch).unwrap_or("?").trim_end_matches("-gcc"),
            target.linker_variable(),
            target.cc_variable()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        std: Vec<&'static str>,
        programs: Vec<&'static str>,
    }

    impl Machine for Fake {
        fn has_std(&self, target: &Target) -> bool {
            self.std.contains(&target.triple)
        }
        fn has_program(&self, name: &str) -> bool {
            self.programs.contains(&name)
        }
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    const LINUX: Host = Host { os: "linux", arch: "amd64" };

    fn target(triple: &str) -> Target {
        Target::by_triple(triple).unwrap()
    }

    #[test]
    fn every_krew_platform_has_one_target() {
        for (os, arch) in [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64")] {
            assert_eq!(Target::by_platform(os, arch).unwrap().bin(), "kubectl-agents");
        }
        assert_eq!(Target::by_platform("windows", "amd64").unwrap().bin(), "kubectl-agents.exe");
        assert_eq!(
            target("x86_64-unknown-linux-musl").archive("1.2.3"),
            "kubectl-agents-v1.2.3-x86_64-unknown-linux-musl.tar.gz"
        );
    }

    #[test]
    fn linux_builds_its_own_arch_with_the_std_installed() {
        let machine = Fake { std: vec!["x86_64-unknown-linux-musl"], programs: vec![] };
        let cc = |cc: &str| Toolchain { env: vec![("CC_x86_64_unknown_linux_musl".into(), cc.into())] };
        assert_eq!(toolchain(&target("x86_64-unknown-linux-musl"), &LINUX, &machine), Ok(cc("cc")));
        let with_musl_gcc = Fake { std: vec!["x86_64-unknown-linux-musl"], programs: vec!["musl-gcc"] };
        assert_eq!(toolchain(&target("x86_64-unknown-linux-musl"), &LINUX, &with_musl_gcc), Ok(cc("musl-gcc")));
        let with_cross = Fake { std: vec!["x86_64-unknown-linux-musl"], programs: vec!["x86_64-linux-musl-gcc"] };
        assert_eq!(toolchain(&target("x86_64-unknown-linux-musl"), &LINUX, &with_cross), Ok(Toolchain::default()));
        let missing = Fake { std: vec![], programs: vec![] };
        let why = toolchain(&target("x86_64-unknown-linux-musl"), &LINUX, &missing).unwrap_err();
        assert!(why.contains("rustup target add x86_64-unknown-linux-musl"), "{why}");
    }

    #[test]
    fn linux_arm64_needs_a_cross_gcc_which_then_links_and_compiles_c() {
        let arm = target("aarch64-unknown-linux-musl");
        let without = Fake { std: vec![arm.triple], programs: vec![] };
        let why = toolchain(&arm, &LINUX, &without).unwrap_err();
        assert!(
            why.contains("gcc-aarch64-linux-gnu") && why.contains("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER")
        );
        let with = Fake { std: vec![arm.triple], programs: vec!["aarch64-linux-gnu-gcc"] };
        let toolchain = toolchain(&arm, &LINUX, &with).unwrap();
        assert!(toolchain.env.contains(&("CC_aarch64_unknown_linux_musl".into(), "aarch64-linux-gnu-gcc".into())));
    }

    #[test]
    fn macos_and_windows_are_built_on_their_own_runners() {
        let everything = Fake { std: TARGETS.iter().map(|t| t.triple).collect(), programs: vec![] };
        for triple in ["x86_64-apple-darwin", "aarch64-apple-darwin"] {
            let why = toolchain(&target(triple), &LINUX, &everything).unwrap_err();
            assert!(why.contains("macOS SDK") && why.contains("--archives"), "{why}");
        }
        let why = toolchain(&target("x86_64-pc-windows-msvc"), &LINUX, &everything).unwrap_err();
        assert!(why.contains("link.exe"), "{why}");
        let mac = Host { os: "darwin", arch: "arm64" };
        assert!(toolchain(&target("aarch64-apple-darwin"), &mac, &everything).is_ok());
        assert!(toolchain(&target("x86_64-apple-darwin"), &mac, &everything).is_ok());
        assert!(toolchain(&target("x86_64-unknown-linux-musl"), &mac, &everything).is_err());
    }
}

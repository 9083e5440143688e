//! Cached npm installs, for tests that run published Node.js programs on this machine: the
//! stdio-to-HTTP bridge the operator renders for `npx` package servers (supergateway) and a
//! published MCP server to run behind it.
//!
//! Like the Python environments ([`crate::python`]), each set of exact pins is installed once
//! into the cache and reused: `node/<name>-<key>/` holds `package.json` (the pins as exact
//! dependencies), `node_modules/`, `build.log` (every attempt's output, each after a header
//! line) and `installed.txt` (`npm ls --all` of the finished install). `key` is a hash of the
//! pins, so changing a pin installs a new set beside the old one. npm resolves the pins'
//! dependencies when the set is installed, as `npx` does when the pod starts.
//!
//! `installed.txt`, written last, is what publishes an install: without it the directory is a
//! failed or unfinished attempt, installed again from scratch by the next call.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::{Error, cache_dir};

/// A named set of exact pins: one cached install.
#[derive(Debug, Clone, Copy)]
pub struct PinnedSet {
    /// Names the install's cache directory and the messages.
    pub name: &'static str,
    /// `NAME@VERSION` each, with an exact version; npm resolves their dependencies when the set
    /// is installed.
    pub packages: &'static [&'static str],
}

impl PinnedSet {
    /// The install of this set, made first if it is missing (see [`ensure`]).
    pub fn ensure(&self) -> Result<NodeModules, Error> {
        ensure(self.name, self.packages)
    }

    /// The version this set pins `name` to.
    pub fn version_of(&self, name: &str) -> Option<&'static str> {
        self.packages.iter().filter_map(|p| split_spec(p)).find(|(n, _)| *n == name).map(|(_, version)| version)
    }
}

/// supergateway, the stdio-to-streamable-HTTP bridge the operator runs in front of `npx` package
/// servers (`agents-render`'s `mcp_server/bridge.rs` renders `npx -y supergateway@3.4.0`; a unit
/// test below holds the two together).
pub const SUPERGATEWAY: PinnedSet = PinnedSet { name: "supergateway", packages: &["supergateway@3.4.0"] };

/// The MCP project's reference server (`@modelcontextprotocol/server-everything`, program
/// `mcp-server-everything`, stdio by default), with tools such as `echo` (answers
/// `Echo: MESSAGE`) and `get-sum`. This version installs on Node.js 20 (its dependencies ask for
/// `>=18` or `>=20`).
pub const SERVER_EVERYTHING: PinnedSet =
    PinnedSet { name: "server-everything", packages: &["@modelcontextprotocol/server-everything@2026.8.31"] };

/// A finished install: `node_modules/` in a directory of its own.
#[derive(Debug, Clone)]
pub struct NodeModules {
    dir: PathBuf,
    packages: Vec<String>,
}

impl NodeModules {
    /// The directory holding `package.json` and `node_modules/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this install pins exactly `spec` (`NAME@VERSION`).
    pub fn pins(&self, spec: &str) -> bool {
        self.packages.iter().any(|p| p == spec)
    }

    /// The program `npx -y <spec>` runs: the package's only command, or the one named after the
    /// package (without its scope), as npx chooses.
    pub fn bin(&self, spec: &str) -> Result<PathBuf, Error> {
        let object = || format!("the npm install {}", self.dir.display());
        if !self.pins(spec) {
            return Err(Error::unrunnable(object(), format!("it does not pin {spec} (it pins {:?})", self.packages)));
        }
        let (name, _) =
            split_spec(spec).ok_or_else(|| Error::unrunnable(object(), format!("{spec} is not NAME@VERSION")))?;
        let manifest_path = self.dir.join("node_modules").join(name).join("package.json");
        let text = fs::read_to_string(&manifest_path).map_err(|e| Error::io("read", &manifest_path, e))?;
        let manifest: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Manifest { path: manifest_path.clone(), detail: e.to_string() })?;
        let program = npx_bin(&manifest).ok_or_else(|| Error::Manifest {
            path: manifest_path.clone(),
            detail:
                "npx could not tell which of its commands to run (none, or several and none named after the package)"
                    .into(),
        })?;
        let path = self.dir.join("node_modules").join(".bin").join(program);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::unrunnable(
                object(),
                format!("{} is missing: delete {} to reinstall", path.display(), self.dir.display()),
            ))
        }
    }
}

/// Returns the install `name` of exactly `packages`, making it first if it is missing (with
/// `npm install`, from the npm registry). Blocking: call it from `tokio::task::spawn_blocking`
/// in async code. Concurrent callers (two test binaries) wait on a lock instead of installing twice.
pub fn ensure(name: &str, packages: &[&str]) -> Result<NodeModules, Error> {
    ensure_in(&cache_dir(), name, packages)
}

/// [`ensure`] with an explicit cache root.
pub fn ensure_in(cache: &Path, name: &str, packages: &[&str]) -> Result<NodeModules, Error> {
    if let Some(package) = packages.iter().find(|p| !is_pinned(p)) {
        return Err(Error::NpmUnpinned { set: name.into(), package: package.to_string() });
    }
    let id = format!("{name}-{}", key(packages));
    let home = cache.join("node").join(&id);
    let modules = NodeModules { dir: home.clone(), packages: packages.iter().map(|p| p.to_string()).collect() };
    let installed = home.join("installed.txt");
    if installed.is_file() {
        return Ok(modules);
    }
    fs::create_dir_all(&home).map_err(|e| Error::io("create the npm install cache", &home, e))?;
    let lock_path = home.join(".lock");
    let lock = File::create(&lock_path).map_err(|e| Error::io("create a lock", &lock_path, e))?;
    lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
    if installed.is_file() {
        return Ok(modules);
    }

    let started = Instant::now();
    eprintln!("agents-testenv: installing the npm packages {id} from the npm registry (first run only)");
    let build = Build { id: &id, log: home.join("build.log") };
    build.header(packages)?;
    let node_modules = home.join("node_modules");
    if node_modules.exists() {
        fs::remove_dir_all(&node_modules).map_err(|e| Error::io("remove the unfinished install", &node_modules, e))?;
    }
    let package_json = home.join("package.json");
    fs::write(&package_json, manifest(name, packages).to_string()).map_err(|e| Error::io("write", &package_json, e))?;

    // `--engine-strict`: a Node.js too old for a package fails here, saying so, rather than
    // later in a test with an obscure error.
    build.run(
        "npm install",
        npm(&home).args(["install", "--no-audit", "--no-fund", "--no-package-lock", "--engine-strict"]),
    )?;
    let tree = npm(&home).args(["ls", "--all"]).stdin(Stdio::null()).output().map_err(|e| build.spawn_error(e))?;
    if !tree.status.success() {
        return Err(build.failed("npm ls", String::from_utf8_lossy(&tree.stderr).into_owned()));
    }
    let partial = home.join("installed.txt.partial");
    fs::write(&partial, &tree.stdout).map_err(|e| Error::io("write", &partial, e))?;
    fs::rename(&partial, &installed).map_err(|e| Error::io("publish the install", &installed, e))?;
    eprintln!("agents-testenv: installed the npm packages {id} in {:.0?}", started.elapsed());
    Ok(modules)
}

/// `npm` in `dir`, without its update check (it writes to the user's npm directory and prints).
fn npm(dir: &Path) -> Command {
    let mut command = Command::new("npm");
    command.current_dir(dir).env("npm_config_update_notifier", "false");
    command
}

/// The `package.json` of an install: the pins as exact dependencies.
fn manifest(name: &str, packages: &[&str]) -> Value {
    let dependencies: serde_json::Map<String, Value> = packages
        .iter()
        .filter_map(|p| split_spec(p))
        .map(|(package, version)| (package.to_string(), Value::String(version.to_string())))
        .collect();
    serde_json::json!({"name": format!("agents-testenv-{name}"), "private": true, "dependencies": dependencies})
}

/// A container's command as rendered for an `npx` package, run from cached installs: each
/// `npx -y NAME@VERSION` becomes the program npx would run from that package, taken from the
/// install in `installs` that pins exactly `NAME@VERSION` (so a render whose pin moved fails
/// here, naming it). It is found as words of the command and at the start of a word that is a
/// shell command line (supergateway's `--stdio`, which it runs with `sh -c`; the program's path
/// is shell-quoted there). Every other word is kept as rendered.
pub fn as_rendered(rendered: &[String], installs: &[&NodeModules]) -> Result<Command, Error> {
    let malformed = |detail: String| Error::unrunnable(format!("the command {rendered:?}"), detail);
    let program = |spec: &str| -> Result<String, Error> {
        let install = installs
            .iter()
            .find(|i| i.pins(spec))
            .ok_or_else(|| malformed(format!("no cached install pins {spec}: add it to a node::PinnedSet")))?;
        let path = install.bin(spec)?;
        path.to_str().map(String::from).ok_or_else(|| malformed(format!("{} is not UTF-8", path.display())))
    };
    let mut words = Vec::new();
    let mut iter = rendered.iter();
    while let Some(word) = iter.next() {
        if word == "npx" {
            let spec = iter.by_ref().find(|w| !is_yes(w)).ok_or_else(|| malformed("npx without a package".into()))?;
            words.push(program(spec)?);
        } else if let Some(line) = word.strip_prefix("npx ") {
            let mut rest = line;
            let spec = loop {
                let (next, after) =
                    first_word(rest).ok_or_else(|| malformed(format!("no package in the command line {word:?}")))?;
                rest = after;
                if !is_yes(&next) {
                    break next;
                }
            };
            words.push(format!("{}{rest}", shell_quote(&program(&spec)?)));
        } else {
            words.push(word.clone());
        }
    }
    let (program, args) = words.split_first().ok_or_else(|| malformed("it is empty".into()))?;
    let mut command = Command::new(program);
    command.args(args);
    Ok(command)
}

/// npx's flag that installs without asking.
fn is_yes(word: &str) -> bool {
    word == "-y" || word == "--yes"
}

/// The first word of a shell command line (bare, or in single quotes) and what follows it.
/// Package specs are never quoted otherwise: their characters need no quoting.
fn first_word(line: &str) -> Option<(String, &str)> {
    let line = line.trim_start();
    if let Some(quoted) = line.strip_prefix('\'') {
        let end = quoted.find('\'')?;
        let rest = &quoted[end + 1..];
        return (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| (quoted[..end].to_string(), rest));
    }
    let end = line.find(char::is_whitespace).unwrap_or(line.len());
    (end > 0).then(|| (line[..end].to_string(), &line[end..]))
}

/// `word` as one POSIX shell word (as `agents-render` quotes the words of `--stdio`).
fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The command npx runs from a package's manifest: the only one (or several names of one file),
/// else the one named after the package without its scope; `None` when npx would refuse.
fn npx_bin(manifest: &Value) -> Option<String> {
    let name = manifest["name"].as_str()?;
    let unscoped = name.rsplit('/').next().unwrap_or(name);
    match &manifest["bin"] {
        Value::String(_) => Some(unscoped.to_string()),
        Value::Object(bins) => {
            let targets: std::collections::BTreeSet<&str> = bins.values().filter_map(Value::as_str).collect();
            if targets.len() == 1 {
                bins.keys().next().cloned()
            } else {
                bins.contains_key(unscoped).then(|| unscoped.to_string())
            }
        }
        _ => None,
    }
}

/// `NAME@VERSION` split at the version's `@` (a scope's leading `@` is part of the name).
fn split_spec(spec: &str) -> Option<(&str, &str)> {
    let at = spec.rfind('@').filter(|&at| at > 0)?;
    Some((&spec[..at], &spec[at + 1..]))
}

/// An exact pin: a registry package name and an exact version (`1.2.3`, `1.2.3-rc.1`). Ranges,
/// tags (`latest`) and other sources (`npm:`, git, URLs) would make the cached install differ
/// from what a fresh install of the same key gets.
fn is_pinned(spec: &str) -> bool {
    let Some((name, version)) = split_spec(spec) else { return false };
    let name_ok = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "@/._-~".contains(c))
        && match name.strip_prefix('@') {
            Some(scoped) => scoped.split_once('/').is_some_and(|(scope, package)| {
                !scope.is_empty() && !package.is_empty() && !package.contains(['/', '@'])
            }),
            None => !name.is_empty() && !name.contains(['/', '@']),
        };
    name_ok && is_exact_version(version)
}

/// `MAJOR.MINOR.PATCH`, optionally with a prerelease (`-rc.1`) and build (`+abc`) label.
fn is_exact_version(version: &str) -> bool {
    let (version, build) = match version.split_once('+') {
        Some((version, build)) => (version, Some(build)),
        None => (version, None),
    };
    let (core, prerelease) = match version.split_once('-') {
        Some((core, prerelease)) => (core, Some(prerelease)),
        None => (version, None),
    };
    let label = |label: &str| {
        label.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers.iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && prerelease.is_none_or(label)
        && build.is_none_or(label)
}

/// 16 hex digits of FNV-1a over the sorted pins (as `python.rs` keys its environments): stable
/// across Rust releases and machines, and independent of the order the pins are listed in.
fn key(packages: &[&str]) -> String {
    let mut sorted = packages.to_vec();
    sorted.sort_unstable();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sorted.join("\n").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// One attempt at installing a set: every step's output goes to one log.
struct Build<'a> {
    id: &'a str,
    log: PathBuf,
}

/// Starts every attempt's part of the log.
const ATTEMPT_HEADER: &str = "== agents-testenv: installing";

impl Build<'_> {
    fn open_log(&self) -> Result<File, Error> {
        File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Error::io("open the build log", &self.log, e))
    }

    fn header(&self, packages: &[&str]) -> Result<(), Error> {
        use std::io::Write;
        writeln!(self.open_log()?, "{ATTEMPT_HEADER} {} with {packages:?}", self.id)
            .map_err(|e| Error::io("write", &self.log, e))
    }

    fn run(&self, step: &'static str, command: &mut Command) -> Result<(), Error> {
        let output = self.open_log()?;
        let stderr = output.try_clone().map_err(|e| Error::io("open the build log", &self.log, e))?;
        let status =
            command.stdin(Stdio::null()).stdout(output).stderr(stderr).status().map_err(|e| self.spawn_error(e))?;
        if status.success() { Ok(()) } else { Err(self.failed(step, crate::fsutil::tail(&self.log, 15))) }
    }

    fn spawn_error(&self, error: std::io::Error) -> Error {
        match error.kind() {
            std::io::ErrorKind::NotFound => Error::NodeMissing,
            _ => Error::io("run", Path::new("npm"), error),
        }
    }

    fn failed(&self, step: &'static str, detail: String) -> Error {
        Error::NpmInstall { set: self.id.into(), step, log: self.log.clone(), detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("agents-testenv-npm-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_key_depends_on_the_pins_not_their_order() {
        assert_eq!(key(&["b@1.0.0", "a@2.0.0"]), key(&["a@2.0.0", "b@1.0.0"]));
        assert_ne!(key(&["a@2.0.0"]), key(&["a@2.0.1"]));
        // FNV-1a of the empty string: the key never changes with the Rust release.
        assert_eq!(key(&[]), "cbf29ce484222325");
    }

    #[test]
    fn only_exact_pins_are_accepted() {
        for pinned in ["supergateway@3.4.0", "@modelcontextprotocol/server-everything@2026.8.31", "x@1.0.0-rc.1+b7"] {
            assert!(is_pinned(pinned), "{pinned}");
        }
        for loose in [
            "supergateway",
            "@modelcontextprotocol/server-everything",
            "supergateway@^3.4.0",
            "supergateway@3.4",
            "supergateway@3.4.x",
            "supergateway@latest",
            "supergateway@>=3.4.0",
            "alias@npm:supergateway@3.4.0",
            "@scope@1.0.0",
            "Supergateway@3.4.0",
            "@3.4.0",
        ] {
            assert!(!is_pinned(loose), "{loose}");
        }
        let cache = temp("unpinned");
        let err = ensure_in(&cache, "loose", &["supergateway@^3"]).unwrap_err();
        assert!(matches!(err, Error::NpmUnpinned { .. }), "{err}");
        assert!(!cache.exists(), "nothing is installed for a loose pin");
    }

    #[test]
    fn the_sets_are_pinned() {
        for set in [SUPERGATEWAY, SERVER_EVERYTHING] {
            assert!(set.packages.iter().all(|p| is_pinned(p)), "{set:?}");
        }
        assert_eq!(SERVER_EVERYTHING.version_of("@modelcontextprotocol/server-everything"), Some("2026.8.31"));
    }

    /// The operator's npx bridge is the supergateway this module caches.
    #[test]
    fn the_bridge_the_operator_renders_is_the_one_cached() {
        let mcp: agents_api::MCPServer = serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "MCPServer",
            "metadata": {"name": "everything", "namespace": "test", "uid": "1"},
            "spec": {"package": {"runtime": "npx", "name": "@modelcontextprotocol/server-everything", "version": "2026.8.31"}},
        }))
        .unwrap();
        let deployment = agents_render::mcp_server::children(&mcp).unwrap().deployment.unwrap();
        let command = deployment.spec.template.spec.unwrap().containers[0].command.clone().unwrap();
        assert_eq!(&command[..3], ["npx", "-y", SUPERGATEWAY.packages[0]]);
    }

    #[test]
    fn npx_runs_the_only_command_or_the_one_named_after_the_package() {
        let manifest = |bin: Value| serde_json::json!({"name": "@scope/tool", "bin": bin});
        assert_eq!(npx_bin(&manifest(serde_json::json!("dist/index.js"))).as_deref(), Some("tool"));
        assert_eq!(npx_bin(&manifest(serde_json::json!({"mcp-tool": "dist/index.js"}))).as_deref(), Some("mcp-tool"));
        let aliases = serde_json::json!({"a": "dist/index.js", "b": "dist/index.js"});
        assert!(npx_bin(&manifest(aliases)).is_some());
        let several = serde_json::json!({"tool": "dist/index.js", "other": "dist/other.js"});
        assert_eq!(npx_bin(&manifest(several)).as_deref(), Some("tool"));
        assert_eq!(npx_bin(&manifest(serde_json::json!({"a": "a.js", "b": "b.js"}))), None);
        assert_eq!(npx_bin(&serde_json::json!({"name": "lib"})), None);
    }

    /// A fake install with one package and its command, as npm lays them out.
    fn fake_install(root: &Path, spec: &str, program: &str) -> NodeModules {
        let (name, version) = split_spec(spec).unwrap();
        let package = root.join("node_modules").join(name);
        fs::create_dir_all(&package).unwrap();
        let manifest = serde_json::json!({"name": name, "version": version, "bin": {program: "index.js"}});
        fs::write(package.join("package.json"), manifest.to_string()).unwrap();
        fs::create_dir_all(root.join("node_modules/.bin")).unwrap();
        fs::write(root.join("node_modules/.bin").join(program), "").unwrap();
        NodeModules { dir: root.to_path_buf(), packages: vec![spec.to_string()] }
    }

    #[test]
    fn a_rendered_npx_command_runs_the_cached_programs() {
        let root = temp("rendered");
        let bridge = fake_install(&root.join("bridge"), "supergateway@3.4.0", "supergateway");
        let server = fake_install(&root.join("my server"), "@acme/server@1.2.3", "acme-server");
        let rendered: Vec<String> = [
            "npx",
            "-y",
            "supergateway@3.4.0",
            "--stdio",
            "npx -y @acme/server@1.2.3 /data 'it'\\''s here'",
            "--port",
            "8000",
        ]
        .map(String::from)
        .into();
        let command = as_rendered(&rendered, &[&bridge, &server]).unwrap();
        assert_eq!(command.get_program(), root.join("bridge/node_modules/.bin/supergateway"));
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let server_program = root.join("my server/node_modules/.bin/acme-server");
        assert_eq!(
            args,
            [
                "--stdio".to_string(),
                format!("'{}' /data 'it'\\''s here'", server_program.display()),
                "--port".into(),
                "8000".into()
            ]
        );

        // A render whose pin moved away from the cache's is refused, naming the pin.
        let moved: Vec<String> = ["npx", "-y", "supergateway@3.4.3"].map(String::from).into();
        let err = as_rendered(&moved, &[&bridge, &server]).unwrap_err().to_string();
        assert!(err.contains("no cached install pins supergateway@3.4.3"), "{err}");
        for malformed in [&["npx", "-y"][..], &["npx -y"], &[]] {
            let words: Vec<String> = malformed.iter().map(|w| w.to_string()).collect();
            assert!(as_rendered(&words, &[&bridge]).is_err(), "{malformed:?}");
        }
        fs::remove_dir_all(&root).unwrap();
    }

    /// Two first callers at once: one installs, the other waits and gets the same install. No
    /// packages, so nothing is downloaded (under a second: npm only reads the empty manifest).
    #[test]
    fn concurrent_first_calls_install_once() {
        let cache = temp("once");
        let install = || {
            let cache = cache.clone();
            std::thread::spawn(move || ensure_in(&cache, "empty", &[]))
        };
        let (a, b) = (install(), install());
        let (a, b) = (a.join().unwrap().unwrap(), b.join().unwrap().unwrap());
        assert_eq!(a.dir(), b.dir());
        let installed = fs::read_to_string(a.dir().join("installed.txt")).unwrap();
        assert!(installed.contains("agents-testenv-empty"), "{installed}");
        let log = fs::read_to_string(a.dir().join("build.log")).unwrap();
        assert_eq!(log.matches(ATTEMPT_HEADER).count(), 1, "{log}");
        let again = Instant::now();
        assert_eq!(ensure_in(&cache, "empty", &[]).unwrap().dir(), a.dir());
        assert!(again.elapsed().as_millis() < 100, "a cached install is not redone");

        // An unpublished attempt (no installed.txt) is redone, after its own header.
        fs::remove_file(a.dir().join("installed.txt")).unwrap();
        ensure_in(&cache, "empty", &[]).unwrap();
        let log = fs::read_to_string(a.dir().join("build.log")).unwrap();
        assert_eq!(log.matches(ATTEMPT_HEADER).count(), 2, "{log}");
        fs::remove_dir_all(&cache).unwrap();
    }
}

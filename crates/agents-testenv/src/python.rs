//! Cached Python virtual environments, for tests that run published Python programs (an MCP
//! server behind the operator's stdio-to-HTTP bridge, the A2A SDK's client) on this machine.
//!
//! Like the Go tools, each environment is built once into the cache and reused:
//! `python/<name>-<key>/` holds `requirements.txt`, `constraints.txt` (for a set that pins its
//! dependencies too), `venv/`, `build.log` (every attempt's output, each after a header line)
//! and `installed.txt` (`pip freeze` of the finished environment). `key` is a hash of the pinned
//! requirements and constraints, so changing a pin builds a new environment beside the old one.
//!
//! A venv cannot be built elsewhere and moved into place (its scripts' `#!` lines name its
//! absolute path), so it is built where it stays and `installed.txt`, written last, is what
//! publishes it: without that file the directory is a failed or unfinished attempt, rebuilt
//! from scratch by the next call.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{Error, cache_dir};

/// A named set of exact pins: one cached environment.
#[derive(Debug, Clone, Copy)]
pub struct PinnedSet {
    /// Names the environment's cache directory and the messages.
    pub name: &'static str,
    /// `NAME==VERSION` each; pip resolves their dependencies when the environment is built.
    pub requirements: &'static [&'static str],
    /// A pip constraints file (`NAME==VERSION` lines, `#` comments) fixing the version pip
    /// chooses for each dependency, or empty to let pip resolve them when the environment is built.
    pub constraints: &'static str,
}

impl PinnedSet {
    /// The environment of this set, built first if it is missing (see [`ensure`]).
    pub fn ensure(&self) -> Result<Venv, Error> {
        ensure_in(&cache_dir(), self.name, self.requirements, self.constraints)
    }
}

/// `mcp-proxy`, the stdio-to-streamable-HTTP bridge the operator runs in front of `uvx` package
/// servers (`agents-render`'s `mcp_server/bridge.rs` pins the same version), so a test can serve
/// a real package server the way the operator's pod would:
/// `<proxy>/bin/mcp-proxy --host <pod IP> --port <port> --pass-environment -- <server>/bin/mcp-server-time`
/// serves streamable HTTP at `http://<pod IP>:<port>/mcp` (and SSE at `/sse`).
///
/// `mcp` is pinned to its last 1.x: mcp-proxy 0.10.0 asks for `mcp>=1.17.0` with no upper bound,
/// and fails at import with mcp 2 (`streamablehttp_client` is gone, httpx became httpx2). Later
/// mcp-proxy releases bound it themselves (0.13.0: `mcp<2`).
pub const MCP_PROXY: PinnedSet =
    PinnedSet { name: "mcp-proxy", requirements: &["mcp-proxy==0.10.0", "mcp==1.30.0"], constraints: "" };

/// uv, whose `uvx` fetches and runs a `uvx` package server in its pod, at the version of the
/// image the operator renders (`agents-render`'s `UV_IMAGE`, `ghcr.io/astral-sh/uv:0.9.5-…`; a
/// unit test below holds the two together). PyPI publishes the same binary as a wheel.
pub const UV: PinnedSet = PinnedSet { name: "uv", requirements: &["uv==0.9.5"], constraints: "" };

/// `mcp-server-time`, a small published stdio MCP server (tools `get_current_time` and
/// `convert_time`), to run behind [`MCP_PROXY`]. An environment of its own, as `uvx` gives each
/// tool: it needs `mcp>=2.3`, which mcp-proxy 0.10.0 cannot run with.
pub const MCP_SERVER_TIME: PinnedSet =
    PinnedSet { name: "mcp-server-time", requirements: &["mcp-server-time==2026.10.19"], constraints: "" };

/// The published A2A Python SDK, whose client speaks A2A protocol 1.0: a reference peer for
/// the runtime's A2A server. Its client needs no extra (httpx, protobuf and json-rpc are core
/// dependencies); a Python A2A *server* would need the `http-server` extra and an ASGI server.
pub const A2A_SDK: PinnedSet = PinnedSet { name: "a2a-sdk", requirements: &["a2a-sdk==1.3.0"], constraints: "" };

/// The LiteLLM proxy (`litellm --config FILE --port PORT`, the program a Proxy ModelAPI's pod
/// runs), at the version of the image the operator renders by default (`agents-render`'s
/// `model_api/litellm.rs`: `ghcr.io/berriai/litellm:main-v1.74.9-stable`). Its dependencies are
/// pinned too, to what pip resolved once (`python/litellm-proxy.txt`, 97 packages): LiteLLM asks
/// for ranges without upper bounds (`openai>=1.68.2`), so a new release of any of them would
/// otherwise change the environment a fresh machine builds. Large: 480 MB (polars, a `proxy`
/// extra, is 180 MB of it) and one to two minutes to build from PyPI.
pub const LITELLM_PROXY: PinnedSet = PinnedSet {
    name: "litellm-proxy",
    requirements: &["litellm[proxy]==1.74.9"],
    constraints: include_str!("../python/litellm-proxy.txt"),
};

/// A finished virtual environment.
#[derive(Debug, Clone)]
pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// The environment's root (`python -m venv`'s target).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A console script or binary installed into the environment, e.g. `bin("mcp-proxy")`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    /// The environment's interpreter, for `python -m MODULE` or `python -c ...`.
    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }
}

/// Returns the environment `name` with exactly `requirements` installed, building it first if
/// it is missing (with `python3 -m venv` and pip, from PyPI). Blocking: call it from
/// `tokio::task::spawn_blocking` in async code. Concurrent callers (two test binaries) wait on a
/// lock instead of building twice.
pub fn ensure(name: &str, requirements: &[&str]) -> Result<Venv, Error> {
    ensure_in(&cache_dir(), name, requirements, "")
}

/// [`ensure`] with an explicit cache root, and `constraints` (a pip constraints file, or empty)
/// fixing the versions of the requirements' dependencies.
pub fn ensure_in(cache: &Path, name: &str, requirements: &[&str], constraints: &str) -> Result<Venv, Error> {
    if let Some(requirement) = requirements.iter().copied().chain(constraint_lines(constraints)).find(|r| !is_pinned(r))
    {
        return Err(Error::Unpinned { venv: name.into(), requirement: requirement.to_string() });
    }
    let id = format!("{name}-{}", key(requirements, constraints));
    let home = cache.join("python").join(&id);
    let venv = Venv { dir: home.join("venv") };
    let installed = home.join("installed.txt");
    if is_complete(&venv, &installed) {
        return Ok(venv);
    }
    fs::create_dir_all(&home).map_err(|e| Error::io("create the Python environment cache", &home, e))?;
    let lock_path = home.join(".lock");
    let lock = File::create(&lock_path).map_err(|e| Error::io("create a lock", &lock_path, e))?;
    lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
    if is_complete(&venv, &installed) {
        return Ok(venv);
    }

    let started = Instant::now();
    eprintln!("agents-testenv: creating the Python environment {id} from PyPI (first run only)");
    let build = Build { id: &id, log: home.join("build.log") };
    build.header(requirements)?;
    // Unpublish first: an environment rebuilt because its interpreter vanished still has its
    // `installed.txt`, and a caller not holding the lock must not take the half-built one.
    if installed.exists() {
        fs::remove_file(&installed).map_err(|e| Error::io("remove", &installed, e))?;
    }
    if venv.dir.exists() {
        fs::remove_dir_all(&venv.dir).map_err(|e| Error::io("remove the unfinished environment", &venv.dir, e))?;
    }
    let requirements_txt = home.join("requirements.txt");
    let text: String = requirements.iter().map(|r| format!("{r}\n")).collect();
    fs::write(&requirements_txt, text).map_err(|e| Error::io("write", &requirements_txt, e))?;

    let mut pip_install = Command::new(venv.python());
    pip_install
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r"])
        .arg(&requirements_txt);
    if !constraints.is_empty() {
        let constraints_txt = home.join("constraints.txt");
        fs::write(&constraints_txt, constraints).map_err(|e| Error::io("write", &constraints_txt, e))?;
        pip_install.arg("-c").arg(&constraints_txt);
    }

    build.run("python3 -m venv", Command::new("python3").args(["-m", "venv"]).arg(&venv.dir))?;
    build.run("pip install", &mut pip_install)?;
    let freeze = Command::new(venv.python())
        .args(["-m", "pip", "freeze", "--disable-pip-version-check"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("run", &venv.python(), e))?;
    if !freeze.status.success() {
        return Err(build.failed("pip freeze", String::from_utf8_lossy(&freeze.stderr).into_owned()));
    }
    let partial = home.join("installed.txt.partial");
    fs::write(&partial, &freeze.stdout).map_err(|e| Error::io("write", &partial, e))?;
    fs::rename(&partial, &installed).map_err(|e| Error::io("publish the environment", &installed, e))?;
    eprintln!("agents-testenv: created the Python environment {id} in {:.0?}", started.elapsed());
    Ok(venv)
}

/// Published and still usable: the interpreter a venv links to can disappear with an upgrade
/// of the system's Python, and such an environment is rebuilt.
fn is_complete(venv: &Venv, installed: &Path) -> bool {
    installed.is_file() && venv.python().is_file()
}

/// An exact pin (`NAME==VERSION`, extras allowed): anything looser would make the cached
/// environment differ from what a fresh build of the same key installs.
fn is_pinned(requirement: &str) -> bool {
    requirement.split_once("==").is_some_and(|(name, version)| {
        !name.trim().is_empty()
            && !version.trim().is_empty()
            && !version.contains(['*', ',', ';', '=', '<', '>', '!', '~'])
    })
}

/// The pins of a constraints file: its lines but blank ones and `#` comments.
fn constraint_lines(constraints: &str) -> impl Iterator<Item = &str> {
    constraints.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// 16 hex digits of FNV-1a over the sorted requirements, then the constraints file as it is:
/// stable across Rust releases and machines (std's hasher promises neither), and independent of
/// the order the requirements are listed in. Without constraints, the key of the requirements
/// alone, as before constraints existed (so those environments are not rebuilt).
fn key(requirements: &[&str], constraints: &str) -> String {
    let mut sorted = requirements.to_vec();
    sorted.sort_unstable();
    let mut text = sorted.join("\n");
    if !constraints.is_empty() {
        text = format!("{text}\n--constraints\n{constraints}");
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// One attempt at building an environment: every step's output goes to one log.
struct Build<'a> {
    id: &'a str,
    log: PathBuf,
}

/// Starts every attempt's part of the log.
const ATTEMPT_HEADER: &str = "== agents-testenv: building";

impl Build<'_> {
    fn header(&self, requirements: &[&str]) -> Result<(), Error> {
        use std::io::Write;
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Error::io("open the build log", &self.log, e))?;
        writeln!(log, "{ATTEMPT_HEADER} {} with {requirements:?}", self.id)
            .map_err(|e| Error::io("write", &self.log, e))
    }

    fn run(&self, step: &'static str, command: &mut Command) -> Result<(), Error> {
        let output = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Error::io("open the build log", &self.log, e))?;
        let stderr = output.try_clone().map_err(|e| Error::io("open the build log", &self.log, e))?;
        let status =
            command.stdin(Stdio::null()).stdout(output).stderr(stderr).status().map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound if step == "python3 -m venv" => Error::PythonMissing,
                _ => Error::io("run", Path::new(command.get_program()), e),
            })?;
        if status.success() {
            return Ok(());
        }
        let mut detail = crate::fsutil::tail(&self.log, 15);
        if step == "python3 -m venv" {
            detail.push_str("\n(Debian ships ensurepip separately: `apt-get install python3-venv`)");
        }
        Err(self.failed(step, detail))
    }

    fn failed(&self, step: &'static str, detail: String) -> Error {
        Error::VenvBuild { venv: self.id.into(), step, log: self.log.clone(), detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_depends_on_the_pins_not_their_order() {
        assert_eq!(key(&["b==1", "a==2"], ""), key(&["a==2", "b==1"], ""));
        assert_ne!(key(&["a==2"], ""), key(&["a==3"], ""));
        // A changed constraint is a new environment.
        assert_ne!(key(&["a==2"], "b==1\n"), key(&["a==2"], "b==2\n"));
        assert_ne!(key(&["a==2"], "b==1\n"), key(&["a==2"], ""));
        // FNV-1a of the empty string: the key never changes with the Rust release.
        assert_eq!(key(&[], ""), "cbf29ce484222325");
    }

    #[test]
    fn only_exact_pins_are_accepted() {
        for pinned in ["mcp-proxy==0.10.0", "a2a-sdk[http-server]==1.3.0"] {
            assert!(is_pinned(pinned), "{pinned}");
        }
        for loose in ["mcp-proxy", "mcp-proxy>=0.10", "mcp-proxy==0.10.*", "x==1,!=2", "x===1", "==1"] {
            assert!(!is_pinned(loose), "{loose}");
        }
        let cache = std::env::temp_dir().join(format!("agents-testenv-unpinned-{}", std::process::id()));
        let err = ensure_in(&cache, "loose", &["mcp-proxy"], "").unwrap_err();
        assert!(matches!(err, Error::Unpinned { .. }), "{err}");
        let err = ensure_in(&cache, "loose", &["mcp-proxy==0.10.0"], "# pins\nmcp==1.30.0\nhttpx>=0.27\n").unwrap_err();
        assert!(matches!(&err, Error::Unpinned { requirement, .. } if requirement == "httpx>=0.27"), "{err}");
        assert!(!cache.exists(), "nothing is built for a loose pin");
    }

    #[test]
    fn the_sets_are_pinned() {
        for set in [MCP_PROXY, MCP_SERVER_TIME, A2A_SDK, LITELLM_PROXY, UV] {
            assert!(set.requirements.iter().all(|r| is_pinned(r)), "{set:?}");
            assert!(constraint_lines(set.constraints).all(is_pinned), "{}", set.name);
        }
    }

    /// LiteLLM's dependencies are pinned, and the pins hold the LiteLLM the set asks for.
    #[test]
    fn the_litellm_proxy_pins_all_it_installs() {
        let pins: Vec<&str> = constraint_lines(LITELLM_PROXY.constraints).collect();
        assert!(pins.contains(&"litellm==1.74.9"), "{pins:?}");
        assert_eq!(LITELLM_PROXY.requirements, ["litellm[proxy]==1.74.9"]);
        for dependency in ["openai==", "fastapi==", "pydantic==", "uvicorn=="] {
            assert!(pins.iter().any(|p| p.starts_with(dependency)), "{dependency} is not pinned");
        }
    }

    /// The uv cached here is the one in the image of a `uvx` package server's pod.
    #[test]
    fn the_uv_cached_is_the_uv_of_the_image() {
        let tag = agents_render::mcp_server::UV_IMAGE.rsplit(':').next().unwrap();
        let version = UV.requirements[0].strip_prefix("uv==").unwrap();
        assert!(tag.starts_with(&format!("{version}-")), "{tag} is not uv {version}");
    }

    /// Two first callers at once: one builds, the other waits and gets the same environment.
    /// No requirements, so nothing is downloaded (~5 s: `python3 -m venv` installs pip).
    #[test]
    fn concurrent_first_calls_build_once() {
        let cache = std::env::temp_dir().join(format!("agents-testenv-venv-{}", std::process::id()));
        let _ = fs::remove_dir_all(&cache);
        let build = || {
            let cache = cache.clone();
            std::thread::spawn(move || ensure_in(&cache, "empty", &[], ""))
        };
        let (a, b) = (build(), build());
        let (a, b) = (a.join().unwrap().unwrap(), b.join().unwrap().unwrap());
        assert_eq!(a.dir(), b.dir());
        let version = Command::new(a.python()).arg("--version").output().unwrap();
        assert!(String::from_utf8_lossy(&version.stdout).starts_with("Python 3."), "{version:?}");
        let log = fs::read_to_string(a.dir().with_file_name("build.log")).unwrap();
        assert_eq!(log.matches(ATTEMPT_HEADER).count(), 1, "{log}");
        let again = Instant::now();
        assert_eq!(ensure_in(&cache, "empty", &[], "").unwrap().dir(), a.dir());
        assert!(again.elapsed().as_millis() < 100, "a cached environment is not rebuilt");
        fs::remove_dir_all(&cache).unwrap();
    }
}

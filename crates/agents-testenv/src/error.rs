use std::path::{Path, PathBuf};

/// What can go wrong while building, starting or using the local control plane. Each message
/// says what failed and how to recover.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not {action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },

    #[error("could not {action}: {source}")]
    Pki { action: &'static str, source: rcgen::Error },

    #[error(
        "`go` was not found on PATH: install Go 1.26 or newer (https://go.dev/dl/), or run `bash .ci/run`, which installs what is missing"
    )]
    GoMissing,

    #[error(
        "building {tool} failed at step `{step}`:\n{detail}\nThe full output is in {}. Retry with `cargo run -p agents-testenv -- up` (the step reruns; downloads already made are kept).",
        log.display()
    )]
    Build { tool: String, step: &'static str, log: PathBuf, detail: String },

    #[error(
        "`python3` was not found on PATH: install Python 3.10 or newer with its venv module (Debian: `apt-get install python3 python3-venv`), or run `bash .ci/run`, which installs what is missing"
    )]
    PythonMissing,

    #[error(
        "building the Python environment {venv} failed at step `{step}`:\n{detail}\nThe full output is in {}. The next run retries from scratch (pip keeps its downloads).",
        log.display()
    )]
    VenvBuild { venv: String, step: &'static str, log: PathBuf, detail: String },

    #[error(
        "the Python requirement {requirement:?} of the environment {venv} is not an exact pin: write NAME==VERSION, so the cached environment is what its key says"
    )]
    Unpinned { venv: String, requirement: String },

    #[error(
        "`npm` was not found on PATH: install Node.js 20 or newer with npm (https://nodejs.org/en/download), or run `bash .ci/run`, which installs what is missing"
    )]
    NodeMissing,

    #[error(
        "installing the npm packages {set} failed at step `{step}`:\n{detail}\nThe full output is in {}. The next run retries from scratch (npm keeps its downloads).",
        log.display()
    )]
    NpmInstall { set: String, step: &'static str, log: PathBuf, detail: String },

    #[error(
        "the npm package {package:?} of the set {set} is not an exact pin: write NAME@VERSION with an exact version such as 1.2.3, so the cached install is what its key says"
    )]
    NpmUnpinned { set: String, package: String },

    #[error(
        "could not download {module} through the Go module proxy: {detail}\nCheck that `go env GOPROXY` is reachable and retry."
    )]
    Download { module: String, detail: String },

    #[error("{} is not what agents-testenv expects: {detail}", path.display())]
    Manifest { path: PathBuf, detail: String },

    #[error(
        "{component} exited during start-up; the end of its log ({}):\n{tail}\nRun `cargo run -p agents-testenv -- down` and retry.",
        log.display()
    )]
    ProcessExited { component: String, log: PathBuf, tail: String },

    #[error("cannot restart {component}: {detail}")]
    Restart { component: String, detail: String },

    #[error("timed out waiting for {what}: {hint}")]
    Timeout { what: String, hint: String },

    #[error("could not {action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },

    #[error("the kubeconfig could not be loaded: {0}")]
    Kubeconfig(String),

    #[error("while waiting for {0}")]
    Wait(String),

    #[error("could not listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },

    #[error("cannot run {object} as its pod would: {detail}")]
    Unrunnable { object: String, detail: String },

    #[error("{program} exited with {status} before it served; the end of its log ({}):\n{tail}", log.display())]
    PodProcessExited { program: String, status: String, log: PathBuf, tail: String },

    #[error(
        "agent {name:?} not found in namespace {namespace:?} (waited {waited:?}): apply it first, e.g. `kubectl agents apply -f docs/examples/hello-agent.yaml`"
    )]
    NoAgent { name: String, namespace: String, waited: std::time::Duration },

    #[error(
        "agent/{name} does not run the reference runtime (it sets {field}): run-agent plays only the pods of Agents with neither spec.image nor spec.buildRef"
    )]
    NotTheRuntime { name: String, field: &'static str },

    #[error(
        "no agents-runtime at {}: build it with `cargo build -p agents-runtime`, or name another with --runtime",
        path.display()
    )]
    RuntimeMissing { path: PathBuf },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io { action, path: path.to_path_buf(), source }
    }

    pub(crate) fn pki(action: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| Error::Pki { action, source }
    }

    pub(crate) fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube { action: action.into(), source }
    }

    pub(crate) fn unrunnable(object: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Unrunnable { object: object.into(), detail: detail.into() }
    }
}

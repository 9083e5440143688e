//! Builds the pinned Go tools into the cache, once.
//!
//! Layout under the cache root:
//! `tools/<name>-<version>/src` (the throwaway main module), `.../bin` (the binaries, present only
//! when the whole build succeeded), `.../build.log` (go's output of the last attempt), and for a
//! cgo build `.../include` (the C headers its module's zip leaves out).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Error;
use crate::tools::{Cgo, GoTool, ManifestSource};

/// Returns the directory holding `tool`'s binaries, building them first if they are missing.
/// Concurrent callers (a demo and a test run) wait on a lock instead of building twice.
pub fn ensure(tool: &GoTool, cache: &Path) -> Result<PathBuf, Error> {
    let home = cache.join("tools").join(tool.id());
    let bin = home.join("bin");
    if is_complete(tool, &bin) {
        return Ok(bin);
    }
    fs::create_dir_all(&home).map_err(|e| Error::io("create the tool cache", &home, e))?;
    let lock_path = home.join(".lock");
    let lock = File::create(&lock_path).map_err(|e| Error::io("create a lock", &lock_path, e))?;
    lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
    if is_complete(tool, &bin) {
        return Ok(bin);
    }

    let started = Instant::now();
    eprintln!(
        "agents-testenv: building {} {} from the Go module proxy (first run only; Kubernetes takes ~8 min on 2 cores)",
        tool.name, tool.version
    );
    let log = home.join("build.log");
    let src = home.join("src");
    write_module(tool, &src, &log)?;
    let env = match &tool.cgo {
        Some(cgo) => cgo_env(cgo, &home.join("include"))?,
        None => vec![("CGO_ENABLED", "0".to_string())],
    };
    let staging = home.join("bin.partial");
    let _ = fs::remove_dir_all(&staging);
    run_go(tool, "go mod tidy", &src, &log, &env, &["mod", "tidy"])?;
    let mut args = vec![
        "build".to_string(),
        "-p".into(),
        "2".into(),
        "-trimpath".into(),
        "-ldflags".into(),
        ldflags(tool),
        "-o".into(),
        format!("{}/", staging.display()),
    ];
    if tool.main_go.is_some() {
        args.push(".".into());
    } else {
        args.extend(tool.packages.iter().map(|p| p.to_string()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_go(tool, "go build", &src, &log, &env, &args)?;
    let _ = fs::remove_dir_all(&bin);
    fs::rename(&staging, &bin).map_err(|e| Error::io("move the built binaries", &bin, e))?;
    if !is_complete(tool, &bin) {
        return Err(Error::Build {
            tool: tool.id(),
            step: "check the binaries",
            log,
            detail: format!("go build did not produce {:?}", tool.binaries()),
        });
    }
    eprintln!("agents-testenv: built {} in {:.0?}", tool.id(), started.elapsed());
    Ok(bin)
}

fn is_complete(tool: &GoTool, bin: &Path) -> bool {
    tool.binaries().iter().all(|b| bin.join(b).is_file())
}

/// Writes `go.mod` and the file that pins the packages to build.
fn write_module(tool: &GoTool, src: &Path, log: &Path) -> Result<(), Error> {
    fs::create_dir_all(src).map_err(|e| Error::io("create the module directory", src, e))?;
    let mut go_mod =
        format!("module agents-testenv/{}\n\ngo 1.26.0\n\nrequire {} {}\n", tool.name, tool.module, tool.version);
    if tool.replaces_staging {
        let staging = staging_modules(tool, log)?;
        let published = tool.version.replacen("v1.", "v0.", 1);
        go_mod.push_str("\nreplace (\n");
        for module in staging {
            go_mod.push_str(&format!("\t{module} => {module} {published}\n"));
        }
        go_mod.push_str(")\n");
    }
    write(&src.join("go.mod"), &go_mod)?;
    let _ = fs::remove_file(src.join("go.sum"));
    match tool.main_go {
        Some(main) => write(&src.join("main.go"), main),
        None => {
            let imports: String = tool.packages.iter().map(|p| format!("\t_ \"{p}\"\n")).collect();
            write(&src.join("tools.go"), &format!("//go:build tools\n\npackage tools\n\nimport (\n{imports})\n"))
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    fs::write(path, text).map_err(|e| Error::io("write", path, e))
}

/// Kubernetes' own `replace k8s.io/X => ./staging/src/k8s.io/X` lines name the staging modules.
fn staging_modules(tool: &GoTool, log: &Path) -> Result<Vec<String>, Error> {
    let dir = log.parent().unwrap_or(Path::new("/"));
    let info = download(tool.module, tool.version, dir)
        .map_err(|detail| Error::Download { module: format!("{}@{}", tool.module, tool.version), detail })?;
    let go_mod = fs::read_to_string(&info.go_mod).map_err(|e| Error::io("read", &info.go_mod, e))?;
    Ok(parse_staging_replaces(&go_mod))
}

fn parse_staging_replaces(go_mod: &str) -> Vec<String> {
    go_mod
        .lines()
        .filter(|line| line.contains("=> ./staging/"))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The environment of a cgo build: the headers the module's zip lacks, written into `include`
/// (a file of another module each), on the C preprocessor's path.
fn cgo_env(cgo: &Cgo, include: &Path) -> Result<Vec<(&'static str, String)>, Error> {
    for header in cgo.headers {
        let info = download(header.module, header.version, include.parent().unwrap_or(Path::new("/")))
            .map_err(|detail| Error::Download { module: format!("{}@{}", header.module, header.version), detail })?;
        let from = info.dir.join(header.file);
        let text = fs::read(&from).map_err(|e| Error::io("read a C header", &from, e))?;
        let to = include.join(header.include);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("create the header directory", dir, e))?;
        }
        // Written, not copied: the module cache's files are read-only, and a rebuild rewrites it.
        fs::write(&to, text).map_err(|e| Error::io("write a C header", &to, e))?;
    }
    Ok(vec![("CGO_ENABLED", "1".to_string()), ("CGO_CPPFLAGS", format!("-I{}", include.display()))])
}

fn ldflags(tool: &GoTool) -> String {
    let mut flags = vec!["-s".to_string(), "-w".to_string()];
    for (variable, value) in tool.link_variables {
        flags.push(format!("-X {variable}={value}"));
    }
    let minor = tool.version.split('.').nth(1).unwrap_or("0");
    for package in tool.version_packages {
        for (key, value) in
            [("gitVersion", tool.version), ("gitMajor", "1"), ("gitMinor", minor), ("gitTreeState", "clean")]
        {
            flags.push(format!("-X {package}.{key}={value}"));
        }
    }
    flags.join(" ")
}

fn run_go(
    tool: &GoTool,
    step: &'static str,
    dir: &Path,
    log: &Path,
    env: &[(&str, String)],
    args: &[&str],
) -> Result<(), Error> {
    let output =
        File::options().create(true).append(true).open(log).map_err(|e| Error::io("open the build log", log, e))?;
    let stderr = output.try_clone().map_err(|e| Error::io("open the build log", log, e))?;
    let status = Command::new("go")
        .args(args)
        .current_dir(dir)
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(stderr)
        .status()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::GoMissing,
            _ => Error::io("run go", dir, e),
        })?;
    if status.success() {
        return Ok(());
    }
    let mut detail = crate::fsutil::tail(log, 15);
    if let Some(cgo) = &tool.cgo {
        detail.push_str(&format!("\n{} compiles C and C++ (cgo): it needs {}", tool.name, cgo.needs));
    }
    Err(Error::Build { tool: tool.id(), step, log: log.to_path_buf(), detail })
}

/// What `go mod download -json` reports about one module version.
#[derive(Debug, serde::Deserialize)]
struct ModuleInfo {
    #[serde(rename = "Dir")]
    dir: PathBuf,
    #[serde(rename = "GoMod")]
    go_mod: PathBuf,
}

/// `go mod download` run in `dir`, a directory outside any Go module, so the result does not
/// depend on where the caller happens to be.
fn download(module: &str, version: &str, dir: &Path) -> Result<ModuleInfo, String> {
    let output = Command::new("go")
        .args(["mod", "download", "-json", &format!("{module}@{version}")])
        .current_dir(dir)
        .env("GO111MODULE", "on")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run go: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "go mod download {module}@{version} failed: {}{}",
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("unexpected output of go mod download: {e}"))
}

/// The directory of a module's source in Go's module cache, downloading it if needed.
pub fn module_dir(source: &ManifestSource, cache: &Path) -> Result<PathBuf, Error> {
    fs::create_dir_all(cache).map_err(|e| Error::io("create the cache", cache, e))?;
    download(source.module, source.version, cache)
        .map(|info| info.dir)
        .map_err(|detail| Error::Download { module: format!("{}@{}", source.module, source.version), detail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{KUBERNETES, OLLAMA};

    #[test]
    fn staging_replaces_are_read_from_kubernetes_go_mod() {
        let go_mod = "module k8s.io/kubernetes\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\
                      \tk8s.io/client-go => ./staging/src/k8s.io/client-go\n\tfoo => bar v1\n)\n";
        assert_eq!(parse_staging_replaces(go_mod), ["k8s.io/api", "k8s.io/client-go"]);
    }

    #[test]
    fn kubernetes_binaries_are_stamped_with_their_version() {
        let flags = ldflags(&KUBERNETES);
        assert!(flags.contains("-X k8s.io/component-base/version.gitVersion=v1.37.2"));
        assert!(flags.contains("-X k8s.io/client-go/pkg/version.gitMinor=37"));
    }

    #[test]
    fn ollama_is_stamped_as_its_release_stamps_it() {
        let flags = ldflags(&OLLAMA);
        assert!(flags.contains("-X github.com/ollama/ollama/version.Version=0.12.6"), "{flags}");
        assert!(flags.contains("-X github.com/ollama/ollama/server.mode=release"), "{flags}");
    }
}

//! The process playing a pod's container, and how a rendered command becomes one here.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{DEADLINE, POLL};
use crate::Error;

/// A program playing a pod's container; killed when dropped, so a failing test or an interrupted
/// demo leaves nothing bound to the pod's address.
pub struct PodProcess {
    child: Child,
    program: String,
    pub address: SocketAddr,
    pub log: PathBuf,
}

impl Drop for PodProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PodProcess {
    /// Everything the program logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id, e.g. to tell a user what to look for.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// An error if the program has exited (with the end of its log), else nothing.
    pub fn check_running(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.exited(status.to_string())),
            Err(e) => Err(self.exited(format!("an unknown status ({e})"))),
        }
    }

    fn exited(&self, status: String) -> Error {
        Error::PodProcessExited {
            program: self.program.clone(),
            status,
            log: self.log.clone(),
            tail: crate::fsutil::tail(&self.log, 20),
        }
    }

    fn timed_out(&self, what: String) -> Error {
        Error::Timeout {
            what,
            hint: format!("the end of its log ({}):\n{}", self.log.display(), crate::fsutil::tail(&self.log, 20)),
        }
    }

    /// Waits until `GET path` answers 200 (the program is serving), or fails with its log.
    /// Blocks the thread: for tests; async code uses [`serving`](Self::serving).
    pub fn wait_serving(&mut self, path: &str) -> Result<(), Error> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.check_running()?;
            if crate::http::get(self.address, path).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(
                    self.timed_out(format!("{} to serve {path} on {} within {DEADLINE:?}", self.program, self.address))
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// [`wait_serving`](Self::wait_serving) without blocking the async runtime's thread.
    pub async fn serving(&mut self, path: &str) -> Result<(), Error> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.check_running()?;
            let (address, owned) = (self.address, path.to_string());
            let answered =
                tokio::task::spawn_blocking(move || crate::http::get(address, &owned).is_ok()).await.unwrap_or(false);
            if answered {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(
                    self.timed_out(format!("{} to serve {path} on {} within {DEADLINE:?}", self.program, self.address))
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until something accepts connections on the address (for programs with no health path).
    pub fn wait_listening(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.check_running()?;
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(
                    self.timed_out(format!("{} to listen on {} within {DEADLINE:?}", self.program, self.address))
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// The body of `GET path` from the program (e.g. its `/metrics`).
    pub fn get(&self, path: &str) -> std::io::Result<String> {
        crate::http::get(self.address, path)
    }
}

/// Starts `command` as the program of a pod serving on `address`, its stdout discarded and its
/// stderr (where servers log) written to `log`. Wait for it with
/// [`wait_serving`](PodProcess::wait_serving) or [`wait_listening`](PodProcess::wait_listening).
pub fn start_program(mut command: Command, address: SocketAddr, log: PathBuf) -> Result<PodProcess, Error> {
    let program = command.get_program().to_string_lossy().into_owned();
    let file = std::fs::File::create(&log).map_err(|e| Error::io("create the log", &log, e))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .map_err(|e| Error::io("start", std::path::Path::new(&program), e))?;
    Ok(PodProcess { child, program, address, log })
}

/// A container's command as rendered, run here: each `uvx [--with REQ] PACKAGE[@VERSION]`
/// becomes that package's program from a cached environment (`bin`, which pins the same
/// requirements) where the image would fetch it, and the wildcard listen address becomes the pod's.
pub fn as_rendered(rendered: &[String], ip: IpAddr, bin: impl Fn(&str) -> PathBuf) -> Result<Command, Error> {
    let malformed = |detail: &str| Error::unrunnable(format!("the command {rendered:?}"), detail);
    let mut words = Vec::new();
    let mut iter = rendered.iter();
    while let Some(word) = iter.next() {
        match word.as_str() {
            "uvx" => {
                let mut package = iter.next().ok_or_else(|| malformed("uvx without a package"))?;
                // `--with REQUIREMENT`: what the cached environment already pins.
                while package == "--with" {
                    iter.next().ok_or_else(|| malformed("uvx --with without a requirement"))?;
                    package = iter.next().ok_or_else(|| malformed("uvx without a package"))?;
                }
                let name = package.split('@').next().unwrap_or(package);
                words.push(bin(name).display().to_string());
            }
            "0.0.0.0" => words.push(ip.to_string()),
            other => words.push(other.to_string()),
        }
    }
    let (program, args) = words.split_first().ok_or_else(|| malformed("it is empty"))?;
    let mut command = Command::new(program);
    command.args(args);
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uvx_command_runs_the_cached_program_on_the_pod_address() {
        let rendered: Vec<String> =
            ["uvx", "--with", "mcp==1.30.0", "mcp-proxy@0.10.0", "--host", "0.0.0.0", "--", "uvx", "mcp-server-time"]
                .map(String::from)
                .into();
        let command = as_rendered(&rendered, "127.0.0.9".parse().unwrap(), |p| PathBuf::from("/venv").join(p)).unwrap();
        assert_eq!(command.get_program(), "/venv/mcp-proxy");
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["--host", "127.0.0.9", "--", "/venv/mcp-server-time"]);
    }

    #[test]
    fn a_malformed_command_is_refused() {
        let ip = "127.0.0.9".parse().unwrap();
        assert!(as_rendered(&[], ip, |p| PathBuf::from(p)).is_err());
        assert!(as_rendered(&["uvx".to_string()], ip, |p| PathBuf::from(p)).is_err());
    }
}

//! The control plane's processes: started detached (their own process group, output to a log
//! file), so they outlive `agents-testenv up`; stopped by pid, but only after checking that the
//! pid still runs the binary we started (pids are reused).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::Error;

/// One running component, as recorded in the cluster's state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Daemon {
    pub name: String,
    pub pid: u32,
    pub exe: PathBuf,
    pub log: PathBuf,
    /// The command line's arguments, so the component can be started again as it was (see
    /// `Cluster::restart_apiserver`); empty in state files written before they were recorded.
    #[serde(default)]
    pub args: Vec<String>,
}

impl Daemon {
    /// Starts `exe args…` in the background with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, exe: &Path, args: &[String], env: &[(&str, &str)], log: &Path) -> Result<Self, Error> {
        let out = File::options().create(true).append(true).open(log).map_err(|e| Error::io("open the log", log, e))?;
        let err = out.try_clone().map_err(|e| Error::io("open the log", log, e))?;
        let child = Command::new(exe)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // A process group of its own: a Ctrl-C on `up` or on a test run does not reach it.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io("start", exe, e))?;
        let exe = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
        Ok(Daemon { name: name.to_string(), pid: child.id(), exe, log: log.to_path_buf(), args: args.to_vec() })
    }

    /// True while the pid exists and runs our binary (not a reused pid, not a zombie).
    pub fn is_running(&self) -> bool {
        let proc = PathBuf::from(format!("/proc/{}", self.pid));
        let same_exe = std::fs::read_link(proc.join("exe")).is_ok_and(|exe| exe == self.exe);
        let zombie = std::fs::read_to_string(proc.join("stat"))
            .map(|stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
            .unwrap_or(true);
        same_exe && !zombie
    }

    /// The error to report when the component died during start-up.
    pub fn exited(&self) -> Error {
        Error::ProcessExited {
            component: self.name.clone(),
            log: self.log.clone(),
            tail: crate::fsutil::tail(&self.log, 20),
        }
    }
}

/// Sends SIGTERM to every daemon still running, waits up to `grace` for them to go, then SIGKILLs.
pub fn stop_all(daemons: &[Daemon], grace: Duration) {
    let signal = |sig| {
        for daemon in daemons.iter().filter(|d| d.is_running()) {
            let _ = kill(Pid::from_raw(daemon.pid as i32), sig);
        }
    };
    signal(Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while daemons.iter().any(Daemon::is_running) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    while daemons.iter().any(Daemon::is_running) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // A daemon that is our own child must be reaped, or it lingers as a zombie until we exit.
    for daemon in daemons {
        let _ = nix::sys::wait::waitpid(Pid::from_raw(daemon.pid as i32), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    }
}

/// A free TCP port on 127.0.0.1. The OS may hand it out again before the component binds it;
/// start-up checks each component, so such a clash shows up as that component's exit.
pub fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::io("find a free port on", Path::new("127.0.0.1"), e))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| Error::io("find a free port on", Path::new("127.0.0.1"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_recorded_before_its_arguments_were_still_loads() {
        let old = r#"{"name": "kube-apiserver", "pid": 1, "exe": "/bin/kube-apiserver", "log": "/tmp/a.log"}"#;
        let daemon: Daemon = serde_json::from_str(old).expect("an old state entry parses");
        assert!(daemon.args.is_empty(), "nothing to restart it with: restart_apiserver says so");
    }
}

//! Where a phase's time went on the shared cores: the CPU time (user + system) of each process a
//! benchmark runs (the control plane's components, the operator, the benchmark itself), from
//! `/proc/<pid>/stat`.

use std::fmt;

/// Linux reports CPU time in USER_HZ ticks, which is 100 on every ABI this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// The processes to account for, by name.
#[derive(Clone)]
pub struct Processes(Vec<(String, u32)>);

impl Processes {
    /// The control plane's components and this benchmark.
    pub fn of(cluster: &agents_testenv::Cluster) -> Self {
        let mut all: Vec<(String, u32)> =
            cluster.components().into_iter().map(|(n, pid)| (n.to_string(), pid)).collect();
        all.push(("benchmark".into(), std::process::id()));
        Processes(all)
    }

    pub fn with(&self, name: &str, pid: u32) -> Self {
        let mut all = self.0.clone();
        all.push((name.into(), pid));
        Processes(all)
    }

    /// CPU seconds each has used so far; a process that is gone counts as 0.
    pub fn cpu(&self) -> CpuTimes {
        CpuTimes(self.0.iter().map(|(name, pid)| (name.clone(), cpu_seconds(*pid).unwrap_or(0.0))).collect())
    }
}

/// CPU seconds by process at one moment.
pub struct CpuTimes(Vec<(String, f64)>);

impl CpuTimes {
    /// What each process used since `earlier`, busiest first.
    pub fn since(&self, earlier: &CpuTimes) -> CpuUse {
        let mut used: Vec<(String, f64)> = self
            .0
            .iter()
            .map(|(name, now)| {
                let before = earlier.0.iter().find(|(n, _)| n == name).map_or(0.0, |(_, s)| *s);
                (name.clone(), (now - before).max(0.0))
            })
            .collect();
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        CpuUse(used)
    }
}

/// CPU seconds used per process over a phase.
pub struct CpuUse(Vec<(String, f64)>);

impl fmt::Display for CpuUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: f64 = self.0.iter().map(|(_, s)| s).sum();
        write!(f, "{total:.1} s in all")?;
        for (name, seconds) in self.0.iter().filter(|(_, s)| *s >= 0.05) {
            write!(f, ", {name} {seconds:.1}")?;
        }
        Ok(())
    }
}

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// utime and stime are fields 14 and 15; the command name (field 2) is in parentheses and may
/// hold spaces, so fields are counted from its closing one.
fn parse_stat(stat: &str) -> Option<f64> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

//! What a process costs, read from Linux's /proc: CPU time (utime + stime) and memory (VmRSS,
//! VmHWM).

use std::time::Instant;

/// CPU time a process had used at one instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    /// utime + stime in clock ticks.
    ticks: u64,
    /// When it was read.
    at: Instant,
}

impl CpuSample {
    /// Reads `/proc/<pid>/stat` now; `None` if the process is gone.
    pub fn take(pid: u32) -> Option<CpuSample> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some(CpuSample {
            ticks: cpu_ticks_of_stat(&text)?,
            at: Instant::now(),
        })
    }

    /// Reads this process's own CPU time.
    pub fn take_self() -> Option<CpuSample> {
        CpuSample::take(std::process::id())
    }

    /// CPU used between `self` and `later`, in cores (1.0 = one core busy the whole time).
    pub fn cores_until(&self, later: &CpuSample) -> f64 {
        let secs = later.at.duration_since(self.at).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        let used = later.ticks.saturating_sub(self.ticks) as f64 / clock_ticks_per_sec() as f64;
        used / secs
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks.
pub fn cpu_ticks_of_stat(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may contain spaces; fields after the
    // last ')' start at field 3 (the state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The kernel's clock ticks per second (`sysconf(_SC_CLK_TCK)`, almost always 100).
pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf only reads a system constant; no memory is passed.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// A `kB` field (e.g. `VmRSS`, `VmHWM`) of `/proc/<pid>/status`, in MiB.
pub fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_kib_of(&text, field).map(|kib| kib as f64 / 1024.0)
}

/// A `kB` field of a `/proc/<pid>/status` text.
pub fn status_kib_of(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_spaced_name() {
        let stat = "4242 (bench (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0";
        assert_eq!(cpu_ticks_of_stat(stat), Some(325));
        assert_eq!(cpu_ticks_of_stat("4242 (short) S 1"), None);
        assert_eq!(cpu_ticks_of_stat("garbage"), None);
    }

    #[test]
    fn parses_status_fields() {
        let status = "Name:\tbench\nVmHWM:\t  20480 kB\nVmRSS:\t  10240 kB\n";
        assert_eq!(status_kib_of(status, "VmRSS"), Some(10240));
        assert_eq!(status_kib_of(status, "VmHWM"), Some(20480));
        assert_eq!(status_kib_of(status, "VmSwap"), None);
    }

    #[test]
    fn reads_its_own_process() {
        let a = CpuSample::take_self().unwrap();
        let b = CpuSample::take_self().unwrap();
        assert!(a.cores_until(&b) >= 0.0);
        assert!(status_mib(std::process::id(), "VmRSS").unwrap() > 0.0);
    }
}

//! CPU time and resident memory of a process, read from `/proc/<pid>`.

use std::time::Instant;

use anyhow::Context;
use procfs::process::Process;
use serde::{Deserialize, Serialize};

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    at: Instant,
    cpu_ticks: u64,
    /// Resident set size, bytes.
    pub rss: u64,
}

/// Reads `/proc/<pid>/stat` (CPU ticks) and `/proc/<pid>/statm` (RSS).
pub fn sample(pid: i32) -> anyhow::Result<Sample> {
    let process = Process::new(pid).with_context(|| format!("no process {pid}"))?;
    let stat = process
        .stat()
        .with_context(|| format!("/proc/{pid}/stat"))?;
    let statm = process
        .statm()
        .with_context(|| format!("/proc/{pid}/statm"))?;
    Ok(Sample {
        at: Instant::now(),
        cpu_ticks: stat.utime + stat.stime,
        rss: statm.resident * procfs::page_size(),
    })
}

/// CPU use and memory of a process over a window.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Usage {
    /// CPU time over wall time, in percent of one core.
    pub cpu_percent: f64,
    /// RSS at the end of the window, bytes.
    pub rss_bytes: u64,
}

/// The usage between two samples.
pub fn between(a: &Sample, b: &Sample) -> Usage {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    let cpu = b.cpu_ticks.saturating_sub(a.cpu_ticks) as f64 / procfs::ticks_per_second() as f64;
    Usage {
        cpu_percent: if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 },
        rss_bytes: b.rss,
    }
}

/// Watches the server (when its pid is known) and the generator itself.
pub struct Watch {
    server: Option<i32>,
    start_server: Option<Sample>,
    start_self: Option<Sample>,
}

/// What [`Watch::stop`] reports.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct WindowUsage {
    /// The server, when its pid was given.
    pub server: Option<Usage>,
    /// The generator.
    pub generator: Option<Usage>,
}

impl Watch {
    /// Starts a window now.
    pub fn start(server: Option<i32>) -> Self {
        Self {
            server,
            start_server: server.and_then(|pid| sample(pid).ok()),
            start_self: sample(std::process::id() as i32).ok(),
        }
    }

    /// Ends the window.
    pub fn stop(&self) -> WindowUsage {
        let server = match (self.server, self.start_server) {
            (Some(pid), Some(a)) => sample(pid).ok().map(|b| between(&a, &b)),
            _ => None,
        };
        let generator = self.start_self.and_then(|a| {
            sample(std::process::id() as i32)
                .ok()
                .map(|b| between(&a, &b))
        });
        WindowUsage { server, generator }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let a = sample(std::process::id() as i32).unwrap();
        let mut x = 0u64;
        for i in 0..3_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        let b = sample(std::process::id() as i32).unwrap();
        assert!(b.rss > 1 << 20, "rss {}", b.rss);
        let u = between(&a, &b);
        assert!(u.cpu_percent >= 0.0);
        assert!(sample(i32::MAX).is_err());
    }
}

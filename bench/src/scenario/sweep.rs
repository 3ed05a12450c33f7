//! `sweep`: the sweeper over many sessions of which a few are due (Tandem
//! only). Sessions are made due by time, through the server's own settings:
//! the server runs with a short `TANDEM_ABANDON_AFTER` (A) and
//! `TANDEM_SWEEP_INTERVAL` (I); the tool creates the `due` sessions, waits
//! `gap` (> I), then creates the others, all within A. The due sessions
//! become due A after they were created, when the others are still A −
//! `gap` or less old, so one sweep (or two, if a sweep falls among the
//! creations of the due ones) abandons exactly them while every session
//! exists.
//!
//! Tandem has no endpoint that triggers a sweep or reports its cost, so the
//! figures come from the server's own `sweep` log line (`duration_ms`, at
//! info when something was swept, at debug otherwise): run the server with
//! `RUST_LOG=warn,tandem::sweeper=debug` and its stderr in `log`.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::load::secs;
use super::Common;
use crate::procstat;
use crate::report::{Outcome, Step};
use crate::target::TargetKind;

/// The sweep run's settings.
#[derive(Debug, Clone, Serialize)]
pub struct SweepSettings {
    /// Sessions in all.
    pub sessions: usize,
    /// Sessions that are due.
    pub due: usize,
    /// The server's `TANDEM_ABANDON_AFTER`.
    #[serde(with = "secs")]
    pub abandon_after: Duration,
    /// Wait between the due sessions and the others (more than the sweep interval).
    #[serde(with = "secs")]
    pub gap: Duration,
    /// Concurrent creation requests.
    pub concurrency: usize,
    /// The server's log (its stderr).
    pub log: PathBuf,
}

/// One `sweep` log line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SweepLine {
    /// Due sessions read from the index.
    pub examined: u64,
    /// Sessions abandoned.
    pub abandoned: u64,
    /// Errors.
    pub errors: u64,
    /// Duration, ms.
    pub duration_ms: f64,
}

/// Parses a `sweep` event of the server's log (ANSI colours allowed).
pub fn parse_sweep_line(line: &str) -> Option<SweepLine> {
    let mut clean = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            clean.push(c);
        }
    }
    if !clean.contains("tandem::sweeper") || !clean.contains(" sweep ") {
        return None;
    }
    let field = |name: &str| -> Option<f64> {
        clean
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    Some(SweepLine {
        examined: field("examined")? as u64,
        abandoned: field("abandoned").unwrap_or(0.0) as u64,
        errors: field("errors").unwrap_or(0.0) as u64,
        duration_ms: field("duration_ms")?,
    })
}

/// Reads what was appended to a log file since the last call.
struct Tail {
    path: PathBuf,
    pos: u64,
    partial: String,
}

impl Tail {
    fn at_end(path: &Path) -> anyhow::Result<Self> {
        let pos = std::fs::metadata(path)
            .with_context(|| format!("server log {}", path.display()))?
            .len();
        Ok(Self {
            path: path.to_owned(),
            pos,
            partial: String::new(),
        })
    }

    fn lines(&mut self) -> anyhow::Result<Vec<String>> {
        let mut f = std::fs::File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.pos))?;
        let mut buf = String::new();
        let n = f.read_to_string(&mut buf)?;
        self.pos += n as u64;
        self.partial.push_str(&buf);
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_owned).collect();
        self.partial = lines.pop().unwrap_or_default();
        Ok(lines)
    }
}

/// Runs the sweep measurement.
pub async fn sweep(common: &Common, s: &SweepSettings) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        common.target.kind == TargetKind::Tandem,
        "sweep runs against Tandem only"
    );
    anyhow::ensure!(s.due > 0 && s.due < s.sessions, "need 0 < due < sessions");
    let mut tail = Tail::at_end(&s.log)?;
    let rss_before = common
        .server_pid
        .and_then(|p| procstat::sample(p).ok())
        .map(|x| x.rss);
    let t0 = Instant::now();
    common.target.create_groups(s.due, 0, s.concurrency).await?;
    tokio::time::sleep(s.gap).await;
    let seeding = Instant::now();
    common
        .target
        .create_groups(s.sessions - s.due, 0, s.concurrency)
        .await?;
    let seeded = seeding.elapsed();
    let since_due = t0.elapsed();
    anyhow::ensure!(
        since_due + Duration::from_secs(1) < s.abandon_after,
        "creating the sessions took {:.1}s: run the server with a TANDEM_ABANDON_AFTER above {:.0}s (it has {:.0}s)",
        since_due.as_secs_f64(),
        since_due.as_secs_f64() + 10.0,
        s.abandon_after.as_secs_f64()
    );
    let rss_seeded = common
        .server_pid
        .and_then(|p| procstat::sample(p).ok())
        .map(|x| x.rss);
    // Wait for the sweeps that abandon the due sessions, then one more.
    let deadline = t0 + s.abandon_after + Duration::from_secs(60);
    let mut due_sweeps: Vec<SweepLine> = Vec::new();
    let mut empty_sweeps: Vec<SweepLine> = Vec::new();
    let mut abandoned = 0;
    while Instant::now() < deadline {
        for line in tail.lines()?.iter().filter_map(|l| parse_sweep_line(l)) {
            if line.abandoned > 0 || line.examined > 0 {
                abandoned += line.abandoned;
                due_sweeps.push(line);
            } else {
                empty_sweeps.push(line);
            }
        }
        if abandoned >= s.due as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        abandoned >= s.due as u64,
        "the server logged {abandoned} abandoned sessions, not {}: is its TANDEM_ABANDON_AFTER {:.0}s, and its log (with tandem::sweeper at info or debug) {}?",
        s.due,
        s.abandon_after.as_secs_f64(),
        s.log.display()
    );
    let total_ms: f64 = due_sweeps.iter().map(|l| l.duration_ms).sum();
    let examined: u64 = due_sweeps.iter().map(|l| l.examined).sum();
    let errors: u64 = due_sweeps.iter().map(|l| l.errors).sum();
    let mut figures = BTreeMap::new();
    figures.insert("sessions".into(), s.sessions as f64);
    figures.insert("due".into(), s.due as f64);
    figures.insert("abandoned".into(), abandoned as f64);
    figures.insert("examined".into(), examined as f64);
    figures.insert("sweep_errors".into(), errors as f64);
    figures.insert("sweeps".into(), due_sweeps.len() as f64);
    figures.insert("sweep_ms".into(), total_ms);
    figures.insert(
        "ms_per_due_session".into(),
        total_ms / abandoned.max(1) as f64,
    );
    if let Some(e) = empty_sweeps.last() {
        figures.insert("empty_sweep_ms".into(), e.duration_ms);
    }
    figures.insert(
        "seeding_sessions_per_s".into(),
        (s.sessions - s.due) as f64 / seeded.as_secs_f64().max(1e-9),
    );
    if let (Some(a), Some(b)) = (rss_before, rss_seeded) {
        figures.insert(
            "rss_per_session_bytes".into(),
            (b as f64 - a as f64) / s.sessions as f64,
        );
    }
    let step = Step {
        name: "sweep".into(),
        figures: figures.clone(),
        pass: Some(errors == 0 && abandoned == s.due as u64),
        ..Default::default()
    };
    super::outcome(common, "sweep", s, vec![step], figures, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_servers_sweep_lines() {
        let plain = "2026-01-01T00:00:00.000001Z  INFO tandem::sweeper: sweep examined=100 abandoned=100 archived=0 deleted=0 refreshed=0 skipped=0 errors=0 duration_ms=63.25";
        assert_eq!(
            parse_sweep_line(plain),
            Some(SweepLine {
                examined: 100,
                abandoned: 100,
                errors: 0,
                duration_ms: 63.25
            })
        );
        let coloured = "\u{1b}[2m2026-01-01T00:00:00Z\u{1b}[0m \u{1b}[34mDEBUG\u{1b}[0m \u{1b}[2mtandem::sweeper\u{1b}[0m\u{1b}[2m:\u{1b}[0m sweep \u{1b}[3mexamined\u{1b}[0m\u{1b}[2m=\u{1b}[0m0 \u{1b}[3mduration_ms\u{1b}[0m\u{1b}[2m=\u{1b}[0m0.004";
        let l = parse_sweep_line(coloured).unwrap();
        assert_eq!((l.examined, l.abandoned), (0, 0));
        assert!((l.duration_ms - 0.004).abs() < 1e-9);
        assert_eq!(parse_sweep_line("INFO tandem::ws: connection"), None);
    }
}

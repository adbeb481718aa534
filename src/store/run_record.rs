//! What a run directory says about its run, for finding and comparing runs later:
//! `run.json` (status, times, model, device, versions, progress and the best epoch; kept
//! current by the trainer, always rewritten atomically) and `loss.jsonl` (the per-batch
//! training loss, one averaged point per [`LOSS_GROUP`] batches: enough to redraw the
//! Loss chart).
//!
//! Readers ([`read`], [`status_of`], [`read_losses`]) only open files for reading: listing
//! or viewing a run never changes it. A run whose `run.json` says `running` but whose
//! process is gone (killed with `kill -9`, a power cut) reads as
//! [`Status::Interrupted`].

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::run_dir::{self, LOCK_FILE};
pub use super::run_dir::{BEST_MODEL_FILE, BEST_MODEL_TEMP, LOSS_FILE, RECORD_FILE};
use crate::atomic;
use crate::events::{Best, BestBy};

/// Batches averaged into one point of `loss.jsonl`.
pub const LOSS_GROUP: usize = 10;
/// The format of `run.json`.
pub const FORMAT: u32 = 1;

/// The libtorch this program was built against (see `build.rs`).
pub const LIBTORCH_VERSION: &str = env!("FASHION_TUI_LIBTORCH_VERSION");
/// The git commit this program was built from, or "unknown".
pub const GIT_COMMIT: &str = env!("FASHION_TUI_GIT_COMMIT");

/// How a run stands or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Its process is training it now.
    Running,
    /// It ran all its epochs (or stopped early for lack of improvement).
    Finished,
    /// Stopped before the end by the user or a signal, with a checkpoint to resume.
    Stopped,
    /// An error ended it; the record's `reason` says which.
    Failed,
    /// The training loss stopped being finite.
    Diverged,
    /// Its process died without a word (`kill -9`, a crash, a power cut). Never written:
    /// what a `running` record whose process is gone reads as.
    Interrupted,
    /// Never written: what a run whose `run.json` cannot be read reads as.
    Unknown,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Finished => "finished",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
            Status::Diverged => "diverged",
            Status::Interrupted => "interrupted",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The contents of `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format: u32,
    pub status: Status,
    /// The training process, while `running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Why it failed, or what stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub started: String,
    #[serde(default)]
    pub ended: Option<String>,
    pub model: String,
    pub device: String,
    pub libtorch: String,
    /// Of the program that trained it; "unknown" when built outside git.
    pub commit: String,
    pub epochs_planned: usize,
    #[serde(default)]
    pub epochs_done: usize,
    #[serde(default)]
    pub best_epoch: Option<usize>,
    /// What chose the best epoch: `val` (held-out training images) or `test`. Records
    /// from before the choice existed were chosen by test.
    #[serde(default)]
    pub best_by: BestBy,
    /// The best epoch's validation accuracy, when validation chose it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_val_acc: Option<f64>,
    /// The best epoch's test accuracy (when validation chose it, not the highest one).
    #[serde(default)]
    pub best_test_acc: Option<f64>,
    #[serde(default)]
    pub final_test_acc: Option<f64>,
}

/// Now, as RFC 3339 in UTC (`2026-11-30T14:09:22Z`).
pub fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Seconds from `started` to `ended` (both RFC 3339), when both parse.
pub fn seconds_between(started: &str, ended: &str) -> Option<f64> {
    let a: jiff::Timestamp = started.parse().ok()?;
    let b: jiff::Timestamp = ended.parse().ok()?;
    Some((b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0)
}

/// The record in `dir`: `Ok(None)` when there is none, `Err` when it cannot be read or
/// parsed.
pub fn read(dir: &Path) -> Result<Option<RunRecord>> {
    let path = dir.join(RECORD_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{} is not a run record", path.display()))
}

/// Write `rec` into `dir` atomically.
pub fn write(dir: &Path, rec: &RunRecord) -> Result<()> {
    let path = dir.join(RECORD_FILE);
    let mut text = serde_json::to_string_pretty(rec).context("cannot represent the run record")?;
    text.push('\n');
    atomic::write(&path, text.as_bytes())
        .map_err(|e| atomic::explain(e.into(), format!("cannot write {}", path.display())))
}

/// Read, change and rewrite the record in `dir`; nothing happens when there is none.
pub fn update(dir: &Path, change: impl FnOnce(&mut RunRecord)) -> Result<()> {
    if let Some(mut rec) = read(dir)? {
        change(&mut rec);
        write(dir, &rec)?;
    }
    Ok(())
}

/// The status to show for `rec` of the run in `dir`: its own, except that a `running`
/// record whose process is gone, or whose run directory lock nobody holds, is
/// [`Status::Interrupted`]. Looks, never locks (a lock taken to test it could make a
/// starting run fail).
pub fn status_of(dir: &Path, rec: &RunRecord) -> Status {
    if rec.status != Status::Running {
        return rec.status;
    }
    let alive = rec.pid.is_some_and(pid_alive);
    if alive && lock_held(dir) != Some(false) {
        Status::Running
    } else {
        Status::Interrupted
    }
}

/// Whether process `pid` exists (a zombie counts as gone).
fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        // No procfs: ask the kernel (EPERM means it exists, under another user).
        let Ok(p) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(p, 0) };
        return r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    };
    // The state follows the command name in parentheses, which may contain anything.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim().chars().next());
    !matches!(state, Some('Z' | 'X'))
}

/// Whether someone holds a `flock` on the run's lock file, as `/proc/locks` tells:
/// `None` when that cannot be known.
fn lock_held(dir: &Path) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir.join(LOCK_FILE)).ok()?;
    let locks = fs::read_to_string("/proc/locks").ok()?;
    let dev = meta.dev();
    // /proc/locks writes the device as major:minor in hex and the inode in decimal.
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    Some(locks.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(1) == Some(&"FLOCK") && f.iter().any(|x| *x == want)
    }))
}

/// The record of a run starting (or resuming) in `dir` now: `running` with this
/// process's pid, its best epoch chosen `by`. A resumed run keeps its start time.
pub fn start(
    dir: &Path,
    model: &str,
    device: &str,
    epochs_planned: usize,
    resume: bool,
    by: BestBy,
) -> Result<()> {
    let earlier = if resume {
        read(dir).ok().flatten()
    } else {
        None
    };
    let mut rec = RunRecord {
        format: FORMAT,
        status: Status::Running,
        pid: Some(std::process::id()),
        reason: None,
        started: earlier
            .as_ref()
            .map_or_else(now_text, |r| r.started.clone()),
        ended: None,
        model: model.to_string(),
        device: device.to_string(),
        libtorch: LIBTORCH_VERSION.to_string(),
        commit: GIT_COMMIT.to_string(),
        epochs_planned,
        epochs_done: run_dir::recorded_epochs(dir),
        best_epoch: None,
        best_by: by,
        best_val_acc: None,
        best_test_acc: None,
        final_test_acc: run_dir::last_test_acc(dir),
    };
    set_best(&mut rec, best_in_metrics(dir, by));
    write(dir, &rec)
}

/// Record `best` (the best epoch so far) in `rec`.
pub fn set_best(rec: &mut RunRecord, best: Option<Best>) {
    rec.best_epoch = best.map(|b| b.epoch);
    rec.best_test_acc = best.map(|b| b.test_acc);
    rec.best_val_acc = best.filter(|b| b.by == BestBy::Val).map(|b| b.acc);
    if let Some(b) = best {
        rec.best_by = b.by;
    }
}

/// Mark the run in `dir` as ended with `status` now; `reason`, when given, replaces the
/// one recorded (an early stop's).
pub fn end(dir: &Path, status: Status, reason: Option<String>) -> Result<()> {
    update(dir, |r| {
        r.status = status;
        r.pid = None;
        if reason.is_some() {
            r.reason = reason;
        }
        r.ended = Some(now_text());
    })
}

/// The best epoch in `metrics.jsonl` judged `by` validation or test accuracy (the first
/// of equals); epochs without that accuracy are passed over.
pub fn best_in_metrics(dir: &Path, by: BestBy) -> Option<Best> {
    let text = fs::read_to_string(dir.join(run_dir::METRICS_FILE)).ok()?;
    let mut best: Option<Best> = None;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(e), Some(test_acc)) = (v["epoch"].as_u64(), v["test_acc"].as_f64()) else {
            continue;
        };
        let acc = match by {
            BestBy::Test => Some(test_acc),
            BestBy::Val => v["val_acc"].as_f64(),
        };
        let next = acc.map(|acc| Best {
            epoch: e as usize,
            by,
            acc,
            test_acc,
        });
        best = Best::update(best, next);
    }
    best
}

/// Per-batch losses on their way to `loss.jsonl`, averaged [`LOSS_GROUP`] at a time.
#[derive(Debug, Default)]
pub struct LossLog {
    pending: Vec<(f64, f32)>,
}

impl LossLog {
    pub fn push(&mut self, points: &[(f64, f32)]) {
        self.pending.extend_from_slice(points);
    }

    /// Append what is pending to `loss.jsonl` in `dir` (a last short group too) and flush.
    pub fn flush(&mut self, dir: &Path) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for group in self.pending.chunks(LOSS_GROUP) {
            let n = group.len() as f64;
            let at = group.iter().map(|p| p.0).sum::<f64>() / n;
            let loss = group.iter().map(|p| f64::from(p.1)).sum::<f64>() / n;
            text.push_str(&loss_line(at, loss as f32));
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(LOSS_FILE))?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        self.pending.clear();
        Ok(())
    }
}

/// One line of `loss.jsonl`: the loss as the shortest text that reads back as the same
/// `f32` (a value that is not finite, which the trainer never keeps, as `null`).
fn loss_line(at: f64, loss: f32) -> String {
    if loss.is_finite() {
        format!("{{\"epoch\":{at:.5},\"loss\":{loss}}}\n")
    } else {
        format!("{{\"epoch\":{at:.5},\"loss\":null}}\n")
    }
}

/// The points of `loss.jsonl` in `dir` as (fractional epoch, loss); lines that do not
/// parse (a truncated last one) are left out.
pub fn read_losses(dir: &Path) -> Vec<(f64, f32)> {
    fs::read_to_string(dir.join(LOSS_FILE))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((v["epoch"].as_f64()?, v["loss"].as_f64()? as f32))
        })
        .collect()
}

/// Keep only the points of `loss.jsonl` up to fractional epoch `at` (a resumed run
/// rewrites what follows its checkpoint).
pub fn truncate_losses(dir: &Path, at: f64) -> io::Result<()> {
    let path = dir.join(LOSS_FILE);
    if !path.exists() {
        return Ok(());
    }
    let kept: String = read_losses(dir)
        .into_iter()
        .filter(|(x, _)| *x <= at + 1e-9)
        .map(|(x, l)| loss_line(x, l))
        .collect();
    atomic::write(&path, kept.as_bytes())
}

/// A diverged run's error (its text says where and what to do), told apart from other
/// failures for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diverged(pub String);

impl fmt::Display for Diverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Diverged {}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: Status, pid: Option<u32>) -> RunRecord {
        RunRecord {
            format: FORMAT,
            status,
            pid,
            reason: None,
            started: "2026-11-30T10:00:00Z".into(),
            ended: None,
            model: "seed".into(),
            device: "cpu · 2 threads".into(),
            libtorch: LIBTORCH_VERSION.into(),
            commit: GIT_COMMIT.into(),
            epochs_planned: 3,
            epochs_done: 0,
            best_epoch: None,
            best_by: BestBy::Test,
            best_val_acc: None,
            best_test_acc: None,
            final_test_acc: None,
        }
    }

    #[test]
    fn records_round_trip_and_update() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let rec = record(Status::Running, Some(1));
        write(dir.path(), &rec).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(rec));
        end(dir.path(), Status::Failed, Some("disk full".into())).unwrap();
        let got = read(dir.path()).unwrap().unwrap();
        assert_eq!(got.status, Status::Failed);
        assert_eq!(got.pid, None);
        assert_eq!(got.reason.as_deref(), Some("disk full"));
        assert!(got.ended.is_some());
        fs::write(dir.path().join(RECORD_FILE), "{\"format\":").unwrap();
        assert!(read(dir.path()).is_err());
    }

    #[test]
    fn a_running_record_without_its_process_reads_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        // This process, holding the lock: running.
        let held = run_dir::lock(dir.path()).unwrap();
        let me = record(Status::Running, Some(std::process::id()));
        assert_eq!(status_of(dir.path(), &me), Status::Running);
        drop(held);
        // Alive but nobody holds the lock (the pid was reused): interrupted. (A lock
        // file never locked: a child spawned meanwhile by another test could share the
        // one just released until it execs.)
        let free = tempfile::tempdir().unwrap();
        fs::write(free.path().join(LOCK_FILE), "1\n").unwrap();
        assert_eq!(status_of(free.path(), &me), Status::Interrupted);
        // A pid that cannot exist.
        let gone = record(Status::Running, Some(u32::MAX - 1));
        assert_eq!(status_of(dir.path(), &gone), Status::Interrupted);
        let none = record(Status::Running, None);
        assert_eq!(status_of(dir.path(), &none), Status::Interrupted);
        let done = record(Status::Finished, None);
        assert_eq!(status_of(dir.path(), &done), Status::Finished);
    }

    #[test]
    fn losses_are_averaged_in_groups_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LossLog::default();
        let points: Vec<(f64, f32)> = (1..=25).map(|b| (b as f64 / 100.0, b as f32)).collect();
        log.push(&points);
        log.flush(dir.path()).unwrap();
        let got = read_losses(dir.path());
        assert_eq!(got.len(), 3);
        assert!(
            (got[0].0 - 0.055).abs() < 1e-9 && got[0].1 == 5.5,
            "{got:?}"
        );
        assert!(
            (got[2].0 - 0.23).abs() < 1e-9 && got[2].1 == 23.0,
            "{got:?}"
        );
        truncate_losses(dir.path(), 0.2).unwrap();
        assert_eq!(read_losses(dir.path()).len(), 2);
    }

    #[test]
    fn the_best_epoch_is_the_first_of_the_highest() {
        let dir = tempfile::tempdir().unwrap();
        let lines = "{\"epoch\":1,\"test_acc\":0.5}\n{\"epoch\":2,\"test_acc\":0.7}\n\
                     {\"epoch\":3,\"test_acc\":0.7}\n{\"epoch\":4,\"test_a";
        fs::write(dir.path().join(run_dir::METRICS_FILE), lines).unwrap();
        let best = best_in_metrics(dir.path(), BestBy::Test).unwrap();
        assert_eq!((best.epoch, best.acc, best.test_acc), (2, 0.7, 0.7));
        assert_eq!(best_in_metrics(dir.path(), BestBy::Val), None);
    }

    #[test]
    fn validation_chooses_the_best_epoch_when_it_is_held_out() {
        let dir = tempfile::tempdir().unwrap();
        let lines = "{\"epoch\":1,\"test_acc\":0.5,\"val_acc\":0.6}\n\
                     {\"epoch\":2,\"test_acc\":0.8,\"val_acc\":0.7}\n\
                     {\"epoch\":3,\"test_acc\":0.7,\"val_acc\":0.9}\n";
        fs::write(dir.path().join(run_dir::METRICS_FILE), lines).unwrap();
        let best = best_in_metrics(dir.path(), BestBy::Val).unwrap();
        assert_eq!((best.epoch, best.acc, best.test_acc), (3, 0.9, 0.7));
        let mut rec = record(Status::Running, None);
        set_best(&mut rec, Some(best));
        assert_eq!(rec.best_by, BestBy::Val);
        assert_eq!(
            (rec.best_epoch, rec.best_val_acc, rec.best_test_acc),
            (Some(3), Some(0.9), Some(0.7))
        );
        let text = serde_json::to_string(&rec).unwrap();
        assert!(text.contains("\"best_by\":\"val\""), "{text}");
        // By test the same file has another best.
        let best = best_in_metrics(dir.path(), BestBy::Test).unwrap();
        assert_eq!(best.epoch, 2);
        set_best(&mut rec, Some(best));
        assert_eq!((rec.best_by, rec.best_val_acc), (BestBy::Test, None));
        // Older records without the field read as chosen by test.
        let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
        old.as_object_mut().unwrap().remove("best_by");
        let back: RunRecord = serde_json::from_value(old).unwrap();
        assert_eq!(back.best_by, BestBy::Test);
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let t = now_text();
        assert!(t.ends_with('Z') && t.len() == 20, "{t}");
        assert_eq!(
            seconds_between("2026-11-30T10:00:00Z", "2026-11-30T10:01:30Z"),
            Some(90.0)
        );
    }
}

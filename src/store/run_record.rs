//! What a run directory says about its run, for finding and comparing runs later:
//! `run.json` (status, times, model, device, versions, progress and the best epoch; kept
//! current by the trainer, always rewritten atomically). The loss history is in
//! [`super::losses`], the epochs in [`super::metrics`].
//!
//! Readers ([`read`], [`status_of`]) only open files for reading: listing or viewing a
//! run never changes it. A run whose `run.json` says `running` but whose directory's lock
//! nobody holds (its process was killed with `kill -9`, a power cut) reads as
//! [`Status::Interrupted`]: the lock, not the pid, says whether a run lives.

use std::fmt;
use std::fs;
use std::io;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::metrics;
use super::run_dir::{LOCK_FILE, RECORD_FILE};
use crate::events::{Best, BestBy};
use crate::files::{Dir, KB};

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
    /// The last time a terminal left the run training on: when, and which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detached: Option<String>,
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

/// The most `run.json` holds: a record is a few hundred bytes.
const BOUND: u64 = 64 * KB;

/// The record in `dir`: `Ok(None)` when there is none, `Err` when it cannot be read or
/// parsed.
pub fn read(dir: &Dir) -> Result<Option<RunRecord>> {
    let Some(text) = dir.read_text(RECORD_FILE, BOUND, "a run record (a few hundred bytes)")?
    else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{} is not a run record", dir.join(RECORD_FILE).display()))
}

/// Write `rec` into `dir` atomically.
pub fn write(dir: &Dir, rec: &RunRecord) -> Result<()> {
    let mut text = serde_json::to_string_pretty(rec).context("cannot represent the run record")?;
    text.push('\n');
    let path = dir.join(RECORD_FILE);
    dir.write(RECORD_FILE, text.as_bytes())
        .map_err(|e| crate::atomic::explain(e, format!("cannot write {}", path.display())))
}

/// Read, change and rewrite the record in `dir`; nothing happens when there is none.
pub fn update(dir: &Dir, change: impl FnOnce(&mut RunRecord)) -> Result<()> {
    if let Some(mut rec) = read(dir)? {
        change(&mut rec);
        write(dir, &rec)?;
    }
    Ok(())
}

/// The status to show for `rec` of the run in `dir`: its own, except that a `running`
/// record whose run directory's lock nobody holds is [`Status::Interrupted`] (a live but
/// unrelated process under the recorded pid changes nothing). Looks, never locks (a lock
/// taken to test it could make a starting run fail).
pub fn status_of(dir: &Dir, rec: &RunRecord) -> Status {
    if rec.status != Status::Running {
        return rec.status;
    }
    let running = match lock_held(dir) {
        Some(held) => held,
        // No /proc/locks to ask: the recorded process's life is the best guess.
        None => rec.pid.is_some_and(pid_alive),
    };
    if running {
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

/// Whether someone holds a `flock` on the run's lock file, as `/proc/locks` tells (a
/// missing lock file: nobody); `None` when that cannot be known.
pub fn lock_held(dir: &Dir) -> Option<bool> {
    let locks = fs::read_to_string("/proc/locks").ok()?;
    let Some((dev, ino)) = dir.identity_of(LOCK_FILE) else {
        return Some(false);
    };
    // /proc/locks writes the device as major:minor in hex and the inode in decimal.
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let want = format!("{major:02x}:{minor:02x}:{ino}");
    Some(locks.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(1) == Some(&"FLOCK") && f.iter().any(|x| *x == want)
    }))
}

/// The record of a run starting (or resuming) in `dir` now: `running` with this
/// process's pid, its best epoch chosen `by`. A resumed run keeps its start time.
pub fn start(
    dir: &Dir,
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
        epochs_done: metrics::recorded_epochs(dir),
        best_epoch: None,
        best_by: by,
        best_val_acc: None,
        best_test_acc: None,
        final_test_acc: metrics::last_test_acc(dir),
        detached: None,
    };
    set_best(&mut rec, metrics::best(dir, by));
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
pub fn end(dir: &Dir, status: Status, reason: Option<String>) -> Result<()> {
    update(dir, |r| {
        r.status = status;
        r.pid = None;
        if reason.is_some() {
            r.reason = reason;
        }
        r.ended = Some(now_text());
    })
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
            detached: None,
        }
    }

    #[test]
    fn records_round_trip_and_update() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        assert_eq!(read(&dir).unwrap(), None);
        let rec = record(Status::Running, Some(1));
        write(&dir, &rec).unwrap();
        assert_eq!(read(&dir).unwrap(), Some(rec));
        end(&dir, Status::Failed, Some("disk full".into())).unwrap();
        let got = read(&dir).unwrap().unwrap();
        assert_eq!(got.status, Status::Failed);
        assert_eq!(got.pid, None);
        assert_eq!(got.reason.as_deref(), Some("disk full"));
        assert!(got.ended.is_some());
        fs::write(tmp.path().join(RECORD_FILE), "{\"format\":").unwrap();
        assert!(read(&dir).is_err());
    }

    #[test]
    fn a_running_record_without_its_process_reads_as_interrupted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        // This process, holding the lock: running, whatever pid the record names.
        let held = super::super::run_dir::lock(tmp.path()).unwrap();
        let me = record(Status::Running, Some(std::process::id()));
        assert_eq!(status_of(&dir, &me), Status::Running);
        drop(held);
        // Alive but nobody holds the lock (the pid was reused, or is pid 1): interrupted.
        // (A lock file never locked: a child spawned meanwhile by another test could
        // share the one just released until it execs.)
        let free_tmp = tempfile::tempdir().unwrap();
        let free = Dir::open(free_tmp.path()).unwrap();
        fs::write(free_tmp.path().join(LOCK_FILE), "1\n").unwrap();
        assert_eq!(status_of(&free, &me), Status::Interrupted);
        assert_eq!(
            status_of(&free, &record(Status::Running, Some(1))),
            Status::Interrupted
        );
        // No lock file at all: nobody runs it.
        let bare_tmp = tempfile::tempdir().unwrap();
        let bare = Dir::open(bare_tmp.path()).unwrap();
        assert_eq!(
            status_of(&bare, &record(Status::Running, Some(1))),
            Status::Interrupted
        );
        let none = record(Status::Running, None);
        assert_eq!(status_of(&free, &none), Status::Interrupted);
        let done = record(Status::Finished, None);
        assert_eq!(status_of(&dir, &done), Status::Finished);
    }

    #[test]
    fn the_best_epoch_is_the_first_of_the_highest() {
        let dir = tempfile::tempdir().unwrap();
        let lines = "{\"epoch\":1,\"test_acc\":0.5}\n{\"epoch\":2,\"test_acc\":0.7}\n\
                     {\"epoch\":3,\"test_acc\":0.7}\n{\"epoch\":4,\"test_a";
        fs::write(dir.path().join(super::super::run_dir::METRICS_FILE), lines).unwrap();
        let d = Dir::open(dir.path()).unwrap();
        let best = metrics::best(&d, BestBy::Test).unwrap();
        assert_eq!((best.epoch, best.acc, best.test_acc), (2, 0.7, 0.7));
        assert_eq!(metrics::best(&d, BestBy::Val), None);
    }

    #[test]
    fn validation_chooses_the_best_epoch_when_it_is_held_out() {
        let dir = tempfile::tempdir().unwrap();
        let lines = "{\"epoch\":1,\"test_acc\":0.5,\"val_acc\":0.6}\n\
                     {\"epoch\":2,\"test_acc\":0.8,\"val_acc\":0.7}\n\
                     {\"epoch\":3,\"test_acc\":0.7,\"val_acc\":0.9}\n";
        fs::write(dir.path().join(super::super::run_dir::METRICS_FILE), lines).unwrap();
        let d = Dir::open(dir.path()).unwrap();
        let best = metrics::best(&d, BestBy::Val).unwrap();
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
        let best = metrics::best(&d, BestBy::Test).unwrap();
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

//! A run's directory: the effective config, `metrics.jsonl` (one line per epoch) and the
//! model as `.safetensors`, each written so that a crash never leaves a half-written file
//! under its final name.
//!
//! Its rules, kept by [`claim`]: one process at a time (an exclusive `flock` on
//! [`LOCK_FILE`], held while the run lives and released by the kernel when the process
//! dies, however it dies), and a run in it is never overwritten by a new one unless the
//! user asks for it ([`clear_run`], `--overwrite`). Temp files of a write that died are
//! removed at every start.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::atomic;
use crate::error::UsageError;
use crate::events::EpochSummary;

pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const MODEL_FILE: &str = "model.safetensors";
/// The model's temp name while it is written (tch picks the format by the extension).
pub const MODEL_TEMP: &str = ".model.tmp.safetensors";
/// The run's record (status, times, versions, best epoch): see `run_record`.
pub const RECORD_FILE: &str = "run.json";
/// The per-batch training loss, averaged a few batches at a time: see `run_record`.
pub const LOSS_FILE: &str = "loss.jsonl";
/// The best epoch's model, beside the latest.
pub const BEST_MODEL_FILE: &str = "best.safetensors";
/// Its temp name while written.
pub const BEST_MODEL_TEMP: &str = ".best.tmp.safetensors";
/// Locked by the process that uses the run directory; holds its pid.
pub const LOCK_FILE: &str = ".lock";

/// This process's exclusive hold on a run directory, released when the last clone is
/// dropped (or the process dies). Holding it twice in one process shares it: the command
/// holds it for the process's life, the trainer again for the run.
#[derive(Debug, Clone)]
pub struct RunLock {
    _file: Arc<File>,
    dir: PathBuf,
}

impl RunLock {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The run directories this process holds, by canonical path.
static HELD: Mutex<Vec<(PathBuf, Weak<File>)>> = Mutex::new(Vec::new());

/// Take the run directory `dir` (created if needed) for this process; refused with the
/// holder's pid when another process has it.
pub fn lock(dir: &Path) -> Result<RunLock> {
    if dir.exists() && !dir.is_dir() {
        return Err(UsageError(format!(
            "{} is a file, not a directory: a run needs a directory of its own (--run-dir)",
            dir.display()
        ))
        .into());
    }
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create run directory {}", dir.display()))?;
    let key = fs::canonicalize(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    held.retain(|(_, f)| f.strong_count() > 0);
    if let Some(file) = held
        .iter()
        .find(|(p, _)| *p == key)
        .and_then(|(_, f)| f.upgrade())
    {
        return Ok(RunLock {
            _file: file,
            dir: dir.to_path_buf(),
        });
    }
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match try_flock(&file) {
        Ok(true) => {}
        Ok(false) => {
            let holder = fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .map_or_else(
                    || "another fashion-tui process".to_string(),
                    |pid| format!("another fashion-tui process (pid {pid})"),
                );
            return Err(UsageError(format!(
                "{} is in use by {holder}: one process per run directory. Wait for it to \
                 finish or stop it, or use another --run-dir",
                dir.display()
            ))
            .into());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
    // For the message of whoever comes second; the lock, not this text, is what counts.
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let file = Arc::new(file);
    held.push((key, Arc::downgrade(&file)));
    Ok(RunLock {
        _file: file,
        dir: dir.to_path_buf(),
    })
}

/// An exclusive, non-blocking `flock` on `file`: `Ok(false)` when another open file
/// description (another process) holds it. (`File::try_lock` needs Rust 1.89.)
fn try_flock(file: &File) -> io::Result<bool> {
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// The files that make a run (beside its checkpoint directory).
const RUN_FILES: [&str; 7] = [
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    MODEL_JSON,
    RECORD_FILE,
    LOSS_FILE,
    BEST_MODEL_FILE,
];

/// The files of a run of ours in `dir` that exist (names relative to `dir`): its config,
/// metrics, model or checkpoint. Temp files and the lock file do not make a run.
pub fn run_files(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = RUN_FILES
        .into_iter()
        .filter(|f| dir.join(f).exists())
        .map(String::from)
        .collect();
    let ckpt = dir.join(super::checkpoint::DIR);
    if super::checkpoint::has_files(&ckpt) {
        found.push(format!("{}/", super::checkpoint::DIR));
    }
    found
}

/// Take `dir` for a run: lock it ([`lock`]), remove orphaned temp files, and unless
/// `resume`, refuse a directory that already holds a run (an empty one is fine).
pub fn claim(dir: &Path, resume: bool) -> Result<RunLock> {
    let held = lock(dir)?;
    clean_temps(dir);
    if !resume {
        let files = run_files(dir);
        if !files.is_empty() {
            let d = dir.display();
            return Err(UsageError(format!(
                "{d} already holds a run ({}); it is never overwritten silently. Continue \
                 it with `fashion-tui train --resume {d}`, start over in it with \
                 `--run-dir {d} --overwrite` (deletes that run), or choose another --run-dir",
                files.join(", ")
            ))
            .into());
        }
    }
    Ok(held)
}

/// Delete the run of ours in the locked directory (its config, metrics, model and
/// checkpoint; nothing else) so that a new one can start there. Returns what was deleted.
pub fn clear_run(held: &RunLock) -> Result<Vec<String>> {
    let dir = held.dir();
    let files = run_files(dir);
    for f in RUN_FILES {
        let path = dir.join(f);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot delete {}", path.display())),
        }
    }
    super::checkpoint::remove_all(&dir.join(super::checkpoint::DIR))?;
    clean_temps(dir);
    Ok(files)
}

/// Remove the temp files our writers leave in `dir` when killed mid-write (a failed write
/// removes its own); the checkpoint directory's are removed by `checkpoint::clean`.
pub fn clean_temps(dir: &Path) {
    let temps = [CONFIG_FILE, METRICS_FILE, RECORD_FILE, LOSS_FILE]
        .map(|f| atomic::temp_path(&dir.join(f)))
        .into_iter()
        .chain([dir.join(MODEL_TEMP), dir.join(BEST_MODEL_TEMP)]);
    for t in temps {
        let _ = fs::remove_file(t);
    }
}

/// Beside the model: its architecture, tensor shapes, input scaling and class names.
pub const MODEL_JSON: &str = "model.json";

/// `<user data dir>/runs`, where runs go by default.
pub fn default_runs_root() -> Option<PathBuf> {
    crate::paths::data_dir().map(|d| d.join("runs"))
}

/// A new directory `<root>/<YYYYmmdd-HHMMSS>-<model>` (with `-2`, `-3`… if taken).
pub fn create_under(root: &Path, model: &str) -> Result<PathBuf> {
    fs::create_dir_all(root)
        .with_context(|| format!("cannot create runs directory {}", root.display()))?;
    let stamp = utc_stamp(SystemTime::now());
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{stamp}-{model}")
        } else {
            format!("{stamp}-{model}-{n}")
        };
        let dir = root.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create run directory {}", dir.display()))
            }
        }
    }
    anyhow::bail!("too many runs named {stamp}-{model} in {}", root.display())
}

/// `YYYYmmdd-HHMMSS` in UTC (a clock before 1970 reads as 1970-01-01).
pub fn utc_stamp(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t.max(UNIX_EPOCH))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%d-%H%M%S")
        .to_string()
}

/// Append one epoch to `metrics.jsonl` and flush it to disk.
pub fn append_metrics(dir: &Path, s: &EpochSummary) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(METRICS_FILE))?;
    writeln!(f, "{}", crate::events::json::epoch(s))?;
    f.sync_data()
}

/// Keep only the first `epochs` lines of `metrics.jsonl` (a resumed run rewrites the
/// epochs after its checkpoint).
pub fn truncate_metrics(dir: &Path, epochs: usize) -> io::Result<()> {
    let path = dir.join(METRICS_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // A line that is not UTF-8 is dropped like any other line that is not an epoch's.
    let kept: String = String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["epoch"].as_u64())
                .is_some_and(|e| e as usize <= epochs)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    atomic::write(&path, kept.as_bytes())
}

/// The highest epoch recorded in `metrics.jsonl` (0 when none).
pub fn recorded_epochs(dir: &Path) -> usize {
    let bytes = fs::read(dir.join(METRICS_FILE)).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["epoch"].as_u64())
        .max()
        .map_or(0, |e| e as usize)
}

/// The test accuracy of the last epoch in `metrics.jsonl`, if any.
pub fn last_test_acc(dir: &Path) -> Option<f64> {
    let bytes = fs::read(dir.join(METRICS_FILE)).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let last = text.lines().rfind(|l| !l.trim().is_empty())?;
    serde_json::from_str::<serde_json::Value>(last).ok()?["test_acc"].as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_calendar_dates() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101-000000");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_827_723);
        assert_eq!(utc_stamp(t), "20261128-010203");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(utc_stamp(leap), "20000229-000000");
    }

    #[test]
    fn run_dirs_never_collide() {
        let root = tempfile::tempdir().unwrap();
        let a = create_under(root.path(), "seed").unwrap();
        let b = create_under(root.path(), "seed").unwrap();
        assert_ne!(a, b);
        assert!(a.is_dir() && b.is_dir());
    }

    #[test]
    fn a_run_is_refused_unless_resumed_or_cleared_and_an_empty_dir_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("run");
        let held = claim(&d, false).unwrap();
        // This process may hold it again (the command, then the trainer).
        let again = claim(&d, false).unwrap();
        drop(again);
        fs::write(d.join(CONFIG_FILE), "").unwrap();
        fs::create_dir(d.join("checkpoint")).unwrap();
        fs::write(d.join("checkpoint").join("ckpt-1.safetensors"), "").unwrap();
        fs::write(d.join("notes.txt"), "mine").unwrap();
        drop(held);
        let err = claim(&d, false).err().unwrap();
        assert!(err.is::<UsageError>(), "{err:#}");
        assert!(
            err.to_string().contains("(config.toml, checkpoint/)"),
            "{err}"
        );
        let held = claim(&d, true).unwrap();
        assert_eq!(clear_run(&held).unwrap(), ["config.toml", "checkpoint/"]);
        assert!(!d.join("checkpoint").exists());
        assert!(d.join("notes.txt").exists());
        assert!(claim(&d, false).is_ok());
        // A file where the run directory should be.
        let file = dir.path().join("a-file");
        fs::write(&file, "mine").unwrap();
        let err = claim(&file, false).err().unwrap();
        assert!(err.is::<UsageError>(), "{err:#}");
        assert!(
            err.to_string().contains("is a file, not a directory"),
            "{err}"
        );
        // A model.json alone (a user's, or one left by a run) is not overwritten either.
        fs::write(d.join(MODEL_JSON), "mine").unwrap();
        let err = claim(&d, false).err().unwrap();
        assert!(err.to_string().contains("(model.json)"), "{err}");
    }

    #[test]
    fn metrics_are_truncated_to_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (1..=4)
            .map(|e| format!("{{\"epoch\":{e},\"test_acc\":0.{e}}}\n"))
            .collect();
        fs::write(dir.path().join(METRICS_FILE), lines).unwrap();
        truncate_metrics(dir.path(), 2).unwrap();
        let left = fs::read_to_string(dir.path().join(METRICS_FILE)).unwrap();
        assert_eq!(
            left,
            "{\"epoch\":1,\"test_acc\":0.1}\n{\"epoch\":2,\"test_acc\":0.2}\n"
        );
        assert_eq!(last_test_acc(dir.path()), Some(0.2));
        // A line that is not UTF-8 (a damaged file) is dropped, not an error, and does not
        // hide the epochs before it.
        let mut damaged = fs::read(dir.path().join(METRICS_FILE)).unwrap();
        damaged.extend_from_slice(b"\xff\xfe\n");
        fs::write(dir.path().join(METRICS_FILE), damaged).unwrap();
        assert_eq!(recorded_epochs(dir.path()), 2);
        truncate_metrics(dir.path(), 2).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(METRICS_FILE)).unwrap(),
            left
        );
    }
}

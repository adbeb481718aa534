//! A run's directory: its files by name, and its rules, kept by [`claim`]: one process at
//! a time (an exclusive `flock` on [`LOCK_FILE`], held while the run lives and released by
//! the kernel when the process dies, however it dies), and a run in it is never
//! overwritten by a new one unless the user asks for it ([`clear_run`], `--overwrite`).
//! Temp files of a write that died are removed at every start.
//!
//! The directory is held open ([`crate::files::Dir`]): every file in it is reached
//! through that handle and never through a planted link, so a `.lock` or `checkpoint/`
//! someone replaced by a link is refused, naming it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::error::UsageError;
use crate::files::{self, Dir, KB};

pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const MODEL_FILE: &str = "model.safetensors";
/// The run's record (status, times, versions, best epoch): see `run_record`.
pub const RECORD_FILE: &str = "run.json";
/// The per-batch training loss, averaged a few batches at a time: see `losses`.
pub const LOSS_FILE: &str = "loss.jsonl";
/// The best epoch's model, beside the latest.
pub const BEST_MODEL_FILE: &str = "best.safetensors";
/// Locked by the process that uses the run directory; holds its pid.
pub const LOCK_FILE: &str = ".lock";
/// Where a run in the background writes what a headless one prints.
pub const LOG_FILE: &str = "train.log";
/// The live run's socket's directory (see `live::socket`).
pub const LIVE_DIR: &str = ".live";
/// Beside the model: its architecture, tensor shapes, input scaling and class names.
pub const MODEL_JSON: &str = "model.json";

/// This process's exclusive hold on a run directory, released when the last clone is
/// dropped (or the process dies). Holding it twice in one process shares it: the command
/// holds it for the process's life, the trainer again for the run.
#[derive(Debug, Clone)]
pub struct RunLock {
    _file: Arc<File>,
    dir: Arc<Dir>,
}

impl RunLock {
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The directory's handle, through which its files are reached.
    pub fn handle(&self) -> &Dir {
        &self.dir
    }

    /// Say in the lock file that this process holds it now: the run's own process, forked
    /// from the command that took the lock. (The lock itself passed with the descriptor.)
    pub fn mark_mine(&self) {
        use std::os::unix::fs::FileExt;
        let pid = format!("{}\n", std::process::id());
        // Only a message for whoever comes second: a failure here changes nothing.
        let _ = self._file.set_len(0);
        let _ = self._file.write_all_at(pid.as_bytes(), 0);
    }
}

/// The run directories this process holds, by device and inode.
#[allow(clippy::type_complexity)]
static HELD: Mutex<Vec<((u64, u64), Weak<File>, Weak<Dir>)>> = Mutex::new(Vec::new());

/// Take the run directory `dir` (created if needed) for this process; refused with the
/// holder's pid when another process has it, and when its lock file is a link.
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
    let handle = Dir::open(dir)?;
    let key = handle.identity()?;
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    held.retain(|(_, f, _)| f.strong_count() > 0);
    if let Some((file, d)) = held
        .iter()
        .find(|(k, _, _)| *k == key)
        .and_then(|(_, f, d)| Some((f.upgrade()?, d.upgrade()?)))
    {
        return Ok(RunLock {
            _file: file,
            dir: d,
        });
    }
    let mut file = handle.open_rw(LOCK_FILE)?;
    if !try_flock(&file)
        .with_context(|| format!("cannot lock {}", handle.join(LOCK_FILE).display()))?
    {
        let holder = handle
            .read_text(LOCK_FILE, KB, "a process number")
            .ok()
            .flatten()
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
    // For the message of whoever comes second; the lock, not this text, is what counts.
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .with_context(|| format!("cannot write {}", handle.join(LOCK_FILE).display()))?;
    let (file, handle) = (Arc::new(file), Arc::new(handle));
    held.push((key, Arc::downgrade(&file), Arc::downgrade(&handle)));
    Ok(RunLock {
        _file: file,
        dir: handle,
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
/// metrics, model or checkpoint. Temp files and the lock file do not make a run; a link
/// under one of these names counts (and is refused when the run would write it).
pub fn run_files(dir: &Dir) -> Vec<String> {
    let mut found: Vec<String> = RUN_FILES
        .into_iter()
        .filter(|f| dir.has(f))
        .map(String::from)
        .collect();
    if super::checkpoint::has_files(dir) {
        found.push(format!("{}/", super::checkpoint::DIR));
    }
    found
}

/// Take `dir` for a run: lock it ([`lock`]), remove orphaned temp files, and unless
/// `resume`, refuse a directory that already holds a run (an empty one is fine).
pub fn claim(dir: &Path, resume: bool) -> Result<RunLock> {
    let held = lock(dir)?;
    clean_temps(held.handle());
    if !resume {
        let files = run_files(held.handle());
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
/// Links under those names are removed as links; a `checkpoint` that is a link is refused.
pub fn clear_run(held: &RunLock) -> Result<Vec<String>> {
    let dir = held.handle();
    let files = run_files(dir);
    super::checkpoint::remove_all(dir)?;
    for f in RUN_FILES.into_iter().chain([LOG_FILE]) {
        dir.remove(f)
            .with_context(|| format!("cannot delete {}", dir.join(f).display()))?;
    }
    clean_temps(dir);
    Ok(files)
}

/// Remove the run directory the command made, held in `held`, when the run wrote
/// nothing into it (it failed before it began): only the lock, the socket's directory
/// and the log are there. Anything else keeps it.
pub fn remove_if_unused(held: &RunLock) {
    let dir = held.handle();
    if !run_files(dir).is_empty() {
        return;
    }
    let leftovers = [LOCK_FILE, LIVE_DIR, LOG_FILE];
    let names = dir.names().unwrap_or_default();
    if names.iter().any(|n| !leftovers.contains(&n.as_str())) {
        return;
    }
    dir.remove_dir(LIVE_DIR);
    let _ = dir.remove(LOG_FILE);
    let _ = dir.remove(LOCK_FILE);
    if let (Some(parent), Some(name)) = (dir.path().parent(), dir.path().file_name()) {
        let _ = fs::remove_dir(parent.join(name));
    }
}

/// Remove the temp files our writers leave in `dir` when killed mid-write (a failed write
/// removes its own); the checkpoint directory's are removed by `checkpoint::clean`.
pub fn clean_temps(dir: &Dir) {
    for f in [
        CONFIG_FILE,
        METRICS_FILE,
        RECORD_FILE,
        LOSS_FILE,
        MODEL_FILE,
        BEST_MODEL_FILE,
        MODEL_JSON,
    ] {
        let _ = dir.remove(&files::temp_name(f));
    }
    // The model files' temp names of earlier versions.
    for f in [".model.tmp.safetensors", ".best.tmp.safetensors"] {
        let _ = dir.remove(f);
    }
}

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
}

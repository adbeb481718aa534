//! The runs in a runs directory, as `fashion-tui runs` lists them and `view` finds them:
//! one [`RunEntry`] per run directory, read from its `run.json` and the last line of its
//! `metrics.jsonl` only (fast with thousands of runs), with what is wrong with it in
//! words. Runs from before `run.json` existed (config and metrics only) are read too,
//! their status derived. Nothing here writes or locks: reading never changes a run.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::history::{StoredRun, CONFIG_BOUND};
use super::metrics;
use super::run_dir::{CONFIG_FILE, METRICS_FILE, MODEL_FILE, RECORD_FILE};
use super::run_record::{self, RunRecord, Status};
use crate::config::Config;
use crate::events::BestBy;
use crate::files::Dir;

/// One run directory, as far as it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// The directory's name.
    pub name: String,
    pub dir: PathBuf,
    /// RFC 3339 UTC, when known.
    pub started: Option<String>,
    pub model: Option<String>,
    pub epochs_done: usize,
    pub epochs_planned: Option<usize>,
    pub status: Status,
    /// Whether the status was derived (no `run.json`: a run from an older version).
    pub derived: bool,
    pub best_epoch: Option<usize>,
    /// What chose the best epoch: validation (held-out training images) or test.
    pub best_by: BestBy,
    /// The best epoch's validation accuracy, when validation chose it.
    pub best_val_acc: Option<f64>,
    /// The best epoch's test accuracy.
    pub best_test_acc: Option<f64>,
    pub final_test_acc: Option<f64>,
    /// From start to end (or to now, while it runs).
    pub seconds: Option<f64>,
    /// Why it failed or stopped.
    pub reason: Option<String>,
    /// Its `config.toml`, when it parses.
    pub config: Option<Config>,
    /// What is wrong with it, in words (`no metrics`, `metrics.jsonl: last line cut off`).
    pub problems: Vec<String>,
}

/// What a runs directory holds: its runs, and the folders that are not runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub runs: Vec<RunEntry>,
    /// Names of folders that hold nothing of a run (skipped).
    pub skipped: Vec<String>,
}

/// Read every run directory directly under `root`. An entry that is a link (to a
/// directory or anything else) is not followed: it is listed as skipped.
pub fn scan(root: &Path) -> anyhow::Result<Catalog> {
    let root_dir = Dir::open(root)?;
    let mut cat = Catalog::default();
    let mut names = root_dir.names()?;
    names.sort();
    for name in names {
        match root_dir.kind(&name) {
            Some("a directory") => {}
            Some("a symbolic link") => {
                cat.skipped
                    .push(format!("{name} (a symbolic link, not followed)"));
                continue;
            }
            _ => continue,
        }
        let entry = root_dir
            .sub(&name)
            .ok()
            .and_then(|d| read_entry(&d, &root.join(&name)));
        match entry {
            Some(e) => cat.runs.push(e),
            None => cat.skipped.push(name),
        }
    }
    Ok(cat)
}

fn name_of(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The run in `dir` (at `path`), or `None` when the folder holds nothing of a run.
pub fn read_entry(dir: &Dir, path: &Path) -> Option<RunEntry> {
    let has = |f: &str| dir.has(f);
    if !has(RECORD_FILE) && !has(CONFIG_FILE) && !has(METRICS_FILE) {
        return None;
    }
    let mut problems = Vec::new();
    let mut unreadable = false;
    let record = match run_record::read(dir) {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("{RECORD_FILE} unreadable ({})", root_cause(&e)));
            unreadable = true;
            None
        }
    };
    let config = read_config(dir, &mut problems);
    let last = last_metrics(dir, &mut problems);
    let last_epoch = last
        .as_ref()
        .and_then(|v| v["epoch"].as_u64())
        .map(|e| e as usize);
    let last_acc = last.as_ref().and_then(|v| v["test_acc"].as_f64());
    let last_planned = last
        .as_ref()
        .and_then(|v| v["epochs"].as_u64())
        .map(|e| e as usize);

    let mut entry = RunEntry {
        name: name_of(path),
        dir: path.to_path_buf(),
        started: None,
        model: config.as_ref().map(|c| c.model.name.to_string()),
        epochs_done: last_epoch.unwrap_or(0),
        epochs_planned: last_planned.or(config.as_ref().map(|c| c.training.epochs)),
        status: Status::Interrupted,
        derived: true,
        best_epoch: None,
        best_by: BestBy::Test,
        best_val_acc: None,
        best_test_acc: None,
        final_test_acc: last_acc,
        seconds: None,
        reason: None,
        config,
        problems,
    };
    match record {
        Some(rec) => from_record(dir, &mut entry, rec),
        None => derive_old(dir, &mut entry),
    }
    if unreadable {
        entry.status = Status::Unknown;
        entry.derived = false;
    }
    if entry.status == Status::Running && entry.epochs_done == 0 {
        // Its first epoch is not over yet.
        entry.problems.retain(|p| p != "no metrics");
    }
    let ended_with_model = matches!(entry.status, Status::Finished | Status::Stopped);
    if ended_with_model && entry.epochs_done > 0 && dir.kind(MODEL_FILE) != Some("a regular file") {
        entry.problems.push(format!("no {MODEL_FILE}"));
    }
    Some(entry)
}

/// The run's settings, or `None` with the problem said.
fn read_config(dir: &Dir, problems: &mut Vec<String>) -> Option<Config> {
    match dir.read_text(CONFIG_FILE, CONFIG_BOUND, "a run's config") {
        Ok(Some(text)) => match Config::from_toml(&text, &dir.join(CONFIG_FILE)) {
            Ok(c) => Some(c),
            Err(_) => {
                problems.push(format!("{CONFIG_FILE} malformed"));
                None
            }
        },
        Ok(None) => {
            problems.push(format!("no {CONFIG_FILE}"));
            None
        }
        Err(e) => {
            problems.push(format!("{CONFIG_FILE} unreadable ({})", root_cause(&e)));
            None
        }
    }
}

/// What the run's record says, over what its files suggest.
fn from_record(dir: &Dir, entry: &mut RunEntry, rec: RunRecord) {
    entry.status = run_record::status_of(dir, &rec);
    entry.derived = false;
    entry.seconds = match (&rec.ended, entry.status) {
        (Some(end), _) => run_record::seconds_between(&rec.started, end),
        (None, Status::Running) => {
            run_record::seconds_between(&rec.started, &run_record::now_text())
        }
        _ => None,
    };
    entry.started = Some(rec.started);
    // Older runs recorded the tutorial's earlier name: one name per model.
    entry.model = Some(match rec.model.parse::<crate::model::ModelKind>() {
        Ok(kind) => kind.to_string(),
        Err(_) => rec.model,
    });
    entry.epochs_done = entry.epochs_done.max(rec.epochs_done);
    entry.epochs_planned = Some(rec.epochs_planned);
    entry.best_epoch = rec.best_epoch;
    entry.best_by = rec.best_by;
    entry.best_val_acc = rec.best_val_acc;
    entry.best_test_acc = rec.best_test_acc;
    entry.final_test_acc = entry.final_test_acc.or(rec.final_test_acc);
    entry.reason = rec.reason;
}

/// A run without `run.json` (older versions, or one whose record is unreadable): the
/// start from the directory's name, the best from the whole metrics file, and a status
/// from what is there.
fn derive_old(dir: &Dir, e: &mut RunEntry) {
    e.started = started_from_name(&e.name);
    let by = BestBy::with(e.config.as_ref().map_or(0, |c| c.data.validation));
    if let Some(best) = metrics::best(dir, by) {
        e.best_epoch = Some(best.epoch);
        e.best_by = best.by;
        e.best_val_acc = (best.by == BestBy::Val).then_some(best.acc);
        e.best_test_acc = Some(best.test_acc);
    }
    let planned = e.epochs_planned.unwrap_or(usize::MAX);
    // Without a record, an unfinished run cannot tell a stop from a crash.
    e.status = if e.epochs_done >= planned {
        Status::Finished
    } else {
        Status::Stopped
    };
}

/// `20261130-140922-seed` → `2026-11-30T14:09:22Z` (run directories' default names).
pub fn started_from_name(name: &str) -> Option<String> {
    let stamp = name.get(..15)?;
    let (d, t) = stamp.split_once('-')?;
    if d.len() != 8 || t.len() != 6 || !stamp.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return None;
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[..4],
        &d[4..6],
        &d[6..],
        &t[..2],
        &t[2..4],
        &t[4..]
    );
    text.parse::<jiff::Timestamp>().ok().map(|_| text)
}

/// The last line of `metrics.jsonl` that parses, reading only the file's tail; notes a
/// missing or empty file and a last line cut off (a crash mid-write).
fn last_metrics(dir: &Dir, problems: &mut Vec<String>) -> Option<serde_json::Value> {
    let (mut f, len) = match dir.open_file(METRICS_FILE) {
        Ok(Some(f)) => f,
        Ok(None) => {
            problems.push("no metrics".into());
            return None;
        }
        Err(e) => {
            problems.push(format!("{METRICS_FILE} unreadable ({})", root_cause(&e)));
            return None;
        }
    };
    // An epoch's line holds a confusion matrix: a few hundred bytes. Read more than two.
    let from = len.saturating_sub(16 * 1024);
    let mut tail = Vec::new();
    let read = f
        .seek(SeekFrom::Start(from))
        .and_then(|_| (&mut f).take(len - from).read_to_end(&mut tail));
    if read.is_err() {
        problems.push(format!("{METRICS_FILE} unreadable"));
        return None;
    }
    let text = String::from_utf8_lossy(&tail);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if from > 0 && !lines.is_empty() {
        lines.remove(0); // perhaps cut by where the tail starts
    }
    let mut cut = false;
    while let Some(line) = lines.pop() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v["epoch"].is_u64() => {
                if cut {
                    problems.push(format!("{METRICS_FILE}: last line cut off"));
                }
                return Some(v);
            }
            _ => cut = true,
        }
    }
    problems.push(if cut {
        format!("{METRICS_FILE} malformed")
    } else {
        "no metrics".into()
    });
    None
}

fn root_cause(e: &anyhow::Error) -> String {
    e.root_cause().to_string()
}

/// The most recent run under `root` by start time (the directory's time when unknown).
pub fn latest(root: &Path) -> Option<PathBuf> {
    let cat = scan(root).ok()?;
    cat.runs
        .into_iter()
        .max_by(|a, b| sort_key(a).cmp(&sort_key(b)))
        .map(|e| e.dir)
}

/// Orders runs by start, the name breaking ties (and standing in for a missing start).
pub fn sort_key(e: &RunEntry) -> (String, String) {
    (e.started.clone().unwrap_or_default(), e.name.clone())
}

/// Most earlier runs offered for overlaying while training (the Runs pane's digits).
pub const EARLIER_RUNS: usize = 9;

/// The [`EARLIER_RUNS`] most recent runs under `root` that are not running and finished an
/// epoch, oldest first, read whole: what a new run may draw over its charts (the run in
/// `this` left out: a resumed run is not its own earlier run). Unreadable runs are left
/// out.
pub fn earlier(root: &Path, this: Option<&Path>) -> Vec<StoredRun> {
    let this = this.and_then(|p| p.canonicalize().ok());
    let Ok(cat) = scan(root) else {
        return Vec::new();
    };
    let mut done: Vec<_> = cat
        .runs
        .into_iter()
        .filter(|r| r.status != Status::Running && r.epochs_done > 0)
        .filter(|r| this.is_none() || r.dir.canonicalize().ok() != this)
        .collect();
    done.sort_by_key(sort_key);
    let from = done.len().saturating_sub(EARLIER_RUNS);
    done[from..]
        .iter()
        .filter_map(|r| StoredRun::load(&r.dir).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn default_names_give_the_start() {
        assert_eq!(
            started_from_name("20261130-140922-seed").as_deref(),
            Some("2026-11-30T14:09:22Z")
        );
        assert_eq!(started_from_name("my-run"), None);
        assert_eq!(started_from_name("20261399-140922-seed"), None);
    }

    #[test]
    fn the_last_line_is_read_from_the_tail_and_a_cut_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let pad = "x".repeat(400);
        let lines: String = (1..=100)
            .map(|e| format!("{{\"epoch\":{e},\"test_acc\":0.5,\"pad\":\"{pad}\"}}\n"))
            .collect();
        fs::write(
            dir.path().join(METRICS_FILE),
            format!("{lines}{{\"epoch\":101,\"te"),
        )
        .unwrap();
        let mut problems = Vec::new();
        let v = last_metrics(&Dir::open(dir.path()).unwrap(), &mut problems).unwrap();
        assert_eq!(v["epoch"], 100);
        assert_eq!(problems, ["metrics.jsonl: last line cut off"]);
        let empty = tempfile::tempdir().unwrap();
        assert!(read_entry(&Dir::open(empty.path()).unwrap(), empty.path()).is_none());
    }
}

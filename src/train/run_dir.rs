//! A run's directory: the effective config, `metrics.jsonl` (one line per epoch) and the
//! model as `.safetensors`, each written so that a crash never leaves a half-written file
//! under its final name.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::json;

use super::events::EpochSummary;
use crate::atomic;

pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const MODEL_FILE: &str = "model.safetensors";

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

/// Use `dir` as the run directory, creating it if needed.
pub fn use_dir(dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create run directory {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// `YYYYmmdd-HHMMSS` in UTC (a clock before 1970 reads as 1970-01-01).
pub fn utc_stamp(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t.max(UNIX_EPOCH))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%d-%H%M%S")
        .to_string()
}

/// One epoch as the JSON object used by `metrics.jsonl` and `--json` output.
pub fn epoch_json(s: &EpochSummary) -> serde_json::Value {
    json!({
        "epoch": s.epoch,
        "epochs": s.epochs,
        "train_loss": s.train_loss,
        "train_acc": s.train_acc,
        "test_loss": s.test_loss,
        "test_acc": s.test_acc,
        "test_acc_plain": s.test_acc_plain,
        "lr": s.lr,
        "seconds": s.seconds,
        "eval_seconds": s.eval_seconds,
        "images_per_sec": s.images_per_sec,
        "elapsed": s.elapsed,
        "confusion": s.confusion,
    })
}

/// Append one epoch to `metrics.jsonl` and flush it to disk.
pub fn append_metrics(dir: &Path, s: &EpochSummary) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(METRICS_FILE))?;
    writeln!(f, "{}", epoch_json(s))?;
    f.sync_data()
}

/// Keep only the first `epochs` lines of `metrics.jsonl` (a resumed run rewrites the
/// epochs after its checkpoint).
pub fn truncate_metrics(dir: &Path, epochs: usize) -> io::Result<()> {
    let path = dir.join(METRICS_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let kept: String = text
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

/// The test accuracy of the last epoch in `metrics.jsonl`, if any.
pub fn last_test_acc(dir: &Path) -> Option<f64> {
    let text = fs::read_to_string(dir.join(METRICS_FILE)).ok()?;
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
    }
}

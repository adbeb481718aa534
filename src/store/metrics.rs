//! `metrics.jsonl`: one JSON line per finished epoch (the same object `--json` prints),
//! appended and synced as each epoch ends, cut back to a checkpoint when a run resumes,
//! and read back by `runs`, `view`, reports and a resumed run. Read within a bound;
//! lines that do not parse (one cut off by a crash) are counted, not trusted.

use std::io::Write;

use anyhow::{Context, Result};

use super::run_dir::METRICS_FILE;
use crate::events::{json, Best, BestBy, EpochSummary, NUM_CLASSES};
use crate::files::{Dir, MB};

/// The most `metrics.jsonl` holds: ten thousand epochs' lines are a few megabytes.
pub const BOUND: u64 = 64 * MB;
const WHAT: &str = "a run's metrics (a line per epoch)";

/// Append one epoch to `metrics.jsonl` in `dir` and flush it to disk.
pub fn append(dir: &Dir, s: &EpochSummary) -> Result<()> {
    let mut f = dir.append(METRICS_FILE)?;
    writeln!(f, "{}", json::epoch(s))
        .and_then(|()| f.sync_data())
        .with_context(|| format!("cannot append to {}", dir.join(METRICS_FILE).display()))
}

/// The text of `metrics.jsonl` in `dir` (empty when there is none).
pub fn text(dir: &Dir) -> Result<String> {
    Ok(dir
        .read_text(METRICS_FILE, BOUND, WHAT)?
        .unwrap_or_default())
}

/// Keep only the first `epochs` lines of `metrics.jsonl` (a resumed run rewrites the
/// epochs after its checkpoint).
pub fn truncate(dir: &Dir, epochs: usize) -> Result<()> {
    let Some(text) = dir.read_text(METRICS_FILE, BOUND, WHAT)? else {
        return Ok(());
    };
    // A line that is not UTF-8 is dropped like any other line that is not an epoch's.
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
    dir.write(METRICS_FILE, kept.as_bytes())
}

/// The highest epoch recorded in `metrics.jsonl` (0 when none or unreadable).
pub fn recorded_epochs(dir: &Dir) -> usize {
    text(dir)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["epoch"].as_u64())
        .max()
        .map_or(0, |e| e as usize)
}

/// The test accuracy of the last epoch in `metrics.jsonl`, if any.
pub fn last_test_acc(dir: &Dir) -> Option<f64> {
    let text = text(dir).ok()?;
    let last = text.lines().rfind(|l| !l.trim().is_empty())?;
    serde_json::from_str::<serde_json::Value>(last).ok()?["test_acc"].as_f64()
}

/// The epochs of `metrics.jsonl` that parse, and how many of its lines did not.
pub fn epochs(dir: &Dir) -> Result<(Vec<EpochSummary>, usize)> {
    let text = text(dir)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let epochs: Vec<EpochSummary> = lines.iter().filter_map(|l| parse(l)).collect();
    let bad = lines.len() - epochs.len();
    Ok((epochs, bad))
}

/// The best epoch in `metrics.jsonl` judged `by` validation or test accuracy (the first
/// of equals); epochs without that accuracy are passed over.
pub fn best(dir: &Dir, by: BestBy) -> Option<Best> {
    let text = text(dir).ok()?;
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

/// One line of `metrics.jsonl`, if it is whole.
pub fn parse(line: &str) -> Option<EpochSummary> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let f = |k: &str| v[k].as_f64();
    let mut confusion = [[0u32; NUM_CLASSES]; NUM_CLASSES];
    if let Some(rows) = v["confusion"].as_array() {
        for (r, row) in rows.iter().take(NUM_CLASSES).enumerate() {
            for (c, n) in row.as_array()?.iter().take(NUM_CLASSES).enumerate() {
                confusion[r][c] = u32::try_from(n.as_u64()?).ok()?;
            }
        }
    }
    let epoch = usize::try_from(v["epoch"].as_u64()?).ok()?;
    Some(EpochSummary {
        epoch: epoch.max(1),
        epochs: v["epochs"].as_u64().map_or(epoch, |e| e as usize),
        train_loss: f("train_loss")?,
        train_acc: f("train_acc")?,
        test_loss: f("test_loss")?,
        test_acc: f("test_acc")?,
        test_acc_plain: f("test_acc_plain").or_else(|| f("test_acc"))?,
        val_loss: f("val_loss"),
        val_acc: f("val_acc"),
        elapsed: f("elapsed").unwrap_or(0.0),
        lr: f("lr").unwrap_or(0.0),
        seconds: f("seconds").unwrap_or(0.0),
        eval_seconds: f("eval_seconds").unwrap_or(0.0),
        images_per_sec: f("images_per_sec").unwrap_or(0.0),
        confusion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn metrics_are_truncated_to_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let d = Dir::open(dir.path()).unwrap();
        let lines: String = (1..=4)
            .map(|e| format!("{{\"epoch\":{e},\"test_acc\":0.{e}}}\n"))
            .collect();
        fs::write(dir.path().join(METRICS_FILE), lines).unwrap();
        truncate(&d, 2).unwrap();
        let left = fs::read_to_string(dir.path().join(METRICS_FILE)).unwrap();
        assert_eq!(
            left,
            "{\"epoch\":1,\"test_acc\":0.1}\n{\"epoch\":2,\"test_acc\":0.2}\n"
        );
        assert_eq!(last_test_acc(&d), Some(0.2));
        // A line that is not UTF-8 (a damaged file) is dropped, not an error, and does not
        // hide the epochs before it.
        let mut damaged = fs::read(dir.path().join(METRICS_FILE)).unwrap();
        damaged.extend_from_slice(b"\xff\xfe\n");
        fs::write(dir.path().join(METRICS_FILE), damaged).unwrap();
        assert_eq!(recorded_epochs(&d), 2);
        truncate(&d, 2).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(METRICS_FILE)).unwrap(),
            left
        );
    }
}

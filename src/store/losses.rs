//! `loss.jsonl`: the per-batch training loss, one averaged point per [`LOSS_GROUP`]
//! batches (enough to redraw the Loss chart), appended as the run goes, cut back to a
//! checkpoint when a run resumes, read within a bound.

use std::io::Write;

use anyhow::{Context, Result};

use super::run_dir::LOSS_FILE;
use crate::files::{Dir, MB};

/// Batches averaged into one point of `loss.jsonl`.
pub const LOSS_GROUP: usize = 10;
/// The most `loss.jsonl` holds: a point is some 40 bytes, ten thousand epochs of the
/// tutorial some 75 MB.
pub const BOUND: u64 = 256 * MB;
const WHAT: &str = "a run's loss history";

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
    pub fn flush(&mut self, dir: &Dir) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for group in self.pending.chunks(LOSS_GROUP) {
            let n = group.len() as f64;
            let at = group.iter().map(|p| p.0).sum::<f64>() / n;
            let loss = group.iter().map(|p| f64::from(p.1)).sum::<f64>() / n;
            text.push_str(&line(at, loss as f32));
        }
        let mut f = dir.append(LOSS_FILE)?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_data())
            .with_context(|| format!("cannot append to {}", dir.join(LOSS_FILE).display()))?;
        self.pending.clear();
        Ok(())
    }
}

/// One line of `loss.jsonl`: the loss as the shortest text that reads back as the same
/// `f32` (a value that is not finite, which the trainer never keeps, as `null`).
fn line(at: f64, loss: f32) -> String {
    if loss.is_finite() {
        format!("{{\"epoch\":{at:.5},\"loss\":{loss}}}\n")
    } else {
        format!("{{\"epoch\":{at:.5},\"loss\":null}}\n")
    }
}

/// The points of `loss.jsonl` in `dir` as (fractional epoch, loss); lines that do not
/// parse (a truncated last one) are left out.
pub fn read(dir: &Dir) -> Result<Vec<(f64, f32)>> {
    let text = dir.read_text(LOSS_FILE, BOUND, WHAT)?.unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((v["epoch"].as_f64()?, v["loss"].as_f64()? as f32))
        })
        .collect())
}

/// Keep only the points of `loss.jsonl` up to fractional epoch `at` (a resumed run
/// rewrites what follows its checkpoint).
pub fn truncate(dir: &Dir, at: f64) -> Result<()> {
    if !dir.has(LOSS_FILE) {
        return Ok(());
    }
    let kept: String = read(dir)?
        .into_iter()
        .filter(|(x, _)| *x <= at + 1e-9)
        .map(|(x, l)| line(x, l))
        .collect();
    dir.write(LOSS_FILE, kept.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_averaged_in_groups_and_truncated() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let mut log = LossLog::default();
        let points: Vec<(f64, f32)> = (1..=25).map(|b| (b as f64 / 100.0, b as f32)).collect();
        log.push(&points);
        log.flush(&dir).unwrap();
        let got = read(&dir).unwrap();
        assert_eq!(got.len(), 3);
        assert!(
            (got[0].0 - 0.055).abs() < 1e-9 && got[0].1 == 5.5,
            "{got:?}"
        );
        assert!(
            (got[2].0 - 0.23).abs() < 1e-9 && got[2].1 == 23.0,
            "{got:?}"
        );
        truncate(&dir, 0.2).unwrap();
        assert_eq!(read(&dir).unwrap().len(), 2);
    }
}

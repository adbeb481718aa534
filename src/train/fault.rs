//! Faults injected for tests through `FASHION_TUI_FAULT`, so that the end-to-end tests can
//! check what a diverging loss, a full disk or a crash mid-save does to a real run.

use tch::Tensor;

/// The faults named in `FASHION_TUI_FAULT` (comma-separated): `nan@STEP` turns the loss of
/// optimiser step STEP into NaN; `save@N` makes the N-th checkpoint save of the run fail as
/// a full disk does; `crash@N` kills the process in the N-th save, after its tensors are
/// written and before it is committed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    nan_at: Option<i64>,
    save_fails_at: Option<u32>,
    crash_in_save: Option<u32>,
}

impl Faults {
    pub fn from_env() -> Faults {
        let mut f = Faults::default();
        let spec = std::env::var("FASHION_TUI_FAULT").unwrap_or_default();
        for part in spec.split(',') {
            if let Some(n) = part.strip_prefix("nan@").and_then(|n| n.parse().ok()) {
                f.nan_at = Some(n);
            }
            if let Some(n) = part.strip_prefix("save@").and_then(|n| n.parse().ok()) {
                f.save_fails_at = Some(n);
            }
            if let Some(n) = part.strip_prefix("crash@").and_then(|n| n.parse().ok()) {
                f.crash_in_save = Some(n);
            }
        }
        f
    }

    /// The loss of optimiser step `step`, made NaN if that step is the one to poison.
    /// Only once: a skipped batch does not advance the step count.
    pub fn poison(&mut self, step: i64, loss: Tensor) -> Tensor {
        if self.nan_at == Some(step) {
            self.nan_at = None;
            loss * f64::NAN
        } else {
            loss
        }
    }

    /// Whether the `save`-th save of the run (1-based) must fail as a full disk does.
    pub fn save_fails(&self, save: u32) -> bool {
        self.save_fails_at == Some(save)
    }

    /// Whether the `save`-th save of the run must kill the process before its commit.
    pub fn crash_in(&self, save: u32) -> bool {
        self.crash_in_save == Some(save)
    }
}

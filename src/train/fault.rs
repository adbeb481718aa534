//! Faults injected for tests through `FASHION_TUI_FAULT`, so that the end-to-end tests can
//! check what a diverging loss, a full disk or a crash mid-save does to a real run.
//!
//! Only test builds read the variable: `cargo test` builds the binary it runs in the dev
//! profile, where `debug_assertions` are on; a release build never looks at it, so a user
//! cannot trip it by accident. When a fault is armed the run says so in its log.

use tch::Tensor;

use crate::error::UsageError;

/// The environment variable that names the faults.
pub const VAR: &str = "FASHION_TUI_FAULT";

/// Whether this build reads [`VAR`]: builds with debug assertions (tests) only.
pub const ENABLED: bool = cfg!(debug_assertions);

/// The faults named in `FASHION_TUI_FAULT` (comma-separated): `nan@STEP` turns the loss of
/// optimiser step STEP into NaN; `save@N` makes the N-th checkpoint save of the run fail as
/// a full disk does; `crash@N` kills the process in the N-th save, after its tensors are
/// written and before it is committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    nan_at: Option<i64>,
    save_fails_at: Option<u32>,
    crash_in_save: Option<u32>,
}

impl Faults {
    /// The faults [`VAR`] names, with the line that announces them; `None` when it is unset
    /// or empty, or this build ignores it. A malformed value is an error (naming the value
    /// and what is allowed), not silently ignored.
    pub fn from_env() -> Result<Option<(Faults, String)>, UsageError> {
        Self::read(ENABLED, std::env::var_os(VAR))
    }

    /// [`from_env`](Self::from_env) for a build that reads the variable (`enabled`) or not.
    fn read(
        enabled: bool,
        value: Option<std::ffi::OsString>,
    ) -> Result<Option<(Faults, String)>, UsageError> {
        let Some(value) = value.filter(|_| enabled) else {
            return Ok(None);
        };
        let spec = value
            .to_str()
            .ok_or_else(|| UsageError(format!("{VAR} = {value:?} is not valid UTF-8")))?;
        if spec.trim().is_empty() {
            return Ok(None);
        }
        let faults = Self::parse(spec)?;
        let note = format!("test fault injection active: {VAR}={spec} (this run fails on purpose)");
        Ok(Some((faults, note)))
    }

    /// Parse a comma-separated list of `nan@STEP`, `save@N` and `crash@N`.
    pub fn parse(spec: &str) -> Result<Faults, UsageError> {
        let bad = |part: &str| {
            UsageError(format!(
                "{VAR} = \"{spec}\" is malformed at \"{part}\": allowed a comma-separated \
                 list of nan@STEP, save@N and crash@N (N ≥ 1, STEP ≥ 0)"
            ))
        };
        let mut f = Faults::default();
        for part in spec.split(',').map(str::trim) {
            let (kind, n) = part.split_once('@').ok_or_else(|| bad(part))?;
            match kind {
                "nan" => {
                    f.nan_at = Some(
                        n.parse()
                            .ok()
                            .filter(|s| *s >= 0)
                            .ok_or_else(|| bad(part))?,
                    )
                }
                "save" => {
                    f.save_fails_at = Some(
                        n.parse()
                            .ok()
                            .filter(|s| *s >= 1)
                            .ok_or_else(|| bad(part))?,
                    )
                }
                "crash" => {
                    f.crash_in_save = Some(
                        n.parse()
                            .ok()
                            .filter(|s| *s >= 1)
                            .ok_or_else(|| bad(part))?,
                    )
                }
                _ => return Err(bad(part)),
            }
        }
        Ok(f)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn some(s: &str) -> Option<std::ffi::OsString> {
        Some(s.into())
    }

    #[test]
    fn test_builds_read_the_variable_and_release_builds_do_not() {
        // `ENABLED` is `cfg!(debug_assertions)`: a build without them (release) ignores the
        // variable, even a malformed value.
        assert_eq!(Faults::read(false, some("nan@3")), Ok(None));
        assert_eq!(Faults::read(false, some("garbage")), Ok(None));
        assert_eq!(Faults::read(true, None), Ok(None));
        assert_eq!(Faults::read(true, some("")), Ok(None));
        let (f, note) = Faults::read(true, some("nan@3,save@2")).unwrap().unwrap();
        assert_eq!(
            f,
            Faults {
                nan_at: Some(3),
                save_fails_at: Some(2),
                crash_in_save: None
            }
        );
        assert!(note.contains("FASHION_TUI_FAULT=nan@3,save@2"), "{note}");
    }

    #[test]
    fn each_fault_parses() {
        assert_eq!(Faults::parse("crash@1").unwrap().crash_in_save, Some(1));
        assert_eq!(Faults::parse("save@4").unwrap().save_fails_at, Some(4));
        assert_eq!(Faults::parse("nan@0").unwrap().nan_at, Some(0));
        assert!(Faults::parse("crash@1").unwrap().crash_in(1));
        assert!(!Faults::parse("crash@1").unwrap().save_fails(1));
    }

    #[test]
    fn malformed_values_are_refused_with_the_reason() {
        for bad in [
            "nan", "nan@", "nan@x", "save@0", "crash@-1", "disk@1", "nan@3,", "NAN@3",
        ] {
            let e = Faults::parse(bad).unwrap_err().0;
            assert!(
                e.contains(&format!("FASHION_TUI_FAULT = \"{bad}\" is malformed")),
                "{e}"
            );
            assert!(e.contains("nan@STEP, save@N and crash@N"), "{e}");
        }
    }
}

//! What values a setting allows ([`Range`]), written once: the check of a value and the
//! words that say what is allowed ("1 to 10000", "0 ≤ momentum < 1") both derive from it.

use crate::config::field::{Field, Number};
use crate::config::Config;

/// What values a setting allows: the check and the words that say it.
#[derive(Debug, Clone, Copy)]
pub enum Range {
    /// Any value the schema parses (names, paths, flags).
    Any,
    /// Whole numbers from `lo` to `hi` (`u64::MAX`: no upper end); `lo_note` follows `lo`
    /// and `hi_note` follows `hi` in words (`0 (off) to 28`).
    Whole {
        lo: u64,
        hi: u64,
        lo_note: &'static str,
        hi_note: &'static str,
    },
    /// Finite numbers between `lo` and `hi`, each end included or not; `lo_note`
    /// follows `lo` in words. Both ends included read `lo to hi`; otherwise
    /// `lo ≤ key < hi`, with the key's own name.
    Real {
        lo: f64,
        lo_open: bool,
        hi: f64,
        hi_open: bool,
        lo_note: &'static str,
    },
    /// A check of its own, with its words (the time budget's).
    Custom {
        words: &'static str,
        check: fn(&Config) -> Option<String>,
    },
}

impl Range {
    /// Whole numbers `lo` to `hi`.
    pub const fn whole(lo: u64, hi: u64) -> Range {
        Range::Whole {
            lo,
            hi,
            lo_note: "",
            hi_note: "",
        }
    }

    /// Numbers `lo` to `hi`, both included.
    pub const fn real(lo: f64, hi: f64) -> Range {
        Range::Real {
            lo,
            lo_open: false,
            hi,
            hi_open: false,
            lo_note: "",
        }
    }

    /// Numbers from `lo` included to `hi` excluded.
    pub const fn below(lo: f64, hi: f64) -> Range {
        Range::Real {
            lo,
            lo_open: false,
            hi,
            hi_open: true,
            lo_note: "",
        }
    }

    /// Numbers above `lo` (excluded), up to `hi` included.
    pub const fn above(lo: f64, hi: f64) -> Range {
        Range::Real {
            lo,
            lo_open: true,
            hi,
            hi_open: false,
            lo_note: "",
        }
    }

    /// The same range, with `note` after its lower end in words (`0 (off)`).
    pub const fn noted(self, note: &'static str) -> Range {
        match self {
            Range::Whole {
                lo, hi, hi_note, ..
            } => Range::Whole {
                lo,
                hi,
                lo_note: note,
                hi_note,
            },
            Range::Real {
                lo,
                lo_open,
                hi,
                hi_open,
                ..
            } => Range::Real {
                lo,
                lo_open,
                hi,
                hi_open,
                lo_note: note,
            },
            other => other,
        }
    }

    /// What is allowed, in words, for the setting `key`.
    pub fn words(&self, key: &str) -> String {
        let name = key.split_once('.').map_or(key, |(_, n)| n);
        match *self {
            Range::Any => String::new(),
            Range::Whole {
                lo,
                hi: u64::MAX,
                lo_note,
                ..
            } => format!("{lo}{lo_note} or more"),
            Range::Whole {
                lo,
                hi,
                lo_note,
                hi_note,
            } => format!("{lo}{lo_note} to {hi}{hi_note}"),
            Range::Real {
                lo,
                lo_open: false,
                hi,
                hi_open: false,
                lo_note,
            } => format!("{lo}{lo_note} to {hi}"),
            Range::Real {
                lo,
                lo_open,
                hi,
                hi_open,
                lo_note,
            } => {
                let op = |open: bool| if open { "<" } else { "≤" };
                format!("{lo}{lo_note} {} {name} {} {hi}", op(lo_open), op(hi_open))
            }
            Range::Custom { words, .. } => words.to_string(),
        }
    }

    /// The value of `field` in `cfg` as an out-of-range message shows it; `None` when it
    /// is allowed.
    pub fn check(&self, field: &Field, cfg: &Config) -> Option<String> {
        match (*self, (field.number)(cfg)) {
            (Range::Any, _) | (_, Number::Other) => None,
            (Range::Custom { check, .. }, _) => check(cfg),
            (Range::Whole { lo, hi, .. }, Number::Whole(v)) => {
                (!(lo..=hi).contains(&v)).then(|| v.to_string())
            }
            (
                Range::Real {
                    lo,
                    lo_open,
                    hi,
                    hi_open,
                    ..
                },
                Number::Real(v),
            ) => {
                let above = if lo_open { v > lo } else { v >= lo };
                let below = if hi_open { v < hi } else { v <= hi };
                (!(v.is_finite() && above && below)).then(|| shown(v))
            }
            (_, Number::Whole(v)) => Some(v.to_string()),
            (_, Number::Real(v)) => Some(shown(v)),
        }
    }
}

/// A number as a message quotes it: as written when short, else in scientific notation
/// (`1e-300`, not three hundred digits).
pub fn shown(v: f64) -> String {
    let plain = v.to_string();
    if plain.len() <= 16 {
        plain
    } else {
        format!("{v:e}")
    }
}

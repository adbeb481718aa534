//! Checking a configuration against the ranges of the settings table
//! ([`crate::config::params::PARAMS`]), with messages that quote the key, the value and
//! what is allowed, placed at `file:line:col` when the bad value came from a file.

use std::path::Path;

use crate::config::params::PARAMS;
use crate::config::text;
use crate::config::Config;
use crate::error::UsageError;

impl Config {
    /// Check every value against its allowed range.
    pub fn validate(&self) -> Result<(), UsageError> {
        self.check().map_err(|(_, e)| e)
    }

    /// [`Config::validate`] for a config read from `text` (the file at `path`, which alone
    /// gives `from_file`) with command-line overrides applied: a value out of range that
    /// came from the file is reported at its place there (`path:line:col: key = …`), like
    /// a syntax error; one that a flag changed is reported without a place. (A flag that
    /// repeats the file's bad value is indistinguishable and gets the file's place.)
    pub fn validate_in_file(
        &self,
        text: &str,
        path: &Path,
        from_file: &Config,
    ) -> Result<(), UsageError> {
        self.check().map_err(|(key, e)| {
            if text::value_text(from_file, key) != text::value_text(self, key) {
                return e;
            }
            match value_offset(text, key) {
                Some(at) => {
                    let (line, col) = line_col(text, at);
                    UsageError(format!("{}:{line}:{col}: {}", path.display(), e.0))
                }
                None => e,
            }
        })
    }

    /// [`Config::validate`], also naming the key at fault. The seed comes first: a seed
    /// TOML cannot hold would hide where another bad value sits in the file (the file's
    /// values are compared as TOML).
    fn check(&self) -> Result<(), (&'static str, UsageError)> {
        let (seed, rest): (Vec<&crate::config::params::Param>, Vec<_>) =
            PARAMS.iter().partition(|p| p.key == "training.seed");
        for p in seed.into_iter().chain(rest) {
            if let Some(shown) = p.out_of_range(self) {
                let msg = format!(
                    "{} = {shown} is out of range: allowed {}",
                    p.key,
                    p.allowed()
                );
                return Err((p.key, UsageError(msg)));
            }
        }
        Ok(())
    }

    /// Checks that need the dataset's size: `train_images` before any are held out.
    pub fn validate_against_data(&self, train_images: usize) -> Result<(), UsageError> {
        let held = self.data.validation;
        let limited = if self.data.train_limit > 0 {
            " that data.train_limit leaves"
        } else {
            ""
        };
        if held > 0 && held >= train_images {
            return Err(UsageError(format!(
                "data.validation = {held} is out of range: allowed 0 (off) to {} (it must \
                 leave images to train on: there are {train_images} training images{limited})",
                train_images.saturating_sub(1)
            )));
        }
        let left = train_images - held;
        if self.training.batch_size > left {
            let after = if held > 0 {
                format!(" once data.validation has held {held} out")
            } else {
                String::new()
            };
            return Err(UsageError(format!(
                "training.batch_size = {} is out of range: allowed 1 to {left} \
                 (the number of training images{after})",
                self.training.batch_size
            )));
        }
        Ok(())
    }
}

/// Settings that shape a run from its first step (the table's `shapes_run` rows), so a
/// resumed run cannot change them without breaking its equivalence with an uninterrupted
/// one: `(key, old, new)`.
pub fn next_run_changes(saved: &Config, now: &Config) -> Vec<(&'static str, String, String)> {
    PARAMS
        .iter()
        .filter(|p| p.shapes_run)
        .map(|p| {
            (
                p.key,
                text::value_text(saved, p.key),
                text::value_text(now, p.key),
            )
        })
        .filter(|(_, a, b)| a != b)
        .collect()
}

/// Where the value of `section.name` starts in a TOML text, if it is there.
fn value_offset(text: &str, key: &str) -> Option<usize> {
    let (section, name) = key.split_once('.')?;
    let doc = toml_edit::Document::parse(text).ok()?;
    doc.as_table()
        .get(section)?
        .get(name)?
        .span()
        .map(|s| s.start)
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

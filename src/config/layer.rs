//! Where the settings come from: which file is read (`--config`, else `./config.toml`,
//! else the user's), and the one layering rule, flags over the file over the defaults
//! (the chosen model's defaults for its recipe keys, see [`super::recipe`]), used at
//! start-up and by every hot reload.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::{recipe, Config, FILE_NAME};
use crate::error::UsageError;

/// Where the settings came from, for `config path` and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Defaults,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Defaults => f.write_str("built-in defaults (no config file found)"),
        }
    }
}

/// The user config file: `<config dir>/fashion-tui/config.toml`.
pub fn user_config_path() -> Option<PathBuf> {
    crate::paths::config_dir().map(|d| d.join(FILE_NAME))
}

/// Which file to read: `explicit` (must exist), else `./config.toml`, else the user's.
pub fn locate(
    explicit: Option<&Path>,
    cwd: &Path,
    user: Option<&Path>,
) -> Result<Source, UsageError> {
    if let Some(p) = explicit {
        return match std::fs::metadata(p) {
            Ok(m) if m.is_file() => Ok(Source::File(p.to_path_buf())),
            Ok(m) => Err(UsageError(format!(
                "config file {} (given with --config) is {}, not a regular file",
                p.display(),
                crate::config::file_kind(&m)
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(UsageError(format!(
                "config file {} does not exist (given with --config)",
                p.display()
            ))),
            Err(e) => Err(UsageError(format!(
                "cannot read config file {} (given with --config): {e}",
                p.display()
            ))),
        };
    }
    // Where a config file is looked for, something else than a file (a directory made by
    // mistake) is named, not passed over: the run would quietly use other settings.
    let found = |p: &Path, where_: &str| match std::fs::metadata(p) {
        Ok(m) if m.is_file() => Ok(Some(Source::File(p.to_path_buf()))),
        Ok(m) => Err(UsageError(format!(
            "{} ({where_}) is {}, not a config file: remove or rename it, or name a file \
             with --config",
            p.display(),
            crate::config::file_kind(&m)
        ))),
        // A link whose target is gone: the file meant to be used is not there, and the
        // run must not quietly use other settings.
        Err(_) if p.symlink_metadata().is_ok() => Err(UsageError(format!(
            "{} ({where_}) is a symbolic link to {}, which does not exist: fix or remove \
             the link, or name a file with --config",
            p.display(),
            std::fs::read_link(p).map_or_else(|_| "?".into(), |t| t.display().to_string())
        ))),
        Err(_) => Ok(None),
    };
    if let Some(source) = found(&cwd.join(FILE_NAME), "in the working directory")? {
        return Ok(source);
    }
    match user {
        Some(u) => Ok(found(u, "the user's config file")?.unwrap_or(Source::Defaults)),
        None => Ok(Source::Defaults),
    }
}

/// The effective configuration for a file's `text`: the file over the defaults, the
/// command-line `overrides` over the file, validated (a bad value from the file is
/// reported at its place there).
pub fn layer(
    text: &str,
    path: &Path,
    overrides: &dyn Fn(&mut Config),
) -> Result<Config, UsageError> {
    let from_file = Config::from_toml(text, path)?;
    let cfg = recipe::with_flags(&from_file, &recipe::scan(text), overrides);
    cfg.validate_in_file(text, path, &from_file)?;
    Ok(cfg)
}

/// The configuration the files and `overrides` describe, validated, and which file it
/// came from: `explicit` (`--config`), else the usual lookup.
pub fn resolve(
    explicit: Option<&Path>,
    overrides: &dyn Fn(&mut Config),
) -> Result<(Config, Source)> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let source = locate(explicit, &cwd, user_config_path().as_deref())?;
    let cfg = match &source {
        Source::File(path) => layer(&Config::read_text(path)?, path, overrides)?,
        Source::Defaults => {
            let cfg = recipe::with_flags(&Config::default(), &recipe::scan(""), overrides);
            cfg.validate()?;
            cfg
        }
    };
    Ok((cfg, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dangling_link_where_a_config_is_looked_for_is_named() {
        let cwd = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/nonexistent/config.toml", cwd.path().join(FILE_NAME)).unwrap();
        let e = locate(None, cwd.path(), None).unwrap_err().0;
        assert!(
            e.contains("is a symbolic link to /nonexistent/config.toml"),
            "{e}"
        );
        assert!(e.contains("which does not exist"), "{e}");
    }
}

//! `fashion-tui config path|init`: which config file is used, and writing the documented
//! default one.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::ConfigCommand;
use crate::config::{self, Source, DEFAULT_CONFIG};
use crate::error::UsageError;

/// `fashion-tui config path|init`.
pub fn run(cmd: &ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Path { config: explicit } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let source = config::locate(
                explicit.as_deref(),
                &cwd,
                config::user_config_path().as_deref(),
            )?;
            match source {
                Source::File(p) => super::output::line(&crate::escape::path(&p))?,
                Source::Defaults => super::output::line(&source.to_string())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Init { force } => {
            let path =
                config::user_config_path().context("cannot determine the user config directory")?;
            let kept = init_at(&path, *force)?;
            let shown = crate::escape::path(&path);
            super::output::line(&match kept {
                Some(bak) => format!(
                    "replaced {shown} with the documented defaults; the file it held is kept \
                     as {}",
                    crate::escape::path(&bak)
                ),
                None => format!("wrote {shown}"),
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Write the documented defaults to `path`. A file there is replaced only with `force`,
/// and kept beside it as `<name>.bak` (returned): nothing a user wrote goes silently.
fn init_at(path: &Path, force: bool) -> Result<Option<std::path::PathBuf>> {
    let existing = crate::files::read_path(path, crate::files::MB, "a config file")?;
    if existing.is_some() && !force {
        return Err(UsageError(format!(
            "{} already exists; use --force to replace it (it is kept as .bak)",
            path.display()
        ))
        .into());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let kept = match existing {
        Some(old) => {
            let mut bak = path.as_os_str().to_owned();
            bak.push(".bak");
            let bak = std::path::PathBuf::from(bak);
            crate::atomic::write(&bak, &old)
                .with_context(|| format!("cannot keep the old file as {}", bak.display()))?;
            Some(bak)
        }
        None => None,
    };
    crate::atomic::write(path, DEFAULT_CONFIG.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("config.toml");
        init_at(&p, false).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), DEFAULT_CONFIG);
        let e = init_at(&p, false).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some());
        std::fs::write(&p, "# mine\n").unwrap();
        let bak = init_at(&p, true).unwrap().expect("the old file kept");
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "# mine\n");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), DEFAULT_CONFIG);
    }
}

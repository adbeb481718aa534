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
                Source::File(p) => println!("{}", p.display()),
                Source::Defaults => println!("{source}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Init { force } => {
            let path =
                config::user_config_path().context("cannot determine the user config directory")?;
            init_at(&path, *force)?;
            println!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_at(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(UsageError(format!(
            "{} already exists; use --force to overwrite it",
            path.display()
        ))
        .into());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::atomic::write(path, DEFAULT_CONFIG.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
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
        init_at(&p, true).unwrap();
    }
}

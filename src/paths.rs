//! Where fashion-tui keeps a user's files: the config directory, the data cache and the
//! runs. One lookup of the platform's conventions (XDG on Linux) for everyone.

use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "fashion-tui")
}

/// `<config dir>/fashion-tui`, e.g. `~/.config/fashion-tui`.
pub fn config_dir() -> Option<PathBuf> {
    project().map(|d| d.config_dir().to_path_buf())
}

/// `<cache dir>/fashion-tui`, e.g. `~/.cache/fashion-tui`.
pub fn cache_dir() -> Option<PathBuf> {
    project().map(|d| d.cache_dir().to_path_buf())
}

/// `<data dir>/fashion-tui`, e.g. `~/.local/share/fashion-tui`.
pub fn data_dir() -> Option<PathBuf> {
    project().map(|d| d.data_dir().to_path_buf())
}

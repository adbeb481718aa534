//! Atomic file writes, used by everything that writes a file the user or a resumed run
//! reads back: a temp file beside the target, fsync, rename, fsync the directory. A crash
//! at any moment leaves either the old file or the new one under the final name, never a
//! half-written one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically, through the temp file [`temp_path`].
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, &temp_path(path), |tmp| {
        File::create(tmp)?.write_all(bytes)?;
        Ok(())
    })
}

/// Let `fill` write the whole file at `tmp` (for writers that only take a path, such as
/// tch's), then sync it and rename it to `path`. `tmp` must be in `path`'s directory; it
/// is removed if anything fails.
pub fn write_with<E: From<io::Error>>(
    path: &Path,
    tmp: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    // A bare file name's parent is "", which cannot be opened to sync: use ".".
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let result = fill(tmp).and_then(|()| {
        File::open(tmp)?.sync_all()?;
        fs::rename(tmp, path)?;
        Ok(File::open(dir)?.sync_all()?)
    });
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// The temp name [`write`] uses for `path`: `.<name>.tmp` beside it.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!temp_path(&p).exists());
        let bad = dir.path().join("missing-dir").join("x.bin");
        assert!(write(&bad, b"x").is_err());
    }
}

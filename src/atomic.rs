//! Atomic file writes, used by everything that writes a file the user or a resumed run
//! reads back: a temp file beside the target, fsync, rename, fsync the directory. A crash
//! at any moment leaves either the old file or the new one under the final name, never a
//! half-written one; a write that fails (or panics) removes its temp file, so a full disk
//! is not left fuller. [`explain`] words a failed write for people ("disk full" and where).

use std::error::Error;
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

/// Removes the temp file when dropped, unless it was renamed into place: on an error
/// and on a panic alike.
struct TempGuard<'a> {
    tmp: &'a Path,
    done: bool,
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(self.tmp);
        }
    }
}

/// Let `fill` write the whole file at `tmp` (for writers that only take a path, such as
/// tch's), then sync it and rename it to `path`. `tmp` must be in `path`'s directory; it
/// is removed if anything fails, `fill` panicking included.
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
    let mut guard = TempGuard { tmp, done: false };
    fill(tmp)?;
    File::open(tmp)?.sync_all()?;
    fs::rename(tmp, path)?;
    guard.done = true;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// The temp name [`write`] uses for `path`: `.<name>.tmp` beside it.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

/// What a full disk or an exhausted quota looks like somewhere in an error chain: an
/// `io::Error` (ENOSPC, EDQUOT), or the OS's text inside an error that only kept text
/// (tch wraps the safetensors writer's error as its debug form).
pub fn no_space<'a>(
    chain: impl IntoIterator<Item = &'a (dyn Error + 'static)>,
) -> Option<&'static str> {
    for e in chain {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match (io.raw_os_error(), io.kind()) {
                (Some(libc::ENOSPC), _) | (_, io::ErrorKind::StorageFull) => {
                    return Some(DISK_FULL)
                }
                (Some(libc::EDQUOT), _) | (_, io::ErrorKind::QuotaExceeded) => return Some(QUOTA),
                _ => {}
            }
        }
        let text = e.to_string();
        if text.contains("No space left on device") || text.contains("StorageFull") {
            return Some(DISK_FULL);
        }
        if text.contains("Disk quota exceeded") || text.contains("QuotaExceeded") {
            return Some(QUOTA);
        }
    }
    None
}

const DISK_FULL: &str = "disk full (No space left on device)";
const QUOTA: &str = "disk quota exceeded (Disk quota exceeded)";

/// `e` as `doing: why`: a full disk or quota in plain words rather than the OS's or a
/// library's wording of it, anything else as `e` under the context `doing`.
pub fn explain(e: anyhow::Error, doing: String) -> anyhow::Error {
    match no_space(e.chain()) {
        Some(why) => anyhow::anyhow!("{doing}: {why}"),
        None => e.context(doing),
    }
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

    #[test]
    fn a_failed_or_panicking_writer_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.bin");
        let tmp = dir.path().join(".m.tmp");
        let err = write_with(&p, &tmp, |t| {
            fs::write(t, vec![0u8; 4096])?;
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        });
        assert!(err.is_err());
        assert!(!tmp.exists() && !p.exists());
        let panicked = std::panic::catch_unwind(|| {
            let _ = write_with(&p, &tmp, |t| -> io::Result<()> {
                fs::write(t, b"partial")?;
                panic!("writer panicked")
            });
        });
        assert!(panicked.is_err());
        assert!(!tmp.exists());
    }

    #[test]
    fn a_full_disk_is_said_in_words_whoever_wrapped_it() {
        let os = anyhow::Error::from(io::Error::from_raw_os_error(libc::ENOSPC));
        let e = explain(os, "cannot write /r/x".into());
        assert_eq!(
            e.to_string(),
            "cannot write /r/x: disk full (No space left on device)"
        );
        // tch keeps only the safetensors error's debug text.
        let tch = anyhow::anyhow!(
            "safetensors error /r/.m.tmp: IoError(Os {{ code: 28, kind: StorageFull, \
             message: \"No space left on device\" }})"
        );
        let e = format!("{:#}", explain(tch, "cannot save /r/m".into()));
        assert_eq!(e, "cannot save /r/m: disk full (No space left on device)");
        let quota = anyhow::Error::from(io::Error::from_raw_os_error(libc::EDQUOT));
        assert!(explain(quota, "x".into()).to_string().contains("quota"));
        let other = anyhow::Error::from(io::Error::from_raw_os_error(libc::EACCES));
        let e = format!("{:#}", explain(other, "cannot write /r/x".into()));
        assert!(e.starts_with("cannot write /r/x: Permission denied"), "{e}");
    }
}

//! Atomic file writes by path, for files outside the directories the program keeps (the
//! user's config file): the file's directory is opened and the write goes through it
//! ([`crate::files::Dir::write`]: a temp file created anew, synced, renamed into place,
//! the directory synced; never through a planted link). A crash at any moment leaves the
//! old file or the new one under the final name, never a half-written one. [`explain`]
//! words a failed write for people ("disk full" and where).

use std::error::Error;
use std::io;
use std::path::Path;

use crate::files::Dir;

/// Write `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    // A bare file name's parent is "": the working directory.
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} names no file", path.display()))?;
    Dir::open(dir)?.write(name, bytes)
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
    use std::fs;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let bad = dir.path().join("missing-dir").join("x.bin");
        assert!(write(&bad, b"x").is_err());
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

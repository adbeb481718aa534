//! Downloading the dataset: each file from the first mirror that delivers it intact.
//!
//! A download is verified by the SHA-256 of its *decompressed* content (distributors
//! recompress the gzip files, so compressed bytes differ while the content does not).
//! It is written to a temporary file in the destination directory, checked, synced and
//! renamed into place, so the final name only ever holds a verified file.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::time::Duration;

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::idx::{file_in, MAX_PAYLOAD};
use super::{DataError, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};

/// A file to download and the SHA-256 (lowercase hex) of its decompressed content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    pub name: Cow<'static, str>,
    pub content_sha256: Cow<'static, str>,
}

/// The four Fashion-MNIST files. Hashes checked against the originals' decompressed sizes.
pub const FASHION_MNIST: [RemoteFile; 4] = [
    RemoteFile {
        name: Cow::Borrowed(TRAIN_IMAGES),
        content_sha256: Cow::Borrowed(
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
    },
    RemoteFile {
        name: Cow::Borrowed(TRAIN_LABELS),
        content_sha256: Cow::Borrowed(
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
    },
    RemoteFile {
        name: Cow::Borrowed(TEST_IMAGES),
        content_sha256: Cow::Borrowed(
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
    },
    RemoteFile {
        name: Cow::Borrowed(TEST_LABELS),
        content_sha256: Cow::Borrowed(
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    },
];

/// Canonical mirrors, tried in order for each file. Plain HTTP is fine: the content hash,
/// not the transport, vouches for the data.
pub const MIRRORS: &[&str] = &[
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
];

/// Largest download accepted for one file, so a hostile server cannot fill the disk.
/// The biggest real file is about 26 MiB compressed.
pub const MAX_DOWNLOAD: u64 = 64 * 1024 * 1024;

const PROGRESS_STEP: u64 = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection that delivers nothing for this long is dead; a slow one that keeps
/// delivering is left alone (there is deliberately no overall timeout).
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Temporary files older than this are leftovers of a killed process.
const STALE_PART_AGE: Duration = Duration::from_secs(3600);

/// How far the download of one file has got. `total` is `None` when the server does not
/// say; the last report for a file has `bytes == total`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchProgress {
    pub file: String,
    pub bytes: u64,
    pub total: Option<u64>,
}

/// Downloads every file in `files` that `dest` does not already hold intact, trying
/// `mirrors` in order for each. `progress` is called about every 64 KiB and once at the
/// end of each download.
pub fn fetch(
    files: &[RemoteFile],
    mirrors: &[&str],
    dest: &Path,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<(), DataError> {
    fs::create_dir_all(dest).map_err(|error| DataError::Io {
        path: dest.to_path_buf(),
        error,
    })?;
    for file in files {
        if file_in(dest, &file.name).is_some_and(|p| verify_file(&p, &file.content_sha256).is_ok())
        {
            continue;
        }
        remove_stale_parts(dest, &file.name);
        let mut failures = Vec::new();
        let mut done = false;
        for mirror in mirrors {
            let url = join_url(mirror, &file.name);
            match download(&url, file, dest, progress) {
                Ok(()) => {
                    done = true;
                    break;
                }
                Err(Failure::Mirror(why)) => failures.push(format!("{url}: {why}")),
                Err(Failure::Local(e)) => return Err(e),
            }
        }
        if !done {
            let reason = if failures.is_empty() {
                "no mirror is configured".to_owned()
            } else {
                format!("every mirror failed ({})", failures.join("; "))
            };
            return Err(DataError::Download {
                file: file.name.to_string(),
                reason,
            });
        }
    }
    Ok(())
}

/// Checks that `dir` holds every file in `files` (compressed or not) with the right content.
pub fn verify_dir(files: &[RemoteFile], dir: &Path) -> Result<(), DataError> {
    for file in files {
        let path = file_in(dir, &file.name).ok_or_else(|| DataError::Missing {
            path: dir.join(&*file.name),
        })?;
        verify_file(&path, &file.content_sha256)?;
    }
    Ok(())
}

/// Checks the content hash of one file, gzip-compressed or not.
pub fn verify_file(path: &Path, expected_sha256: &str) -> Result<(), DataError> {
    let bytes = read_capped(path)?;
    let actual = content_sha256(&bytes).map_err(|reason| DataError::Invalid {
        file: path.display().to_string(),
        reason: format!("{reason}; delete it and run again to download a fresh copy"),
    })?;
    if !actual.eq_ignore_ascii_case(expected_sha256) {
        return Err(DataError::Checksum {
            file: path.display().to_string(),
            expected: expected_sha256.to_owned(),
            actual,
        });
    }
    Ok(())
}

fn read_capped(path: &Path) -> Result<Vec<u8>, DataError> {
    let io_err = |error: io::Error| match error.kind() {
        io::ErrorKind::NotFound => DataError::Missing {
            path: path.to_path_buf(),
        },
        _ => DataError::Io {
            path: path.to_path_buf(),
            error,
        },
    };
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_DOWNLOAD + 1).read_to_end(&mut bytes))
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_DOWNLOAD {
        return Err(DataError::Invalid {
            file: path.display().to_string(),
            reason: format!(
                "larger than {} MiB, far bigger than any Fashion-MNIST file",
                MAX_DOWNLOAD >> 20
            ),
        });
    }
    Ok(bytes)
}

/// SHA-256 (lowercase hex) of `bytes`, decompressed first if they are gzip. The error
/// says why the data could not be decompressed.
fn content_sha256(bytes: &[u8]) -> Result<String, String> {
    let mut hasher = Sha256::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let limit = MAX_PAYLOAD + 16;
        let copied = io::copy(&mut MultiGzDecoder::new(bytes).take(limit + 1), &mut hasher)
            .map_err(|e| format!("not a valid gzip file ({e})"))?;
        if copied > limit {
            return Err(format!(
                "decompresses to more than {limit} bytes, far more than any Fashion-MNIST file"
            ));
        }
    } else {
        hasher.update(bytes);
    }
    let mut hex = String::with_capacity(64);
    for byte in hasher.finalize() {
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(hex)
}

/// Why one attempt failed: the mirror's fault (try the next), or ours (stop).
enum Failure {
    Mirror(String),
    Local(DataError),
}

fn download(
    url: &str,
    file: &RemoteFile,
    dest: &Path,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<(), Failure> {
    let mut response = agent_for(url)
        .get(url)
        .call()
        .map_err(|e| Failure::Mirror(describe(&e)))?;
    let total = response.body().content_length();
    if let Some(total) = total.filter(|&t| t > MAX_DOWNLOAD) {
        return Err(Failure::Mirror(format!(
            "the server offers {total} bytes, more than the {} MiB limit",
            MAX_DOWNLOAD >> 20
        )));
    }
    let mut part = PartFile::create(dest, &file.name).map_err(Failure::Local)?;
    let local = |path: &Path| {
        let path = path.to_path_buf();
        move |error| Failure::Local(DataError::Io { path, error })
    };

    let mut body = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD)
        .reader();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut bytes, mut reported) = (0u64, None);
    let report = |bytes| FetchProgress {
        file: file.name.to_string(),
        bytes,
        total,
    };
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let of_total = total.map(|t| format!(" of {t}")).unwrap_or_default();
                return Err(Failure::Mirror(format!(
                    "the transfer broke off after {bytes}{of_total} bytes ({e})"
                )));
            }
        };
        part.file.write_all(&buf[..n]).map_err(local(&part.path))?;
        bytes += n as u64;
        if bytes >= reported.unwrap_or(0) + PROGRESS_STEP {
            progress(report(bytes));
            reported = Some(bytes);
        }
    }
    if let Some(total) = total.filter(|&t| t != bytes) {
        return Err(Failure::Mirror(format!(
            "the connection closed after {bytes} of {total} bytes"
        )));
    }
    if reported != Some(bytes) {
        progress(report(bytes));
    }
    part.file.sync_all().map_err(local(&part.path))?;

    let data = fs::read(&part.path).map_err(local(&part.path))?;
    let actual = content_sha256(&data).map_err(Failure::Mirror)?;
    if !actual.eq_ignore_ascii_case(&file.content_sha256) {
        return Err(Failure::Mirror(format!(
            "checksum mismatch: content SHA-256 is {actual}, expected {} (corrupt download)",
            file.content_sha256
        )));
    }
    // A server that set `Content-Encoding: gzip` has had its data decompressed in transit:
    // keep it uncompressed, under the name without `.gz`, which the reader also accepts.
    let gzipped = data.starts_with(&[0x1f, 0x8b]);
    let name: &str = &file.name;
    let (final_name, other_name) = match name.strip_suffix(".gz") {
        Some(plain) if !gzipped => (plain, Some(name)),
        Some(plain) => (name, Some(plain)),
        None => (name, None),
    };
    let final_path = dest.join(final_name);
    fs::rename(&part.path, &final_path).map_err(local(&final_path))?;
    part.keep = true;
    if let Some(other) = other_name {
        // A stale copy under the other name would shadow or duplicate this one.
        let _ = fs::remove_file(dest.join(other));
    }
    sync_dir(dest).map_err(local(dest))?;
    Ok(())
}

/// A temporary download file that removes itself unless `keep` is set.
struct PartFile {
    path: PathBuf,
    file: File,
    keep: bool,
}

impl PartFile {
    fn create(dir: &Path, name: &str) -> Result<PartFile, DataError> {
        let path = dir.join(format!(".{name}.{}.part", process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|error| DataError::Io {
                path: path.clone(),
                error,
            })?;
        Ok(PartFile {
            path,
            file,
            keep: false,
        })
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Removes temporary files a killed run left behind for `name`.
fn remove_stale_parts(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_PART_AGE);
        if file_name.starts_with(&prefix) && file_name.ends_with(".part") && stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes a rename durable: on Unix the directory entry needs its own fsync.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn join_url(mirror: &str, name: &str) -> String {
    if mirror.ends_with('/') {
        format!("{mirror}{name}")
    } else {
        format!("{mirror}/{name}")
    }
}

fn agent_for(url: &str) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .timeout_resolve(Some(CONNECT_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .timeout_per_read(Some(STALL_TIMEOUT))
        // Ask for the bytes as stored; transport compression would only get in the way.
        .accept_encoding("")
        .user_agent(concat!("fashion-tui/", env!("CARGO_PKG_VERSION")));
    if is_loopback(url) {
        // A proxy cannot reach our loopback interface.
        config = config.proxy(None);
    }
    config.build().new_agent()
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::StatusCode(code) => {
            let meaning = match code {
                403 => " (forbidden)",
                404 => " (not found)",
                429 => " (too many requests)",
                500..=599 => " (server error)",
                _ => "",
            };
            format!("HTTP {code}{meaning}")
        }
        ureq::Error::Timeout(what) => format!("timed out ({what})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::{encode_labels, gzip};

    #[test]
    fn content_hash_ignores_compression() {
        let raw = encode_labels(&[1, 2, 3]);
        let hash = content_sha256(&raw).unwrap();
        assert_eq!(content_sha256(&gzip(&raw)).unwrap(), hash);
        assert_eq!(hash.len(), 64);
        let sha = format!("{:x}", Sha256::digest(&raw));
        assert_eq!(hash, sha);
        let gz = gzip(&raw);
        assert!(content_sha256(&gz[..gz.len() - 6]).is_err());
    }

    #[test]
    fn verify_reports_missing_and_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let raw = encode_labels(&[4, 5]);
        let good = RemoteFile {
            name: "a.gz".into(),
            content_sha256: content_sha256(&raw).unwrap().into(),
        };
        assert!(matches!(
            verify_dir(std::slice::from_ref(&good), dir.path()),
            Err(DataError::Missing { .. })
        ));
        fs::write(dir.path().join("a.gz"), gzip(&raw)).unwrap();
        verify_dir(std::slice::from_ref(&good), dir.path()).unwrap();
        let bad = RemoteFile {
            content_sha256: "00".repeat(32).into(),
            ..good
        };
        let err = verify_dir(&[bad], dir.path()).unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }), "{err:?}");
    }

    #[test]
    fn urls_and_loopback() {
        assert_eq!(join_url("http://h/d/", "f.gz"), "http://h/d/f.gz");
        assert_eq!(join_url("http://h/d", "f.gz"), "http://h/d/f.gz");
        assert!(is_loopback("http://127.0.0.1:8080/x/"));
        assert!(is_loopback("http://localhost/x"));
        assert!(is_loopback("http://[::1]:99/"));
        assert!(!is_loopback(MIRRORS[0]));
        assert!(!is_loopback(MIRRORS[1]));
        assert!(!is_loopback("http://127.0.0.1.example.com/"));
    }

    #[test]
    fn stale_parts_are_removed_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join(".a.gz.1.part");
        let old = dir.path().join(".a.gz.2.part");
        let other = dir.path().join("a.gz");
        for p in [&fresh, &old, &other] {
            fs::write(p, b"x").unwrap();
        }
        let long_ago = std::time::SystemTime::now() - 2 * STALE_PART_AGE;
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        File::options()
            .write(true)
            .open(&other)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        remove_stale_parts(dir.path(), "a.gz");
        assert!(fresh.exists() && other.exists() && !old.exists());
    }
}

//! Where the dataset lives: an explicit directory (`--data-dir` or the config file),
//! `$FASHION_MNIST_DIR`, the per-user cache, then the Debian package's directory, in that
//! order; downloading into the first writable place when none has the files.
//!
//! The search itself ([`candidates`], [`find`], [`resolve_from`]) takes its inputs as
//! arguments, so tests never see the real environment; [`resolve`] reads it.

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::fetch::{self, FetchProgress, RemoteFile, FASHION_MNIST, MIRRORS};
use super::idx::{file_in, Repair};
use super::DataError;

/// Where the Debian package `dataset-fashion-mnist` installs the files.
pub const SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Environment variable naming a data directory.
pub const ENV_VAR: &str = "FASHION_MNIST_DIR";

pub const ORIGIN_EXPLICIT: &str = "--data-dir";
pub const ORIGIN_ENV: &str = "$FASHION_MNIST_DIR";
pub const ORIGIN_CACHE: &str = "cache";
pub const ORIGIN_SYSTEM: &str = "system";

/// A directory that may hold the dataset, and why we look there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub dir: PathBuf,
    /// One of the `ORIGIN_*` constants.
    pub origin: &'static str,
}

/// The directories to search, best first.
///
/// An explicit directory is the only candidate when given: the user asked for it, so a
/// directory without the files must be reported, not silently passed over.
pub fn candidates(
    explicit: Option<&Path>,
    env_dir: Option<&Path>,
    cache_dir: Option<&Path>,
    system_dir: &Path,
) -> Vec<Candidate> {
    let candidate = |dir: &Path, origin| Candidate {
        dir: dir.to_path_buf(),
        origin,
    };
    if let Some(dir) = explicit {
        return vec![candidate(dir, ORIGIN_EXPLICIT)];
    }
    let mut out = Vec::with_capacity(3);
    out.extend(env_dir.map(|d| candidate(d, ORIGIN_ENV)));
    out.extend(cache_dir.map(|d| candidate(d, ORIGIN_CACHE)));
    out.push(candidate(system_dir, ORIGIN_SYSTEM));
    out
}

/// [`candidates`] from the real environment: `explicit`, else `$FASHION_MNIST_DIR`, the
/// cache and the system directory.
pub fn usual_candidates(explicit: Option<&Path>) -> Vec<Candidate> {
    candidates(
        explicit,
        env_dir().as_deref(),
        default_cache_dir().as_deref(),
        Path::new(SYSTEM_DIR),
    )
}

/// `$FASHION_MNIST_DIR`, if set and not empty.
pub fn env_dir() -> Option<PathBuf> {
    env::var_os(ENV_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The per-user cache directory for the dataset, e.g. `~/.cache/fashion-tui/fashion-mnist`.
pub fn default_cache_dir() -> Option<PathBuf> {
    crate::paths::cache_dir().map(|d| d.join("fashion-mnist"))
}

/// Whether a run without `--data-dir` downloads missing files into `dir` (or, for the
/// read-only system directory, into the cache instead), so that deleting a bad file
/// there and running again gets a fresh copy. Not so for any other directory: one named
/// with `--data-dir` is never downloaded into.
pub fn downloads_into(dir: &Path) -> bool {
    let target = env_dir().or_else(default_cache_dir);
    target.as_deref() == Some(dir) || dir == Path::new(SYSTEM_DIR)
}

/// What fixes a bad file in `dir`: a fresh download where one would happen, else a
/// replacement by hand.
pub fn repair_for(dir: &Path) -> Repair {
    if downloads_into(dir) {
        Repair::Refetch
    } else {
        Repair::Replace
    }
}

/// The first candidate that holds the files `names` (compressed or not): the four of
/// [`super::FILE_NAMES`] to train, the test split's two to evaluate.
pub fn find<'a>(cands: &'a [Candidate], names: &[&str]) -> Option<&'a Candidate> {
    cands
        .iter()
        .find(|c| missing_files(&c.dir, names).is_empty())
}

/// Those of the dataset files `names` that `dir` lacks (all if it does not exist).
pub fn missing_files<'a>(dir: &Path, names: &[&'a str]) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|name| file_in(dir, name).is_none())
        .collect()
}

/// A file `dir` lacks, named for a message: just the name when nothing is there, else
/// with what is there instead (a directory, a FIFO, a device) or why it cannot be seen.
fn describe_missing(dir: &Path, name: &str) -> String {
    let names = [Some(name), name.strip_suffix(".gz")];
    for path in names.into_iter().flatten().map(|n| dir.join(n)) {
        match fs::metadata(&path) {
            Ok(meta) => {
                return format!(
                    "{name} as a file ({} is {})",
                    path.display(),
                    crate::config::file_kind(&meta)
                )
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return format!("{name} that can be read ({}: {e})", path.display())
            }
            Err(_) => {}
        }
    }
    name.to_string()
}

/// Finds the dataset files `names` ([`super::FILE_NAMES`] or [`super::TEST_FILE_NAMES`]) in the usual
/// places ([`candidates`] from the real environment), or downloads them from the canonical
/// [`MIRRORS`]. See [`resolve_from`] for the policy.
pub fn resolve(
    explicit: Option<&Path>,
    allow_download: bool,
    names: &[&str],
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<(PathBuf, &'static str), DataError> {
    let cands = usual_candidates(explicit);
    let files: Vec<RemoteFile> = FASHION_MNIST
        .iter()
        .filter(|f| names.contains(&f.name.as_ref()))
        .cloned()
        .collect();
    resolve_from(&cands, &files, MIRRORS, allow_download, progress)
}

/// Returns the directory holding the dataset and its origin; `files` and `mirrors` say
/// what to download and from where ([`FASHION_MNIST`] and [`MIRRORS`] in [`resolve`]).
///
/// The first candidate with all of `files` wins. Otherwise they are downloaded into
/// the first candidate that is not the (read-only) system directory: the explicit
/// directory only if `allow_download`, else `$FASHION_MNIST_DIR` if set, else the cache.
/// Files already there and valid are kept. An explicit directory without the files and
/// without permission to download is [`DataError::Incomplete`].
pub fn resolve_from(
    cands: &[Candidate],
    files: &[RemoteFile],
    mirrors: &[&str],
    allow_download: bool,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<(PathBuf, &'static str), DataError> {
    let names: Vec<&str> = files.iter().map(|f| f.name.as_ref()).collect();
    if let Some(found) = find(cands, &names) {
        return Ok((found.dir.clone(), found.origin));
    }
    let target = cands
        .iter()
        .find(|c| c.origin != ORIGIN_SYSTEM)
        .ok_or(DataError::NoCacheDir)?;
    if target.origin == ORIGIN_EXPLICIT && !allow_download {
        return Err(DataError::Incomplete {
            dir: target.dir.clone(),
            origin: target.origin,
            missing: missing_files(&target.dir, &names)
                .into_iter()
                .map(|name| describe_missing(&target.dir, name))
                .collect(),
        });
    }
    fetch::fetch(files, mirrors, &target.dir, progress)?;
    Ok((target.dir.clone(), target.origin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{FILE_NAMES, TEST_FILE_NAMES};
    use std::fs;

    fn touch_all(dir: &Path, names: &[&str]) {
        fs::create_dir_all(dir).unwrap();
        for name in names {
            fs::write(dir.join(name), b"x").unwrap();
        }
    }

    fn no_progress() -> impl FnMut(FetchProgress) {
        |p| panic!("nothing should be downloaded, got {p:?}")
    }

    #[test]
    fn candidate_order() {
        let (e, c, s) = (Path::new("/e"), Path::new("/c"), Path::new("/s"));
        let all = candidates(None, Some(e), Some(c), s);
        let got: Vec<_> = all.iter().map(|c| (c.dir.as_path(), c.origin)).collect();
        assert_eq!(
            got,
            [(e, ORIGIN_ENV), (c, ORIGIN_CACHE), (s, ORIGIN_SYSTEM)]
        );
        let got = candidates(None, None, None, s);
        assert_eq!(
            got,
            [Candidate {
                dir: s.into(),
                origin: ORIGIN_SYSTEM
            }]
        );
        let got = candidates(Some(Path::new("/x")), Some(e), Some(c), s);
        assert_eq!(
            got,
            [Candidate {
                dir: "/x".into(),
                origin: ORIGIN_EXPLICIT
            }]
        );
    }

    #[test]
    fn find_takes_the_first_complete_directory() {
        let root = tempfile::tempdir().unwrap();
        let (partial, plain, full) = (
            root.path().join("partial"),
            root.path().join("plain"),
            root.path().join("full"),
        );
        touch_all(&partial, &FILE_NAMES[..3]);
        touch_all(&full, &FILE_NAMES);
        // Uncompressed copies count too.
        let plain_names: Vec<_> = FILE_NAMES
            .iter()
            .map(|n| n.trim_end_matches(".gz"))
            .collect();
        touch_all(&plain, &plain_names);

        let cands = candidates(None, Some(&partial), Some(&full), root.path());
        assert_eq!(find(&cands, &FILE_NAMES).unwrap().dir, full);
        assert_eq!(missing_files(&partial, &FILE_NAMES), [FILE_NAMES[3]]);
        let cands = candidates(None, Some(&partial), Some(&plain), &full);
        assert_eq!(find(&cands, &FILE_NAMES).unwrap().origin, ORIGIN_CACHE);
        let cands = candidates(None, Some(&partial), None, &root.path().join("nowhere"));
        assert_eq!(find(&cands, &FILE_NAMES), None);
        assert_eq!(
            missing_files(&root.path().join("nowhere"), &FILE_NAMES).len(),
            4
        );
    }

    #[test]
    fn evaluating_needs_only_the_test_files() {
        let root = tempfile::tempdir().unwrap();
        let test_only = root.path().join("test-only");
        touch_all(&test_only, &TEST_FILE_NAMES);
        let cands = candidates(Some(&test_only), None, None, root.path());
        assert_eq!(find(&cands, &FILE_NAMES), None);
        assert_eq!(find(&cands, &TEST_FILE_NAMES).unwrap().dir, test_only);
        let test_files: Vec<RemoteFile> = FASHION_MNIST
            .iter()
            .filter(|f| TEST_FILE_NAMES.contains(&f.name.as_ref()))
            .cloned()
            .collect();
        let got = resolve_from(&cands, &test_files, &[], false, &mut no_progress()).unwrap();
        assert_eq!(got, (test_only.clone(), ORIGIN_EXPLICIT));
        // Training still needs all four, and says which are missing.
        match resolve_from(&cands, &FASHION_MNIST, &[], false, &mut no_progress()) {
            Err(DataError::Incomplete { missing, .. }) => {
                assert_eq!(missing, FILE_NAMES[..2]);
            }
            other => panic!("expected Incomplete, got {other:?}"),
        }
    }

    #[test]
    fn explicit_directory_without_files_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        let full = root.path().join("full");
        touch_all(&full, &FILE_NAMES);
        touch_all(root.path(), &FILE_NAMES[1..]);
        let cands = candidates(Some(root.path()), None, Some(&full), &full);
        let err = resolve_from(&cands, &FASHION_MNIST, &[], false, &mut no_progress()).unwrap_err();
        match &err {
            DataError::Incomplete {
                dir,
                origin,
                missing,
            } => {
                assert_eq!(dir, root.path());
                assert_eq!(*origin, ORIGIN_EXPLICIT);
                assert_eq!(missing, &[FILE_NAMES[0]]);
            }
            other => panic!("expected Incomplete, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("--data-dir") && msg.contains(FILE_NAMES[0]),
            "{msg}"
        );

        let cands = candidates(Some(&full), None, None, root.path());
        let got = resolve_from(&cands, &FASHION_MNIST, &[], false, &mut no_progress()).unwrap();
        assert_eq!(got, (full, ORIGIN_EXPLICIT));
    }

    #[test]
    fn resolve_falls_through_to_later_candidates() {
        let root = tempfile::tempdir().unwrap();
        let (env, cache, system) = (
            root.path().join("env"),
            root.path().join("cache"),
            root.path().join("system"),
        );
        touch_all(&system, &FILE_NAMES);
        let cands = candidates(None, Some(&env), Some(&cache), &system);
        let got = resolve_from(&cands, &FASHION_MNIST, &[], false, &mut no_progress()).unwrap();
        assert_eq!(got, (system, ORIGIN_SYSTEM));
    }

    #[test]
    fn nowhere_to_download_to() {
        let root = tempfile::tempdir().unwrap();
        let cands = candidates(None, None, None, root.path());
        let err = resolve_from(&cands, &FASHION_MNIST, &[], true, &mut no_progress()).unwrap_err();
        assert!(matches!(err, DataError::NoCacheDir), "{err:?}");
    }

    #[test]
    fn cache_dir_is_under_the_project_name() {
        if let Some(dir) = default_cache_dir() {
            assert!(dir.ends_with("fashion-mnist"));
            assert!(dir.to_string_lossy().contains("fashion-tui"));
        }
    }
}

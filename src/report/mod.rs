//! Files for humans from finished runs: loss and accuracy curves and the confusion matrix
//! as SVG and PNG, and the per-epoch metrics as CSV. Used by `fashion-tui report` and by
//! `train` once a run ends; the trainer itself knows nothing of them.
//!
//! What a report directory holds is recorded in [`MANIFEST_FILE`] (the runs it was made
//! from), so a later report may replace our own files of the same runs but never files
//! of another run set or files that someone else made (see [`check_out_dir`]).

pub mod csv;
pub mod plot;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::UsageError;
use crate::events::Confusion;
use crate::files::{Dir, KB, MB};
use crate::store::run_dir::METRICS_FILE;

pub const CURVES_SVG: &str = "curves.svg";
pub const CURVES_PNG: &str = "curves.png";
pub const CONFUSION_SVG: &str = "confusion.svg";
pub const CONFUSION_PNG: &str = "confusion.png";
pub const METRICS_CSV: &str = "metrics.csv";
/// Which runs the report files beside it were made from.
pub const MANIFEST_FILE: &str = "report.json";

/// Every file a report writes, the manifest last.
pub const FILES: [&str; 6] = [
    CURVES_SVG,
    CURVES_PNG,
    CONFUSION_SVG,
    CONFUSION_PNG,
    METRICS_CSV,
    MANIFEST_FILE,
];

/// One line of `metrics.jsonl`: the fields a report uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Epoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    /// On the held-out training images (`data.validation`), when the run held some out.
    #[serde(default)]
    pub val_loss: Option<f64>,
    #[serde(default)]
    pub val_acc: Option<f64>,
    pub lr: f64,
    #[serde(default)]
    pub seconds: f64,
    #[serde(default)]
    pub eval_seconds: f64,
    #[serde(default)]
    pub images_per_sec: f64,
    pub confusion: Confusion,
}

/// A run directory's name and its finished epochs, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub name: String,
    pub dir: PathBuf,
    pub epochs: Vec<Epoch>,
}

impl Run {
    /// Read `dir/metrics.jsonl`. A directory without finished epochs is a usage error.
    pub fn load(dir: &Path) -> Result<Run> {
        Run::load_finished(dir)?.ok_or_else(|| {
            UsageError(format!(
                "{} has no finished epoch ({} is missing or empty): nothing to report",
                dir.display(),
                dir.join(METRICS_FILE).display()
            ))
            .into()
        })
    }

    /// Like [`Run::load`], but `None` when no epoch finished.
    pub fn load_finished(dir: &Path) -> Result<Option<Run>> {
        if !dir.is_dir() {
            return Err(UsageError(format!("{} is not a run directory", dir.display())).into());
        }
        let path = dir.join(METRICS_FILE);
        let text = crate::store::metrics::text(&Dir::open(dir)?)?;
        let mut epochs: Vec<Epoch> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let e: Epoch = serde_json::from_str(line).with_context(|| {
                format!("{} line {}: not an epoch record", path.display(), n + 1)
            })?;
            // A resumed run may repeat epochs; the later line is the one that counts.
            epochs.retain(|old| old.epoch < e.epoch);
            epochs.push(e);
        }
        if epochs.is_empty() {
            return Ok(None);
        }
        let name = std::path::absolute(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Some(Run {
            name,
            dir: dir.to_path_buf(),
            epochs,
        }))
    }

    /// Whether the run held training images out: they chose its best epoch.
    pub fn validated(&self) -> bool {
        self.epochs.iter().any(|e| e.val_acc.is_some())
    }

    /// The accuracy that chooses the best epoch: the validation accuracy when the run
    /// held images out (`None` for an epoch without it), else the test accuracy.
    pub fn score(&self, e: &Epoch) -> Option<f64> {
        if self.validated() {
            e.val_acc
        } else {
            Some(e.test_acc)
        }
    }

    /// The best epoch (the earliest of equals): by validation accuracy when the run held
    /// images out, as the trainer chose it, else by test accuracy.
    pub fn best(&self) -> &Epoch {
        let score = |e: &Epoch| self.score(e).unwrap_or(f64::NEG_INFINITY);
        self.epochs
            .iter()
            .reduce(|best, e| if score(e) > score(best) { e } else { best })
            .expect("a loaded run has an epoch")
    }
}

/// The record of which runs a report directory's files were made from, and of each file
/// the report wrote (its SHA-256), so that a later report overwrites only files that are
/// still exactly what a report wrote there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Run directories, in the order given, with symbolic links resolved (so a run named
    /// through a link or a relative path is still the same run).
    pub runs: Vec<PathBuf>,
    /// Each file written, by name, with its SHA-256 (reports of earlier versions have
    /// none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest as written into the report directory `out` (canonical): each run
    /// relative to it, so that moving a run directory with its own report in it (or a
    /// directory of runs with their overlay's report) keeps the report theirs.
    fn relative_to(&self, out: &Path) -> Manifest {
        Manifest {
            runs: self.runs.iter().map(|r| relative(r, out)).collect(),
            files: self.files.clone(),
        }
    }

    /// The runs of a manifest read from the report directory `out` (canonical), as
    /// absolute paths (earlier reports wrote absolute paths, which stay as they are).
    fn resolved_in(&self, out: &Path) -> Manifest {
        Manifest {
            runs: self.runs.iter().map(|r| normalise(&out.join(r))).collect(),
            files: self.files.clone(),
        }
    }

    pub fn of(runs: &[Run]) -> Manifest {
        Manifest {
            runs: runs
                .iter()
                .map(|r| {
                    fs::canonicalize(&r.dir)
                        .or_else(|_| std::path::absolute(&r.dir))
                        .unwrap_or_else(|_| r.dir.clone())
                })
                .collect(),
            files: BTreeMap::new(),
        }
    }
}

/// SHA-256 of `bytes`, lowercase hex.
fn fingerprint(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes))
}

/// `path` relative to `base`, both absolute and without `.` or `..` components.
fn relative(path: &Path, base: &Path) -> PathBuf {
    let (p, b): (Vec<_>, Vec<_>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out: PathBuf = b[common..].iter().map(|_| Component::ParentDir).collect();
    out.extend(&p[common..]);
    if out.as_os_str().is_empty() {
        out.push(Component::CurDir);
    }
    out
}

/// `path` with its `.` and `..` components worked out, without asking the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The most a report file may be to be compared with what a report wrote (plots are a
/// few hundred kilobytes).
const REPORT_FILE_BOUND: u64 = 64 * MB;

/// Refuse to write into `out` when it holds report files that are not a report's of
/// exactly these runs: files without a manifest, a manifest of another run set, or a file
/// changed since the report wrote it (its SHA-256 is in the manifest). A report of an
/// earlier version (no fingerprints) is trusted only in the run's own directory.
pub fn check_out_dir(out: &Dir, manifest: &Manifest, own: bool) -> Result<()> {
    let present: Vec<&str> = FILES.iter().copied().filter(|f| out.has(f)).collect();
    if present.is_empty() {
        return Ok(());
    }
    let here = fs::canonicalize(out.path()).unwrap_or_else(|_| out.path().to_path_buf());
    let previous = out
        .read_text(MANIFEST_FILE, 64 * KB, "a report's manifest")?
        .and_then(|t| serde_json::from_str::<Manifest>(&t).ok())
        .map(|m| m.resolved_in(&here));
    let list = |m: &Manifest| {
        m.runs
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let foreign = |names: Vec<&str>| {
        UsageError(format!(
            "{} already holds {} not written by a report; choose another --out directory \
             or remove them",
            out.path().display(),
            names.join(", ")
        ))
    };
    let Some(p) = previous else {
        return Err(foreign(present).into());
    };
    if p.runs != manifest.runs {
        return Err(UsageError(format!(
            "{} already holds the report of {}, not of {}; choose another --out directory \
             or remove those files",
            out.path().display(),
            list(&p),
            list(manifest)
        ))
        .into());
    }
    if p.files.is_empty() && own {
        return Ok(());
    }
    let changed: Vec<&str> = present
        .into_iter()
        .filter(|&f| f != MANIFEST_FILE)
        .filter(|f| {
            let now = out.read(f, REPORT_FILE_BOUND, "a report's plot or table");
            let now = now.ok().flatten().map(|b| fingerprint(&b));
            now.is_none() || p.files.get(*f) != now.as_ref()
        })
        .collect();
    if changed.is_empty() {
        Ok(())
    } else {
        Err(foreign(changed).into())
    }
}

/// Write the plots, the CSV and the manifest for `runs` into `out` (created if needed),
/// each file atomically and never through a planted link. Returns the paths written.
pub fn write(runs: &[Run], out: &Path) -> Result<Vec<PathBuf>> {
    anyhow::ensure!(!runs.is_empty(), "no runs to report");
    if out.exists() && !out.is_dir() {
        return Err(UsageError(format!(
            "{} is a file, not a directory: --out names the directory for the report",
            out.display()
        ))
        .into());
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let dir = Dir::open(out)?;
    let mut manifest = Manifest::of(runs);
    let own =
        runs.len() == 1 && Manifest::of(runs).runs.first() == fs::canonicalize(out).ok().as_ref();
    check_out_dir(&dir, &manifest, own)?;
    let here = fs::canonicalize(out).with_context(|| format!("cannot open {}", out.display()))?;
    let curves = plot::Curves { runs };
    let confusion = plot::Confusions { runs };
    let files: [(&str, Vec<u8>); 5] = [
        (CURVES_SVG, plot::svg(&curves)?.into_bytes()),
        (CURVES_PNG, plot::png(&curves)?),
        (CONFUSION_SVG, plot::svg(&confusion)?.into_bytes()),
        (CONFUSION_PNG, plot::png(&confusion)?),
        (METRICS_CSV, csv::metrics(runs).into_bytes()),
    ];
    let mut written = Vec::with_capacity(files.len() + 1);
    for (name, bytes) in files {
        dir.write(name, &bytes)?;
        manifest.files.insert(name.to_string(), fingerprint(&bytes));
        written.push(dir.join(name));
    }
    let text = serde_json::to_vec_pretty(&manifest.relative_to(&here))?;
    dir.write(MANIFEST_FILE, &text)?;
    written.push(dir.join(MANIFEST_FILE));
    Ok(written)
}

/// The report of one run into its own directory (the end-of-run hook). `Ok(None)` when
/// the run finished no epoch.
pub fn write_for_run(dir: &Path) -> Result<Option<PathBuf>> {
    let Some(run) = Run::load_finished(dir)? else {
        return Ok(None);
    };
    write(std::slice::from_ref(&run), dir)?;
    Ok(Some(dir.to_path_buf()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::NUM_CLASSES;

    /// A run of `n` epochs with plausible falling loss and rising accuracy.
    pub fn fake_run(name: &str, n: usize) -> Run {
        let epochs = (1..=n)
            .map(|e| {
                let f = e as f64;
                let mut confusion = [[2u32; NUM_CLASSES]; NUM_CLASSES];
                for (k, row) in confusion.iter_mut().enumerate() {
                    row[k] = 80 + e as u32 + k as u32;
                }
                Epoch {
                    epoch: e,
                    train_loss: 0.9 / f,
                    train_acc: 0.7 + 0.03 * f,
                    test_loss: 0.8 / f + 0.05,
                    test_acc: 0.72 + 0.028 * f,
                    val_loss: None,
                    val_acc: None,
                    lr: 0.001,
                    seconds: 1.5,
                    eval_seconds: 0.2,
                    images_per_sec: 4000.0,
                    confusion,
                }
            })
            .collect();
        Run {
            name: name.into(),
            dir: PathBuf::from(name),
            epochs,
        }
    }

    #[test]
    fn best_is_the_highest_test_accuracy() {
        let mut run = fake_run("a", 4);
        run.epochs[1].test_acc = 0.99;
        assert_eq!(run.best().epoch, 2);
        assert!(!run.validated());
    }

    #[test]
    fn held_out_images_choose_the_best_epoch() {
        let mut run = fake_run("a", 4);
        run.epochs[1].test_acc = 0.99;
        for (e, v) in run.epochs.iter_mut().zip([0.5, 0.6, 0.9, 0.9]) {
            e.val_acc = Some(v);
        }
        assert!(run.validated());
        assert_eq!(
            run.best().epoch,
            3,
            "the first of the highest validation accuracy"
        );
    }

    #[test]
    fn a_report_never_overwrites_what_is_not_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let a = Manifest {
            runs: vec!["/runs/a".into()],
            files: BTreeMap::new(),
        };
        let b = Manifest {
            runs: vec!["/runs/b".into()],
            files: BTreeMap::new(),
        };
        assert!(check_out_dir(&dir, &a, false).is_ok());
        fs::write(tmp.path().join(CURVES_PNG), b"someone's").unwrap();
        let e = check_out_dir(&dir, &a, false).unwrap_err().to_string();
        assert!(e.contains("curves.png not written by a report"), "{e}");
        // A manifest planted beside someone's file does not make it a report's: only a
        // file still as the report wrote it (its fingerprint) is.
        fs::write(
            tmp.path().join(MANIFEST_FILE),
            serde_json::to_string(&a).unwrap(),
        )
        .unwrap();
        let e = check_out_dir(&dir, &a, false).unwrap_err().to_string();
        assert!(e.contains("curves.png not written by a report"), "{e}");
        let mut fingerprinted = a.clone();
        fingerprinted
            .files
            .insert(CURVES_PNG.into(), fingerprint(b"someone's"));
        fs::write(
            tmp.path().join(MANIFEST_FILE),
            serde_json::to_string(&fingerprinted).unwrap(),
        )
        .unwrap();
        assert!(check_out_dir(&dir, &a, false).is_ok());
        let e = check_out_dir(&dir, &b, false).unwrap_err().to_string();
        assert!(e.contains("the report of /runs/a, not of /runs/b"), "{e}");
        // A file where the directory should be.
        let file = tmp.path().join("a-file");
        fs::write(&file, b"mine").unwrap();
        let e = write(&[fake_run("r", 1)], &file).unwrap_err().to_string();
        assert!(e.contains("is a file, not a directory"), "{e}");
    }

    #[test]
    fn a_report_moves_with_its_runs() {
        let root = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(root.path()).unwrap();
        let (runs, other) = (root.join("runs"), root.join("elsewhere"));
        let run = |d: &Path| Run {
            dir: d.into(),
            ..fake_run("r", 1)
        };
        // A run's own report, and an overlay's report beside two runs.
        let (a, b, overlay) = (runs.join("a"), runs.join("b"), runs.join("both"));
        for d in [&a, &b, &overlay] {
            fs::create_dir_all(d).unwrap();
        }
        write(&[run(&a)], &a).unwrap();
        write(&[run(&a), run(&b)], &overlay).unwrap();
        let written = fs::read_to_string(overlay.join(MANIFEST_FILE)).unwrap();
        assert!(written.contains("../a") && !written.contains(&*root.to_string_lossy()));
        fs::rename(&runs, &other).unwrap();
        let moved = |d: &str| other.join(d);
        assert!(write(&[run(&moved("a"))], &moved("a")).is_ok());
        let both = [run(&moved("a")), run(&moved("b"))];
        assert!(write(&both, &moved("both")).is_ok());
        // Still refused for another set of runs.
        let e = write(&[run(&moved("b"))], &moved("a")).unwrap_err();
        assert!(e.to_string().contains("already holds the report of"), "{e}");
    }

    #[test]
    fn relative_paths_go_up_and_down() {
        let rel = |p: &str, b: &str| relative(Path::new(p), Path::new(b));
        assert_eq!(rel("/r/a", "/r/a"), Path::new("."));
        assert_eq!(rel("/r/a", "/r/b"), Path::new("../a"));
        assert_eq!(rel("/r/a/x", "/r"), Path::new("a/x"));
        assert_eq!(rel("/x", "/r/b"), Path::new("../../x"));
        assert_eq!(normalise(Path::new("/r/b/../a/.")), Path::new("/r/a"));
    }

    #[test]
    fn a_run_named_through_a_link_is_the_same_run() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("run");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let named = |d: &Path| {
            Manifest::of(&[Run {
                dir: d.into(),
                ..fake_run("r", 1)
            }])
        };
        assert_eq!(named(&real), named(&link));
    }

    #[test]
    fn later_lines_of_a_resumed_run_win() {
        let dir = tempfile::tempdir().unwrap();
        let line = |e: usize, acc: f64| {
            format!(
                "{{\"epoch\":{e},\"train_loss\":1,\"train_acc\":0.5,\"test_loss\":1,\
                 \"test_acc\":{acc},\"lr\":0.001,\"confusion\":{}}}\n",
                serde_json::to_string(&[[0u32; 10]; 10]).unwrap()
            )
        };
        let text = [line(1, 0.5), line(2, 0.6), line(2, 0.7), line(3, 0.8)].concat();
        fs::write(dir.path().join(METRICS_FILE), text).unwrap();
        let run = Run::load(dir.path()).unwrap();
        let accs: Vec<f64> = run.epochs.iter().map(|e| e.test_acc).collect();
        assert_eq!(accs, [0.5, 0.7, 0.8]);
    }

    #[test]
    fn no_finished_epoch_is_said_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let e = Run::load(dir.path()).unwrap_err();
        assert!(e.is::<UsageError>());
        assert!(format!("{e}").contains("has no finished epoch"), "{e}");
        assert_eq!(write_for_run(dir.path()).unwrap(), None);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

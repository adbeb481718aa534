//! The run directory's rules, through the real binary: a run in it is never overwritten
//! silently, one process at a time uses it, a forced change of batch size restarts the
//! interrupted epoch, a checkpoint sidecar that does not fit its run is refused by field,
//! and a failed save leaves no temp file and says "disk full" and where.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use fashion_tui::events::{Command as TrainCommand, Phase, TrainEvent};
use fashion_tui::store::checkpoint;
use fashion_tui::train::{self, RunOptions};
use tempfile::TempDir;

use common::{bin, wait_for};

/// `train --headless` on `data` with the quick settings and `flags` (space-separated).
fn train(data: &Path, flags: &str) -> Command {
    let mut c = bin();
    c.args(["train", "--headless", "--device", "cpu", "--threads", "1"]);
    if !flags.contains("--batch-size") {
        c.args(["--batch-size", "16"]);
    }
    c.arg("--data-dir").arg(data).args(flags.split_whitespace());
    c
}

fn output(mut c: Command) -> Output {
    c.output().expect("running fashion-tui")
}

/// stdout and stderr together: headless messages and the final error.
fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Synthetic data (160 training images: 10 batches of 16) and an empty run directory.
fn setup() -> (TempDir, TempDir) {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 160, 40);
    (data, tempfile::tempdir().unwrap())
}

fn run_flag(run: &Path) -> String {
    format!("--run-dir {}", run.display())
}

fn resume_flag(run: &Path) -> String {
    format!("--resume {}", run.display())
}

fn read(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn metrics_epochs(run: &Path) -> Vec<u64> {
    String::from_utf8(read(run.join("metrics.jsonl")))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// Every file under `dir` whose name marks it as a temp file.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(temp_files(&p));
        } else if e.file_name().to_string_lossy().contains(".tmp") {
            found.push(p);
        }
    }
    found
}

/// Kills the child if a test fails while it runs.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_new_run_never_reuses_a_run_directory() {
    let (data, run) = setup();
    let r = run.path();
    // An existing, empty directory is fine.
    let o = output(train(data.path(), &format!("--epochs 1 {}", run_flag(r))));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let model = read(r.join("model.safetensors"));
    let sidecar = read(r.join("checkpoint").join("checkpoint.json"));

    // A second new run there is refused, naming the ways on; nothing of the first changes.
    let o = output(train(data.path(), &format!("--epochs 1 {}", run_flag(r))));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("already holds a run"), "{t}");
    assert!(t.contains(&format!("--resume {}", r.display())), "{t}");
    assert!(t.contains("--overwrite"), "{t}");
    assert_eq!(read(r.join("model.safetensors")), model);
    assert_eq!(read(r.join("checkpoint").join("checkpoint.json")), sidecar);
    assert_eq!(metrics_epochs(r), [1]);

    // --overwrite starts over, says so, and keeps files that are not the run's.
    std::fs::write(r.join("notes.txt"), "mine").unwrap();
    let o = output(train(
        data.path(),
        &format!("--epochs 2 --overwrite {}", run_flag(r)),
    ));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("--overwrite: deleted the previous run in"),
        "{t}"
    );
    assert_eq!(metrics_epochs(r), [1, 2]);
    assert_eq!(read(r.join("notes.txt")), b"mine");
}

#[test]
fn one_process_per_run_directory() {
    let (data, run) = setup();
    let r = run.path();
    let o = output(train(data.path(), &format!("--epochs 1 {}", run_flag(r))));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The first resumes for far longer than the test lets it run.
    let mut first = train(data.path(), &format!("--epochs 10000 {}", resume_flag(r)));
    let first = Running(
        first
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = first.0.id();
    wait_for("the first process's lock", Duration::from_secs(120), || {
        std::fs::read_to_string(r.join(".lock")).is_ok_and(|t| t.trim() == pid.to_string())
    });

    // A second resume, and a new run that would overwrite, are both refused by pid.
    for flags in [
        format!("--epochs 2 {}", resume_flag(r)),
        format!("--epochs 1 --overwrite {}", run_flag(r)),
    ] {
        let o = output(train(data.path(), &flags));
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flags}: {t}");
        assert!(
            t.contains(&format!(
                "in use by another fashion-tui process (pid {pid})"
            )),
            "{t}"
        );
    }
    assert!(
        r.join("metrics.jsonl").is_file(),
        "--overwrite deleted nothing"
    );

    // Reading takes no lock: eval works meanwhile.
    let o = output({
        let mut c = bin();
        c.arg("eval")
            .arg(r)
            .args(["--device", "cpu", "--data-dir"])
            .arg(data.path());
        c
    });
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // kill -9 leaves no stale lock: the kernel released it with the process.
    drop(first);
    let o = output(train(
        data.path(),
        &format!("--epochs 1 {}", resume_flag(r)),
    ));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_forced_batch_size_change_restarts_the_interrupted_epoch() {
    let (data, run) = setup();
    let r = run.path();
    // A checkpoint inside epoch 2, made by the library at a position that does not depend
    // on the machine's speed: the sink runs on the trainer's thread, so a Stop sent when
    // epoch 2 begins training is obeyed after its first batch.
    let cfg = common::quick_config(data.path(), r, 3);
    let (tx, control) = flume::unbounded();
    let mut starts = 0;
    let sink = move |ev: TrainEvent| {
        if ev == TrainEvent::Phase(Phase::Training) {
            starts += 1;
            if starts == 2 {
                tx.send(TrainCommand::Stop).unwrap();
            }
        }
        true
    };
    let handle = train::spawn(cfg, RunOptions::default(), control, sink);
    assert!(handle.join().unwrap().unwrap().stopped_early);
    let sc =
        checkpoint::read_sidecar(&fashion_tui::files::Dir::open(&r.join("checkpoint")).unwrap())
            .unwrap()
            .unwrap();
    assert_eq!((sc.epoch, sc.batch), (1, 1), "{sc:?}");

    let o = output(train(
        data.path(),
        &format!("--epochs 2 --batch-size 8 --force {}", resume_flag(r)),
    ));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("training.batch_size 16 → 8 changed: epoch 2 restarts from its start"),
        "{t}"
    );
    assert!(
        t.contains("resumed from the checkpoint at epoch 1.00"),
        "{t}"
    );
    assert_eq!(metrics_epochs(r), [1, 2]);
}

#[test]
fn a_checkpoint_that_does_not_fit_its_run_is_refused_by_field() {
    let (data, run) = setup();
    let r = run.path();
    let o = output(train(data.path(), &format!("--epochs 1 {}", run_flag(r))));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let path = r.join("checkpoint").join("checkpoint.json");
    let original = read(path.clone());
    let good: serde_json::Value = serde_json::from_slice(&original).unwrap();
    let cases: &[(&str, serde_json::Value, &str)] = &[
        (
            "model",
            "other".into(),
            "model = \"other\", but the run trains \"tutorial\"",
        ),
        (
            "epoch",
            99999.into(),
            "epoch = 99999 (batch 0) is beyond the run's 1 epochs",
        ),
        ("seed", 7.into(), "seed = 7, but the run's seed is 42"),
        ("format_version", 99.into(), "has checkpoint format 99;"),
        (
            "epoch_loss_sum",
            (-1.0).into(),
            "epoch_loss_sum = -1 is not a finite number",
        ),
    ];
    for (field, value, expect) in cases {
        let mut edited = good.clone();
        edited[field] = value.clone();
        std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
        let o = output(train(
            data.path(),
            &format!("--epochs 2 {}", resume_flag(r)),
        ));
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{field}: {t}");
        assert!(t.contains(expect), "{field}: {t}");
        assert!(!t.contains("Some("), "{t}");
        assert_eq!(metrics_epochs(r), [1], "{field}: nothing trained");
    }
    // A batch beyond the epoch is found against the data (10 batches of 16).
    let mut edited = good.clone();
    edited["epoch"] = 0.into();
    edited["batch"] = 999.into();
    std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
    let o = output(train(
        data.path(),
        &format!("--epochs 2 {}", resume_flag(r)),
    ));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("batch = 999 is beyond the run's 10 batches per epoch"),
        "{t}"
    );

    // The untouched sidecar still resumes.
    std::fs::write(&path, &original).unwrap();
    let o = output(train(
        data.path(),
        &format!("--epochs 2 {}", resume_flag(r)),
    ));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(metrics_epochs(r), [1, 2]);
}

#[test]
fn a_finished_run_resumed_reports_its_model() {
    let (data, run) = setup();
    let r = run.path();
    let o = output(train(data.path(), &format!("--epochs 1 {}", run_flag(r))));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = output(train(data.path(), &format!("--json {}", resume_flag(r))));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let done: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(done["event"], "done", "{stdout}");
    assert_eq!(done["epochs_completed"], 1);
    let model = done["model"].as_str().expect("a model path, not null");
    assert_eq!(Path::new(model), r.join("model.safetensors"));
}

#[test]
fn a_failed_save_leaves_no_temp_file_and_says_disk_full_and_where() {
    let (data, run) = setup();
    let r = run.path();
    // The first save of a new run fails once its temp file is written: no checkpoint yet.
    let mut c = train(data.path(), &format!("--epochs 1 {}", run_flag(r)));
    c.env("FASHION_TUI_FAULT", "save@1");
    let o = output(c);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let model = r.join("model.safetensors");
    assert!(
        t.contains(&format!(
            "cannot save the model to {}: disk full (No space left on device)",
            model.display()
        )),
        "{t}"
    );
    assert!(
        t.contains("no checkpoint of this run has been saved yet"),
        "{t}"
    );
    assert!(!t.contains("intact"), "{t}");
    assert!(!t.contains("Os {") && !t.contains("IoError"), "{t}");
    assert_eq!(temp_files(r), Vec::<PathBuf>::new());
    assert!(!model.exists());
}

#[test]
fn orphaned_temp_files_are_removed_at_every_start() {
    let (data, run) = setup();
    let r = run.path();
    // What a kill -9 in the middle of writes leaves: temp files only, no run.
    std::fs::write(r.join(".model.tmp.safetensors"), vec![0u8; 1 << 20]).unwrap();
    std::fs::write(r.join(".config.toml.tmp"), "partial").unwrap();
    std::fs::create_dir(r.join("checkpoint")).unwrap();
    std::fs::write(r.join("checkpoint").join(".ckpt-3.tmp.safetensors"), "x").unwrap();
    let o = output(train(data.path(), &format!("--epochs 1 {}", run_flag(r))));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(temp_files(r), Vec::<PathBuf>::new());
}

//! Checkpoints and exact resume, and faults that lose nothing: a run stopped at an epoch
//! boundary or mid-epoch and resumed gives the same per-epoch metrics as an uninterrupted
//! one; a NaN loss or a failed save keeps the previous checkpoint.
//!
//! One test function per concern, all in one binary run serially (`--test-threads` is not
//! needed: libtorch's RNG is process-global, so these tests take a lock).

mod common;

use std::path::Path;
use std::process::Command as Process;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use fashion_tui::config::Config;
use fashion_tui::events::{Command, Phase, TrainEvent};
use fashion_tui::store::checkpoint::{self, Sidecar};
use fashion_tui::train::{self, ChannelSink, RunOptions};
use tempfile::TempDir;

static RNG: Mutex<()> = Mutex::new(());

/// The per-epoch metrics that must repeat exactly (timings excluded): epoch, training
/// loss and accuracy, test loss and accuracy, the confusion matrix, and the held-out
/// images' loss and accuracy when there are any.
type Metrics = Vec<(
    usize,
    f64,
    f64,
    f64,
    f64,
    Vec<u32>,
    Option<f64>,
    Option<f64>,
)>;

fn metrics_of(run: &Path) -> Metrics {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let confusion = v["confusion"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_u64().unwrap() as u32)
                })
                .collect();
            (
                v["epoch"].as_u64().unwrap() as usize,
                v["train_loss"].as_f64().unwrap(),
                v["train_acc"].as_f64().unwrap(),
                v["test_loss"].as_f64().unwrap(),
                v["test_acc"].as_f64().unwrap(),
                confusion,
                v["val_loss"].as_f64(),
                v["val_acc"].as_f64(),
            )
        })
        .collect()
}

fn run_to_end(cfg: &Config, resume: bool) {
    let (_tx, rx) = flume::unbounded();
    let mut sink = |_ev: TrainEvent| true;
    let opts = RunOptions {
        resume,
        ..RunOptions::default()
    };
    train::run_with(cfg, opts, &rx, &mut sink).unwrap();
}

/// The binary resuming `run` headless for 2 epochs in all, with `fault` injected if any;
/// it runs in `run` so that a core dump from an injected crash stays out of the checkout.
fn resume_headless(run: &Path, fault: Option<&str>) -> std::process::Output {
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_fashion-tui"));
    if let Some(f) = fault {
        cmd.env("FASHION_TUI_FAULT", f);
    }
    cmd.current_dir(run)
        .args(["train", "--headless", "--epochs", "2", "--resume"])
        .arg(run)
        .output()
        .unwrap()
}

fn sidecar(run: &Path) -> Sidecar {
    checkpoint::read_sidecar(&fashion_tui::files::Dir::open(&run.join(checkpoint::DIR)).unwrap())
        .unwrap()
        .expect("a checkpoint")
}

/// A resumed run as the dashboard starts it, with `fault` injected, waited on until the
/// trainer pauses itself; `reason` is its message that contains `expect`.
struct Watched {
    handle: std::thread::JoinHandle<Result<fashion_tui::events::RunSummary, train::Failure>>,
    tx: flume::Sender<Command>,
    /// Kept open: a trainer whose consumer has gone stops.
    _rx: fashion_tui::train::Receivers,
    reason: String,
}

impl Watched {
    /// Resume training and wait for the end of the run.
    fn resume(self) -> fashion_tui::events::RunSummary {
        self.tx.send(Command::Resume).unwrap();
        self.handle.join().unwrap().unwrap()
    }
}

fn resume_watched(cfg: &Config, fault: &str, expect: &str) -> Watched {
    // The trainer reads the variable in this process, once, before its first event; the
    // guard restores the environment on every way out of here, panics included.
    let _fault = common::EnvGuard::set("FASHION_TUI_FAULT", fault);
    let (sink, rx) = ChannelSink::new();
    let (tx, control) = flume::unbounded();
    let opts = RunOptions {
        resume: true,
        pause_on_fault: true,
        ..RunOptions::default()
    };
    let handle = train::spawn(cfg.clone(), opts, control, sink);
    let mut reason = None;
    let mut announced = false;
    loop {
        match rx.events.recv_timeout(Duration::from_secs(120)).unwrap() {
            TrainEvent::Message(m) if m.contains("test fault injection active") => announced = true,
            TrainEvent::Message(m) if m.contains(expect) => reason = Some(m),
            TrainEvent::Phase(Phase::Paused) => break,
            TrainEvent::Failed(f) => panic!("failed: {f}"),
            _ => {}
        }
    }
    assert!(announced, "the armed fault was not announced");
    Watched {
        handle,
        tx,
        _rx: rx,
        reason: reason.expect("the reason before the pause"),
    }
}

/// A finished one-epoch run on small synthetic data, its checkpoint, and the RNG lock.
struct Trained {
    _lock: MutexGuard<'static, ()>,
    data: TempDir,
    run: TempDir,
    before: Sidecar,
}

fn trained_one_epoch() -> Trained {
    let lock = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 160, 40);
    run_to_end(&common::quick_config(data.path(), run.path(), 1), false);
    let before = sidecar(run.path());
    Trained {
        _lock: lock,
        data,
        run,
        before,
    }
}

#[test]
fn resumed_runs_repeat_an_uninterrupted_run_exactly() {
    let _lock = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 480, 60);

    let straight = tempfile::tempdir().unwrap();
    run_to_end(
        &common::quick_config(data.path(), straight.path(), 3),
        false,
    );
    let expected = metrics_of(straight.path());
    assert_eq!(expected.len(), 3);

    // At an epoch boundary: a 1-epoch run, then resumed for 3 epochs in all.
    let boundary = tempfile::tempdir().unwrap();
    run_to_end(
        &common::quick_config(data.path(), boundary.path(), 1),
        false,
    );
    let sc = sidecar(boundary.path());
    assert_eq!((sc.epoch, sc.batch), (1, 0));
    run_to_end(&common::quick_config(data.path(), boundary.path(), 3), true);
    assert_eq!(metrics_of(boundary.path()), expected);

    // Mid-epoch: stopped inside epoch 2, after its first batch. The Stop goes out when
    // epoch 2 starts and is obeyed before its next batch, whatever the machine's speed.
    let mid = tempfile::tempdir().unwrap();
    let cfg = common::quick_config(data.path(), mid.path(), 3);
    stop_after_first_batch_of_epoch_2(&cfg, mid.path());
    run_to_end(&cfg, true);
    assert_eq!(metrics_of(mid.path()), expected);
}

#[test]
fn a_run_with_held_out_images_resumes_exactly() {
    let _lock = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 60);
    let config = |run: &Path| {
        let mut cfg = common::quick_config(data.path(), run, 3);
        cfg.data.validation = 80;
        cfg.training.early_stop = 1;
        cfg
    };

    let straight = tempfile::tempdir().unwrap();
    run_to_end(&config(straight.path()), false);
    let expected = metrics_of(straight.path());
    assert!(!expected.is_empty());
    assert!(
        expected.iter().all(|m| m.6.is_some() && m.7.is_some()),
        "{expected:?}"
    );

    // Stopped inside epoch 2, after its first batch, and resumed.
    let mid = tempfile::tempdir().unwrap();
    let cfg = config(mid.path());
    stop_after_first_batch_of_epoch_2(&cfg, mid.path());
    run_to_end(&cfg, true);
    assert_eq!(metrics_of(mid.path()), expected);
    // The same best epoch, chosen by the held-out images, in both records.
    let record = |run: &Path| {
        let dir = fashion_tui::files::Dir::open(run).unwrap();
        fashion_tui::store::run_record::read(&dir).unwrap().unwrap()
    };
    let (a, b) = (record(straight.path()), record(mid.path()));
    assert_eq!(
        (a.best_by, a.best_epoch, a.best_val_acc, a.epochs_done),
        (b.best_by, b.best_epoch, b.best_val_acc, b.epochs_done)
    );
    assert_eq!(a.best_by, fashion_tui::events::BestBy::Val);
}

/// `common::fast_config` with every augmentation on and test-time flips.
/// A checkpoint written before the kernels were chosen at start-up names none: its run
/// resumes mid-epoch with the rule it began with (turned products, plain layout), and
/// ends as an uninterrupted run with that rule does.
#[test]
fn a_checkpoint_from_before_the_kernel_choice_resumes_mid_epoch_as_it_began() {
    use fashion_tui::config::{Dense, Layout};
    let _lock = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 60);
    let rule = |run: &Path| {
        let mut cfg = common::quick_config(data.path(), run, 3);
        cfg.model.dense = Dense::Turned;
        cfg.model.layout = Layout::Contiguous;
        cfg
    };
    let straight = tempfile::tempdir().unwrap();
    run_to_end(&rule(straight.path()), false);
    let expected = metrics_of(straight.path());

    let old = tempfile::tempdir().unwrap();
    stop_after_first_batch_of_epoch_2(&rule(old.path()), old.path());
    // As an older version wrote it: no `dense` or `layout` in the checkpoint's config.
    let path = old.path().join(checkpoint::DIR).join(checkpoint::SIDECAR);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let config: String = v["config"]
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("dense =") && !l.starts_with("layout ="))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!config.contains("dense"), "{config}");
    v["config"] = config.into();
    std::fs::write(&path, v.to_string()).unwrap();

    let (_tx, rx) = flume::unbounded();
    let mut said = Vec::new();
    let mut sink = |ev: TrainEvent| {
        if let TrainEvent::Message(m) = ev {
            said.push(m);
        }
        true
    };
    let cfg = common::quick_config(data.path(), old.path(), 3);
    let opts = RunOptions {
        resume: true,
        ..RunOptions::default()
    };
    train::run_with(&cfg, opts, &rx, &mut sink).unwrap();
    assert!(!said.iter().any(|m| m.contains("restarts")), "{said:?}");
    assert_eq!(metrics_of(old.path()), expected);
}

fn fast_config(data: &Path, run: &Path, epochs: usize) -> Config {
    let mut cfg = common::fast_config(data, run, epochs);
    // All augmentations on here, the shifts from half-way through the first epoch (the
    // stop below falls near it), so that resuming covers them and their start.
    cfg.data.flip = true;
    cfg.data.translate = 2;
    cfg.data.cutout = 6;
    cfg.data.translate_from = 0.5;
    cfg.training.tta = true;
    cfg
}

#[test]
fn the_fast_recipe_resumes_mid_epoch_exactly() {
    let _lock = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 320, 60);

    let straight = tempfile::tempdir().unwrap();
    run_to_end(&fast_config(data.path(), straight.path(), 2), false);
    let expected = metrics_of(straight.path());
    assert_eq!(expected.len(), 2);

    let mid = tempfile::tempdir().unwrap();
    let cfg = fast_config(data.path(), mid.path(), 2);
    let (sink, rx) = ChannelSink::new();
    let (tx, control) = flume::unbounded();
    let handle = train::spawn(cfg.clone(), RunOptions::default(), control, sink);
    loop {
        let p = rx.progress.recv_timeout(Duration::from_secs(120)).unwrap();
        if p.epoch == 0 && p.batch > 3 && p.batch < p.batches {
            tx.send(Command::Stop).unwrap();
            break;
        }
    }
    assert!(handle.join().unwrap().unwrap().stopped_early);
    let sc = sidecar(mid.path());
    assert!(
        sc.epoch == 0 && sc.batch > 0,
        "mid-epoch checkpoint: {sc:?}"
    );
    // The checkpoint holds the weight average and BatchNorm's running statistics.
    let loaded = checkpoint::load(
        &fashion_tui::files::Dir::open(&mid.path().join(checkpoint::DIR)).unwrap(),
    )
    .unwrap();
    assert!(loaded.tensors.contains_key("ema.conv2.bn.weight"));
    assert!(loaded.tensors.contains_key("model.conv2.bn.running_mean"));
    run_to_end(&cfg, true);
    assert_eq!(metrics_of(mid.path()), expected);
}

#[test]
fn nan_loss_fails_and_keeps_the_last_good_checkpoint() {
    let Trained {
        _lock,
        data,
        run,
        before,
    } = trained_one_epoch();
    let bytes_before = std::fs::read(run.path().join("model.safetensors")).unwrap();

    // The binary, headless, resumed with a NaN injected 3 steps later: exit 1, the reason.
    let out = resume_headless(run.path(), Some(&format!("nan@{}", before.step + 3)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Announced in the run's log (stdout when headless prints text).
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("test fault injection active: FASHION_TUI_FAULT=nan@"),
        "{stdout}"
    );
    assert!(stderr.contains("the training loss became NaN"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert_eq!(sidecar(run.path()), before);
    assert_eq!(
        std::fs::read(run.path().join("model.safetensors")).unwrap(),
        bytes_before
    );

    // Watched (the dashboard): it pauses at that batch with the reason, nothing saved;
    // resuming skips the batch and the run finishes.
    let cfg = common::quick_config(data.path(), run.path(), 2);
    let watched = resume_watched(&cfg, &format!("nan@{}", before.step + 3), "became NaN");
    let reason = watched.reason.clone();
    assert!(reason.contains("paused at this batch"), "{reason}");
    assert_eq!(sidecar(run.path()), before, "nothing saved while paused");
    assert_eq!(watched.resume().epochs_completed, 2);
}

#[test]
fn a_failed_save_pauses_when_watched_and_keeps_the_previous_checkpoint() {
    let Trained {
        _lock,
        data,
        run,
        before,
    } = trained_one_epoch();

    // Headless (nobody to resume): the failed save is an error, the checkpoint intact.
    let out = resume_headless(run.path(), Some("save@1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("previous checkpoint is intact"), "{stderr}");
    assert_eq!(sidecar(run.path()), before);

    // Watched: it pauses with the reason; Resume retries (and succeeds this time).
    // The injected fault counts the saves of one run: the first one fails.
    let cfg = common::quick_config(data.path(), run.path(), 2);
    let watched = resume_watched(&cfg, "save@1", "No space left");
    let reason = watched.reason.clone();
    assert!(reason.contains("previous checkpoint is intact"), "{reason}");
    assert_eq!(
        sidecar(run.path()),
        before,
        "nothing overwritten while paused"
    );
    assert_eq!(watched.resume().epochs_completed, 2);
    assert_eq!(sidecar(run.path()).epoch, 2);
}

#[test]
fn resume_refuses_changed_next_run_settings_unless_forced() {
    let _lock = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 64, 20);
    run_to_end(&common::quick_config(data.path(), run.path(), 1), false);
    let bin = env!("CARGO_BIN_EXE_fashion-tui");
    // `train --headless FLAGS --resume RUN`: its exit code and stderr.
    let resume = |flags: &[&str]| {
        let out = Process::new(bin)
            .args(["train", "--headless"])
            .args(flags)
            .arg("--resume")
            .arg(run.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    let (code, stderr) = resume(&["--batch-size", "8", "--seed", "9", "--validation", "8"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("training.batch_size 16 → 8"), "{stderr}");
    assert!(stderr.contains("training.seed 42 → 9"), "{stderr}");
    assert!(stderr.contains("data.validation 0 → 8"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    let (code, stderr) = resume(&["--epochs", "2", "--batch-size", "8", "--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    // Forced: it continued from the checkpoint (epoch 2 of 2, not a fresh epoch 1) with the
    // new batch size, and the run's config records the setting it trained with.
    let metrics = metrics_of(run.path());
    assert_eq!(metrics.iter().map(|m| m.0).collect::<Vec<_>>(), [1, 2]);
    let sc = sidecar(run.path());
    assert_eq!((sc.epoch, sc.batch), (2, 0));
    // One epoch at batch 16 (64 images: 4 steps), one at batch 8 (8 steps).
    assert_eq!(sc.step, 4 + 8);
    let saved = std::fs::read_to_string(run.path().join("config.toml")).unwrap();
    assert!(saved.contains("batch_size = 8"), "{saved}");
    // Not even --force changes the network: refused before the run's files are touched.
    let files = ["config.toml", "run.json", "metrics.jsonl"]
        .map(|f| std::fs::read(run.path().join(f)).unwrap());
    let (code, stderr) = resume(&["--model", "fast", "--force"]);
    assert_eq!(code, Some(2), "{stderr}");
    let expected = format!(
        "fashion-tui: cannot resume {} as a fast model: its checkpoint holds the weights of \
         a tutorial model (--force lets a resumed run change settings such as the batch \
         size, not the network; start a new run for fast)",
        run.path().display()
    );
    assert_eq!(stderr.trim_end(), expected);
    let after = ["config.toml", "run.json", "metrics.jsonl"]
        .map(|f| std::fs::read(run.path().join(f)).unwrap());
    assert_eq!(files, after, "the run's files are as they were");
    let out = Process::new(bin)
        .args(["train", "--headless", "--resume", "/nonexistent/run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no checkpoint"));
}

#[test]
fn a_kill_between_write_and_commit_keeps_the_previous_checkpoint() {
    let Trained {
        _lock,
        data: _data,
        run,
        before,
    } = trained_one_epoch();
    // The resumed run dies inside its first save, tensors written, sidecar not yet renamed.
    let out = resume_headless(run.path(), Some("crash@1"));
    assert!(!out.status.success());
    assert_eq!(
        sidecar(run.path()),
        before,
        "the commit point was not passed"
    );
    let orphan = run
        .path()
        .join("checkpoint")
        .join(format!("ckpt-{}.safetensors", before.generation + 1));
    assert!(
        orphan.exists(),
        "the crash came after the tensors were written"
    );
    // Resuming again works from the previous checkpoint, cleans the orphan and finishes.
    let out = resume_headless(run.path(), None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sidecar(run.path()).epoch, 2);
    assert_eq!(metrics_of(run.path()).len(), 2);
}

#[test]
fn a_malformed_fault_is_refused_before_training() {
    let _lock = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 64, 20);
    let out = Process::new(env!("CARGO_BIN_EXE_fashion-tui"))
        .env("FASHION_TUI_FAULT", "nan@soon")
        .args(["train", "--headless", "--device", "cpu", "--epochs", "1"])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--run-dir")
        .arg(run.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("FASHION_TUI_FAULT = \"nan@soon\" is malformed"),
        "{stderr}"
    );
    assert!(!run.path().join("metrics.jsonl").exists(), "it trained");
}

/// Train `cfg` and stop it inside epoch 2, after its first batch: the Stop goes out when
/// epoch 2 starts and is obeyed before its next batch, whatever the machine's speed.
fn stop_after_first_batch_of_epoch_2(cfg: &Config, run: &Path) {
    let (tx, control) = flume::unbounded();
    let mut starts = 0;
    let mut sink = |ev: TrainEvent| {
        if ev == TrainEvent::Phase(Phase::Training) {
            starts += 1;
            if starts == 2 {
                tx.send(Command::Stop).unwrap();
            }
        }
        true
    };
    let summary = train::run_with(cfg, RunOptions::default(), &control, &mut sink).unwrap();
    assert!(summary.stopped_early);
    let sc = sidecar(run);
    assert_eq!(
        (sc.epoch, sc.batch),
        (1, 1),
        "stopped in epoch 2, mid-epoch"
    );
}

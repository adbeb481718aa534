//! Shared by the integration tests: a small, learnable synthetic dataset written as the
//! four real IDX .gz files, and a config that trains on it quickly on the CPU.

#![allow(dead_code)]

pub mod photos;
pub mod tmux;

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use fashion_tui::config::Config;
use fashion_tui::data::{write_dataset, Split};
use fashion_tui::train::SplitMix64;

/// `n` images whose class is drawn as a bright bar at a class-specific place, plus noise.
pub fn synthetic_split(n: usize, seed: u64) -> Split {
    let mut rng = SplitMix64::new(seed);
    let mut images = vec![0u8; n * 784];
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = (rng.next_u64() % 10) as u8;
        labels.push(label);
        let img = &mut images[i * 784..(i + 1) * 784];
        for px in img.iter_mut() {
            *px = (rng.next_u64() % 60) as u8;
        }
        let row = 3 + 2 * label as usize;
        for r in row..row + 2 {
            for c in 4..24 {
                img[r * 28 + c] = 200 + (rng.next_u64() % 56) as u8;
            }
        }
    }
    Split { images, labels }
}

/// Write a synthetic train/test set into `dir`.
pub fn write_synthetic(dir: &Path, train: usize, test: usize) {
    write_dataset(dir, &synthetic_split(train, 1), &synthetic_split(test, 2)).unwrap();
}

/// A CPU config training on `data` and writing into `run`.
pub fn quick_config(data: &Path, run: &Path, epochs: usize) -> Config {
    let mut cfg = Config::default();
    cfg.data.dir = data.to_string_lossy().into_owned();
    cfg.runtime.run_dir = run.to_string_lossy().into_owned();
    cfg.runtime.device = fashion_tui::config::DeviceChoice::Cpu;
    cfg.runtime.threads = 1;
    cfg.training.epochs = epochs;
    cfg.training.batch_size = 16;
    cfg.ui.predictions = 4;
    cfg
}

/// [`quick_config`] for the `fast` model with its whole recipe (BatchNorm, label
/// smoothing, Nesterov SGD with one-cycle, the weight average, flips, test-time flips),
/// at `quick_config`'s batch and a rate that suits it.
pub fn fast_config(data: &Path, run: &Path, epochs: usize) -> Config {
    let mut cfg = quick_config(data, run, epochs);
    let batch = cfg.training.batch_size;
    let fast = fashion_tui::config::ModelKind::Fast;
    cfg.take_recipe(
        &fashion_tui::config::params::recipe_keys().collect::<Vec<_>>(),
        fast,
    );
    cfg.model.name = fast;
    cfg.training.batch_size = batch;
    cfg.training.lr = 0.05;
    cfg
}

/// The real binary, kept away from the user's config, data and any inherited fault
/// switch, started in the test target's temp directory.
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_fashion-tui"));
    c.env_remove("FASHION_MNIST_DIR")
        .env_remove("FASHION_TUI_FAULT")
        .env("XDG_CONFIG_HOME", "/nonexistent-fashion-tui-test")
        .current_dir(env!("CARGO_TARGET_TMPDIR"));
    c
}

/// `train --headless` on `data` into `run` on one CPU thread with `flags`, at batch 16
/// unless `flags` names another size.
pub fn train(data: &Path, run: &Path, flags: &[&str]) -> std::process::Command {
    let mut c = bin();
    c.args(["train", "--headless", "--device", "cpu", "--threads", "1"]);
    if !flags.contains(&"--batch-size") {
        c.args(["--batch-size", "16"]);
    }
    c.arg("--data-dir")
        .arg(data)
        .arg("--run-dir")
        .arg(run)
        .args(flags);
    c
}

/// [`train`], run to its end, which must be a success (exit code 0).
pub fn train_ok(data: &Path, run: &Path, flags: &[&str]) {
    let o = train(data, run, flags).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}

/// Every file under `dir` with its bytes: to show that reading a run changes nothing.
pub fn contents(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(contents(&p));
        } else {
            out.insert(p.clone(), std::fs::read(&p).unwrap());
        }
    }
    out
}

/// Wait until `cond` holds, polling; panic naming `what` after `limit`. For files and
/// processes that say nothing when they change: events are waited for on their channel.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The exit code a test's `sh` script wrote into `file` (`echo $? > file`), once it is
/// there in full: the file appears before `echo` has written into it.
pub fn wait_for_exit_code(file: &Path, limit: Duration) -> i32 {
    let mut code = None;
    wait_for(
        &format!("an exit code in {}", file.display()),
        limit,
        || {
            code = std::fs::read_to_string(file)
                .ok()
                .filter(|s| s.ends_with('\n'))
                .and_then(|s| s.trim().parse().ok());
            code.is_some()
        },
    );
    code.unwrap()
}

/// Sets an environment variable of this test process and restores its previous value
/// when dropped, also when the test panics. Only for what must be read in-process (a
/// child process gets its variables through `Command::env`).
pub struct EnvGuard {
    key: &'static str,
    previous: Option<OsString>,
}

impl EnvGuard {
    pub fn set(key: &'static str, value: &str) -> EnvGuard {
        let previous = std::env::var_os(key);
        std::env::set_var(key, value);
        EnvGuard { key, previous }
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        match self.previous.take() {
            Some(v) => std::env::set_var(self.key, v),
            None => std::env::remove_var(self.key),
        }
    }
}

/// The pid of the process that holds the run directory `run` (its lock file says it).
pub fn run_pid(run: &Path) -> Option<i32> {
    std::fs::read_to_string(run.join(".lock"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether process `pid` is alive (a zombie not reaped yet counts as gone).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

/// A run in the background that a test started: killed when the test ends, also when it
/// fails, so that no run trains on after the suite.
pub struct RunGuard(pub std::path::PathBuf);

impl Drop for RunGuard {
    fn drop(&mut self) {
        if let Some(pid) = run_pid(&self.0) {
            if alive(pid) {
                // SAFETY: a signal to a process this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

//! Exit codes and messages that tell what happened: output that cannot be written,
//! files that are not what they should be, and advice that would really work.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fashion-tui"));
    // Keep the user's config and data out of the tests.
    c.env_remove("FASHION_MNIST_DIR")
        .env("XDG_CONFIG_HOME", "/nonexistent-fashion-tui-test")
        .current_dir(env!("CARGO_TARGET_TMPDIR"));
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A quick CPU training run on `data` into `run`, with `extra` flags.
fn train_args<'a>(data: &'a Path, run: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--headless",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--batch-size",
        "16",
        "--data-dir",
        path(data),
        "--run-dir",
        path(run),
    ];
    args.extend(extra);
    args
}

#[test]
fn output_to_a_full_disk_is_a_runtime_failure_that_stops_the_run() {
    let data = tempfile::tempdir().unwrap();
    let runs = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 50);
    for mode in [&[][..], &["--json"][..]] {
        let run_dir = runs.path().join(format!("run{}", mode.len()));
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut extra = vec!["--epochs", "10000"];
        extra.extend(mode);
        let o = bin()
            .args(train_args(data.path(), &run_dir, &extra))
            .stdout(full)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{mode:?}: {err}");
        assert!(
            err.contains("fashion-tui: cannot write to stdout: No space left on device"),
            "{mode:?}: {err}"
        );
        // 10000 epochs would never end: the trainer was told to stop, and saved.
        assert!(err.contains("training stopped after"), "{mode:?}: {err}");
        assert!(run_dir.join("model.safetensors").is_file(), "{mode:?}");
    }
}

#[test]
fn a_closed_pipe_is_not_a_failure() {
    let data = tempfile::tempdir().unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 100, 30);
    let mut child = bin()
        .args(train_args(data.path(), run_dir.path(), &["--epochs", "2"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -1`: read one line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("cannot write"), "{}", stderr(&o));
}

//! Exit codes and messages that tell what happened: output that cannot be written,
//! files that are not what they should be, and advice that would really work.

mod common;

use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::bin;

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("running fashion-tui")
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

fn mkfifo(p: &Path) {
    let c = CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path and a mode.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {p:?}"
    );
}

/// Makes something at a path.
type Make = fn(&Path);

#[test]
fn data_dir_entries_that_are_not_files_are_named_for_what_they_are() {
    let root = tempfile::tempdir().unwrap();
    let cases: [(&str, Make, &str); 3] = [
        (
            "train-images-idx3-ubyte.gz",
            |p| std::fs::create_dir(p).unwrap(),
            "is a directory",
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            mkfifo,
            "is a FIFO (named pipe)",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            |p| std::os::unix::fs::symlink("/dev/null", p).unwrap(),
            "is a character device",
        ),
    ];
    for (i, (name, make, kind)) in cases.into_iter().enumerate() {
        let data = root.path().join(format!("data{i}"));
        common::write_synthetic(&data, 50, 20);
        std::fs::remove_file(data.join(name)).unwrap();
        make(&data.join(name));
        let o = run(&train_args(&data, &root.path().join("run"), &[]));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let said = format!(
            "does not contain {name} as a file ({} {kind})",
            data.join(name).display()
        );
        assert!(err.contains(&said), "{err}");
        assert!(!err.contains("allow downloading"), "{err}");
    }
}

#[test]
fn eval_models_that_are_not_files_are_named_for_what_they_are() {
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("m.safetensors");
    mkfifo(&fifo);
    let o = run(&["eval", path(&fifo)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let said = format!(
        "model file {} is a FIFO (named pipe), not a .safetensors file",
        fifo.display()
    );
    assert!(stderr(&o).contains(&said), "{}", stderr(&o));

    let o = run(&["eval", "/dev/null"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/dev/null is a character device"),
        "{}",
        stderr(&o)
    );

    let o = run(&["eval", path(root.path())]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is a directory but not a run directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_permission_error_is_told_once() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    common::write_synthetic(&data, 50, 20);
    let file = data.join("t10k-images-idx3-ubyte.gz");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let run_dir = root.path().join("run");
    let args = train_args(&data, &run_dir, &[]);
    // Root reads anything: drop the capabilities that let it.
    let o = if unsafe { libc::geteuid() } == 0 {
        let Ok(o) = Command::new("setpriv")
            .args(["--bounding-set", "-dac_override,-dac_read_search"])
            .arg(env!("CARGO_BIN_EXE_fashion-tui"))
            .args(&args)
            .env_remove("FASHION_MNIST_DIR")
            .env("XDG_CONFIG_HOME", "/nonexistent-fashion-tui-test")
            .output()
        else {
            eprintln!("skipped: running as root without setpriv");
            return;
        };
        o
    } else {
        run(&args)
    };
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let said = format!(
        "cannot access {}: Permission denied (os error 13)\n",
        file.display()
    );
    assert!(err.contains(&said), "{err}");
    assert_eq!(err.matches("Permission denied").count(), 1, "{err}");
}

#[test]
fn a_bad_file_in_a_data_dir_is_not_advised_away() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    common::write_synthetic(&data, 50, 20);
    std::fs::write(data.join("t10k-labels-idx1-ubyte.gz"), b"not gzip at all").unwrap();
    let o = run(&train_args(&data, &root.path().join("run"), &[]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("delete it and run again"), "{err}");
    assert!(
        err.contains(
            "not a gzip file (corrupt download?); replace it with an intact copy of the \
             original, or drop --data-dir to use the default location (where missing files \
             are downloaded)"
        ),
        "{err}"
    );
}

#[test]
fn an_empty_training_set_says_it_is_empty() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    fashion_tui::data::write_dataset(
        &data,
        &fashion_tui::data::Split::default(),
        &common::synthetic_split(20, 2),
    )
    .unwrap();
    let o = run(&train_args(&data, &root.path().join("run"), &[]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("the training set is empty"), "{err}");
    assert!(!err.contains("batch_size"), "{err}");
}

/// A run directory with a model trained for one epoch on `data`.
fn trained_run(data: &Path, root: &Path) -> PathBuf {
    let run_dir = root.join("run");
    let o = run(&train_args(data, &run_dir, &["--epochs", "1"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    run_dir
}

#[test]
fn eval_reads_only_the_test_split() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    common::write_synthetic(&data, 100, 30);
    let run_dir = trained_run(&data, root.path());
    // A training split eval would choke on, were it read.
    std::fs::write(data.join("train-images-idx3-ubyte.gz"), b"not gzip at all").unwrap();
    let o = run(&[
        "eval",
        path(&run_dir),
        "--device",
        "cpu",
        "--data-dir",
        path(&data),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("(30 images)"));
}

#[test]
fn eval_refuses_a_run_whose_config_is_malformed() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    common::write_synthetic(&data, 100, 30);
    let run_dir = trained_run(&data, root.path());
    let config = run_dir.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().count() + 1;
    text.push_str("this is not toml\n");
    std::fs::write(&config, text).unwrap();
    let o = run(&[
        "eval",
        path(&run_dir),
        "--device",
        "cpu",
        "--data-dir",
        path(&data),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:{line}:", config.display())),
        "{err}"
    );
    assert!(err.contains("the settings of the run that saved"), "{err}");
}

#[test]
fn config_values_out_of_range_are_placed_in_the_file_before_the_data_loads() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    common::write_synthetic(&data, 100, 30);
    let run_dir = trained_run(&data, root.path());
    let bad = root.path().join("bad.toml");
    std::fs::write(&bad, "[training]\nepochs = 0\n").unwrap();
    let said = format!(
        "fashion-tui: {}:2:10: training.epochs = 0 is out of range: allowed 1 to 10000",
        bad.display()
    );
    // No data where they look: the config is refused before it would matter.
    let nowhere = root.path().join("no-data");
    let train = run(&[
        "--headless",
        "--config",
        path(&bad),
        "--data-dir",
        path(&nowhere),
    ]);
    let eval = run(&[
        "eval",
        path(&run_dir),
        "--config",
        path(&bad),
        "--data-dir",
        path(&nowhere),
    ]);
    for o in [train, eval] {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert_eq!(stderr(&o).trim_end(), said);
    }
}

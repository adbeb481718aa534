//! The command-line contract of the real binary: exit codes, messages, JSON output,
//! the run directory, `eval` and `config`.

mod common;

use std::path::Path;
use std::process::Output;

use common::bin;

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("running fashion-tui")
}

/// `flags` (space-separated) with `--data-dir DATA --run-dir RUN` after them.
fn run_in(data: &Path, run_dir: &Path, flags: &str) -> Output {
    bin()
        .args(flags.split_whitespace())
        .arg("--data-dir")
        .arg(data)
        .arg("--run-dir")
        .arg(run_dir)
        .output()
        .expect("running fashion-tui")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_values_are_usage_errors_naming_key_value_and_range() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--epochs", "0"],
            "training.epochs = 0 is out of range: allowed 1 to 10000",
        ),
        (&["--lr", "-0.5"], "training.lr = -0.5 is out of range"),
        (&["--lr", "NaN"], "training.lr = NaN is out of range"),
        (
            &["--batch-size", "0"],
            "training.batch_size = 0 is out of range",
        ),
        (
            &["--model", "resnet"],
            "model.name = \"resnet\": unknown model: allowed tutorial, fast",
        ),
        (
            &["--device", "tpu"],
            "runtime.device = \"tpu\": unknown device 'tpu'",
        ),
        (
            &["--seed", "18446744073709551615"],
            "training.seed = 18446744073709551615 is out of range: allowed 0 to \
             9223372036854775807",
        ),
    ];
    for (args, message) in cases {
        let o = run(&[&["--headless"], *args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
}

#[test]
fn unknown_flags_and_missing_config_are_usage_errors() {
    let o = run(&["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["--headless", "--config", "/nonexistent/config.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("config file /nonexistent/config.toml does not exist"));
}

#[test]
fn malformed_config_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[training]\nepochs = 3\nbatch_sise = 4\n").unwrap();
    let o = run(&["--headless", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("bad.toml:3:1: unknown field `batch_sise`"),
        "{err}"
    );
    assert!(err.contains("did you mean `batch_size`?"), "{err}");
}

#[test]
fn a_data_dir_without_the_dataset_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "--headless",
        "--device",
        "cpu",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&dir.path().display().to_string()),
        "{}",
        stderr(&o)
    );
}

#[test]
fn corrupt_dataset_is_a_clear_runtime_error() {
    let dir = tempfile::tempdir().unwrap();
    common::write_synthetic(dir.path(), 50, 20);
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte.gz"),
        b"not gzip at all",
    )
    .unwrap();
    let o = run(&[
        "--headless",
        "--device",
        "cpu",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("t10k-labels-idx1-ubyte.gz"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn cuda_without_a_usable_gpu_is_a_usage_error_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    common::write_synthetic(dir.path(), 50, 20);
    let o = run_in(
        dir.path(),
        run_dir.path(),
        "--headless --device cuda --epochs 1 --batch-size 10",
    );
    if Path::new("/dev/nvidiactl").exists() {
        // A GPU machine (setup installed the CUDA libraries there): CUDA must really work.
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("on cuda:0 · "), "{out}");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--device cuda:0 is not usable"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn json_run_then_eval() {
    let data = tempfile::tempdir().unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 300, 100);
    let o = run_in(
        data.path(),
        run_dir.path(),
        "train --json --device cpu --threads 1 --epochs 2 --batch-size 16 --seed 3",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout carries only JSON lines"))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for key in [
        "epoch",
        "epochs",
        "train_loss",
        "train_acc",
        "test_loss",
        "test_acc",
        "lr",
        "seconds",
        "eval_seconds",
        "images_per_sec",
        "confusion",
    ] {
        assert!(lines[1].get(key).is_some(), "missing {key}");
    }
    assert!(lines[1]["eval_seconds"].as_f64().unwrap() >= 0.0);
    // The confusion matrix: 10×10 counts, true class by row, over all 100 test images,
    // its diagonal the test accuracy.
    let confusion: Vec<Vec<u64>> = lines[1]["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(confusion.len(), 10);
    assert!(confusion.iter().all(|r| r.len() == 10), "{confusion:?}");
    assert_eq!(confusion.iter().flatten().sum::<u64>(), 100);
    let diagonal: u64 = (0..10).map(|k| confusion[k][k]).sum();
    assert_eq!(
        diagonal as f64 / 100.0,
        lines[1]["test_acc"].as_f64().unwrap()
    );
    assert_eq!(lines[1]["epoch"], 2);
    assert_eq!(lines[2]["event"], "done");
    let model = lines[2]["model"].as_str().unwrap();
    assert!(Path::new(model).is_file());
    assert_eq!(lines[2]["test_acc"], lines[1]["test_acc"]);

    // eval on the run directory reproduces the final test accuracy.
    let o = bin()
        .args([
            "eval",
            run_dir.path().to_str().unwrap(),
            "--json",
            "--device",
            "cpu",
        ])
        .args(["--data-dir", data.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let trained = lines[1]["test_acc"].as_f64().unwrap();
    assert!(
        (e["test_acc"].as_f64().unwrap() - trained).abs() < 1e-9,
        "{e}"
    );
    assert_eq!(e["per_class"].as_array().unwrap().len(), 10);

    let o = bin()
        .args([
            "eval",
            model,
            "--device",
            "cpu",
            "--data-dir",
            data.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("test accuracy"), "{text}");
    assert!(
        text.contains("precision") && text.contains("confusion matrix"),
        "{text}"
    );
}

#[test]
fn headless_text_output_when_stdout_is_not_a_terminal() {
    let data = tempfile::tempdir().unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 100, 30);
    // No --headless: stdout is a pipe here, so it must not try to open the dashboard.
    let o = run_in(
        data.path(),
        run_dir.path(),
        "--device cpu --threads 1 --epochs 1 --batch-size 10",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("Epoch 1/1 - "), "{out}");
    assert!(out.contains("img/s"), "{out}");
    assert!(out.contains("Done after 1 epoch in "), "{out}");
    assert!(!out.contains('\x1b'), "no escape codes in piped output");
}

#[test]
fn eval_of_a_missing_model_is_a_usage_error() {
    let o = run(&["eval", "/nonexistent/model.safetensors"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not exist"));
}

#[test]
fn config_path_and_init() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let cmd = |args: &[&str]| {
        bin()
            .env("XDG_CONFIG_HOME", home.path())
            .env("HOME", home.path())
            .current_dir(cwd.path())
            .args(args)
            .output()
            .unwrap()
    };
    let o = cmd(&["config", "path"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("built-in defaults"));
    let o = cmd(&["config", "init"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = cmd(&["config", "path"]);
    let shown = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(shown.ends_with("fashion-tui/config.toml"), "{shown}");
    assert!(Path::new(&shown).is_file());
    let o = cmd(&["config", "init"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"));
    std::fs::write(cwd.path().join("config.toml"), "").unwrap();
    let o = cmd(&["config", "path"]);
    assert!(String::from_utf8_lossy(&o.stdout)
        .trim()
        .ends_with("config.toml"));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&cwd.path().display().to_string()));
}

#[test]
fn config_files_that_are_not_small_regular_files_are_refused_by_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["--headless", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("(given with --config) is a directory, not a regular file"),
        "{}",
        stderr(&o)
    );
    // A sparse 1 GiB file: refused by its size before it is read.
    let big = dir.path().join("config.toml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let o = run(&["--headless", "--config", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is larger than 1024 KiB"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).lines().count() <= 2, "{}", stderr(&o));
}

#[test]
fn resume_with_another_run_dir_is_a_usage_error() {
    let o = run(&["--resume", "runs/a", "--run-dir", "runs/b"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--run-dir"), "{}", stderr(&o));
}

#[test]
fn held_out_images_add_json_fields_and_choose_the_best_epoch() {
    let data = tempfile::tempdir().unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 40);
    let o = run_in(
        data.path(),
        run_dir.path(),
        "train --json --device cpu --threads 1 --epochs 2 --batch-size 16 --validation 40",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("held out 40 of the 200 training images for validation"),
        "{}",
        stderr(&o)
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout carries only JSON lines"))
        .collect();
    for epoch in &lines[..2] {
        let acc = epoch["val_acc"].as_f64().expect("val_acc");
        assert!((0.0..=1.0).contains(&acc), "{epoch}");
        assert!(
            epoch["val_loss"].as_f64().is_some_and(f64::is_finite),
            "{epoch}"
        );
        // 40 held-out images: the accuracy is a whole number of them.
        assert!((acc * 40.0 - (acc * 40.0).round()).abs() < 1e-9, "{epoch}");
    }
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.path().join("run.json")).unwrap())
            .unwrap();
    assert_eq!(rec["best_by"], "val", "{rec}");
    let best = rec["best_epoch"].as_u64().unwrap() as usize;
    assert_eq!(rec["best_val_acc"], lines[best - 1]["val_acc"], "{rec}");
    assert_eq!(rec["best_test_acc"], lines[best - 1]["test_acc"], "{rec}");
    let saved = std::fs::read_to_string(run_dir.path().join("config.toml")).unwrap();
    assert!(saved.contains("validation = 40"), "{saved}");

    // Without held-out images the epoch lines have no such fields and the test set
    // chooses.
    let plain = tempfile::tempdir().unwrap();
    let o = run_in(
        data.path(),
        plain.path(),
        "train --json --device cpu --threads 1 --epochs 1 --batch-size 16",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(o.stdout).unwrap().lines().next().unwrap()).unwrap();
    assert!(first.get("val_acc").is_none() && first.get("val_loss").is_none());
    let rec = std::fs::read_to_string(plain.path().join("run.json")).unwrap();
    assert!(rec.contains("\"best_by\": \"test\""), "{rec}");
}

#[test]
fn holding_out_every_training_image_is_a_usage_error() {
    let data = tempfile::tempdir().unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 100, 30);
    for (flags, message) in [
        (
            "--validation 100",
            "data.validation = 100 is out of range: allowed 0 (off) to 99 (it must leave \
             images to train on: there are 100 training images)",
        ),
        (
            "--validation 60 --train-limit 50",
            "allowed 0 (off) to 49 (it must leave images to train on: there are 50 training \
             images that data.train_limit leaves)",
        ),
        (
            "--validation 90 --batch-size 16",
            "training.batch_size = 16 is out of range: allowed 1 to 10 (the number of \
             training images once data.validation has held 90 out)",
        ),
    ] {
        let o = run_in(
            data.path(),
            run_dir.path(),
            &format!("train --headless --device cpu --threads 1 --epochs 1 {flags}"),
        );
        assert_eq!(o.status.code(), Some(2), "{flags}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{flags}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert!(
            !run_dir.path().join("metrics.jsonl").exists(),
            "{flags}: it trained"
        );
    }
}

//! `fashion-tui runs` through the real binary: the fixture runs directory (good runs, a
//! partial one, a broken one, one from before `run.json`, a diverged one and a folder
//! that is not a run) as a table and as JSON, the filters and orders, and real runs whose
//! differing settings become columns. Listing never changes a run.

mod common;

use common::{bin, contents};

use std::path::{Path, PathBuf};
use std::process::Output;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs")
}

fn runs(root: &Path, flags: &[&str]) -> Output {
    bin()
        .arg("runs")
        .arg("--runs-dir")
        .arg(root)
        .args(flags)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_fixture_runs_are_listed_with_what_is_wrong_and_nothing_changes() {
    let before = contents(&fixtures());
    let o = runs(&fixtures(), &[]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let table = stdout(&o);
    insta::assert_snapshot!("runs_table", table);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("skipped 1 folder that holds no run: notes"),
        "{err}"
    );
    // Only the settings that differ are columns: not the model, the seed, the device…
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("lr") && header.contains("batch_size"),
        "{header}"
    );
    assert!(
        !header.contains("seed") && !header.contains("dropout"),
        "{header}"
    );
    assert_eq!(contents(&fixtures()), before, "listing changed a run");
}

#[test]
fn json_lists_every_run_with_its_status_and_problems() {
    let o = runs(&fixtures(), &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_name = |n: &str| {
        v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .unwrap_or_else(|| panic!("{n} not listed: {v}"))
            .clone()
    };
    assert_eq!(v["skipped"], serde_json::json!(["notes"]));
    assert_eq!(by_name("good-a")["status"], "finished");
    assert_eq!(by_name("good-a")["problems"], serde_json::json!([]));
    assert_eq!(by_name("good-a")["seconds"], 30.0);
    assert_eq!(by_name("good-b")["best_epoch"], 2);
    assert_eq!(by_name("good-b")["settings"]["training.lr"], 0.002);
    assert_eq!(
        by_name("good-b")["problems"],
        serde_json::json!(["no model.safetensors"])
    );
    let partial = by_name("partial");
    assert_eq!(partial["status"], "interrupted");
    assert_eq!(partial["epochs_done"], 2);
    assert_eq!(
        partial["problems"],
        serde_json::json!(["metrics.jsonl: last line cut off"])
    );
    let broken = by_name("broken");
    assert_eq!(broken["status"], "unknown");
    assert!(broken["problems"][0]
        .as_str()
        .unwrap()
        .starts_with("run.json unreadable"));
    let old = by_name("20261128-090000-seed");
    assert_eq!(old["status"], "finished");
    assert_eq!(old["status_derived"], true);
    assert_eq!(old["started"], "2026-11-28T09:00:00Z");
    assert_eq!(old["best_test_acc"], 0.83);
    assert_eq!(by_name("failed")["status"], "diverged");
}

#[test]
fn filters_and_orders() {
    let names = |flags: &[&str]| -> Vec<String> {
        let o = runs(&fixtures(), &[&["--json"], flags].concat());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&["--last", "2"]), ["partial", "failed"]);
    assert_eq!(
        names(&["--sort", "acc", "--last", "4"]),
        ["good-a", "good-b", "partial", "failed"]
    );
    assert_eq!(names(&["--sort", "name"])[0], "20261128-090000-seed");
    assert!(names(&["--model", "fast"]).is_empty());
    // Runs there, none chosen: said as such, not as an empty directory.
    let o = runs(&fixtures(), &["--model", "fast"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("none of the") && stderr.contains("match"),
        "{stderr}"
    );
    assert_eq!(names(&["--model", "seed"]).len(), 5);
    let o = runs(&fixtures().join("missing"), &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[test]
fn real_runs_are_compared_by_what_differs() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 160, 50);
    for (name, lr) in [("a", "0.001"), ("b", "0.003")] {
        common::train_ok(
            data.path(),
            &root.path().join(name),
            &["--epochs", "1", "--lr", lr],
        );
    }
    let o = runs(root.path(), &[]);
    let table = stdout(&o);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["RUN", "STARTED", "MODEL", "EPOCHS", "STATUS", "BEST", "FINAL", "TIME", "lr", "NOTE"],
        "{table}"
    );
    let row = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
    assert_eq!(
        (row(1)[0], row(1)[4], row(1)[5]),
        ("a", "1/1", "finished"),
        "{table}"
    );
    assert_eq!((row(2)[0], row(2)[10]), ("b", "0.003"), "{table}");
}

#[test]
fn a_run_whose_best_epoch_validation_chose_says_so() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 160, 50);
    for (name, validation) in [("plain", "0"), ("validated", "32")] {
        let flags = ["--epochs", "1", "--validation", validation];
        common::train_ok(data.path(), &root.path().join(name), &flags);
    }
    let table = stdout(&runs(root.path(), &[]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains(" validation "), "{table}");
    let row = |name: &str| *lines.iter().find(|l| l.starts_with(name)).unwrap();
    assert!(!row("plain").contains("(val "), "{table}");
    let validated = row("validated");
    let at = validated
        .find(" @1 (val ")
        .expect("the validation accuracy");
    assert!(validated[at..].contains("%)"), "{table}");

    let o = runs(root.path(), &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_name = |n: &str| {
        v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("plain")["best_by"], "test");
    assert_eq!(by_name("plain")["best_val_acc"], serde_json::Value::Null);
    let val = by_name("validated");
    assert_eq!(val["best_by"], "val");
    assert!(val["best_val_acc"].as_f64().is_some(), "{val}");
    assert_eq!(val["settings"]["data.validation"], 32);
}

#[test]
fn a_runs_dir_that_is_missing_or_a_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "mine").unwrap();
    for (root, message) in [
        (dir.path().join("nowhere"), "no such directory"),
        (file, "a file, not a directory of runs"),
    ] {
        let out = runs(&root, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
}

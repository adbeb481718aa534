//! `fashion-tui report` and the report every training run writes: the files, that the
//! SVGs are XML naming every run, the PNGs' sizes, the CSV against metrics.jsonl, and
//! what is refused (no finished epoch, files that are not ours).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

const FILES: [&str; 5] = [
    "curves.svg",
    "curves.png",
    "confusion.svg",
    "confusion.png",
    "metrics.csv",
];

use common::bin;

fn run(args: &[&Path]) -> Output {
    bin().args(args).output().expect("running fashion-tui")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two short real training runs on synthetic data (2 epochs and 1 epoch), made once.
fn runs() -> &'static (PathBuf, PathBuf, PathBuf) {
    static RUNS: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-tests");
        let _ = fs::remove_dir_all(&root);
        let data = root.join("data");
        fs::create_dir_all(&data).unwrap();
        common::write_synthetic(&data, 320, 100);
        let train = |name: &str, flags: &str| {
            let dir = root.join(name);
            let out = bin()
                .args(["train", "--headless", "--device", "cpu", "--threads", "1"])
                .args(["--batch-size", "32"])
                .args(flags.split_whitespace())
                .arg("--data-dir")
                .arg(&data)
                .arg("--run-dir")
                .arg(&dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains("report: "),
                "{}",
                text(&out.stderr)
            );
            dir
        };
        let a = train("run-a", "--epochs 2");
        let b = train("run-b", "--epochs 1 --seed 7");
        (root, a, b)
    })
}

#[test]
fn every_training_run_writes_its_report_and_model_description() {
    let (_, a, b) = runs();
    for dir in [a, b] {
        for f in FILES.iter().chain(&["report.json", "model.json"]) {
            assert!(dir.join(f).is_file(), "{} lacks {f}", dir.display());
        }
    }
    let about: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(a.join("model.json")).unwrap()).unwrap();
    assert_eq!(about["architecture"], "tutorial");
    assert_eq!(
        about["tensors"]["fc1.weight"]["shape"],
        serde_json::json!([512, 512])
    );
}

#[test]
fn report_of_two_runs_overlaid() {
    let (root, a, b) = runs();
    let out_dir = root.join("both");
    let out = run(&[Path::new("report"), a, b, Path::new("--out"), &out_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for f in FILES {
        assert!(out_dir.join(f).is_file(), "missing {f}");
        assert!(text(&out.stdout).contains(f));
    }
    for (svg, png_size) in [("curves", (1280, 520)), ("confusion", (1280, 600))] {
        let xml = fs::read_to_string(out_dir.join(format!("{svg}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&xml).expect("the SVG is XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let words: String = doc
            .descendants()
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            words.contains("run-a") && words.contains("run-b"),
            "{svg}: {words}"
        );
        let img = image::open(out_dir.join(format!("{svg}.png"))).expect("the PNG decodes");
        assert_eq!((img.width(), img.height()), png_size, "{svg}.png");
    }
    // The accuracy plot has the tutorial's line and each run's best epoch.
    let curves = fs::read_to_string(out_dir.join("curves.svg")).unwrap();
    assert!(curves.contains("90% (the tutorial"));
    assert_eq!(curves.matches("best ").count(), 2);

    // The CSV holds exactly what metrics.jsonl holds, run by run.
    let csv = fs::read_to_string(out_dir.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "run",
            "epoch",
            "train_loss",
            "train_acc",
            "test_loss",
            "test_acc",
            "lr",
            "seconds",
            "eval_seconds",
            "images_per_sec"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut expected = Vec::new();
    for (name, dir) in [("run-a", a), ("run-b", b)] {
        for line in fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
        {
            expected.push((
                name,
                serde_json::from_str::<serde_json::Value>(line).unwrap(),
            ));
        }
    }
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.len(), expected.len());
    for (row, (name, json)) in rows.iter().zip(&expected) {
        assert_eq!(row[0], *name);
        for (col, cell) in header.iter().zip(row).skip(1) {
            let value: f64 = cell.parse().unwrap();
            assert_eq!(value, json[col].as_f64().unwrap(), "{name} {col}");
        }
    }

    // Our own files of the same runs are replaced; another run set is refused.
    let again = run(&[Path::new("report"), a, b, Path::new("--out"), &out_dir]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let other = run(&[Path::new("report"), a, Path::new("--out"), &out_dir]);
    assert_eq!(other.status.code(), Some(2));
    assert!(text(&other.stderr).contains("already holds the report of"));
}

#[test]
fn files_someone_else_made_are_never_overwritten() {
    let (root, a, _) = runs();
    let out_dir = root.join("theirs");
    fs::create_dir_all(&out_dir).unwrap();
    fs::write(out_dir.join("metrics.csv"), "mine\n").unwrap();
    let out = run(&[Path::new("report"), a, Path::new("--out"), &out_dir]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("metrics.csv not written by a report"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(out_dir.join("metrics.csv")).unwrap(),
        "mine\n"
    );
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 1);
}

#[test]
fn a_run_without_a_finished_epoch_is_refused_and_nothing_written() {
    let (root, a, b) = runs();
    let empty = root.join("no-epochs");
    fs::create_dir_all(&empty).unwrap();
    fs::write(empty.join("config.toml"), "").unwrap();
    let out = run(&[Path::new("report"), &empty]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("has no finished epoch"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fs::read_dir(&empty).unwrap().count(), 1);

    let out = run(&[Path::new("report"), &root.join("missing")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a run directory"));

    let out = run(&[Path::new("report"), a, b]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs --out DIR"));
}

#[test]
fn x_in_the_dashboard_writes_the_report_and_says_where() {
    use fashion_tui::events::{RunInfo, TrainEvent};
    use fashion_tui::ui::{App, UiOptions};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    let (root, a, _) = runs();
    let dir = root.join("live");
    fs::create_dir_all(&dir).unwrap();
    let mut app = App::new(UiOptions::default());
    let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
    let last_log = |app: &App| app.log_entries().last().map(|e| e.text.clone());
    app.on_key(x);
    assert_eq!(
        last_log(&app).as_deref(),
        Some("no report yet: the run has not started")
    );
    app.on_event(TrainEvent::Started(Box::new(RunInfo {
        model: "seed".into(),
        device: "cpu".into(),
        parameters: 1,
        epochs: 2,
        batch_size: 32,
        batches_per_epoch: 10,
        train_images: 320,
        test_images: 100,
        lr: 0.001,
        seed: 42,
        run_dir: dir.clone(),
        data_source: String::new(),
        data_load_secs: 0.0,
        early_stop: 0,
        validation: 0,
        time_budget: None,
    })));
    app.on_key(x);
    assert_eq!(
        last_log(&app).as_deref(),
        Some("no report yet: no epoch has finished")
    );
    fs::copy(a.join("metrics.jsonl"), dir.join("metrics.jsonl")).unwrap();
    app.on_key(x);
    assert_eq!(
        last_log(&app),
        Some(format!("report written to {}", dir.display()))
    );
    assert!(dir.join("curves.png").is_file());
}

//! What a careless, unlucky or malicious user can plant in the files the program reads
//! and writes, class by class, against the real binary: a symbolic link for every file
//! it writes or deletes in a run or report directory (never written or deleted through),
//! a FIFO and `/dev/zero` for every file it reads (refused at once, never a hang), escape
//! sequences in names and values (shown, never obeyed), and a closed pipe and a full
//! device for every command (a closed pipe is quiet, exit 0; a full device exit 1).

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{bin, train, train_ok};

const PRECIOUS: &str = "someone else's file\n";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A synthetic dataset and one finished two-epoch run made from it, shared by the tests
/// (copied before any test changes a run).
fn fixture() -> &'static (PathBuf, PathBuf) {
    static DONE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DONE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("planted");
        let _ = std::fs::remove_dir_all(&root);
        let (data, run) = (root.join("data"), root.join("run"));
        common::write_synthetic(&data, 160, 40);
        train_ok(&data, &run, &["--epochs", "2"]);
        (data, run)
    })
}

/// A fresh copy of the fixture's run in a new temp directory.
fn copy_run() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let to = tmp.path().join("run");
    copy_dir(&fixture().1, &to);
    (tmp, to)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// A file outside every run, which nothing may change.
fn outside(tmp: &Path) -> PathBuf {
    let p = tmp.join("outside.txt");
    std::fs::write(&p, PRECIOUS).unwrap();
    p
}

fn plant_link(target: &Path, at: &Path) {
    let _ = std::fs::remove_file(at);
    let _ = std::fs::remove_dir_all(at);
    symlink(target, at).unwrap();
}

fn fifo(at: &Path) {
    let _ = std::fs::remove_file(at);
    let c = CString::new(at.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// The command's output, failing the test when it has not ended within a minute (a
/// FIFO must never hang the program).
fn run_bounded(mut c: std::process::Command) -> Output {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{c:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `train --headless --resume RUN` on `data` with `flags`.
fn resume(data: &Path, run: &Path, flags: &[&str]) -> std::process::Command {
    let mut c = bin();
    c.args(["train", "--headless", "--device", "cpu", "--threads", "1"])
        .args(["--batch-size", "16", "--data-dir"])
        .arg(data)
        .arg("--resume")
        .arg(run)
        .args(flags);
    c
}

#[test]
fn nothing_is_written_or_deleted_through_a_link_planted_in_a_run() {
    let data = &fixture().0;
    // Each file the trainer writes, truncates or appends to in a run it resumes.
    for name in [
        ".lock",
        "metrics.jsonl",
        "loss.jsonl",
        "checkpoint",
        "checkpoint/checkpoint.json",
    ] {
        let (tmp, run) = copy_run();
        let target = outside(tmp.path());
        let at = run.join(name);
        if name == "checkpoint" {
            // A directory of someone else's that holds what a checkpoint would.
            let theirs = tmp.path().join("theirs");
            copy_dir(&run.join("checkpoint"), &theirs);
            plant_link(&theirs, &at);
        } else {
            plant_link(&target, &at);
        }
        let o = run_bounded(resume(data, &run, &["--epochs", "3"]));
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(
            text(&o).contains("is a symbolic link"),
            "{name}: {}",
            text(&o)
        );
        assert!(
            text(&o).contains(&at.display().to_string()),
            "{name}: {}",
            text(&o)
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            PRECIOUS,
            "{name}"
        );
        if name == "checkpoint" {
            let theirs = tmp.path().join("theirs");
            assert!(
                theirs.join("checkpoint.json").exists(),
                "their files are kept"
            );
        }
    }
}

#[test]
fn overwrite_removes_links_under_a_runs_names_never_what_they_point_to() {
    let data = &fixture().0;
    let (tmp, run) = copy_run();
    let target = outside(tmp.path());
    for name in [
        "config.toml",
        "run.json",
        "model.safetensors",
        "model.json",
        "best.safetensors",
    ] {
        plant_link(&target, &run.join(name));
    }
    // Temp names a killed write would leave, planted as links.
    for name in [
        ".run.json.tmp",
        ".model.safetensors.tmp",
        ".config.toml.tmp",
    ] {
        plant_link(&target, &run.join(name));
    }
    let theirs = tmp.path().join("theirs");
    copy_dir(&run.join("checkpoint"), &theirs);
    plant_link(&theirs, &run.join("checkpoint"));
    // The checkpoint link is refused: --overwrite deletes nothing through it.
    let o = run_bounded(train(data, &run, &["--epochs", "1", "--overwrite"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("checkpoint is a symbolic link"),
        "{}",
        text(&o)
    );
    assert!(theirs.join("checkpoint.json").exists());
    std::fs::remove_file(run.join("checkpoint")).unwrap();
    let o = run_bounded(train(data, &run, &["--epochs", "1", "--overwrite"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), PRECIOUS);
    for name in ["config.toml", "run.json", "model.safetensors", "model.json"] {
        let meta = std::fs::symlink_metadata(run.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is the run's own file now");
    }
}

#[test]
fn a_report_never_writes_through_a_link_nor_over_someone_elses_plot() {
    let run = &fixture().1;
    let tmp = tempfile::tempdir().unwrap();
    let target = outside(tmp.path());
    let out = tmp.path().join("report");
    std::fs::create_dir(&out).unwrap();
    // A manifest planted beside someone's plot names the run: still not the report's.
    std::fs::write(out.join("curves.png"), "their plot").unwrap();
    let manifest = format!(
        "{{\"runs\": [{:?}]}}",
        std::fs::canonicalize(run).unwrap().display().to_string()
    );
    std::fs::write(out.join("report.json"), manifest).unwrap();
    let o = run_bounded({
        let mut c = bin();
        c.arg("report").arg(run).arg("--out").arg(&out);
        c
    });
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("curves.png not written by a report"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("curves.png")).unwrap(),
        "their plot"
    );
    // Links under the report's names, in a directory of the report's own: replaced,
    // never followed.
    std::fs::remove_dir_all(&out).unwrap();
    let report = |out: &Path| {
        let mut c = bin();
        c.arg("report").arg(run).arg("--out").arg(out);
        run_bounded(c)
    };
    assert_eq!(report(&out).status.code(), Some(0));
    plant_link(&target, &out.join("metrics.csv"));
    plant_link(&target, &out.join(".curves.svg.tmp"));
    let o = report(&out);
    // metrics.csv is no longer what the report wrote: refused, the link left alone.
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), PRECIOUS);
}

#[test]
fn fifos_devices_and_runaway_files_are_refused_at_once() {
    let (tmp, run) = copy_run();
    let runs_dir = run.parent().unwrap().to_path_buf();
    // A run whose record is a FIFO, one whose metrics are /dev/zero, one whose record is
    // 200 MB (sparse).
    let other = |name: &str| {
        let d = runs_dir.join(name);
        copy_dir(&run, &d);
        d
    };
    fifo(&other("fifo").join("run.json"));
    plant_link(Path::new("/dev/zero"), &other("zero").join("metrics.jsonl"));
    let big = other("big").join("run.json");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let runs = run_bounded({
        let mut c = bin();
        c.arg("runs").arg("--runs-dir").arg(&runs_dir);
        c
    });
    assert_eq!(runs.status.code(), Some(0), "{}", text(&runs));
    let t = text(&runs);
    assert!(t.contains("FIFO"), "{t}");
    assert!(t.contains("is a symbolic link"), "{t}");
    assert!(t.contains("far more than a run record"), "{t}");
    // view, report and eval of such runs, and of a FIFO or device given as a model or a
    // picture: refused with a message, never a hang.
    let zero_model = tmp.path().join("zero.safetensors");
    plant_link(Path::new("/dev/zero"), &zero_model);
    let fifo_png = tmp.path().join("fifo.png");
    fifo(&fifo_png);
    let sparse = tmp.path().join("sparse.safetensors");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let zero_run = runs_dir.join("zero");
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec!["report".as_ref(), zero_run.as_os_str()],
            "is a symbolic link",
        ),
        (
            vec!["eval".as_ref(), zero_model.as_os_str()],
            "is a character device",
        ),
        (
            vec!["eval".as_ref(), sparse.as_os_str()],
            "far more than a model",
        ),
        (
            vec!["predict".as_ref(), run.as_os_str(), fifo_png.as_os_str()],
            "is a FIFO",
        ),
    ];
    for (args, message) in cases {
        let o = run_bounded({
            let mut c = bin();
            c.args(&args);
            if args[0] != "report" {
                c.arg("--data-dir").arg(&fixture().0);
            }
            c
        });
        assert_ne!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(message), "{args:?}: {}", text(&o));
    }
}

#[test]
fn escape_sequences_in_names_values_and_paths_are_shown_not_obeyed() {
    let (tmp, run) = copy_run();
    let runs_dir = run.parent().unwrap().to_path_buf();
    let evil = runs_dir.join("run-\x1b[2J\x1b]0;owned\x07");
    copy_dir(&run, &evil);
    let png = tmp.path().join("shirt-\x1b[31m.png");
    std::fs::write(&png, "not a picture").unwrap();
    let cfg_dir = tmp.path().join("cwd");
    std::fs::create_dir(&cfg_dir).unwrap();
    // A key whose text holds ESC (written as TOML's escape, read as the character).
    std::fs::write(
        cfg_dir.join("config.toml"),
        "[training]\n\"lr\\u001b[2J\" = 1\n",
    )
    .unwrap();
    let runs = {
        let mut c = bin();
        c.arg("runs").arg("--runs-dir").arg(&runs_dir);
        run_bounded(c)
    };
    let predict = {
        let mut c = bin();
        c.arg("predict").arg(&run).arg(&png);
        run_bounded(c)
    };
    let config = {
        let mut c = bin();
        c.args(["config", "path"]).current_dir(&cfg_dir);
        run_bounded(c);
        let mut c = bin();
        c.args(["train", "--headless"]).current_dir(&cfg_dir);
        run_bounded(c)
    };
    for (what, o) in [("runs", runs), ("predict", predict), ("config", config)] {
        let all = [o.stdout.as_slice(), o.stderr.as_slice()].concat();
        assert!(
            !all.contains(&0x1b),
            "{what} printed an ESC byte: {}",
            text(&o)
        );
        assert!(
            text(&o).contains("\\x1b"),
            "{what} shows it escaped: {}",
            text(&o)
        );
    }
}

#[test]
fn every_command_is_quiet_on_a_closed_pipe_and_says_a_full_device() {
    let (data, run) = fixture();
    let sh = |cmd: &str, tail: &str| {
        let script = format!("{} {cmd} {tail}", env!("CARGO_BIN_EXE_fashion-tui"));
        let mut c = std::process::Command::new("bash");
        c.args(["-c", &script])
            .env("XDG_CONFIG_HOME", "/nonexistent-fashion-tui-test")
            .current_dir(env!("CARGO_TARGET_TMPDIR"));
        run_bounded(c)
    };
    let (run, data) = (run.display(), data.display());
    let report_out = tempfile::tempdir().unwrap();
    let commands = [
        format!(
            "runs --runs-dir {}",
            Path::new(&run.to_string()).parent().unwrap().display()
        ),
        format!("report {run} --out {}", report_out.path().display()),
        format!("eval {run} --data-dir {data}"),
        format!("predict {run} --test 1 --test 2 --data-dir {data}"),
        "config path".to_string(),
    ];
    for cmd in &commands {
        // The reader closes the pipe at once: no panic, exit 0 (the command's own status
        // is the pipeline's first).
        let o = sh(cmd, "| head -c0; exit ${PIPESTATUS[0]}");
        assert_eq!(o.status.code(), Some(0), "{cmd} | head -c0: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{cmd}: {}", text(&o));
        let o = sh(&format!("{cmd} > /dev/full"), "");
        assert_eq!(o.status.code(), Some(1), "{cmd} > /dev/full: {}", text(&o));
        assert!(
            text(&o).contains("No space left on device"),
            "{cmd}: {}",
            text(&o)
        );
        assert!(!text(&o).contains("panicked"), "{cmd}: {}", text(&o));
    }
}

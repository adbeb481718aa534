//! Signals against the real binary in a real terminal (tmux): SIGTERM and SIGHUP stop the
//! run with a checkpoint, restore the terminal and exit 128+signal; closing the terminal
//! altogether (an SSH drop) leaves no process behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::{dashboard_script, Tmux};

struct Session {
    tmux: Tmux,
    run: PathBuf,
    exit_file: PathBuf,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn start(name: &str) -> Session {
    let data = tempfile::tempdir().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 2000, 100);
    let run = dirs.path().join("run");
    let exit_file = dirs.path().join("exit-code");
    let script = dashboard_script(data.path(), &run, &exit_file, "");
    let tmux = Tmux::start(name, &script, 120, 36);
    tmux.wait("training", Duration::from_secs(120), |s| {
        s.contains("TRAINING")
    });
    Session {
        tmux,
        run,
        exit_file,
        _dirs: (data, dirs),
    }
}

/// The pid of the fashion-tui process training into `run`.
fn pid_of(run: &Path) -> Option<String> {
    let out = Command::new("pgrep")
        .args([
            "-f",
            &format!("^{} .*{}", env!("CARGO_BIN_EXE_fashion-tui"), run.display()),
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

fn wait_until(what: &str, limit: Duration, mut pred: impl FnMut() -> bool) {
    let start = Instant::now();
    while !pred() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal_stops_with_checkpoint(sig: &str, code: i32) {
    let s = start(sig);
    let pid = pid_of(&s.run).expect("fashion-tui is running");
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid])
        .status()
        .unwrap();
    assert!(status.success());
    wait_until("the exit code", Duration::from_secs(120), || {
        s.exit_file.exists()
    });
    std::thread::sleep(Duration::from_millis(200));
    let got = std::fs::read_to_string(&s.exit_file).unwrap();
    assert_eq!(got.trim(), code.to_string(), "screen:\n{}", s.tmux.screen());
    assert!(s.run.join("checkpoint").join("checkpoint.json").is_file());
    assert_eq!(
        s.tmux
            .cmd(&["display", "-p", "-t", "ft", "#{alternate_on}"])
            .trim(),
        "0"
    );
    assert_eq!(
        s.tmux
            .cmd(&["display", "-p", "-t", "ft", "#{cursor_flag}"])
            .trim(),
        "1"
    );
}

#[test]
fn sigterm_checkpoints_restores_the_terminal_and_exits_143() {
    signal_stops_with_checkpoint("TERM", 143);
}

#[test]
fn sighup_checkpoints_restores_the_terminal_and_exits_129() {
    signal_stops_with_checkpoint("HUP", 129);
}

#[test]
fn a_closed_terminal_leaves_no_process_and_a_checkpoint() {
    let s = start("drop");
    assert!(pid_of(&s.run).is_some());
    s.tmux.cmd(&["kill-server"]);
    wait_until("the process to exit", Duration::from_secs(120), || {
        pid_of(&s.run).is_none()
    });
    assert!(s.run.join("checkpoint").join("checkpoint.json").is_file());
}

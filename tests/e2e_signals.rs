//! Signals against the real binary in a real terminal (tmux): SIGTERM and SIGHUP stop the
//! run with a checkpoint, restore the terminal and exit 128+signal; closing the terminal
//! altogether (an SSH drop) leaves no process behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::tmux::{dashboard_script, Tmux};
use fashion_tui::store::checkpoint;

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

/// The checkpoint in `run` is the one the stop wrote, not only the last epoch's: every
/// save is a new generation (the first is 1), one per finished epoch, and the stop's on top;
/// its position is in the epoch after the last finished one.
fn assert_stop_checkpoint(run: &Path) {
    let sc = checkpoint::read_sidecar(
        &fashion_tui::files::Dir::open(&run.join(checkpoint::DIR)).unwrap(),
    )
    .unwrap()
    .expect("a checkpoint");
    let finished = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .count();
    assert_eq!(
        sc.generation,
        finished as u64 + 1,
        "no save at the stop: {sc:?}"
    );
    assert_eq!(sc.epoch, finished, "{sc:?}");
    assert!(sc.step > 0, "{sc:?}");
}

fn signal_stops_with_checkpoint(sig: &str, code: i32) {
    let s = start(sig);
    let pid = pid_of(&s.run).expect("fashion-tui is running");
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let got = common::wait_for_exit_code(&s.exit_file, Duration::from_secs(120));
    assert_eq!(got, code, "screen:\n{}", s.tmux.screen());
    assert_stop_checkpoint(&s.run);
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
    common::wait_for("the process to exit", Duration::from_secs(120), || {
        pid_of(&s.run).is_none()
    });
    assert_stop_checkpoint(&s.run);
}

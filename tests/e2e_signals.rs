//! Signals against the real binary in a real terminal (tmux): SIGTERM stops the run with a
//! checkpoint, restores the terminal and exits 128+signal; so do SIGHUP and closing the
//! terminal altogether (an SSH drop) with `ui.on_hangup = "stop"`, leaving no process
//! behind. By default a hangup leaves the run training on, detached.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::tmux::{dashboard_script_on_hangup, Tmux};
use fashion_tui::store::checkpoint;

struct Session {
    tmux: Tmux,
    run: PathBuf,
    exit_file: PathBuf,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn start(name: &str, on_hangup: &str) -> Session {
    let data = tempfile::tempdir().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 2000, 100);
    let run = dirs.path().join("run");
    let exit_file = dirs.path().join("exit-code");
    let script = dashboard_script_on_hangup(data.path(), &run, &exit_file, "", on_hangup);
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

/// The pid of the fashion-tui command training into `run` (the oldest: the dashboard's,
/// not its run's own process).
fn pid_of(run: &Path) -> Option<String> {
    let out = Command::new("pgrep")
        .args([
            "-o",
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
    let s = start(sig, "stop");
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
fn sighup_with_on_hangup_stop_checkpoints_restores_the_terminal_and_exits_129() {
    signal_stops_with_checkpoint("HUP", 129);
}

#[test]
fn by_default_a_hangup_leaves_the_run_training_detached() {
    let s = start("hup-detach", "detach");
    let _guard = common::RunGuard(s.run.clone());
    let pid = pid_of(&s.run).expect("fashion-tui is running");
    let run_pid = common::run_pid(&s.run).expect("the run's process holds its directory");
    assert_ne!(pid, run_pid.to_string(), "the run has a process of its own");
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let got = common::wait_for_exit_code(&s.exit_file, Duration::from_secs(120));
    assert_eq!(got, 129, "screen:\n{}", s.tmux.screen());
    // The run trains on: it finishes epochs, and its record and log say it was left.
    let epochs = || {
        std::fs::read_to_string(s.run.join("metrics.jsonl"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let before = epochs();
    common::wait_for(
        "an epoch after the hangup",
        Duration::from_secs(300),
        || epochs() > before,
    );
    assert!(common::alive(run_pid));
    // The trainer takes the note at its next step, which may come after the epoch that
    // was being evaluated when the terminal went: wait for it rather than race it.
    let record = || std::fs::read_to_string(s.run.join("run.json")).unwrap_or_default();
    common::wait_for(
        "the record to say the terminal went away",
        Duration::from_secs(120),
        || record().contains("went away; the run trains on detached"),
    );
    common::wait_for("the log to say it too", Duration::from_secs(60), || {
        std::fs::read_to_string(s.run.join("train.log"))
            .unwrap_or_default()
            .contains("went away; the run trains on detached")
    });
}

#[test]
fn with_on_hangup_stop_a_closed_terminal_leaves_no_process_and_a_checkpoint() {
    let s = start("drop", "stop");
    assert!(pid_of(&s.run).is_some());
    s.tmux.cmd(&["kill-server"]);
    common::wait_for("the process to exit", Duration::from_secs(120), || {
        pid_of(&s.run).is_none()
    });
    assert_stop_checkpoint(&s.run);
}

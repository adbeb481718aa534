//! End to end in a real terminal: the binary runs inside tmux on a small generated
//! dataset; the test waits for the panes, pauses and resumes with `p`, quits with `q`
//! and `y`, then checks the exit code and that the terminal was restored; and Ctrl-C,
//! which ends the run like SIGINT: a checkpoint where it stopped, exit code 130.

mod common;

use common::tmux::{dashboard_script, Tmux};

use std::time::Duration;

#[test]
fn dashboard_pause_resume_quit_in_a_real_terminal() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 2000, 200);
    let exit_file = run.path().join("exit-code");
    let script = dashboard_script(data.path(), &run.path().join("run"), &exit_file, "");
    let tmux = Tmux::start("dashboard", &script, 140, 40);

    let long = Duration::from_secs(120);
    let screen = tmux.wait("the dashboard", long, |s| {
        s.contains("Loss") && s.contains("Confusion matrix") && s.contains("TRAINING")
    });
    for title in ["Accuracy", "Feature maps", "Predictions", "Log"] {
        assert!(screen.contains(title), "missing pane {title}:\n{screen}");
    }
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "ft", "#{alternate_on}"])
            .trim(),
        "1"
    );

    tmux.cmd(&["send-keys", "-t", "ft", "p"]);
    tmux.wait("PAUSED", long, |s| s.contains("PAUSED"));
    tmux.cmd(&["send-keys", "-t", "ft", "p"]);
    tmux.wait("TRAINING again", long, |s| {
        s.contains("TRAINING") && !s.contains("PAUSED")
    });

    tmux.cmd(&["send-keys", "-t", "ft", "q"]);
    tmux.wait("the quit confirmation", long, |s| s.contains("y/n"));
    tmux.cmd(&["send-keys", "-t", "ft", "y"]);

    let code = common::wait_for_exit_code(&exit_file, long);
    assert_eq!(code, 0, "screen:\n{}", tmux.screen());
    // Restored: out of the alternate screen, cursor visible, summary line printed.
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "ft", "#{alternate_on}"])
            .trim(),
        "0"
    );
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "ft", "#{cursor_flag}"])
            .trim(),
        "1"
    );
    let after = tmux.screen();
    assert!(
        after.contains("fashion-tui:"),
        "summary line missing:\n{after}"
    );
    assert!(run.path().join("run").join("model.safetensors").is_file());
}

/// The position in the log's `paused at epoch 0.37` line, if shown.
fn paused_at(screen: &str) -> Option<String> {
    let rest = screen.split("paused at epoch ").nth(1)?;
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!number.is_empty()).then_some(number)
}

#[test]
fn ctrl_c_in_the_dashboard_checkpoints_where_it_stopped_and_exits_130() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    // 2000 images in batches of 16: 125 batches an epoch.
    common::write_synthetic(data.path(), 2000, 200);
    let exit_file = run.path().join("exit-code");
    let run_dir = run.path().join("run");
    let script = dashboard_script(data.path(), &run_dir, &exit_file, "");
    let tmux = Tmux::start("ctrl-c", &script, 140, 40);

    let long = Duration::from_secs(120);
    tmux.wait("training", long, |s| s.contains("TRAINING"));
    // Paused, the trainer waits where its log line says; Ctrl-C stops it there.
    tmux.keys(&["p"]);
    let paused = tmux.wait("the trainer to pause", long, |s| paused_at(s).is_some());
    let position = paused_at(&paused).unwrap();
    tmux.keys(&["C-c"]);

    let code = common::wait_for_exit_code(&exit_file, long);
    assert_eq!(code, 130, "screen:\n{}", tmux.screen());
    let after = tmux.screen();
    assert!(after.contains("(stopped early)"), "{after}");

    let ckpt = fashion_tui::files::Dir::open(&run_dir.join("checkpoint")).unwrap();
    let sidecar = fashion_tui::store::checkpoint::read_sidecar(&ckpt)
        .unwrap()
        .expect("a checkpoint");
    let saved = sidecar.epoch as f64 + sidecar.batch as f64 / 125.0;
    assert_eq!(format!("{saved:.2}"), position, "paused at:\n{paused}");
}

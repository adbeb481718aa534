//! End to end in a real terminal: the binary runs inside tmux on a small generated
//! dataset; the test waits for the panes, pauses and resumes with `p`, quits with `q`
//! and `y`, then checks the exit code and that the terminal was restored.

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

//! End to end in a real terminal: the settings editor changes the learning rate of a
//! running trainer and saves it into the config file (comments kept); edits of the file
//! on disk are reloaded live, listed as pending, or refused when invalid.

mod common;

use std::path::Path;
use std::time::Duration;

use common::tmux::{sh_quote, Tmux};

/// How long any one step may take.
const LONG: Duration = Duration::from_secs(120);

#[test]
fn the_editor_and_hot_reload_steer_a_real_run() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 2000, 200);
    let cfg = run.path().join("config.toml");
    let original = "# my settings\n[training]\nlr = 0.001 # base rate\nepochs = 10000\n\n\
                    [runtime]\ndevice = \"cpu\"\nthreads = 1\n\n[ui]\non_hangup = \"stop\"\n";
    std::fs::write(&cfg, original).unwrap();
    let exit_file = run.path().join("exit-code");
    // --batch-size is a flag: it must stay on top of every reloaded version.
    let script = format!(
        "{} --config {} --batch-size 16 --data-dir {} --run-dir {}; echo $? > {}; sleep 600",
        sh_quote(Path::new(env!("CARGO_BIN_EXE_fashion-tui"))),
        sh_quote(&cfg),
        sh_quote(data.path()),
        sh_quote(&run.path().join("run")),
        sh_quote(&exit_file),
    );
    let tmux = Tmux::start("config", &script, 140, 40);
    tmux.wait("training", LONG, |s| {
        s.contains("TRAINING") && s.contains("lr 1e-3")
    });

    // The editor: a live learning-rate change, then saved.
    tmux.keys(&["e"]);
    tmux.wait("the editor", LONG, |s| {
        s.contains("Settings") && s.contains("training.lr")
    });
    tmux.keys(&["Enter", "C-u", "-", "1"]);
    tmux.wait("the reason", LONG, |s| {
        s.contains("✗ training.lr = -1 is out of range")
    });
    tmux.keys(&["C-u", "0", ".", "0", "0", "0", "5", "Enter"]);
    tmux.wait("the trainer's answer", LONG, |s| {
        s.contains("0.0005") && !s.contains("applying (run:")
    });
    tmux.keys(&["s"]);
    tmux.wait("the save", LONG, |s| s.contains("saved 1 setting to"));
    let saved = std::fs::read_to_string(&cfg).unwrap();
    assert_eq!(saved, original.replace("lr = 0.001 #", "lr = 0.0005 #"));
    tmux.keys(&["Escape"]);
    tmux.wait("the new rate in the header", LONG, |s| {
        s.contains("lr 5e-4")
    });

    // Hot reload: a live change and a pending one; then an invalid file.
    let edited = saved
        .replace("lr = 0.0005", "lr = 0.002")
        .replace("[runtime]", "[model]\ndropout = 0.5\n\n[runtime]");
    std::fs::write(&cfg, edited).unwrap();
    tmux.wait("the reload", LONG, |s| {
        s.contains("lr 2e-3") && s.contains("pending for the next run")
    });
    std::fs::write(&cfg, "[training]\nlr = -1.0\n").unwrap();
    tmux.wait("the refusal", LONG, |s| {
        s.contains("config file not applied")
    });
    let s = tmux.wait("the rate kept", LONG, |s| s.contains("lr 2e-3"));
    assert!(!s.contains("PAUSED"), "{s}");

    tmux.keys(&["q"]);
    tmux.wait("the quit confirmation", LONG, |s| s.contains("y/n"));
    tmux.keys(&["y"]);
    assert_eq!(common::wait_for_exit_code(&exit_file, LONG), 0);
    // The run's effective config has the flag on top of the file it started from.
    let effective = std::fs::read_to_string(run.path().join("run").join("config.toml")).unwrap();
    assert!(effective.contains("batch_size = 16"), "{effective}");
}

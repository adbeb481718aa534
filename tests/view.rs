//! `fashion-tui view`: stored runs played back into the dashboard as the trainer's own
//! events (the fixture runs through `App` and `TestBackend`, several overlaid, one toggled
//! off in the Runs pane), a real run's predictions and feature maps recomputed from its
//! model without changing a byte of its directory, earlier runs offered while training,
//! the notification at a run's end, and the real binary viewing two runs in tmux.

mod common;

use common::contents;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::tmux::{sh_quote, Tmux};
use fashion_tui::commands::view;
use fashion_tui::events::{Command, TrainEvent};
use fashion_tui::store::catalog;
use fashion_tui::store::history::StoredRun;
use fashion_tui::train::inspect;
use fashion_tui::ui::panes::charts::OtherRun;
use fashion_tui::ui::{self, App, UiOptions};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

/// A fixture run, by a path relative to the package (where tests run), so that the
/// snapshots do not depend on where the checkout is.
fn fixture(name: &str) -> PathBuf {
    Path::new("tests/fixtures/runs").join(name)
}

fn opts() -> UiOptions {
    UiOptions {
        color: ui::ColorMode::Ansi16,
        ..UiOptions::default()
    }
}

/// The app viewing `names` (fixture runs), every stored event fed in.
fn viewing(names: &[&str]) -> App {
    let dirs: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    let runs = view::load(&dirs).unwrap();
    let mut app = view::app_for(&runs, opts());
    for ev in runs[0].events() {
        app.on_event(ev);
    }
    app
}

/// The screen as text, one line per row.
fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::render(app, f)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| {
            let row: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
            row.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn a_stored_run_fills_the_dashboard_from_its_files() {
    let app = viewing(&["good-a"]);
    let s = screen(&app, 160, 48);
    insta::assert_snapshot!("view_one_run", s);
    assert!(s.contains("DONE"), "{s}");
}

#[test]
fn several_runs_are_overlaid_and_one_can_be_hidden() {
    let mut app = viewing(&["good-a", "good-b", "failed"]);
    let both = screen(&app, 160, 48);
    assert!(both.contains("good-b") && both.contains("failed"), "{both}");
    insta::assert_snapshot!("view_three_runs", both);

    app.on_key(key('?'));
    let help = screen(&app, 100, 30);
    assert!(help.contains("runs: show or hide other runs"), "{help}");
    app.on_key(key('?'));
    app.on_key(key('r'));
    let pane = screen(&app, 100, 30);
    insta::assert_snapshot!("view_runs_pane", pane);
    app.on_key(key('1'));
    let toggled = screen(&app, 100, 30);
    assert!(toggled.contains("1 ○ good-b  hidden"), "{toggled}");
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    let after = screen(&app, 160, 48);
    assert!(
        !after.contains("good-b") && after.contains("failed"),
        "{after}"
    );
}

#[test]
fn one_run_has_no_runs_key() {
    let mut app = viewing(&["good-a"]);
    app.on_key(key('r'));
    app.on_key(key('?'));
    let help = screen(&app, 100, 30);
    assert!(
        help.contains("Help") && !help.contains("runs: show"),
        "{help}"
    );
}

#[test]
fn failed_and_interrupted_runs_say_so() {
    let app = viewing(&["failed"]);
    let s = screen(&app, 120, 36);
    assert!(s.contains("FAILED") && s.contains("became NaN"), "{s}");
    let events = StoredRun::load(&fixture("partial")).unwrap().events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TrainEvent::Message(m) if m.contains("interrupted"))),
        "{events:?}"
    );
    // The loss of the line cut off by the crash is left out; both epochs are there.
    let epochs = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::EpochEnd(_)))
        .count();
    assert_eq!(epochs, 2);
}

#[test]
fn a_real_run_gets_its_predictions_and_feature_maps_and_is_not_changed() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 160, 50);
    let cfg = common::quick_config(data.path(), run.path(), 2);
    let (_tx, rx) = flume::unbounded();
    let mut sink = |_: TrainEvent| true;
    fashion_tui::train::run(&cfg, &rx, &mut sink).unwrap();
    let before = contents(run.path());

    let stored = StoredRun::load(run.path()).unwrap();
    let (sink, rx) = fashion_tui::train::ChannelSink::new();
    let (cmd_tx, cmd_rx) = flume::unbounded();
    let player = inspect::spawn(stored, cmd_rx, sink);
    let next = || rx.events.recv_timeout(Duration::from_secs(60)).unwrap();
    let mut predictions = None;
    loop {
        match next() {
            TrainEvent::Predictions(p) => predictions = Some(p),
            TrainEvent::FeatureMaps(f) => {
                assert_eq!(f.index, 0);
                break;
            }
            TrainEvent::Message(m) => assert!(!m.starts_with("no predictions"), "{m}"),
            _ => {}
        }
    }
    let p = predictions.expect("predictions before the feature maps");
    assert_eq!(p.sample.len(), 4);
    assert_eq!(p.epoch, 2);
    cmd_tx.send(Command::FeatureMaps { index: 7 }).unwrap();
    match next() {
        TrainEvent::FeatureMaps(f) => assert_eq!(f.index, 7),
        other => panic!("{other:?}"),
    }
    cmd_tx.send(Command::Stop).unwrap();
    player.join().unwrap();
    assert_eq!(contents(run.path()), before, "viewing changed the run");
}

#[test]
fn while_training_earlier_runs_wait_hidden_in_the_runs_pane() {
    let root = Path::new("tests/fixtures/runs");
    let others: Vec<OtherRun> = catalog::earlier(root, Some(&root.join("good-b")))
        .iter()
        .map(|r| OtherRun::of(r, false))
        .collect();
    let names: Vec<&str> = others.iter().map(|o| o.name.as_str()).collect();
    // By start; the run being trained (good-b here) and runs without an epoch left out.
    assert_eq!(
        names,
        ["20261128-090000-seed", "good-a", "partial", "failed"]
    );
    assert!(others.iter().all(|o| !o.shown), "no overlay by default");

    // A live run: the charts show only it until a run is picked.
    let mut app = App::new(opts());
    for ev in StoredRun::load(&fixture("good-b")).unwrap().events() {
        app.on_event(ev);
    }
    for o in others {
        app.add_other_run(o);
    }
    assert!(!screen(&app, 160, 48).contains("good-a"));
    app.on_key(key('r'));
    app.on_key(key('2'));
    app.on_key(key('r'));
    let s = screen(&app, 160, 48);
    assert!(s.contains("good-a") && !s.contains("partial"), "{s}");
}

#[test]
fn the_end_of_a_run_is_notified_once_when_asked() {
    let events = StoredRun::load(&fixture("good-a")).unwrap().events();
    let mut quiet = App::new(opts());
    for ev in events.clone() {
        quiet.on_event(ev);
    }
    assert_eq!(quiet.take_notification(), None, "off unless ui.notify");
    let mut app = App::new(opts());
    app.set_notify(true);
    for ev in events {
        app.on_event(ev);
    }
    let text = app.take_notification().expect("a notification");
    assert!(
        text.starts_with("fashion-tui: done after 3 epochs"),
        "{text}"
    );
    assert_eq!(app.take_notification(), None, "once");
    assert_eq!(
        ui::run::notification_bytes("done\nnow"),
        "\x1b]9;donenow\x07\x07"
    );
}

#[test]
fn two_real_runs_viewed_in_a_real_terminal_one_toggled_off() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 320, 100);
    let bin = env!("CARGO_BIN_EXE_fashion-tui");
    for (name, lr) in [("alpha", "0.001"), ("beta", "0.01")] {
        common::train_ok(
            data.path(),
            &root.path().join(name),
            &["--epochs", "2", "--lr", lr],
        );
    }
    let before = contents(root.path());
    let exit_file = data.path().join("exit-code");
    let script = format!(
        "XDG_CONFIG_HOME=/nonexistent-fashion-tui-test {} view --runs-dir {} alpha beta; \
         echo $? > {}; sleep 600",
        sh_quote(Path::new(bin)),
        sh_quote(root.path()),
        sh_quote(&exit_file),
    );
    let tmux = Tmux::start("view", &script, 160, 48);
    let long = Duration::from_secs(120);
    let s = tmux.wait("both runs drawn, the model's feature maps", long, |s| {
        s.contains("DONE")
            && s.contains("beta")
            && !s.contains("waiting for the first feature maps")
    });
    assert!(s.contains("alpha"), "{s}");
    tmux.keys(&["r"]);
    tmux.wait("the Runs pane", long, |s| s.contains("1 ● beta  shown"));
    tmux.keys(&["1"]);
    tmux.wait("beta hidden", long, |s| s.contains("1 ○ beta  hidden"));
    tmux.keys(&["Escape"]);
    tmux.wait("only alpha drawn", long, |s| {
        !s.contains("beta") && !s.contains("Runs")
    });
    tmux.keys(&["q"]);
    assert_eq!(common::wait_for_exit_code(&exit_file, long), 0);
    assert_eq!(contents(root.path()), before, "viewing changed a run");
}

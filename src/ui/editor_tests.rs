//! The settings editor: the key flow (open, move, edit, refuse, apply live, cancel,
//! pending, save), hot reloads reaching the app, and the run loop doing the save.

use std::path::{Path, PathBuf};
use std::time::Duration;

use insta::assert_snapshot;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

use crate::config::live::LiveSetting;
use crate::config::params::PARAMS;
use crate::config::reload::Reloader;
use crate::config::Config;
use crate::error::UsageError;
use crate::events::{Change, Command, TrainEvent};
use crate::ui::app::{App, Overlay};
use crate::ui::editor::{Action, ConfigInUse};
use crate::ui::fixtures::{finished, mid_run};
use crate::ui::panes::{LogKind, Pane};
use crate::ui::run::{run_loop, Channels};

const FILE: &str = "/home/me/fashion/config.toml";

fn with_config(mut app: App) -> App {
    app.set_config(ConfigInUse {
        path: Some(PathBuf::from(FILE)),
        save_path: PathBuf::from(FILE),
        config: Config::default(),
    });
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(app.on_key(ch(c)), None);
    }
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| crate::ui::render(app, f)).expect("draw");
    t.backend().to_string()
}

fn select(app: &mut App, key: &str) {
    let target = PARAMS.iter().position(|p| p.key == key).expect("a setting");
    while app.editor().selected != target {
        app.on_key(key_down());
    }
}

fn key_down() -> KeyEvent {
    key(KeyCode::Down)
}

fn log_has(app: &App, kind: LogKind, needle: &str) -> bool {
    app.log_entries()
        .any(|e| e.kind == kind && e.text.contains(needle))
}

#[test]
fn editor_key_flow_refuses_invalid_values_sends_live_ones_and_cancels() {
    let mut app = with_config(mid_run());
    assert_eq!(app.on_key(ch('e')), None);
    assert_eq!(app.overlay, Overlay::Editor);
    let s = screen(&app, 100, 30);
    for needle in [
        "Settings",
        "file /home/me/fashion/config.toml",
        "training.lr",
        "live",
    ] {
        assert!(s.contains(needle), "{needle}: {s}");
    }
    assert!(
        s.contains("↑↓ select · Enter edit · s save · Esc close"),
        "{s}"
    );

    // Move down and back up; Enter opens the field on the current value.
    app.on_key(key_down());
    assert_eq!(app.editor().param().key, "training.epochs");
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.editor().param().key, "training.lr");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(
        app.editor().field.as_ref().map(|f| f.text.as_str()),
        Some("0.001")
    );

    // An invalid value: the reason as you type, refused on Enter, the old value kept.
    app.on_key(ctrl('u'));
    type_text(&mut app, "-1");
    let reason = "training.lr = -1 is out of range: allowed a finite number > 0 and ≤ 10";
    let field = app.editor().field.clone().expect("field");
    assert_eq!(field.error.as_deref(), Some(reason));
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    assert!(app.editor().field.is_some(), "the field stays open");
    assert_eq!(app.editor().wanted.training.lr, 0.001);
    let s = screen(&app, 100, 30);
    assert!(s.contains(&format!("✗ {reason}")), "{s}");
    assert!(s.contains("Enter apply · Esc cancel"), "{s}");
    assert_snapshot!("editor_refuses_an_invalid_value", s);

    // A valid one: sent to the trainer as a command.
    app.on_key(ctrl('u'));
    type_text(&mut app, "5e-4");
    assert!(screen(&app, 100, 30).contains("✓ valid: Enter applies live at the next batch"));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Some(Command::Set(LiveSetting::Lr(0.0005)))
    );
    assert_eq!(app.editor().wanted.training.lr, 0.0005);
    assert!(screen(&app, 100, 30).contains("applying (run: 0.001) · unsaved"));
    // The trainer's answer: logged, the run's value follows, the chart marks it.
    app.on_event(TrainEvent::Applied(
        "lr 0.001 → 0.0005 at epoch 2.48".into(),
    ));
    app.on_event(TrainEvent::Changed(Change {
        setting: LiveSetting::Lr(0.0005),
        from: "0.001".into(),
        at_epoch: 2.48,
    }));
    assert_eq!(app.editor().running.training.lr, 0.0005);
    assert_eq!(app.charts.changes, vec![(2.48, "lr 0.0005".to_string())]);
    assert!(log_has(
        &app,
        LogKind::Applied,
        "lr 0.001 → 0.0005 at epoch 2.48"
    ));
    let mut t = Terminal::new(TestBackend::new(60, 18)).expect("test terminal");
    t.draw(|f| {
        let area = f.area();
        crate::ui::render::pane(&app, Pane::Loss, area, f.buffer_mut(), false);
    })
    .expect("draw");
    let loss = t.backend().to_string();
    assert!(
        loss.contains("lr 0.0005"),
        "the change is in the legend: {loss}"
    );

    // Esc cancels an edit; 'q' and 'e' inside the field are text.
    select(&mut app, "model.dropout");
    app.on_key(key(KeyCode::Enter));
    type_text(&mut app, "5qe");
    assert_eq!(
        app.editor().field.as_ref().map(|f| f.text.as_str()),
        Some("0.25qe")
    );
    assert_eq!(app.on_key(key(KeyCode::Esc)), None);
    assert!(app.editor().field.is_none());
    assert_eq!(app.overlay, Overlay::Editor);
    assert_eq!(app.editor().wanted.model.dropout, 0.2);

    // A next-run setting: no command, pending.
    app.on_key(key(KeyCode::Enter));
    app.on_key(ctrl('u'));
    type_text(&mut app, "0.3");
    assert!(screen(&app, 100, 30).contains("✓ valid: Enter applies to the next run"));
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    assert!(log_has(
        &app,
        LogKind::Info,
        "model.dropout = 0.3 is pending for the next run"
    ));
    let s = screen(&app, 100, 30);
    assert!(s.contains("pending (run: 0.2) · unsaved"), "{s}");
    assert!(s.contains("· 2 unsaved"), "{s}");
    assert_snapshot!("editor_with_live_and_pending_changes", s);

    // s asks the run loop to save exactly the edited keys.
    assert_eq!(app.take_action(), None);
    app.on_key(ch('s'));
    let Some(Action::Save { path, config, keys }) = app.take_action() else {
        panic!("a save")
    };
    assert_eq!(path, Path::new(FILE));
    assert_eq!(keys, vec!["training.lr", "model.dropout"]);
    assert_eq!((config.training.lr, config.model.dropout), (0.0005, 0.3));
    app.on_saved(&path, Ok(()));
    assert!(app.editor().unsaved.is_empty());
    assert!(log_has(
        &app,
        LogKind::Applied,
        "saved 2 settings to /home/me/fashion/config.toml"
    ));
    app.on_key(ch('s'));
    assert_eq!(app.take_action(), None, "nothing left to save");

    // Esc closes; the key table then works again.
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(app.on_key(ch('p')), Some(Command::Pause));
}

#[test]
fn after_the_run_live_settings_wait_for_the_next_run() {
    let mut app = with_config(finished());
    app.on_key(ch('e'));
    app.on_key(key(KeyCode::Enter));
    app.on_key(ctrl('u'));
    type_text(&mut app, "0.01");
    assert!(screen(&app, 100, 30).contains("✓ valid: Enter applies to the next run"));
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    assert!(screen(&app, 100, 30).contains("pending (run: 0.001) · unsaved"));
}

#[test]
fn a_reload_applies_live_changes_lists_the_rest_and_keeps_values_when_invalid() {
    let mut app = with_config(mid_run());
    let mut new = Config::default();
    new.training.lr = 0.002;
    new.training.epochs = 12;
    new.model.dropout = 0.5;
    assert_eq!(
        app.on_config_file(Ok(new.clone())),
        vec![
            Command::Set(LiveSetting::Lr(0.002)),
            Command::Set(LiveSetting::Epochs(12)),
        ]
    );
    assert!(log_has(
        &app,
        LogKind::Applied,
        "config file reloaded: training.lr 0.001 → 0.002, training.epochs 10 → 12, \
         model.dropout 0.2 → 0.5"
    ));
    assert!(log_has(
        &app,
        LogKind::Applied,
        "applying live: lr 0.002, epochs 12"
    ));
    assert!(log_has(
        &app,
        LogKind::Info,
        "pending for the next run: model.dropout 0.2 → 0.5"
    ));
    assert_eq!(app.editor().wanted, new);
    // Until the trainer confirms, the live values are on their way.
    assert_eq!(app.editor().running.training.lr, 0.001);
    for (setting, from) in [
        (LiveSetting::Lr(0.002), "0.001"),
        (LiveSetting::Epochs(12), "10"),
    ] {
        app.on_event(TrainEvent::Changed(Change {
            setting,
            from: from.into(),
            at_epoch: 2.5,
        }));
    }
    assert_eq!(app.status.info.as_ref().map(|i| i.epochs), Some(12));

    // An invalid version: shown in the log and the editor, nothing changes.
    let reason = "/home/me/fashion/config.toml:2:6: invalid type: string \"fast\", expected f64";
    assert_eq!(app.on_config_file(Err(UsageError(reason.into()))), vec![]);
    assert!(log_has(
        &app,
        LogKind::Error,
        &format!("config file not applied: {reason}; keeping the current values")
    ));
    assert_eq!(app.editor().wanted, new);
    app.on_key(ch('e'));
    let s = screen(&app, 120, 36);
    assert!(
        s.contains("file not applied: /home/me/fashion/config.toml:2:6"),
        "{s}"
    );
    assert!(s.contains("pending (run: 0.2)"), "{s}");

    // Fixed again: the error goes; the same values change nothing.
    assert_eq!(app.on_config_file(Ok(new)), vec![]);
    assert_eq!(app.editor().reload_error, None);
    assert!(log_has(
        &app,
        LogKind::Applied,
        "config file reloaded: no setting changed"
    ));

    // After the run, nothing is sent: it all waits for the next run.
    let mut app = with_config(finished());
    let mut new = Config::default();
    new.training.lr = 0.002;
    assert_eq!(app.on_config_file(Ok(new)), vec![]);
    assert!(log_has(
        &app,
        LogKind::Info,
        "pending for the next run: training.lr 0.001 → 0.002"
    ));
}

#[test]
fn the_editor_survives_tiny_screens() {
    let mut app = with_config(mid_run());
    app.on_key(ch('e'));
    app.on_key(key(KeyCode::Enter));
    for (w, h) in [(0, 0), (1, 1), (10, 3), (40, 12), (60, 14), (80, 24)] {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
        t.draw(|f| crate::ui::render(&app, f)).expect("draw");
    }
    // At 80×24 the selection stays in view while scrolling to the last row.
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.editor().param().key, PARAMS[PARAMS.len() - 1].key);
    let s = screen(&app, 80, 24);
    assert!(s.contains("▶ ui.on_hangup"), "{s}");
}

#[test]
fn the_run_loop_saves_through_the_reloader_and_sends_live_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "# mine\n[training]\nlr = 0.001 # keep\n").expect("write");
    let (ev_tx, ev_rx) = flume::bounded(64);
    let (_p_tx, p_rx) = flume::bounded(16);
    let (c_tx, c_rx) = flume::unbounded();
    let chans = Channels {
        events: ev_rx,
        progress: p_rx,
        commands: c_tx,
    };
    ev_tx
        .send(TrainEvent::Started(Box::new(
            crate::ui::fixtures::run_info(),
        )))
        .expect("send");
    // A fake trainer: answers Stop with Done.
    let trainer = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while let Ok(cmd) = c_rx.recv() {
            seen.push(cmd.clone());
            if cmd == Command::Stop {
                let _ = ev_tx.send(TrainEvent::Done(Box::new(crate::events::RunSummary {
                    epochs_completed: 0,
                    test_acc: None,
                    model_path: None,
                    run_dir: "/runs".into(),
                    stopped_early: true,
                    seconds: 1.0,
                })));
                break;
            }
        }
        seen
    });
    let mut app = App::new(crate::ui::fixtures::opts(crate::ui::ColorMode::Ansi16));
    let config = Config::from_toml("[training]\nlr = 0.001\n", &path).expect("config");
    app.set_config(ConfigInUse {
        path: Some(path.clone()),
        save_path: path.clone(),
        config,
    });
    let mut files = Reloader::new(Some(&path), |_| {});
    let mut keys = vec![ch('e'), key(KeyCode::Enter), ctrl('u')];
    keys.extend("0.002".chars().map(ch));
    keys.extend([key(KeyCode::Enter), ch('s'), ctrl('c')]);
    let mut keys = keys.into_iter();
    let mut input = move |timeout: Duration| match keys.next() {
        Some(k) => Ok(Some(Event::Key(k))),
        None => {
            std::thread::sleep(timeout.min(Duration::from_millis(2)));
            Ok(None)
        }
    };
    let mut term = Terminal::new(TestBackend::new(100, 30)).expect("terminal");
    run_loop(
        &mut term,
        &mut app,
        &chans,
        &mut input,
        Some(&mut files),
        None,
    )
    .expect("loop");
    assert_eq!(
        trainer.join().expect("trainer"),
        vec![Command::Set(LiveSetting::Lr(0.002)), Command::Stop]
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "# mine\n[training]\nlr = 0.002 # keep\n"
    );
    assert!(log_has(&app, LogKind::Applied, "saved 1 setting to"));
    assert_eq!(files.check(), None, "its own save is no change");
}

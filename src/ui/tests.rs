//! Dashboard tests: whole-screen and per-pane snapshots from scripted events, tiny and
//! random sizes, keys, the quit protocol and the event loop.

use std::time::{Duration, Instant};

use insta::assert_snapshot;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use crate::events::{Command, Phase, Progress, SaveReason, TrainEvent};
use crate::startup::Startup;
use crate::ui::app::{App, Overlay};
use crate::ui::fixtures::{self, finished, mid_run, opts, Rng};
use crate::ui::keys::BINDINGS;
use crate::ui::panes::charts::SERIES_CAP;
use crate::ui::panes::status::DISCONNECTED;
use crate::ui::panes::{Pane, PredictionsMode};
use crate::ui::render::{draw, pane};
use crate::ui::run::{drain, run_loop, Channels};
use crate::ui::theme::ColorMode;

pub(super) fn screen(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| crate::ui::render(app, f)).expect("draw");
    t
}

pub(super) fn text(t: &Terminal<TestBackend>) -> String {
    t.backend().to_string()
}

fn pane_screen(app: &App, p: Pane, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| {
        let area = f.area();
        pane(app, p, area, f.buffer_mut(), false);
    })
    .expect("draw");
    t
}

pub(super) fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub(super) fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

fn ctrl_c() -> KeyEvent {
    KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
}

// ---------------------------------------------------------------- whole screen

#[test]
fn screen_160x48() {
    assert_snapshot!(screen(&mid_run(), 160, 48).backend());
}

#[test]
fn screen_100x30() {
    assert_snapshot!(screen(&mid_run(), 100, 30).backend());
}

#[test]
fn screen_80x24() {
    assert_snapshot!(screen(&mid_run(), 80, 24).backend());
}

#[test]
fn screen_80x24_every_tab() {
    let mut app = mid_run();
    let mut all = String::new();
    for p in Pane::ALL {
        app.focus = p;
        all.push_str(&format!("== tab {} ==\n", p.title()));
        all.push_str(&text(&screen(&app, 80, 24)));
    }
    assert_snapshot!(all);
}

#[test]
fn screen_loading_before_started() {
    let events = fixtures::script().into_iter().take(2).collect();
    let app = fixtures::app_with(events, opts(ColorMode::Ansi16));
    let t = screen(&app, 160, 48);
    let s = text(&t);
    assert!(s.contains("LOADING"));
    assert!(s.contains("loading dataset from data/fashion-mnist…"));
    assert!(s.contains("waiting for the first batch…"));
    assert_snapshot!(t.backend());
}

#[test]
fn screen_done() {
    let t = screen(&finished(), 160, 48);
    let s = text(&t);
    assert!(s.contains("DONE"));
    assert!(s.contains("model saved to /runs/2024-06-01T12-00-00/model.safetensors"));
    assert_snapshot!(t.backend());
}

#[test]
fn the_done_header_names_the_best_epoch_when_it_is_not_the_last() {
    let header = |app: &App| {
        text(&screen(app, 160, 48))
            .lines()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        !header(&finished()).contains("best"),
        "the last epoch was the best"
    );
    let mut app = mid_run();
    let best = fixtures::epoch_summary(2).test_acc;
    app.on_event(TrainEvent::EpochEnd(Box::new(
        crate::events::EpochSummary {
            test_acc: best - 0.01,
            ..fixtures::epoch_summary(3)
        },
    )));
    app.on_event(TrainEvent::Phase(Phase::Done));
    app.on_event(TrainEvent::Done(fixtures_done()));
    let line = header(&app);
    assert!(line.contains("DONE"), "{line}");
    assert!(
        line.contains(&format!("best {:.1}% @ 2", best * 100.0)),
        "{line}"
    );
}

#[test]
fn screen_failed_shows_the_reason() {
    let mut app = mid_run();
    app.on_event(TrainEvent::Failed(
        "out of memory while allocating 4 GiB".into(),
    ));
    let t = screen(&app, 120, 36);
    let s = text(&t);
    assert!(s.contains("FAILED"));
    assert!(s.contains("out of memory while allocating 4 GiB"));
    assert_snapshot!(t.backend());
}

#[test]
fn screen_zoomed_feature_maps() {
    let mut app = mid_run();
    app.on_key(ch('4'));
    app.on_key(ch('z'));
    assert_snapshot!(screen(&app, 160, 48).backend());
}

#[test]
fn screen_no_colour_uses_shading() {
    let app = fixtures::app_with(fixtures::script(), opts(ColorMode::None));
    let t = screen(&app, 160, 48);
    let buf = t.backend().buffer();
    assert!(buf
        .content()
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    assert!(
        !buf.content().iter().any(|c| c.symbol() == "▀"),
        "no half blocks without colour"
    );
    assert!(buf
        .content()
        .iter()
        .any(|c| c.symbol() == "▓" || c.symbol() == "█"));
    assert_snapshot!(t.backend());
}

#[test]
fn a_budgeted_fast_run_shows_its_plan_schedule_and_four_conv_layers() {
    let mut app = fixtures::app_with(fixtures::budget_script(), opts(ColorMode::Ansi16));
    let t = text(&screen(&app, 160, 48));
    assert!(t.contains("budget 2:20 left of 3:00"), "{t}");
    assert!(t.contains("epoch 2/7"), "{t}");
    assert!(t.contains("lr ≤ "), "the schedule's line: {t}");
    assert!(t.contains("budget end"), "{t}");
    assert!(t.contains("time budget") || app.status.plan.is_some());
    // The feature-map pane steps through all four layers at every size.
    for _ in 0..4 {
        app.features.step_layer(1);
        for (w, h) in [(160, 48), (80, 24), (30, 10), (3, 2)] {
            let _ = pane_screen(&app, Pane::Features, w, h);
        }
    }
    assert_eq!(app.features.layer, 0);
}

#[test]
fn too_small_notice() {
    let t = screen(&mid_run(), 39, 11);
    assert_snapshot!(t.backend());
    assert!(text(&t).contains("need ≥ 40×12"));
}

// ---------------------------------------------------------------- panes

#[test]
fn pane_snapshots() {
    let app = mid_run();
    for (p, w, h) in [
        (Pane::Loss, 60, 18),
        (Pane::Accuracy, 60, 18),
        (Pane::Confusion, 66, 15),
        (Pane::Features, 80, 20),
        (Pane::Predictions, 64, 34),
        (Pane::Log, 70, 12),
    ] {
        let name = format!("pane_{}", p.title().replace(' ', "_").to_lowercase());
        assert_snapshot!(name, pane_screen(&app, p, w, h).backend());
    }
}

#[test]
fn panes_say_what_they_wait_for() {
    let app = App::new(opts(ColorMode::Ansi16));
    for (p, needle) in [
        (Pane::Loss, "waiting for the first batch"),
        (Pane::Accuracy, "waiting for the first batch"),
        (Pane::Confusion, "waiting for the first epoch"),
        (Pane::Features, "waiting for the first feature maps"),
        (Pane::Predictions, "waiting for the first epoch"),
        (Pane::Log, "no events yet"),
    ] {
        let s = text(&pane_screen(&app, p, 50, 12));
        assert!(s.contains(p.title()), "{s}");
        assert!(s.contains(needle), "{p:?}: {s}");
    }
}

#[test]
fn confusion_degrades_in_small_areas() {
    let app = mid_run();
    let wide = text(&pane_screen(&app, Pane::Confusion, 66, 15));
    assert!(wide.contains("Pullover") && wide.contains("prec") && wide.contains("rec"));
    assert!(wide.contains("worst: Shirt → T-shirt: 102"), "{wide}");
    let narrow = text(&pane_screen(&app, Pane::Confusion, 44, 13));
    assert!(
        narrow.contains("Pull") && !narrow.contains("Pullover"),
        "{narrow}"
    );
    assert!(!narrow.contains("prec"));
    // Cells too narrow for counts show row percentages, never a misleading "0k".
    assert!(
        narrow.contains("row%") && !narrow.contains("0k"),
        "{narrow}"
    );
    assert!(narrow.contains("Shrt  10"), "{narrow}");
    assert_snapshot!(narrow);
}

#[test]
fn wrong_predictions_are_red_and_modes_switch() {
    let mut app = mid_run();
    // Small: all sixteen images, shrunk, short names.
    let t = pane_screen(&app, Pane::Predictions, 64, 34);
    let buf = t.backend().buffer();
    let pos = find(buf, "Snkr→Shrt").expect("caption");
    assert_eq!(buf[pos].fg, Color::Red);
    let ok = find(buf, "Boot→Boot").expect("caption");
    assert_eq!(buf[ok].fg, Color::Green);
    assert!(!text(&t).contains("showing"), "all sixteen show");
    app.on_key(ch('m'));
    assert_eq!(app.predictions.mode, PredictionsMode::Mistakes);
    let s = text(&pane_screen(&app, Pane::Predictions, 64, 34));
    assert!(s.contains("most confident mistakes"));
    assert!(s.contains("Shrt→Tee 99%"), "{s}");
    // Big: the eight mistakes at full size, full names.
    let t = pane_screen(&app, Pane::Predictions, 158, 42);
    let buf = t.backend().buffer();
    let pos = find(buf, "Shirt → T-shirt (99%)").expect("caption");
    assert_eq!(buf[pos].fg, Color::Red);
}

#[test]
fn feature_maps_caption_and_half_blocks() {
    let mut app = fixtures::app_with(fixtures::script(), opts(ColorMode::TrueColor));
    let t = pane_screen(&app, Pane::Features, 80, 20);
    let s = text(&t);
    assert!(
        s.contains("layer conv1 · 32 ch · 13×13 · min 0.00 max"),
        "{s}"
    );
    let buf = t.backend().buffer();
    assert!(buf
        .content()
        .iter()
        .any(|c| c.symbol() == "▀" && matches!(c.bg, Color::Rgb(..))));
    app.on_key(key(KeyCode::Down));
    let s = text(&pane_screen(&app, Pane::Features, 80, 20));
    assert!(s.contains("layer conv2 · 64 ch · 6×6"), "{s}");
    app.on_key(ch('.'));
    app.on_key(ch('.'));
    let s = text(&pane_screen(&app, Pane::Features, 80, 20));
    assert!(s.contains("layer conv1"), "cycles back: {s}");
    app.on_key(key(KeyCode::Up));
    let s = text(&pane_screen(&app, Pane::Features, 80, 20));
    assert!(s.contains("layer conv3 · 128 ch · 2×2"), "{s}");
}

fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let w = buf.area.width;
    for y in 0..buf.area.height {
        let row: Vec<&str> = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        let line: String = row.concat();
        if let Some(byte) = line.find(needle) {
            let col = line[..byte].chars().count();
            return Some((col as u16, y));
        }
    }
    None
}

// ---------------------------------------------------------------- sizes

#[test]
fn tiny_sizes_never_panic() {
    let mut apps = vec![App::new(opts(ColorMode::Ansi16)), mid_run(), finished()];
    let mut help = mid_run();
    help.on_key(ch('?'));
    apps.push(help);
    let mut confirm = mid_run();
    confirm.on_key(ch('q'));
    apps.push(confirm);
    let mut none = fixtures::app_with(fixtures::script(), opts(ColorMode::None));
    none.opts.ascii_charts = true;
    apps.push(none);
    for app in &apps {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (10, 3),
            (39, 11),
            (40, 12),
            (119, 35),
            (120, 36),
        ] {
            screen(app, w, h);
            for p in Pane::ALL {
                pane_screen(app, p, w, h);
            }
        }
    }
}

#[test]
fn random_resize_storm_never_panics() {
    let mut rng = Rng::new(99);
    let mut app = mid_run();
    app.on_key(ch('4'));
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    for i in 0..300 {
        let w = rng.below(220) as u16;
        let h = rng.below(70) as u16;
        t.backend_mut().resize(w, h);
        t.resize(Rect::new(0, 0, w, h)).expect("resize");
        if i % 50 == 0 {
            app.on_key(key(KeyCode::Tab));
            app.on_key(ch('z'));
        }
        t.draw(|f| crate::ui::render(&app, f)).expect("draw");
        // Panes at arbitrary offsets too.
        let mut buf = Buffer::empty(Rect::new(rng.below(30) as u16, rng.below(30) as u16, w, h));
        let area = buf.area;
        for p in Pane::ALL {
            pane(&app, p, area, &mut buf, true);
        }
        draw(&app, area, &mut buf);
    }
}

// ---------------------------------------------------------------- keys

#[test]
fn s_asks_for_a_checkpoint_while_training_only() {
    let mut app = mid_run();
    assert_eq!(app.on_key(ch('s')), Some(Command::Checkpoint));
    assert!(text(&screen(&app, 160, 48)).contains("checkpoint requested"));
    let mut loading = App::new(crate::ui::UiOptions::default());
    assert_eq!(
        loading.on_key(ch('s')),
        None,
        "nothing to save before Started"
    );
}

#[test]
fn pause_and_resume_send_commands_and_show_at_once() {
    let mut app = mid_run();
    assert_eq!(app.on_key(ch('p')), Some(Command::Pause));
    assert_eq!(app.display_phase(), Phase::Paused);
    let paused = text(&screen(&app, 160, 48));
    assert!(paused.contains(" PAUSED "));
    // The footer says what p does now.
    assert!(paused.contains(" p resume ") && !paused.contains(" p pause "));
    app.on_event(TrainEvent::Phase(Phase::Paused));
    app.on_event(TrainEvent::Applied("paused".into()));
    assert_eq!(app.status.pause_request, None);
    assert_eq!(app.on_key(ch(' ')), Some(Command::Resume));
    assert_eq!(app.display_phase(), Phase::Training);
    assert!(text(&screen(&app, 160, 48)).contains(" p pause "));
    app.on_event(TrainEvent::Phase(Phase::Training));
    assert_eq!(app.on_key(ch(' ')), Some(Command::Pause));
    // Key releases and repeats are ignored.
    let mut release = ch('p');
    release.kind = KeyEventKind::Release;
    assert_eq!(app.on_key(release), None);
    assert_eq!(app.display_phase(), Phase::Paused);
}

#[test]
fn nothing_to_pause_before_start_or_after_done() {
    let mut app = App::new(opts(ColorMode::Ansi16));
    assert_eq!(app.on_key(ch('p')), None);
    let mut app = finished();
    assert_eq!(app.on_key(ch('p')), None);
    assert_eq!(app.on_key(key(KeyCode::Right)), None);
}

#[test]
fn sample_keys_request_feature_maps_and_wrap() {
    let mut app = mid_run();
    assert_eq!(app.current_sample(), 0);
    assert_eq!(
        app.on_key(key(KeyCode::Right)),
        Some(Command::FeatureMaps { index: 1 })
    );
    assert_eq!(app.on_key(ch(']')), Some(Command::FeatureMaps { index: 2 }));
    assert_eq!(app.on_key(ch('[')), Some(Command::FeatureMaps { index: 1 }));
    assert_eq!(
        app.on_key(key(KeyCode::Left)),
        Some(Command::FeatureMaps { index: 0 })
    );
    assert_eq!(
        app.on_key(key(KeyCode::Left)),
        Some(Command::FeatureMaps { index: 9999 })
    );
    assert!(text(&pane_screen(&app, Pane::Features, 80, 20)).contains("(loading #9999…)"));
    app.on_event(TrainEvent::FeatureMaps(Box::new(fixtures::feature_maps(
        9999, 2.3,
    ))));
    assert_eq!(app.features.requested, None);
    let s = text(&pane_screen(&app, Pane::Features, 80, 20));
    assert!(s.contains("#9999") && !s.contains("loading"), "{s}");
    assert_eq!(app.on_key(ch(']')), Some(Command::FeatureMaps { index: 0 }));
}

#[test]
fn quit_asks_while_training_and_stops_on_yes() {
    let mut app = mid_run();
    assert_eq!(app.on_key(ch('q')), None);
    assert_eq!(app.overlay, Overlay::ConfirmQuit);
    assert!(text(&screen(&app, 100, 30)).contains("Stop training and quit? y/n"));
    assert_eq!(app.on_key(ch('n')), None);
    assert_eq!(app.overlay, Overlay::None);
    assert!(!app.should_quit());

    assert_eq!(app.on_key(key(KeyCode::Esc)), None);
    assert_eq!(app.overlay, Overlay::ConfirmQuit);
    assert_eq!(app.on_key(ch('y')), Some(Command::Stop));
    assert!(app.stopping() && !app.should_quit());
    assert!(text(&screen(&app, 160, 48)).contains("stopping…"));
    app.on_event(TrainEvent::Done(fixtures_done()));
    assert!(app.should_quit());
    assert_eq!(
        app.summary_line().as_deref(),
        Some("fashion-tui: 2 epochs (stopped early), test accuracy 88.9%, model saved to /m.safetensors")
    );
}

fn fixtures_done() -> Box<crate::events::RunSummary> {
    Box::new(crate::events::RunSummary {
        epochs_completed: 2,
        test_acc: Some(0.889),
        model_path: Some("/m.safetensors".into()),
        run_dir: "/runs".into(),
        stopped_early: true,
        seconds: 70.0,
    })
}

#[test]
fn stop_gives_up_after_a_timeout() {
    let mut app = App::new(opts(ColorMode::Ansi16));
    let t0 = Instant::now();
    app.on_tick(t0);
    app.on_event(TrainEvent::Started(Box::new(fixtures::run_info())));
    assert_eq!(app.on_key(ctrl_c()), Some(Command::Stop));
    app.on_tick(t0 + Duration::from_secs(4));
    assert!(!app.should_quit());
    app.on_tick(t0 + Duration::from_secs(5));
    assert!(app.should_quit());
}

#[test]
fn quit_is_immediate_when_finished() {
    let mut app = finished();
    assert_eq!(app.on_key(ch('q')), None);
    assert!(app.should_quit());
    let mut app = finished();
    assert_eq!(app.on_key(ctrl_c()), None);
    assert!(app.should_quit());
}

#[test]
fn ctrl_c_stops_without_asking_and_twice_quits() {
    let mut app = mid_run();
    assert_eq!(app.on_key(ctrl_c()), Some(Command::Stop));
    assert!(!app.should_quit());
    assert_eq!(app.on_key(ctrl_c()), None);
    assert!(app.should_quit());
}

#[test]
fn ctrl_c_exits_as_interrupted_in_any_mode_but_a_confirmed_quit_does_not() {
    let mut app = mid_run();
    assert!(!app.interrupted());
    assert_eq!(app.on_key(ch('q')), None);
    assert_eq!(app.on_key(ch('y')), Some(Command::Stop));
    app.on_event(TrainEvent::Done(fixtures_done()));
    assert!(app.should_quit() && !app.interrupted());

    // Ctrl-C during the quit question, with the editor open, and after the run.
    for before in [&[ch('q')][..], &[ch('e')][..], &[]] {
        let mut app = mid_run();
        for k in before {
            app.on_key(*k);
        }
        assert_eq!(app.on_key(ctrl_c()), Some(Command::Stop), "{before:?}");
        assert!(app.interrupted(), "{before:?}");
    }
    let mut app = finished();
    assert_eq!(app.on_key(ctrl_c()), None);
    assert!(app.should_quit() && app.interrupted());
}

#[test]
fn a_quit_that_did_not_wait_for_the_trainer_tells_what_it_did() {
    // q, y, then q again while the trainer is saving: the dashboard quits at once.
    let mut app = mid_run();
    app.on_key(ch('q'));
    assert_eq!(app.on_key(ch('y')), Some(Command::Stop));
    assert_eq!(app.on_key(ch('q')), None);
    assert!(app.should_quit());
    // The trainer, joined afterwards, saved: the summary says so.
    app.on_outcome(&Ok(*fixtures_done()));
    assert_eq!(
        app.summary_line().as_deref(),
        Some("fashion-tui: 2 epochs (stopped early), test accuracy 88.9%, model saved to /m.safetensors")
    );
    // Or it failed.
    let mut app = mid_run();
    app.on_key(ctrl_c());
    app.on_key(ctrl_c());
    app.on_outcome(&Err(crate::train::Failure {
        reason: "disk full".into(),
        usage: false,
    }));
    assert_eq!(
        app.summary_line().as_deref(),
        Some("fashion-tui: training failed: disk full")
    );
    // An outcome the dashboard saw stays as it was.
    let mut app = finished();
    let before = app.summary_line();
    app.on_outcome(&Err(crate::train::Failure {
        reason: "other".into(),
        usage: false,
    }));
    assert_eq!(app.summary_line(), before);
}

#[test]
fn help_lists_every_binding_and_esc_closes_it() {
    let mut app = mid_run();
    app.on_key(ch('?'));
    assert_eq!(app.overlay, Overlay::Help);
    for (w, h) in [(100, 30), (80, 24)] {
        let s = text(&screen(&app, w, h));
        for b in BINDINGS {
            assert!(
                s.contains(b.description),
                "{w}×{h} help lacks {:?}",
                b.description
            );
            assert!(s.contains(b.label), "{w}×{h} help lacks {:?}", b.label);
        }
    }
    assert_snapshot!(screen(&app, 100, 30).backend());
    // Keys do nothing else while help is open.
    assert_eq!(app.on_key(ch('p')), None);
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.overlay, Overlay::None);
    assert!(!app.should_quit());
}

#[test]
fn focus_keys_and_tabs() {
    let mut app = mid_run();
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Accuracy);
    app.on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    app.on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(app.focus, Pane::Log);
    app.on_key(ch('3'));
    assert_eq!(app.focus, Pane::Confusion);
    let s = text(&screen(&app, 80, 24));
    assert!(
        s.contains("Confusion matrix") && !s.contains("┤ Loss"),
        "{s}"
    );
    // The focused pane is drawn thick on the big screen.
    let t = screen(&app, 160, 48);
    let pos = find(t.backend().buffer(), " Confusion matrix ").expect("title");
    assert_eq!(t.backend().buffer()[(pos.0 - 1, pos.1)].symbol(), "┏");
    assert!(t.backend().buffer()[(pos.0 + 1, pos.1)]
        .modifier
        .contains(Modifier::BOLD));
}

// ---------------------------------------------------------------- state

#[test]
fn progress_history_stays_bounded() {
    let mut app = App::new(opts(ColorMode::Ansi16));
    app.on_event(TrainEvent::Started(Box::new(fixtures::run_info())));
    let mut rng = Rng::new(1);
    let mut n = 0;
    for chunk in 0..1000 {
        let epoch = chunk / 19;
        let losses = (0..100)
            .map(|_| {
                n += 1;
                (n as f64 / 1875.0, 2.0 * rng.unit() as f32)
            })
            .collect();
        app.on_event(TrainEvent::Progress(Progress {
            epoch,
            batch: 1 + chunk % 19 * 98,
            batches: 1875,
            losses,
            train_acc: 0.5,
            ..Progress::default()
        }));
    }
    assert_eq!(n, 100_000);
    assert!(app.charts.loss_raw.len() <= SERIES_CAP);
    assert!(app.charts.loss_ema.len() <= SERIES_CAP);
    assert!(app.charts.train_acc.len() <= SERIES_CAP);
    assert!(app
        .status
        .progress
        .as_ref()
        .is_some_and(|p| p.losses.is_empty()));
    screen(&app, 160, 48);
}

#[test]
fn log_records_epochs_with_accuracy_change() {
    let app = mid_run();
    let lines: Vec<&str> = app.log_entries().map(|e| e.text.as_str()).collect();
    assert!(lines
        .iter()
        .any(|l| l.starts_with("epoch 1/10  test acc ") && !l.contains('(')));
    let second = lines
        .iter()
        .find(|l| l.starts_with("epoch 2/10"))
        .expect("epoch 2");
    assert!(second.contains("(+"), "{second}");
    assert!(second.contains("loss 0.290"), "{second}");
    // Epoch-end checkpoints get no line of their own: the title names the latest.
    assert!(!lines.iter().any(|l| l.contains("saved")));
    let log = text(&pane_screen(&app, Pane::Log, 60, 10));
    assert!(log.contains("checkpoint @ epoch 2 "), "{log}");
}

#[test]
fn mid_epoch_checkpoints_get_a_line_and_the_title_names_the_latest() {
    let mut app = mid_run();
    app.on_event(TrainEvent::Saved {
        at: 2.5,
        why: SaveReason::Requested,
    });
    let mut s = fixtures::epoch_summary(3);
    s.epochs = 10;
    app.on_event(TrainEvent::EpochEnd(Box::new(s)));
    let lines: Vec<&str> = app.log_entries().map(|e| e.text.as_str()).collect();
    let n = lines.len();
    assert_eq!(lines[n - 2], "checkpoint saved at epoch 2.50");
    assert!(lines[n - 1].starts_with("epoch 3/10"), "{}", lines[n - 1]);
    let log = text(&pane_screen(&app, Pane::Log, 60, 10));
    assert!(log.contains("checkpoint @ epoch 2.50 "), "{log}");
    // A stop saves at a whole epoch too (quit during evaluation): still confirmed.
    app.on_event(TrainEvent::Saved {
        at: 3.0,
        why: SaveReason::Stopping,
    });
    let last = app.log_entries().last().map(|e| e.text.clone());
    assert_eq!(last.as_deref(), Some("checkpoint saved at epoch 3.00"));
}

#[test]
fn disconnect_without_done_is_a_failure() {
    let mut app = mid_run();
    app.on_disconnect();
    assert_eq!(app.display_phase(), Phase::Failed);
    assert!(text(&screen(&app, 160, 48)).contains(DISCONNECTED));
    assert!(!app.should_quit(), "stays up so the user can read it");
    assert_eq!(
        app.summary_line().as_deref(),
        Some("fashion-tui: training failed: trainer thread ended unexpectedly")
    );
    // After Done, a disconnect is normal.
    let mut app = finished();
    app.on_disconnect();
    assert_eq!(app.display_phase(), Phase::Done);
}

#[test]
fn dirty_flag_tracks_changes() {
    let mut app = App::new(opts(ColorMode::Ansi16));
    assert!(app.take_dirty());
    assert!(!app.take_dirty());
    let t0 = Instant::now();
    app.on_tick(t0);
    app.on_tick(t0 + Duration::from_millis(300));
    assert!(!app.is_dirty(), "same second, nothing new");
    app.on_tick(t0 + Duration::from_millis(1100));
    assert!(app.take_dirty(), "the clock moved");
    app.on_event(TrainEvent::Message("hi".into()));
    assert!(app.take_dirty());
}

// ---------------------------------------------------------------- event loop

fn channels() -> (
    Channels,
    flume::Sender<TrainEvent>,
    flume::Sender<Progress>,
    flume::Receiver<Command>,
) {
    let (ev_tx, ev_rx) = flume::bounded(64);
    let (p_tx, p_rx) = flume::bounded(1024);
    let (c_tx, c_rx) = flume::unbounded();
    (
        Channels {
            events: ev_rx,
            progress: p_rx,
            commands: c_tx,
        },
        ev_tx,
        p_tx,
        c_rx,
    )
}

/// Input that replays `keys` one per call, then waits (briefly) for nothing.
fn scripted(keys: Vec<KeyEvent>) -> impl FnMut(Duration) -> std::io::Result<Option<Event>> {
    let mut keys = keys.into_iter();
    move |timeout| match keys.next() {
        Some(k) => Ok(Some(Event::Key(k))),
        None => {
            std::thread::sleep(timeout.min(Duration::from_millis(2)));
            Ok(None)
        }
    }
}

#[test]
fn run_loop_stops_the_trainer_and_waits_for_done() {
    let (chans, ev_tx, p_tx, cmd_rx) = channels();
    for (_, ev) in fixtures::script().into_iter().take(10) {
        match ev {
            TrainEvent::Progress(p) => p_tx.send(p).expect("send"),
            ev => ev_tx.send(ev).expect("send"),
        }
    }
    // A fake trainer: answers Stop with Done.
    let trainer = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while let Ok(cmd) = cmd_rx.recv() {
            seen.push(cmd.clone());
            if cmd == Command::Stop {
                let _ = ev_tx.send(TrainEvent::Done(fixtures_done()));
                break;
            }
        }
        seen
    });
    let mut term = Terminal::new(TestBackend::new(120, 36)).expect("terminal");
    let mut app = App::new(opts(ColorMode::Ansi16));
    let mut input = scripted(vec![ch('p'), ch('q'), ch('y')]);
    run_loop(&mut term, &mut app, &chans, &mut input, None, None).expect("loop");
    let seen = trainer.join().expect("trainer");
    assert_eq!(seen, vec![Command::Pause, Command::Stop]);
    assert!(app.should_quit());
    assert!(app.status.done.is_some());
    assert!(!app.charts.loss_raw.is_empty(), "progress was drained");
}

#[test]
fn run_loop_shows_a_vanished_trainer_as_failed() {
    let (chans, ev_tx, p_tx, _cmd_rx) = channels();
    ev_tx
        .send(TrainEvent::Started(Box::new(fixtures::run_info())))
        .expect("send");
    drop(ev_tx);
    drop(p_tx);
    let mut app = App::new(opts(ColorMode::Ansi16));
    // Nothing arrives after the drain: FAILED, and q then quits at once.
    drain(&mut app, &chans);
    drain(&mut app, &chans);
    assert_eq!(app.display_phase(), Phase::Failed);
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let mut input = scripted(vec![ch('q')]);
    run_loop(&mut term, &mut app, &chans, &mut input, None, None).expect("loop");
    assert!(app.should_quit());
    assert!(text(&term).contains("FAILED"));
}

#[test]
fn run_loop_returns_at_its_deadline_without_quitting() {
    let (chans, ev_tx, _p_tx, _cmd_rx) = channels();
    ev_tx
        .send(TrainEvent::Started(Box::new(fixtures::run_info())))
        .expect("send");
    let mut term = Terminal::new(TestBackend::new(120, 36)).expect("terminal");
    let mut app = App::new(opts(ColorMode::Ansi16));
    // The loop is given the time it is waiting for; with a deadline it never waits past it.
    let mut waits = Vec::new();
    let mut input = |timeout: Duration| {
        waits.push(timeout);
        std::thread::sleep(timeout);
        Ok(None)
    };
    let until = Instant::now() + Duration::from_millis(120);
    run_loop(&mut term, &mut app, &chans, &mut input, None, Some(until)).expect("loop");
    assert!(Instant::now() >= until);
    assert!(!app.should_quit());
    assert!(!waits.is_empty());
    assert!(waits.iter().all(|w| *w <= app.options().frame_interval()));
    assert!(
        text(&term).contains("TRAINING"),
        "the window drew the dashboard"
    );
}

#[test]
fn the_first_frame_logs_once_how_long_the_dashboard_took_to_come_up() {
    let t0 = Instant::now();
    let mut app = App::new(opts(ColorMode::Ansi16));
    app.set_startup(Startup {
        process: t0,
        main: t0 + Duration::from_millis(180),
    });
    app.take_dirty();
    app.on_frame_drawn(t0 + Duration::from_millis(431));
    app.on_frame_drawn(t0 + Duration::from_millis(900));
    let up: Vec<&str> = app
        .log_entries()
        .map(|e| e.text.as_str())
        .filter(|t| t.starts_with("dashboard up"))
        .collect();
    assert_eq!(up, ["dashboard up in 0.43 s (main at 0.18 s)"]);
    assert!(app.is_dirty(), "the line is drawn in the next frame");
    // Without a start (tests, `view`), nothing is logged.
    let mut plain = App::new(opts(ColorMode::Ansi16));
    plain.on_frame_drawn(t0);
    assert_eq!(plain.log_entries().count(), 0);
}

#[test]
fn run_loop_reports_its_first_frame() {
    let (chans, _ev_tx, _p_tx, _cmd_rx) = channels();
    let mut term = Terminal::new(TestBackend::new(120, 36)).expect("terminal");
    let mut app = App::new(opts(ColorMode::Ansi16));
    app.set_startup(Startup::now());
    let mut input = |_: Duration| Ok(None);
    // A deadline already passed: one turn of the loop, one frame.
    run_loop(
        &mut term,
        &mut app,
        &chans,
        &mut input,
        None,
        Some(Instant::now()),
    )
    .expect("loop");
    let up = app
        .log_entries()
        .filter(|e| e.text.starts_with("dashboard up in "))
        .count();
    assert_eq!(up, 1);
}

#[test]
fn accuracy_axis_ignores_the_first_half_epoch_and_each_epochs_first_batches() {
    let mut app = App::new(opts(ColorMode::Ansi16));
    app.on_event(TrainEvent::Started(Box::new(fixtures::run_info())));
    // Epoch 0 climbs from 10%; epoch 1 restarts its running accuracy with a noisy 35%.
    for i in 0..100 {
        let x = i as f64 / 100.0;
        app.charts.train_acc.push(x, 10.0 + 80.0 * x);
    }
    app.charts.train_acc.push(1.01, 35.0);
    for i in 5..100 {
        app.charts.train_acc.push(1.0 + i as f64 / 100.0, 88.0);
    }
    app.charts.test_acc.push((1.0, 84.0));
    app.charts.test_acc.push((2.0, 86.0));
    let pane = text(&pane_screen(&app, Pane::Accuracy, 60, 18));
    // Lowest settled point: 50% at x = 0.5; room below it rounds down to 40%.
    assert!(pane.contains("│40% │"), "{pane}");
    assert!(!pane.contains("│0%"), "{pane}");
}

#[test]
fn held_out_images_choose_the_best_epoch_shown_in_the_header_and_are_charted() {
    let run = |early_stop: usize, validation: usize| {
        let mut app = App::new(opts(ColorMode::Ansi16));
        app.on_event(TrainEvent::Started(Box::new(crate::events::RunInfo {
            early_stop,
            validation,
            train_images: 60_000 - validation,
            ..fixtures::run_info()
        })));
        for (epoch, val) in [(1, 0.90), (2, 0.912), (3, 0.905)] {
            let s = crate::events::EpochSummary {
                val_loss: (validation > 0).then_some(0.3),
                val_acc: (validation > 0).then_some(val),
                ..fixtures::epoch_summary(epoch)
            };
            app.on_event(TrainEvent::EpochEnd(Box::new(s)));
        }
        text(&screen(&app, 160, 48))
    };
    let s = run(3, 5000);
    assert!(s.contains("best val 91.2% @ 2 · patience 1/3"), "{s}");
    assert!(s.contains("validation"), "the Accuracy legend: {s}");
    assert!(s.contains("val 90.5%"), "the Accuracy title: {s}");
    assert!(s.contains("val acc 90.5%"), "the Log: {s}");
    assert!(
        s.contains("55,000 train / 5,000 validation / 10,000 test"),
        "{s}"
    );
    let s = run(0, 5000);
    assert!(
        s.contains("best val 91.2% @ 2") && !s.contains("patience"),
        "{s}"
    );
    // Without held-out images the test accuracy chooses, and the header names the best
    // epoch only while early stopping counts.
    let s = run(0, 0);
    assert!(!s.contains("best ") && !s.contains("validation"), "{s}");
    let s = run(3, 0);
    assert!(s.contains("best 94.0% @ 3 · patience 0/3"), "{s}");
    assert!(!s.contains("best val"), "{s}");
}

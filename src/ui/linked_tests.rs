//! The panes as one instrument, on whole screens: a confusion cell opens its images in the
//! Predictions pane (exactly that cell's, in confidence order, as many as the matrix
//! counts), an image opens its feature maps, and the charts zoom to the last epochs with a
//! logarithmic loss axis. At 160×48 (one screen) and 80×24 (tabs).

use insta::assert_snapshot;
use ratatui::crossterm::event::KeyCode;

use super::tests::{ch, key, screen, text};
use crate::events::{Command, TrainEvent};
use crate::ui::fixtures::{self, mid_run};
use crate::ui::panes::{Pane, PredictionsMode};
use crate::ui::App;

/// The mid-run dashboard with the Confusion pane focused and the cell below the worst
/// confusion's (Shirt → T-shirt) chosen with the keys, then back up to it, and opened.
fn cell_opened() -> App {
    let mut app = mid_run();
    app.on_key(ch('3'));
    assert_eq!(app.focus, Pane::Confusion);
    app.on_key(ch('j'));
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    app
}

#[test]
fn a_cell_lists_exactly_its_images_most_confident_first() {
    let app = cell_opened();
    assert_eq!(
        app.predictions.mode,
        PredictionsMode::Cell {
            label: 6,
            predicted: 0
        }
    );
    let epoch = app.status.last_epoch.as_ref().expect("an epoch");
    let shown = app.predictions.shown();
    // As many as the matrix of the same epoch counts, each of that cell.
    assert_eq!(shown.total, epoch.confusion[6][0] as usize);
    let everyone = app.predictions.cell(6, 0);
    assert_eq!(everyone.len(), shown.total);
    assert!(shown.list.iter().all(|p| (p.label, p.predicted) == (6, 0)));
    let conf: Vec<f32> = shown.list.iter().map(|p| p.confidence).collect();
    assert!(conf.windows(2).all(|w| w[0] >= w[1]), "{conf:?}");
    assert_eq!(
        shown.list.len(),
        fixtures::opts(crate::ui::theme::ColorMode::Ansi16).predictions
    );
    let screen = text(&screen(&app, 160, 48));
    assert!(screen.contains(&format!("Shirt → T-shirt · {} images", shown.total)));
    assert_snapshot!(screen);
}

#[test]
fn a_diagonal_cell_shows_the_least_confident_correct_images_and_esc_goes_back() {
    let mut app = cell_opened();
    app.on_key(ch('l'));
    app.on_key(ch('l'));
    app.on_key(ch('k'));
    app.on_key(ch('k'));
    app.on_key(ch('k'));
    app.on_key(ch('k'));
    // From (6, 0): two right, four up: (2, 2), Pullover on the diagonal.
    app.on_key(key(KeyCode::Enter));
    let shown = app.predictions.shown();
    assert!(shown.list.iter().all(|p| (p.label, p.predicted) == (2, 2)));
    let conf: Vec<f32> = shown.list.iter().map(|p| p.confidence).collect();
    assert!(conf.windows(2).all(|w| w[0] <= w[1]), "{conf:?}");
    app.on_key(ch('5'));
    app.on_key(ch('z'));
    assert!(text(&screen(&app, 160, 48))
        .contains("Pullover → Pullover · 883 images · least confident first"));
    app.on_key(ch('z'));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.predictions.mode, PredictionsMode::Sample);
    assert!(!app.should_quit());
}

#[test]
fn the_cell_and_its_images_in_tabs_at_80x24() {
    let mut app = cell_opened();
    let mut all = format!("== tab {} ==\n", Pane::Confusion.title());
    all.push_str(&text(&screen(&app, 80, 24)));
    app.on_key(ch('5'));
    all.push_str(&format!("== tab {} ==\n", Pane::Predictions.title()));
    all.push_str(&text(&screen(&app, 80, 24)));
    assert_snapshot!(all);
}

#[test]
fn an_image_opens_its_feature_maps_with_its_top_three() {
    let mut app = cell_opened();
    app.on_key(ch('5'));
    app.on_key(ch('l'));
    app.on_key(key(KeyCode::Right));
    let chosen = app.predictions.shown().list[2].index;
    assert_eq!(app.predictions.selected(), Some(chosen));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Some(Command::FeatureMaps { index: chosen })
    );
    // Until the trainer answers, the pane says what it is loading; then names it.
    assert!(text(&screen(&app, 160, 48)).contains(&format!("#{chosen}…)")));
    app.on_event(TrainEvent::FeatureMaps(Box::new(fixtures::feature_maps(
        chosen, 2.0,
    ))));
    let screen = text(&screen(&app, 160, 48));
    assert!(screen.contains(&format!("#{chosen} ")), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn a_zoomed_loss_chart_with_a_log_axis() {
    let mut app = mid_run();
    app.on_key(ch('+'));
    app.on_key(ch('+'));
    app.on_key(ch('l'));
    assert_eq!(app.charts.view.last, Some(1));
    assert!(app.charts.view.log_loss);
    let screen = text(&screen(&app, 160, 48));
    assert!(screen.contains("last 1 ep · log"), "{screen}");
    assert_snapshot!(screen);
    app.on_key(ch('-'));
    app.on_key(ch('-'));
    assert_eq!(app.charts.view.last, None);
}

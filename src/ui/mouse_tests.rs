//! The mouse against the drawn screen: whatever a click lands on is what the next frame
//! shows selected there (every confusion cell, every image, every tab), the wheel zooms the
//! chart under it, and the event loop turns a click on an image into the trainer's request
//! for its feature maps. At 160×48 (one screen), 120×36 and 80×24 (tabs).

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use ratatui::style::Modifier;
use ratatui::Terminal;

use super::tests::{ch, screen, text};
use crate::events::{Command, TrainEvent, NUM_CLASSES};
use crate::ui::app::Spot;
use crate::ui::fixtures::{self, mid_run};
use crate::ui::mouse::{on_mouse, spot};
use crate::ui::panes::{Pane, PredictionsMode};
use crate::ui::render;
use crate::ui::run::{drain, run_loop, Channels};
use crate::ui::App;

fn press(kind: MouseEventKind, x: u16, y: u16) -> MouseEvent {
    MouseEvent {
        kind,
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    }
}

fn click(app: &mut App, w: u16, h: u16, x: u16, y: u16) -> Option<Command> {
    let ev = press(MouseEventKind::Down(MouseButton::Left), x, y);
    on_mouse(app, ev, Rect::new(0, 0, w, h))
}

/// Every point of `area` with what is there, for an app drawn `w × h`.
fn spots(app: &App, w: u16, h: u16, area: Rect) -> Vec<(u16, u16, Spot)> {
    let screen = Rect::new(0, 0, w, h);
    area.positions()
        .filter_map(|p| spot(app, screen, p.x, p.y).map(|s| (p.x, p.y, s)))
        .collect()
}

fn pane_area(app: &App, w: u16, h: u16, pane: Pane) -> Rect {
    let screen = render::screen(app, Rect::new(0, 0, w, h)).expect("a dashboard fits");
    screen
        .panes
        .iter()
        .find(|(p, _)| *p == pane)
        .map(|(_, r)| *r)
        .expect("the pane is on the screen")
}

fn reversed(buf: &Buffer, x: u16, y: u16) -> bool {
    buf[Position { x, y }].modifier.contains(Modifier::REVERSED)
}

/// A click on any point of any cell selects that cell, drawn reversed right under the
/// pointer, and opens its images; all 100 cells can be reached.
fn every_cell_under_the_pointer(w: u16, h: u16, focus: char) {
    let mut app = mid_run();
    app.on_key(ch(focus));
    let area = pane_area(&app, w, h, Pane::Confusion);
    let mut cells: Vec<(u16, u16, usize, usize)> = spots(&app, w, h, area)
        .into_iter()
        .filter_map(|(x, y, s)| match s {
            Spot::Cell(r, c) => Some((x, y, r, c)),
            _ => None,
        })
        .collect();
    cells.sort_by_key(|c| (c.2, c.3));
    cells.dedup_by_key(|c| (c.2, c.3));
    assert_eq!(cells.len(), NUM_CLASSES * NUM_CLASSES, "at {w}×{h}");
    for (x, y, r, c) in cells {
        assert_eq!(click(&mut app, w, h, x, y), None);
        assert_eq!((app.confusion.row, app.confusion.col), (r, c));
        assert_eq!(
            app.predictions.mode,
            PredictionsMode::Cell {
                label: r,
                predicted: c
            }
        );
        let t = screen(&app, w, h);
        assert!(
            reversed(t.backend().buffer(), x, y),
            "cell ({r}, {c}) clicked at ({x}, {y}) is not drawn there at {w}×{h}"
        );
    }
}

#[test]
fn a_click_selects_the_cell_under_the_pointer_and_opens_its_images() {
    every_cell_under_the_pointer(160, 48, '1');
    every_cell_under_the_pointer(120, 36, '3');
    every_cell_under_the_pointer(80, 24, '3');
}

#[test]
fn a_click_on_an_image_opens_its_feature_maps() {
    for (w, h, focus) in [(160, 48, '1'), (80, 24, '5')] {
        let mut app = mid_run();
        app.on_key(ch(focus));
        let area = pane_area(&app, w, h, Pane::Predictions);
        let images: Vec<(u16, u16, usize)> = spots(&app, w, h, area)
            .into_iter()
            .filter_map(|(x, y, s)| match s {
                Spot::Image(n) => Some((x, y, n)),
                _ => None,
            })
            .collect();
        let shown = app.predictions.shown().list;
        let mut ns: Vec<usize> = images.iter().map(|i| i.2).collect();
        ns.sort_unstable();
        ns.dedup();
        assert_eq!(
            ns,
            (0..ns.len()).collect::<Vec<_>>(),
            "every image, none twice"
        );
        assert!(ns.len() >= 4, "{} images at {w}×{h}", ns.len());
        // The last image: the cursor goes to it and the trainer is asked for its maps;
        // the next frame frames it (its caption reversed) where the pointer is.
        let &(x, y, n) = images.last().expect("an image");
        let cmd = click(&mut app, w, h, x, y);
        assert_eq!(app.focus, Pane::Predictions);
        assert_eq!(app.predictions.cursor, n);
        assert_eq!(
            cmd,
            Some(Command::FeatureMaps {
                index: shown[n].index
            })
        );
        let t = screen(&app, w, h);
        let buf = t.backend().buffer();
        let caption_row = (y..area.bottom())
            .find(|&cy| (area.x..area.right()).any(|cx| reversed(buf, cx, cy)))
            .expect("a framed caption at or below the click");
        let left = (area.x..area.right())
            .find(|&cx| reversed(buf, cx, caption_row))
            .expect("caption");
        assert!(
            left <= x && x - left < 28,
            "clicked {x}, caption from {left}"
        );
        assert!(
            caption_row - y < 15,
            "clicked row {y}, caption row {caption_row}"
        );
    }
}

#[test]
fn a_click_on_a_tab_or_a_pane_focuses_it_and_closes_the_help() {
    let mut app = mid_run();
    let t = screen(&app, 80, 24);
    let rows: Vec<String> = text(&t).lines().map(str::to_string).collect();
    let tab_row = rows
        .iter()
        .position(|r| r.contains("1 Loss"))
        .expect("a tab bar");
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let label = format!("{} ", i + 1);
        let row: Vec<char> = rows[tab_row].trim_matches('"').chars().collect();
        let at = row
            .windows(2)
            .position(|w| w.iter().collect::<String>() == label)
            .expect("the tab's number");
        // The backend's text quotes each row: one column more.
        let x = u16::try_from(at).unwrap();
        click(&mut app, 80, 24, x, u16::try_from(tab_row).unwrap());
        assert_eq!(app.focus, *pane, "tab {label}");
    }
    // On one screen, a click anywhere in a pane focuses it.
    let mut app = mid_run();
    let log = pane_area(&app, 160, 48, Pane::Log);
    click(&mut app, 160, 48, log.x + 3, log.y + 3);
    assert_eq!(app.focus, Pane::Log);
    // Off the panes (the header) nothing happens.
    click(&mut app, 160, 48, 5, 1);
    assert_eq!(app.focus, Pane::Log);
    // The help closes on a click, which does nothing else.
    app.on_key(ch('?'));
    assert!(text(&screen(&app, 160, 48)).contains("click"));
    let loss = pane_area(&app, 160, 48, Pane::Loss);
    click(&mut app, 160, 48, loss.x + 3, loss.y + 3);
    assert_eq!(app.focus, Pane::Log);
    assert!(!text(&screen(&app, 160, 48)).contains("wheel"));
}

#[test]
fn the_wheel_zooms_the_chart_under_it_and_steps_the_layers() {
    let mut app = mid_run();
    let loss = pane_area(&app, 160, 48, Pane::Loss);
    let wheel = |app: &mut App, kind, r: Rect| {
        on_mouse(app, press(kind, r.x + 4, r.y + 4), Rect::new(0, 0, 160, 48))
    };
    let before = app.charts.window();
    wheel(&mut app, MouseEventKind::ScrollUp, loss);
    let closer = app.charts.window();
    assert!(closer.0 > before.0, "{before:?} → {closer:?}");
    assert!(text(&screen(&app, 160, 48)).contains("last "));
    wheel(&mut app, MouseEventKind::ScrollDown, loss);
    assert_eq!(app.charts.window(), before);
    // The wheel does not move the focus; over Feature maps it steps the layer.
    assert_eq!(app.focus, Pane::Loss);
    let features = pane_area(&app, 160, 48, Pane::Features);
    let layer = app.features.layer;
    wheel(&mut app, MouseEventKind::ScrollDown, features);
    assert_ne!(app.features.layer, layer);
    wheel(&mut app, MouseEventKind::ScrollUp, features);
    assert_eq!(app.features.layer, layer);
}

#[test]
fn the_event_loop_sends_a_clicked_image_to_the_trainer() {
    let (ev_tx, ev_rx) = flume::unbounded();
    let (_p_tx, p_rx) = flume::unbounded();
    let (c_tx, c_rx) = flume::unbounded();
    let chans = Channels {
        events: ev_rx,
        progress: p_rx,
        commands: c_tx,
    };
    for (_, ev) in fixtures::script() {
        if !matches!(ev, TrainEvent::Progress(_)) {
            ev_tx.send(ev).expect("send");
        }
    }
    let mut app = App::new(fixtures::opts(crate::ui::theme::ColorMode::Ansi16));
    drain(&mut app, &chans);
    let area = pane_area(&app, 160, 48, Pane::Predictions);
    let (x, y, _) = spots(&app, 160, 48, area)
        .into_iter()
        .find(|s| s.2 == Spot::Image(1))
        .expect("a second image");
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    let mut clicks = vec![Event::Mouse(press(
        MouseEventKind::Down(MouseButton::Left),
        x,
        y,
    ))]
    .into_iter();
    let mut input = |timeout: Duration| {
        std::thread::sleep(timeout.min(Duration::from_millis(2)));
        Ok(clicks.next())
    };
    // The loop's first wait hands it the click; it runs on a little, then returns.
    let until = Some(std::time::Instant::now() + Duration::from_secs(1));
    run_loop(&mut term, &mut app, &chans, &mut input, None, until).expect("loop");
    let sent: Vec<Command> = c_rx.try_iter().collect();
    let index = app.predictions.shown().list[1].index;
    assert_eq!(sent, vec![Command::FeatureMaps { index }]);
    assert_eq!(app.predictions.cursor, 1);
    assert_eq!(app.focus, Pane::Predictions);
}

//! Chooses the layout for the terminal size and draws every pane and overlay.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Tabs, Widget, Wrap};
use ratatui::Frame;

use crate::ui::app::{App, Overlay};
use crate::ui::panes::Pane;
use crate::ui::widgets::accuracy::AccuracyChart;
use crate::ui::widgets::confirm::Confirm;
use crate::ui::widgets::confusion::{self, ConfusionMatrix};
use crate::ui::widgets::editor::EditorView;
use crate::ui::widgets::features::FeatureMapsView;
use crate::ui::widgets::footer::Footer;
use crate::ui::widgets::header::Header;
use crate::ui::widgets::help::Help;
use crate::ui::widgets::log::LogView;
use crate::ui::widgets::loss::LossChart;
use crate::ui::widgets::predictions::PredictionsGrid;
use crate::ui::widgets::runs::RunsView;

/// From this size on, all panes share one screen.
pub const BIG: (u16, u16) = (120, 36);
/// Below this size only a notice is shown.
pub const MIN: (u16, u16) = (40, 12);

/// Draw the whole dashboard into the frame.
///
/// At ≥ 120×36 every pane is on one screen (`z` zooms the focused one, drawn thick):
///
/// ```text
/// ┌ fashion-tui ────────────────────────────────────────────────────────────────── 00:03:12 ┐
/// │ TRAINING │ model │ device │ epoch 3/10 │ ━━━━━━━───── 45% │ img/s │ ETA 1:23 │ lr       │
/// └─────────────────────────────────────────────────────────────────────────────────────────┘
/// ┌ Loss ──────── ema · test ┐┌ Confusion matrix ─ epoch · acc ┐┌ Feature maps ──── @ epoch ┐
/// │ batch, smoothed and      ││ counts by true × predicted,    ││ #0 Dress → Dress  conv1 … │
/// │ test loss; a line        ││ recall, precision, worst       ││ input │ channel tiles     │
/// │ per setting change       ││ (15 rows)                      ││ caption · colour scale    │
/// └──────────────────────────┘└────────────────────────────────┘└───────────────────────────┘
/// ┌ Accuracy ── train · test ┐┌ Log ─────── checkpoint @ epoch ┐┌ Predictions ────── sample ┐
/// │ train, test and          ││ 00:03:12 epoch 3/10 test acc … ││ image grid,               │
/// │ Keras' 90 %              ││                                ││ true → predicted (conf.)  │
/// └──────────────────────────┘└────────────────────────────────┘└───────────────────────────┘
///  p pause  q quit  ? help  Tab/1-6 pane  z zoom  ←→ image  ↑↓ layer  m mistakes  e edit
/// ```
///
/// The middle column is as wide as the matrix needs ([`confusion::preferred_width`]); the
/// left one takes 45 % of what remains, the right one the rest. Loss and Accuracy split
/// their column in half, the matrix has 15 rows and the Log the rest, Feature maps 45 %
/// and Predictions the rest. The header has 3 rows, the footer 1.
///
/// Smaller, down to 40×12: header, a tab bar `1 Loss │ 2 Accuracy │ … │ 6 Log`, the focused
/// pane, footer (the header shrinks to one line under 20 rows). Below 40×12: a notice.
/// Overlays (help, quit confirmation, settings editor) are drawn last, over everything.
///
/// Each pane draws one state of [`crate::ui::panes`]: Loss and Accuracy the
/// [`Charts`](crate::ui::panes::Charts), the matrix the latest epoch of the
/// [`RunStatus`](crate::ui::panes::RunStatus), which the header and footer draw too;
/// Feature maps, Predictions and Log their own.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    draw(app, area, frame.buffer_mut());
}

/// Where everything goes on a screen of a given size (see [`render`]); the mouse finds
/// what it points at from the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub header: Rect,
    pub footer: Rect,
    /// The tab bar, when the panes take turns.
    pub tabs: Option<Rect>,
    /// The panes on the screen and their areas: all six, or the focused one.
    pub panes: Vec<(Pane, Rect)>,
}

/// The layout of `app` on `area`; `None` when the area is too small for a dashboard.
pub fn screen(app: &App, area: Rect) -> Option<Screen> {
    if area.width < MIN.0 || area.height < MIN.1 {
        return None;
    }
    let header_h = if area.height >= 20 { 3 } else { 1 };
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let big = area.width >= BIG.0 && area.height >= BIG.1;
    let (tabs, panes) = if big && !app.zoom {
        (None, big_layout(body).to_vec())
    } else if big {
        (None, vec![(app.focus, body)])
    } else {
        let [tabs, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(body);
        (Some(tabs), vec![(app.focus, rest)])
    };
    Some(Screen {
        header,
        footer,
        tabs,
        panes,
    })
}

/// [`render`] into any buffer area (for tests and embedding).
pub fn draw(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    let Some(screen) = screen(app, area) else {
        too_small(area, buf);
        return;
    };
    let (status, theme) = (&app.status, &app.theme);
    Header { status, theme }.render(screen.header, buf);
    Footer {
        status,
        theme,
        cursor: matches!(app.focus, Pane::Confusion | Pane::Predictions),
    }
    .render(screen.footer, buf);
    if let Some(tabs) = screen.tabs {
        tab_bar(app, tabs, buf);
    }
    let shared = screen.panes.len() > 1;
    for &(p, r) in &screen.panes {
        draw_pane(app, p, r, buf, app.focus == p, shared);
    }

    match app.overlay {
        Overlay::None => {}
        Overlay::Help => Help {
            theme: &app.theme,
            runs: !app.charts.others.is_empty(),
            mouse: app.opts.mouse,
        }
        .render(area, buf),
        Overlay::Runs => RunsView {
            charts: &app.charts,
            this_run: app.status.info.as_ref().map(|i| i.run_dir.as_path()),
            theme: &app.theme,
        }
        .render(area, buf),
        Overlay::ConfirmQuit => Confirm { theme: &app.theme }.render(area, buf),
        Overlay::Editor => EditorView {
            editor: &app.editor,
            theme: &app.theme,
            trainer_running: app.status.trainer_running(),
        }
        .render(area, buf),
    }
}

/// The six panes on one screen.
fn big_layout(body: Rect) -> [(Pane, Rect); 6] {
    let mid_w = confusion::preferred_width(body.width.saturating_mul(9) / 20);
    let left_w = body.width.saturating_sub(mid_w).saturating_mul(45) / 100;
    let [left, mid, right] = Layout::horizontal([
        Constraint::Length(left_w),
        Constraint::Length(mid_w),
        Constraint::Fill(1),
    ])
    .areas(body);
    let [loss, acc] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(left);
    let [conf, log] = Layout::vertical([Constraint::Length(15), Constraint::Fill(1)]).areas(mid);
    let [features, preds] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(right);
    [
        (Pane::Loss, loss),
        (Pane::Accuracy, acc),
        (Pane::Confusion, conf),
        (Pane::Log, log),
        (Pane::Features, features),
        (Pane::Predictions, preds),
    ]
}

/// Draw one pane, alone on the screen or in a tab (`z` gives it no more room).
pub fn pane(app: &App, pane: Pane, area: Rect, buf: &mut Buffer, focused: bool) {
    draw_pane(app, pane, area, buf, focused, false);
}

/// Draw one pane; `can_zoom` when it shares the screen, so that `z` would enlarge it.
fn draw_pane(app: &App, pane: Pane, area: Rect, buf: &mut Buffer, focused: bool, can_zoom: bool) {
    let theme = &app.theme;
    let charts = &app.charts;
    let plain = app.opts.ascii_charts || !theme.has_color();
    match pane {
        Pane::Loss => LossChart {
            charts,
            theme,
            plain,
            focused,
        }
        .render(area, buf),
        Pane::Accuracy => AccuracyChart {
            charts,
            theme,
            plain,
            focused,
        }
        .render(area, buf),
        Pane::Confusion => ConfusionMatrix {
            epoch: app.status.last_epoch.as_deref(),
            theme,
            focused,
            cursor: (focused || app.cell_open()).then_some((app.confusion.row, app.confusion.col)),
        }
        .render(area, buf),
        Pane::Features => FeatureMapsView {
            features: &app.features,
            theme,
            focused,
            can_zoom,
        }
        .render(area, buf),
        Pane::Predictions => PredictionsGrid {
            predictions: &app.predictions,
            theme,
            focused,
            can_zoom,
        }
        .render(area, buf),
        Pane::Log => LogView {
            log: &app.log,
            theme,
            focused,
        }
        .render(area, buf),
    }
}

/// The tabs' titles in a bar `width` wide: `1 Loss`, or short names when the full ones
/// do not fit.
fn tab_titles(width: u16) -> Vec<String> {
    let full: usize = Pane::ALL.iter().map(|p| p.title().len() + 5).sum();
    let short = full > usize::from(width);
    Pane::ALL
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = if short { p.short_title() } else { p.title() };
            format!("{} {name}", i + 1)
        })
        .collect()
}

/// The tab drawn at column `x` of the tab bar at `area`: ratatui's tabs are a space, the
/// title, a space, and a one-column divider between them.
pub fn tab_at(area: Rect, x: u16) -> Option<Pane> {
    let mut start = area.x;
    for (title, pane) in tab_titles(area.width).iter().zip(Pane::ALL) {
        let w = u16::try_from(title.chars().count()).unwrap_or(u16::MAX);
        let end = start.saturating_add(w).saturating_add(2);
        if (start..end).contains(&x) {
            return Some(pane);
        }
        start = end.saturating_add(1);
    }
    None
}

fn tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    Tabs::new(tab_titles(area.width).into_iter().map(Line::from))
        .select(app.focus.index())
        .style(theme.dim())
        .highlight_style(
            theme
                .accent()
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )
        .divider("│")
        .render(area, buf);
}

fn too_small(area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let size = format!(
        "({}×{}, need ≥ {}×{})",
        area.width, area.height, MIN.0, MIN.1
    );
    let one = format!("terminal too small {size}");
    let lines = if one.chars().count() <= usize::from(area.width) {
        vec![Line::from(one)]
    } else {
        vec![Line::from("terminal too small"), Line::from(size)]
    };
    let y = area.y.saturating_add(area.height.saturating_sub(2) / 2);
    let rect = Rect::new(area.x, y, area.width, area.bottom().saturating_sub(y));
    Paragraph::new(lines)
        .centered()
        .wrap(Wrap { trim: true })
        .render(rect, buf);
}

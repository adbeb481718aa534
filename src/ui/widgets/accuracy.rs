//! The "Accuracy" pane: running training accuracy over fractional epochs, test accuracy
//! per epoch (and the validation accuracy when the run holds training images out), and
//! the Keras tutorial's 90 % as a reference line; the y axis starts at a multiple of 10
//! below what is shown (after the first half epoch); the x axis is the whole run or,
//! zoomed, its last epochs.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::{LegendPosition, Widget};

use crate::events::TUTORIAL_PERCENT;
use crate::ui::panes::Charts;
use crate::ui::panes::Pane;
use crate::ui::theme::Theme;
use crate::ui::widgets::timeseries::{TimeChart, Trace, YAxis};
use crate::ui::widgets::{empty_pane, pane_block, with_info, SeriesRole};

pub struct AccuracyChart<'a> {
    pub charts: &'a Charts,
    pub theme: &'a Theme,
    /// Plain-character markers (no colour, or `ascii_charts`).
    pub plain: bool,
    pub focused: bool,
}

/// The y axis for what the window shows: from a multiple of 10 with some room below the
/// lowest value (and the reference) to 100%. As in the Loss pane, once more than an epoch
/// is plotted the first half epoch's steep climb is left out of the fit; the running
/// accuracy restarts each epoch, so its first few batches are noise: left out too.
fn fit(charts: &Charts, (x_lo, x_hi): (f64, f64)) -> YAxis {
    let x_max = charts.x_max();
    let settled = |x: f64| x_max <= 1.0 || (x >= 0.5 && x.fract() >= 0.05);
    let shown = |p: &&(f64, f64)| p.0 >= x_lo && p.0 <= x_hi;
    let lo = charts
        .train_acc
        .points()
        .iter()
        .filter(|p| settled(p.0))
        .chain(&charts.test_acc)
        .chain(&charts.val_acc)
        .chain(charts.shown_others().flat_map(|(_, o)| &o.test_acc))
        .filter(shown)
        .map(|p| p.1)
        .fold(TUTORIAL_PERCENT, f64::min);
    YAxis {
        lo: ((lo - 2.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0,
        hi: 100.0,
        log: false,
        label: |v| format!("{v:.0}%"),
    }
}

/// The title's figures, longest first: train, validation and test accuracy; the
/// held-out and test ones (those that choose and judge); the test one alone.
fn title_info(charts: &Charts) -> Vec<String> {
    let stats: Vec<String> = [
        charts
            .train_acc
            .points()
            .last()
            .map(|p| format!("train {:.1}%", p.1)),
        charts.val_acc.last().map(|p| format!("val {:.1}%", p.1)),
        charts.test_acc.last().map(|p| format!("test {:.1}%", p.1)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let view = charts.view_text(false);
    let with_view = |s: String| match &view {
        Some(v) => format!("{s} · {v}"),
        None => s,
    };
    let mut info = vec![with_view(stats.join(" · "))];
    if let [.., val, test] = &stats[..] {
        if !charts.val_acc.is_empty() {
            info.push(with_view(format!("{val} · {test}")));
        }
    }
    info.extend(stats.last().cloned().map(&with_view));
    info.extend(stats.last().cloned());
    info
}

impl Widget for AccuracyChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (charts, theme) = (self.charts, self.theme);
        let info = title_info(charts);
        let block = with_info(
            pane_block(Pane::Accuracy, self.focused, theme),
            Pane::Accuracy,
            area.width,
            &info,
            theme.dim(),
        );
        if charts.train_acc.is_empty() && charts.test_acc.is_empty() {
            empty_pane(block, "waiting for the first batch…", area, buf, theme);
            return;
        }
        let x = charts.window();
        let reference = [(0.0, TUTORIAL_PERCENT), (charts.x_max(), TUTORIAL_PERCENT)];
        let mut traces = vec![
            Trace::line(
                "Keras tutorial 90%",
                SeriesRole::Reference,
                Color::DarkGray,
                &reference,
            ),
            Trace::line(
                "train (epoch avg)",
                SeriesRole::Smooth,
                Color::Cyan,
                charts.train_acc.points(),
            )
            .thinned(4),
            Trace::line(
                "test",
                SeriesRole::Epoch,
                Color::LightGreen,
                &charts.test_acc,
            ),
        ];
        if !charts.val_acc.is_empty() {
            traces.push(Trace::line(
                "validation",
                SeriesRole::Raw,
                Color::Yellow,
                &charts.val_acc,
            ));
        }
        for (color, o) in charts.shown_others() {
            traces.push(Trace::line(
                o.name.clone(),
                SeriesRole::Epoch,
                color,
                &o.test_acc,
            ));
        }
        let y = fit(charts, x);
        TimeChart {
            block,
            theme,
            plain: self.plain,
            traces,
            marks: Vec::new(),
            x,
            y,
            legend: LegendPosition::BottomRight,
        }
        .render(area, buf);
    }
}

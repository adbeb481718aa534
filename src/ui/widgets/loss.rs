//! The "Loss" pane: per-batch training loss (raw and smoothed) and per-epoch test loss
//! against fractional epochs, with a legend; live setting changes are vertical lines, the
//! newest named in the legend. A schedule that moves the learning rate is drawn as a thin
//! line scaled to the chart's height, and a time budget's end as a vertical line. The y
//! axis fits what is shown (linear from 0, or logarithmic with `l`); the x axis is the
//! whole run or, zoomed, its last epochs.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::widgets::{LegendPosition, Widget};

use crate::ui::panes::Charts;
use crate::ui::panes::Pane;
use crate::ui::theme::Theme;
use crate::ui::widgets::timeseries::{Mark, TimeChart, Trace, YAxis};
use crate::ui::widgets::{chart_block, empty_pane, SeriesRole};

pub struct LossChart<'a> {
    pub charts: &'a Charts,
    pub theme: &'a Theme,
    /// Plain-character markers (no colour, or `ascii_charts`).
    pub plain: bool,
    pub focused: bool,
}

/// The y axis for what the window shows: from 0 (or, logarithmic, from the lowest value)
/// to the highest. Once more than an epoch is plotted, the first half epoch's steep fall
/// is left out of the fit: it would flatten everything after it (its points are clipped
/// at the top).
fn fit(charts: &Charts, (x_lo, x_hi): (f64, f64)) -> YAxis {
    let from = if charts.x_max() > 1.0 {
        x_lo.max(0.5)
    } else {
        x_lo
    };
    let shown = |p: &&(f64, f64)| p.0 >= from && p.0 <= x_hi;
    let values: Vec<f64> = [charts.loss_raw.points(), charts.loss_ema.points()]
        .into_iter()
        .flatten()
        .filter(shown)
        .chain(
            charts
                .test_loss
                .iter()
                .filter(|p| p.0 >= x_lo && p.0 <= x_hi),
        )
        .chain(
            charts
                .shown_others()
                .flat_map(|(_, o)| &o.loss)
                .filter(shown),
        )
        .map(|p| p.1)
        .collect();
    let hi = values.iter().copied().fold(0.0, f64::max);
    if charts.view.log_loss {
        let lo = values
            .iter()
            .copied()
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo / 1.1, hi * 1.1)
        } else {
            (0.01, 10.0)
        };
        return YAxis {
            lo,
            hi,
            log: true,
            label: short_number,
        };
    }
    YAxis {
        lo: 0.0,
        hi: if hi > 0.0 { hi * 1.05 } else { 1.0 },
        log: false,
        label: |v| format!("{v:.2}"),
    }
}

/// A log axis's label: two significant digits.
fn short_number(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    }
}

impl Widget for LossChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (charts, theme) = (self.charts, self.theme);
        let stats: Vec<String> = [
            charts
                .loss_ema
                .points()
                .last()
                .map(|p| format!("ema {:.3}", p.1)),
            charts.test_loss.last().map(|p| format!("test {:.3}", p.1)),
            charts.view_text(true),
        ]
        .into_iter()
        .flatten()
        .collect();
        // Narrow, the title keeps the view (zoom, log axis) and the smoothed loss.
        let short = match (charts.view_text(true), stats.first()) {
            (Some(view), Some(first)) => Some(format!("{first} · {view}")),
            (view, first) => view.or(first.cloned()),
        };
        let block = chart_block(
            Pane::Loss,
            self.focused,
            theme,
            area.width,
            &stats,
            short.as_ref(),
        );
        if charts.loss_raw.is_empty() && charts.test_loss.is_empty() {
            empty_pane(block, "waiting for the first batch…", area, buf, theme);
            return;
        }
        let x = charts.window();
        let y = fit(charts, x);
        let lr_line = lr_line(charts, &y);
        TimeChart {
            block,
            theme,
            plain: self.plain,
            traces: traces(charts, lr_line.as_ref(), self.plain),
            marks: marks(charts),
            x,
            y,
            legend: LegendPosition::TopRight,
        }
        .render(area, buf);
    }
}

/// The lines: per-batch loss as dots, the smoothed loss, the test loss, the runs
/// overlaid, and the learning rate's schedule when it varies.
fn traces<'a>(
    charts: &'a Charts,
    lr_line: Option<&'a (String, Vec<(f64, f64)>)>,
    plain: bool,
) -> Vec<Trace<'a>> {
    let (raw, ema) = (charts.loss_raw.points(), charts.loss_ema.points());
    let mut traces = vec![
        Trace::line("batch", SeriesRole::Raw, Color::LightBlue, raw).scatter(),
        Trace::line("smoothed", SeriesRole::Smooth, Color::Yellow, ema).thinned(4),
        Trace::line(
            "test",
            SeriesRole::Epoch,
            Color::LightRed,
            &charts.test_loss,
        ),
    ];
    for (color, o) in charts.shown_others() {
        traces.push(Trace::line(o.name.clone(), SeriesRole::Smooth, color, &o.loss).thinned(4));
    }
    if let Some((name, points)) = lr_line {
        let m = if plain { Marker::Dot } else { Marker::Braille };
        let lr = Trace::line(name.clone(), SeriesRole::Reference, Color::Green, points);
        traces.push(lr.thinned(2).marked(m));
    }
    traces
}

/// The vertical lines: where a time budget ends the run, and each live setting change
/// (the newest named).
fn marks(charts: &Charts) -> Vec<Mark> {
    let end = charts.run_end.map(|x| Mark {
        x,
        name: "budget end".into(),
        color: Color::LightRed,
    });
    let newest = charts.changes.len().saturating_sub(1);
    let changes = charts
        .changes
        .iter()
        .enumerate()
        .map(|(i, (x, label))| Mark {
            x: *x,
            name: if i == newest {
                label.clone()
            } else {
                String::new()
            },
            color: Color::Magenta,
        });
    end.into_iter().chain(changes).collect()
}

/// The learning-rate schedule as a line scaled to 90% of the chart's height (drawn only
/// when the rate varies), with its legend entry.
fn lr_line(charts: &Charts, y: &YAxis) -> Option<(String, Vec<(f64, f64)>)> {
    let lr_max = charts.lr.points().iter().map(|p| p.1).fold(0.0, f64::max);
    if !charts.lr_varies() || lr_max <= 0.0 {
        return None;
    }
    // On a log axis the line spans its decades from the axis's bottom.
    let scale = |lr: f64| match y.log {
        false => lr / lr_max * y.hi * 0.9,
        true => y.lo * (y.hi * 0.9 / y.lo).powf(lr / lr_max),
    };
    let points = charts
        .lr
        .points()
        .iter()
        .map(|&(x, lr)| (x, scale(lr)))
        .collect();
    let name = format!("lr ≤ {}", crate::events::text::fmt_lr(lr_max));
    Some((name, points))
}

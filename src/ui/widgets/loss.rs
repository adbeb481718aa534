//! The "Loss" pane: per-batch training loss (raw and smoothed) and per-epoch test loss
//! against fractional epochs, autoscaled, with a legend; live setting changes are
//! vertical lines, the newest named in the legend. A schedule that moves the learning rate
//! is drawn as a thin line scaled to the chart's height, and a time budget's end as a
//! vertical line.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::widgets::{Axis, Dataset, GraphType, LegendPosition, Widget};

use crate::ui::history::thin;
use crate::ui::panes::Charts;
use crate::ui::panes::Pane;
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    axis_labels, chart_block, empty_pane, epoch_chart, series, series_name, SeriesRole,
};

pub struct LossChart<'a> {
    pub charts: &'a Charts,
    pub theme: &'a Theme,
    /// Plain-character markers (no colour, or `ascii_charts`).
    pub plain: bool,
    pub focused: bool,
}

impl Widget for LossChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (charts, theme, plain) = (self.charts, self.theme, self.plain);
        let stats: Vec<String> = [
            charts
                .loss_ema
                .points()
                .last()
                .map(|p| format!("ema {:.3}", p.1)),
            charts.test_loss.last().map(|p| format!("test {:.3}", p.1)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let block = chart_block(
            Pane::Loss,
            self.focused,
            theme,
            area.width,
            &stats,
            stats.first(),
        );
        if charts.loss_raw.is_empty() && charts.test_loss.is_empty() {
            empty_pane(block, "waiting for the first batch…", area, buf, theme);
            return;
        }

        let name = |text: &str, role| series_name(plain, text, role);
        let x_max = charts.x_max();
        // The first half epoch's steep fall would flatten everything after it: once more
        // than an epoch is plotted, the y axis fits what came after (earlier points are
        // clipped at the top).
        let from = if x_max > 1.0 { 0.5 } else { f64::NEG_INFINITY };
        let hi = [charts.loss_raw.points(), charts.loss_ema.points()]
            .into_iter()
            .flatten()
            .filter(|p| p.0 >= from)
            .chain(&charts.test_loss)
            .chain(
                charts
                    .shown_others()
                    .flat_map(|(_, o)| &o.loss)
                    .filter(|p| p.0 >= from),
            )
            .map(|p| p.1)
            .fold(0.0, f64::max);
        let y_max = if hi > 0.0 { hi * 1.05 } else { 1.0 };

        // One vertical line per setting change.
        let lines: Vec<[(f64, f64); 2]> = charts
            .changes
            .iter()
            .map(|&(x, _)| [(x, 0.0), (x, y_max)])
            .collect();
        // A line of more points than the chart has dots only costs drawing time.
        let ema = thin(charts.loss_ema.points(), 4 * usize::from(area.width));
        let others: Vec<_> = charts
            .shown_others()
            .map(|(c, o)| (c, &o.name, thin(&o.loss, 4 * usize::from(area.width))))
            .collect();
        // The learning-rate schedule as a thin line scaled to the chart's height (drawn
        // only when the rate varies), and where a time budget ends the run.
        let lr_max = charts.lr.points().iter().map(|p| p.1).fold(0.0, f64::max);
        let lr_line: Vec<(f64, f64)> = if charts.lr_varies() && lr_max > 0.0 {
            thin(charts.lr.points(), 2 * usize::from(area.width))
                .iter()
                .map(|&(x, lr)| (x, lr / lr_max * y_max * 0.9))
                .collect()
        } else {
            Vec::new()
        };
        let end_line: Vec<(f64, f64)> = charts
            .run_end
            .map_or(Vec::new(), |x| vec![(x, 0.0), (x, y_max)]);
        let mut datasets = vec![
            series(
                plain,
                "batch",
                SeriesRole::Raw,
                GraphType::Scatter,
                theme.fg(Color::LightBlue),
                charts.loss_raw.points(),
            ),
            series(
                plain,
                "smoothed",
                SeriesRole::Smooth,
                GraphType::Line,
                theme.fg(Color::Yellow),
                &ema,
            ),
            series(
                plain,
                "test",
                SeriesRole::Epoch,
                GraphType::Line,
                theme.fg(Color::LightRed),
                &charts.test_loss,
            ),
        ];
        for (color, name, points) in &others {
            datasets.push(series(
                plain,
                name,
                SeriesRole::Smooth,
                GraphType::Line,
                theme.fg(*color),
                points,
            ));
        }
        if !lr_line.is_empty() {
            datasets.push(
                series(
                    plain,
                    &format!("lr ≤ {}", crate::ui::panes::status::fmt_lr(lr_max)),
                    SeriesRole::Reference,
                    GraphType::Line,
                    theme.fg(Color::Green),
                    &lr_line,
                )
                .marker(if plain { Marker::Dot } else { Marker::Braille }),
            );
        }
        if !end_line.is_empty() {
            datasets.push(
                Dataset::default()
                    .marker(if plain {
                        Marker::Custom('|')
                    } else {
                        Marker::Braille
                    })
                    .graph_type(GraphType::Line)
                    .style(theme.fg(Color::LightRed))
                    .name(name("budget end", SeriesRole::Reference))
                    .data(&end_line),
            );
        }
        let newest = charts.changes.len().saturating_sub(1);
        for (i, (points, (_, label))) in lines.iter().zip(&charts.changes).enumerate() {
            let mut line = Dataset::default()
                .marker(if plain {
                    Marker::Custom('|')
                } else {
                    Marker::Braille
                })
                .graph_type(GraphType::Line)
                .style(theme.fg(Color::Magenta))
                .data(points);
            if i == newest {
                line = line.name(name(label, SeriesRole::Reference));
            }
            datasets.push(line);
        }
        let y_axis = Axis::default()
            .bounds([0.0, y_max])
            .labels(axis_labels(0.0, y_max, |v| format!("{v:.2}")));
        epoch_chart(
            datasets,
            block,
            theme,
            x_max,
            y_axis,
            LegendPosition::TopRight,
        )
        .render(area, buf);
    }
}

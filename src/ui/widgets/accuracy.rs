//! The "Accuracy" pane: running training accuracy over fractional epochs, test accuracy
//! per epoch, and the Keras tutorial's 90 % as a reference line.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Color;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Widget};

use crate::ui::app::{App, Pane, REFERENCE_ACC};
use crate::ui::history::y_range;
use crate::ui::widgets::{
    axis_labels, empty_pane, marker, pane_block, series_name, with_info, SeriesRole,
};

pub struct AccuracyChart<'a> {
    pub app: &'a App,
    pub focused: bool,
}

impl Widget for AccuracyChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let theme = &app.theme;
        let charts = &app.charts;
        let mut block = pane_block(Pane::Accuracy, self.focused, theme);
        let mut stats = Vec::new();
        if let Some(&(_, y)) = charts.train_acc.points().last() {
            stats.push(format!("train {y:.1}%"));
        }
        if let Some(&(_, y)) = charts.test_acc.last() {
            stats.push(format!("test {y:.1}%"));
        }
        let info = [stats.join(" · "), stats.last().cloned().unwrap_or_default()];
        block = with_info(block, Pane::Accuracy, area.width, &info, theme.dim());
        if charts.train_acc.is_empty() && charts.test_acc.is_empty() {
            empty_pane(block, "waiting for the first batch…", area, buf, theme);
            return;
        }

        let plain = app.opts.ascii_charts || !theme.has_color();
        let name = |text: &str, role| series_name(plain, text, role);
        let x_max = charts.x_max();
        let lo = [charts.train_acc.y_range(), y_range(&charts.test_acc)]
            .into_iter()
            .flatten()
            .map(|r| r.0)
            .fold(REFERENCE_ACC, f64::min);
        // Round down to a multiple of 10 with some room below the lowest point.
        let y_min = ((lo - 2.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0;
        let reference = [(0.0, REFERENCE_ACC), (x_max, REFERENCE_ACC)];

        let datasets = vec![
            Dataset::default()
                .name(name("Keras tutorial 90%", SeriesRole::Reference))
                .marker(marker(plain, SeriesRole::Reference))
                .graph_type(GraphType::Line)
                .style(theme.fg(Color::DarkGray))
                .data(&reference),
            Dataset::default()
                .name(name("train (running)", SeriesRole::Smooth))
                .marker(marker(plain, SeriesRole::Smooth))
                .graph_type(GraphType::Line)
                .style(theme.fg(Color::Cyan))
                .data(charts.train_acc.points()),
            Dataset::default()
                .name(name("test", SeriesRole::Epoch))
                .marker(marker(plain, SeriesRole::Epoch))
                .graph_type(GraphType::Line)
                .style(theme.fg(Color::LightGreen))
                .data(&charts.test_acc),
        ];
        Chart::new(datasets)
            .block(block)
            .x_axis(
                Axis::default()
                    .title("epoch")
                    .style(theme.dim())
                    .bounds([0.0, x_max])
                    .labels(axis_labels(0.0, x_max, |v| format!("{v:.0}"))),
            )
            .y_axis(
                Axis::default()
                    .style(theme.dim())
                    .bounds([y_min, 100.0])
                    .labels(axis_labels(y_min, 100.0, |v| format!("{v:.0}%"))),
            )
            .legend_position(Some(LegendPosition::BottomRight))
            .hidden_legend_constraints((Constraint::Ratio(2, 3), Constraint::Ratio(2, 3)))
            .render(area, buf);
    }
}

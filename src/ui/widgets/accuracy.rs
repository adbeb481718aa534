//! The "Accuracy" pane: running training accuracy over fractional epochs, test accuracy
//! per epoch (and the validation accuracy when the run holds training images out), and
//! the Keras tutorial's 90 % as a reference line; the y axis starts at a
//! multiple of 10 below what matters (after the first half epoch).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::{Axis, GraphType, LegendPosition, Widget};

use crate::ui::history::thin;
use crate::ui::panes::charts::REFERENCE_ACC;
use crate::ui::panes::Charts;
use crate::ui::panes::Pane;
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    axis_labels, empty_pane, epoch_chart, pane_block, series, with_info, SeriesRole,
};

pub struct AccuracyChart<'a> {
    pub charts: &'a Charts,
    pub theme: &'a Theme,
    /// Plain-character markers (no colour, or `ascii_charts`).
    pub plain: bool,
    pub focused: bool,
}

impl Widget for AccuracyChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (charts, theme, plain) = (self.charts, self.theme, self.plain);
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
        // Short of room: the held-out and test accuracies (the ones that choose and
        // judge), else the test accuracy alone.
        let mut info = vec![stats.join(" · ")];
        if let [.., val, test] = &stats[..] {
            if !charts.val_acc.is_empty() {
                info.push(format!("{val} · {test}"));
            }
        }
        info.extend(stats.last().cloned());
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

        let x_max = charts.x_max();
        // As in the Loss pane: the first half epoch's steep climb would squeeze everything
        // after it into the top of the chart, so once more than an epoch is plotted the y
        // axis fits what came after (earlier points are clipped at the bottom). The running
        // accuracy restarts each epoch, so its first few batches are noise: left out too.
        let settled = |x: f64| x_max <= 1.0 || (x >= 0.5 && x.fract() >= 0.05);
        let lo = charts
            .train_acc
            .points()
            .iter()
            .filter(|p| settled(p.0))
            .chain(&charts.test_acc)
            .chain(&charts.val_acc)
            .chain(charts.shown_others().flat_map(|(_, o)| &o.test_acc))
            .map(|p| p.1)
            .fold(REFERENCE_ACC, f64::min);
        // Round down to a multiple of 10 with some room below the lowest point.
        let y_min = ((lo - 2.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0;
        let reference = [(0.0, REFERENCE_ACC), (x_max, REFERENCE_ACC)];

        // A line of more points than the chart has dots only costs drawing time.
        let train = thin(charts.train_acc.points(), 4 * usize::from(area.width));
        let line = GraphType::Line;
        let mut datasets = vec![
            series(
                plain,
                "Keras tutorial 90%",
                SeriesRole::Reference,
                line,
                theme.fg(Color::DarkGray),
                &reference,
            ),
            series(
                plain,
                "train (epoch avg)",
                SeriesRole::Smooth,
                line,
                theme.fg(Color::Cyan),
                &train,
            ),
            series(
                plain,
                "test",
                SeriesRole::Epoch,
                line,
                theme.fg(Color::LightGreen),
                &charts.test_acc,
            ),
        ];
        if !charts.val_acc.is_empty() {
            datasets.push(series(
                plain,
                "validation",
                SeriesRole::Raw,
                line,
                theme.fg(Color::Yellow),
                &charts.val_acc,
            ));
        }
        for (color, o) in charts.shown_others() {
            datasets.push(series(
                plain,
                &o.name,
                SeriesRole::Epoch,
                line,
                theme.fg(color),
                &o.test_acc,
            ));
        }
        let y_axis =
            Axis::default()
                .bounds([y_min, 100.0])
                .labels(axis_labels(y_min, 100.0, |v| format!("{v:.0}%")));
        epoch_chart(
            datasets,
            block,
            theme,
            x_max,
            y_axis,
            LegendPosition::BottomRight,
        )
        .render(area, buf);
    }
}

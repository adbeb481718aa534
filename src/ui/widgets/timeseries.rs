//! The one time-series chart that the Loss and Accuracy panes configure: lines over
//! fractional epochs in an x window (the whole run, or its last epochs when zoomed), a y
//! axis with the bounds the pane fitted to what is shown (linear, or logarithmic with
//! labels in the values' own units), vertical marks (setting changes, a time budget's
//! end) and a legend. The panes say what to draw ([`Trace`], [`Mark`]); this draws it.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::widgets::{Axis, Block, Dataset, GraphType, LegendPosition, Widget};

use crate::ui::history::thin;
use crate::ui::theme::Theme;
use crate::ui::widgets::{axis_labels, epoch_chart, marker, series_name, SeriesRole};

/// One line of a chart.
pub struct Trace<'a> {
    /// Its legend entry (none when empty).
    pub name: String,
    pub role: SeriesRole,
    pub graph: GraphType,
    pub color: Color,
    pub points: Cow<'a, [(f64, f64)]>,
    /// A marker of its own, instead of its role's.
    pub marker: Option<Marker>,
    /// At most this many points per column of the chart (a line of more points than the
    /// chart has dots only costs drawing time); `None`: every point.
    pub per_column: Option<usize>,
}

impl<'a> Trace<'a> {
    /// A line of `points` named `name`, drawn for its `role`.
    pub fn line(
        name: impl Into<String>,
        role: SeriesRole,
        color: Color,
        points: &'a [(f64, f64)],
    ) -> Self {
        Trace {
            name: name.into(),
            role,
            graph: GraphType::Line,
            color,
            points: Cow::Borrowed(points),
            marker: None,
            per_column: None,
        }
    }

    /// The same, with at most `n` points per column.
    pub fn thinned(mut self, n: usize) -> Self {
        self.per_column = Some(n);
        self
    }

    /// The same, with a marker of its own.
    pub fn marked(mut self, marker: Marker) -> Self {
        self.marker = Some(marker);
        self
    }

    /// The same, as separate dots.
    pub fn scatter(mut self) -> Self {
        self.graph = GraphType::Scatter;
        self
    }
}

/// A vertical line across the chart at `x`, named in the legend when `name` is not empty.
pub struct Mark {
    pub x: f64,
    pub name: String,
    pub color: Color,
}

/// The y axis: its bounds (fitted by the pane to what is shown), logarithmic or not, and
/// how a label is written.
pub struct YAxis {
    pub lo: f64,
    pub hi: f64,
    /// Base-10 logarithmic; `lo` must then be above 0.
    pub log: bool,
    pub label: fn(f64) -> String,
}

/// A time-series chart: traces, marks and axes in a block.
pub struct TimeChart<'a> {
    pub block: Block<'a>,
    pub theme: &'a Theme,
    /// Plain-character markers (no colour, or `ascii_charts`).
    pub plain: bool,
    pub traces: Vec<Trace<'a>>,
    pub marks: Vec<Mark>,
    /// The x window, in fractional epochs.
    pub x: (f64, f64),
    pub y: YAxis,
    pub legend: LegendPosition,
}

impl YAxis {
    /// `v` where the chart draws it: its logarithm on a log axis (`None` for a value a
    /// log axis cannot show).
    fn place(&self, v: f64) -> Option<f64> {
        match self.log {
            true if v > 0.0 => Some(v.log10()),
            true => None,
            false => Some(v),
        }
    }

    fn bounds(&self) -> [f64; 2] {
        let lo = self.place(self.lo).unwrap_or(0.0);
        let hi = self.place(self.hi).unwrap_or(lo + 1.0);
        [lo, if hi > lo { hi } else { lo + 1.0 }]
    }
}

/// The points of `points` in the window `x` (with one beyond each end, so a line enters
/// and leaves the chart), placed on `y`, at most `max` of them when given.
fn visible(points: &[(f64, f64)], x: (f64, f64), y: &YAxis, max: Option<usize>) -> Vec<(f64, f64)> {
    let first = points.partition_point(|p| p.0 < x.0).saturating_sub(1);
    let last = (points.partition_point(|p| p.0 <= x.1) + 1).min(points.len());
    let placed: Vec<(f64, f64)> = points
        .get(first..last)
        .unwrap_or(&[])
        .iter()
        .filter_map(|&(px, py)| Some((px, y.place(py)?)))
        .collect();
    match max {
        Some(max) => thin(&placed, max).into_owned(),
        None => placed,
    }
}

impl Widget for TimeChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let columns = usize::from(area.width);
        let [y_lo, y_hi] = self.y.bounds();
        let placed: Vec<Vec<(f64, f64)>> = self
            .traces
            .iter()
            .map(|t| {
                visible(
                    &t.points,
                    self.x,
                    &self.y,
                    t.per_column.map(|n| n * columns),
                )
            })
            .collect();
        let marks: Vec<[(f64, f64); 2]> = self
            .marks
            .iter()
            .map(|m| [(m.x, y_lo), (m.x, y_hi)])
            .collect();
        let mark_marker = if self.plain {
            Marker::Custom('|')
        } else {
            Marker::Braille
        };
        let mut datasets: Vec<Dataset<'_>> = self
            .traces
            .iter()
            .zip(&placed)
            .map(|(t, points)| {
                let mut d = Dataset::default()
                    .marker(t.marker.unwrap_or(marker(self.plain, t.role)))
                    .graph_type(t.graph)
                    .style(self.theme.fg(t.color))
                    .data(points);
                if !t.name.is_empty() {
                    d = d.name(series_name(self.plain, &t.name, t.role));
                }
                d
            })
            .collect();
        for (m, points) in self.marks.iter().zip(&marks) {
            let mut d = Dataset::default()
                .marker(mark_marker)
                .graph_type(GraphType::Line)
                .style(self.theme.fg(m.color))
                .data(points);
            if !m.name.is_empty() {
                d = d.name(series_name(self.plain, &m.name, SeriesRole::Reference));
            }
            datasets.push(d);
        }
        let label = self.y.label;
        let log = self.y.log;
        let y_axis = Axis::default()
            .bounds([y_lo, y_hi])
            .labels(axis_labels(y_lo, y_hi, |v| {
                label(if log { 10f64.powf(v) } else { v })
            }));
        epoch_chart(
            datasets,
            self.block,
            self.theme,
            self.x,
            y_axis,
            self.legend,
        )
        .render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_window_is_drawn_with_a_point_beyond_each_end() {
        let points: Vec<(f64, f64)> = (0..=10).map(|i| (f64::from(i), f64::from(i))).collect();
        let y = YAxis {
            lo: 0.0,
            hi: 10.0,
            log: false,
            label: |v| format!("{v}"),
        };
        let v = visible(&points, (4.0, 6.0), &y, None);
        assert_eq!(v.first(), Some(&(3.0, 3.0)));
        assert_eq!(v.last(), Some(&(7.0, 7.0)));
        assert!(visible(&points, (20.0, 30.0), &y, Some(100)).len() <= 1);
        assert!(visible(&[], (0.0, 1.0), &y, None).is_empty());
    }

    #[test]
    fn a_log_axis_places_logarithms_and_drops_what_it_cannot_show() {
        let y = YAxis {
            lo: 0.01,
            hi: 10.0,
            log: true,
            label: |v| format!("{v}"),
        };
        assert_eq!(y.bounds(), [-2.0, 1.0]);
        let v = visible(&[(0.0, 0.0), (1.0, 0.1), (2.0, 1.0)], (0.0, 2.0), &y, None);
        assert_eq!(v, vec![(1.0, -1.0), (2.0, 0.0)]);
    }
}

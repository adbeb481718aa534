//! The Runs pane: the other runs that can be drawn over the Loss and Accuracy charts, one
//! colour each, with the digit that shows or hides each ([`RUNS_BINDINGS`]).

use std::path::Path;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

use crate::ui::keys::RUNS_BINDINGS;
use crate::ui::panes::charts::OTHER_COLORS;
use crate::ui::panes::Charts;
use crate::ui::theme::Theme;
use crate::ui::widgets::overlay;
use crate::ui::widgets::put;

pub struct RunsView<'a> {
    pub charts: &'a Charts,
    /// The run the dashboard shows in full, named at the top.
    pub this_run: Option<&'a Path>,
    pub theme: &'a Theme,
}

impl Widget for RunsView<'_> {
    /// Draws a centred box over `area` (the whole screen).
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let this = self.this_run.and_then(|p| p.file_name()).map_or_else(
            || "this run".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut lines: Vec<(String, Style)> =
            vec![(format!("   {this} (this run, always shown)"), theme.dim())];
        for (i, o) in self.charts.others.iter().enumerate() {
            let mark = if o.shown { "●" } else { "○" };
            let style = if o.shown {
                theme.fg(OTHER_COLORS[i % OTHER_COLORS.len()])
            } else {
                theme.dim()
            };
            let state = if o.shown { "shown" } else { "hidden" };
            lines.push((format!("{} {mark} {}  {state}", i + 1, o.name), style));
        }
        let hint: Vec<&str> = RUNS_BINDINGS.iter().filter_map(|b| b.footer).collect();
        let hint = format!(" {} ", hint.join(" · "));
        let widest = lines
            .iter()
            .map(|(l, _)| l.chars().count())
            .chain([hint.chars().count()])
            .max()
            .unwrap_or(0);
        let want_w = u16::try_from(widest).unwrap_or(u16::MAX).saturating_add(4);
        let want_h = u16::try_from(lines.len())
            .unwrap_or(u16::MAX)
            .saturating_add(2);
        let inner = overlay(area, buf, (want_w, want_h), " Runs ", hint, theme);
        for (i, (text, style)) in lines.iter().enumerate() {
            let y = inner.y.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
            put(buf, inner, inner.x.saturating_add(1), y, text, *style);
        }
    }
}

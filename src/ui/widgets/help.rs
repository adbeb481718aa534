//! The `?` help overlay, rendered from [`crate::ui::keys::BINDINGS`],
//! [`crate::ui::keys::CURSOR_BINDINGS`] (and [`crate::ui::keys::OTHER_RUNS_BINDINGS`] when
//! there are other runs) so that it lists exactly what the handler does, and what the mouse
//! does ([`crate::ui::keys::MOUSE`]) when it is on.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Widget;

use crate::ui::keys::{BINDINGS, CURSOR_BINDINGS, MOUSE, OTHER_RUNS_BINDINGS};
use crate::ui::theme::Theme;
use crate::ui::widgets::overlay;
use crate::ui::widgets::put;

pub struct Help<'a> {
    pub theme: &'a Theme,
    /// Whether there are other runs to show (else the Runs key is not listed).
    pub runs: bool,
    /// Whether the mouse is on (`ui.mouse`; else it is not listed).
    pub mouse: bool,
}

/// Width of the keys column.
const KEYS_W: u16 = 12;

impl Widget for Help<'_> {
    /// Draws a centred box over `area` (the whole screen).
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let extra = if self.runs { OTHER_RUNS_BINDINGS } else { &[] };
        let row = |label, description| (label, description);
        let rows: Vec<(&str, &str)> = BINDINGS
            .iter()
            .chain(extra)
            .map(|b| row(b.label, b.description))
            .chain(CURSOR_BINDINGS.iter().map(|b| row(b.label, b.description)))
            .chain(MOUSE.iter().filter(|_| self.mouse).copied())
            .collect();
        let desc_w = rows
            .iter()
            .map(|(_, d)| d.chars().count())
            .max()
            .unwrap_or(0);
        let want_w = KEYS_W
            .saturating_add(u16::try_from(desc_w).unwrap_or(u16::MAX))
            .saturating_add(4);
        let want_h = u16::try_from(rows.len())
            .unwrap_or(u16::MAX)
            .saturating_add(4);
        let inner = overlay(
            area,
            buf,
            (want_w, want_h),
            " Help ",
            " ? or Esc closes ".to_string(),
            theme,
        );
        let inner = Rect {
            x: inner.x.saturating_add(1),
            width: inner.width.saturating_sub(1),
            y: inner.y.saturating_add(1),
            height: inner.height.saturating_sub(1),
        };
        for (i, (label, description)) in rows.iter().enumerate() {
            let y = inner.y.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
            put(
                buf,
                inner,
                inner.x,
                y,
                label,
                theme.accent().add_modifier(Modifier::BOLD),
            );
            put(
                buf,
                inner,
                inner.x.saturating_add(KEYS_W),
                y,
                description,
                Style::new(),
            );
        }
    }
}

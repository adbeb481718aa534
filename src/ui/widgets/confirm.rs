//! The "Stop training and quit? y/n/d" question, keys from
//! [`crate::ui::keys::CONFIRM_BINDINGS`].

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use crate::ui::keys::CONFIRM_BINDINGS;
use crate::ui::theme::Theme;

pub const QUESTION: &str = "Stop training and quit? y/n/d";

pub struct Confirm<'a> {
    pub theme: &'a Theme,
}

impl Widget for Confirm<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let detail: Vec<String> = CONFIRM_BINDINGS
            .iter()
            .map(|b| format!("{}: {}", b.label, b.description))
            .collect();
        let detail = detail.join(" · ");
        let w = (detail.chars().count().max(QUESTION.len()) + 4) as u16;
        let rect = area.centered(
            Constraint::Length(w.min(area.width)),
            Constraint::Length(5u16.min(area.height)),
        );
        Clear.render(rect, buf);
        let block = Block::bordered()
            .border_type(BorderType::Double)
            .border_style(theme.warn());
        Paragraph::new(vec![
            Line::styled(QUESTION, Style::new().add_modifier(Modifier::BOLD)),
            Line::raw(""),
            Line::styled(detail, theme.dim()),
        ])
        .centered()
        .block(block)
        .render(rect, buf);
    }
}

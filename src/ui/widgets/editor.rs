//! The settings editor overlay (`e`): every setting with its value, `live` or
//! `next run`, what waits to be applied or saved; the file in use and any reload error on
//! top; the selected setting's help or the text field with its verdict at the bottom; the
//! keys (from [`crate::ui::keys`]) in the bottom border.
//!
//! ```text
//! ╔ Settings ═════════════════════════════════════════════════════════════════════╗
//! ║ file /home/me/config.toml · 1 unsaved                                          ║
//! ║ training.lr = 0.0005: sent, applies at the next batch                          ║
//! ║ ▶ training.lr           0.0005         live      unsaved                       ║
//! ║   model.dropout         0.3            next run  pending (run: 0.2) · unsaved  ║
//! ║ ────────────────────────────────────────────────────────────────────────────── ║
//! ║ learning rate, the schedule's base: > 0 and ≤ 10                               ║
//! ║ training.lr = 0.0005█                                                          ║
//! ║ ✓ valid: applies live at the next batch                                        ║
//! ╚ ↑↓ select · Enter edit · s save · Esc close ═══════════════════════════════════╝
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use crate::config::params::{Apply, PARAMS};
use crate::ui::editor::{Editor, Row, Tone};
use crate::ui::keys::{hint_line, EDITOR_BINDINGS, FIELD_BINDINGS};
use crate::ui::theme::Theme;
use crate::ui::widgets::put;

pub struct EditorView<'a> {
    pub editor: &'a Editor,
    pub theme: &'a Theme,
    /// Whether live settings still reach the trainer.
    pub trainer_running: bool,
}

/// Widths of the key, value and mode columns.
const KEY_W: u16 = 24;
const VALUE_W: u16 = 16;
const MODE_W: u16 = 10;
/// Lines besides the rows: file, status, rule, help, field, verdict.
const CHROME_H: u16 = 6;

/// `text` cut to `max` characters, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

impl Widget for EditorView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = self.frame(area, buf);
        if inner.is_empty() {
            return;
        }
        let y = self.head(inner, buf);
        let y = self.rows(inner, y, buf);
        self.foot(inner, y, buf);
    }
}

impl EditorView<'_> {
    /// The overlay's box, centred over `area` and cleared, with its title and keys;
    /// returns the area inside, a column of margin on each side.
    fn frame(&self, area: Rect, buf: &mut Buffer) -> Rect {
        let rows = u16::try_from(PARAMS.len()).unwrap_or(u16::MAX);
        let rect = area.centered(
            Constraint::Length(88.min(area.width)),
            Constraint::Length(rows.saturating_add(CHROME_H + 2).min(area.height)),
        );
        Clear.render(rect, buf);
        let hint = match self.editor.field {
            Some(_) => hint_line(FIELD_BINDINGS),
            None => hint_line(EDITOR_BINDINGS),
        };
        let block = Block::bordered()
            .border_type(BorderType::Double)
            .border_style(self.theme.accent())
            .title(Line::styled(
                " Settings ",
                Style::new().add_modifier(Modifier::BOLD),
            ))
            .title_bottom(Line::styled(format!(" {hint} "), self.theme.dim()));
        let inner = block.inner(rect);
        block.render(rect, buf);
        Rect {
            x: inner.x.saturating_add(1),
            width: inner.width.saturating_sub(2),
            ..inner
        }
    }

    /// The file and what is not saved yet, then a reload problem or the last status;
    /// returns the next line.
    fn head(&self, inner: Rect, buf: &mut Buffer) -> u16 {
        let (ed, theme) = (self.editor, self.theme);
        let mut head = match &ed.path {
            Some(p) => format!("file {}", p.display()),
            None => format!(
                "no config file: built-in defaults; s saves to {}",
                ed.save_path.display()
            ),
        };
        if !ed.unsaved.is_empty() {
            head.push_str(&format!(" · {} unsaved", ed.unsaved.len()));
        }
        line(buf, inner, inner.y, &head, theme.dim());
        let y = inner.y.saturating_add(1);
        // A reload problem wins over the last status.
        match (&ed.reload_error, &ed.status) {
            (Some(e), _) => line(
                buf,
                inner,
                y,
                &format!("file not applied: {e}; keeping the current values"),
                theme.bad(),
            ),
            (None, Some((tone, text))) => line(buf, inner, y, text, tone_style(*tone, theme)),
            (None, None) => {}
        }
        y.saturating_add(1)
    }

    /// The settings from line `y`, scrolled to keep the selection in view; returns the
    /// line after the last.
    fn rows(&self, inner: Rect, mut y: u16, buf: &mut Buffer) -> u16 {
        let ed = self.editor;
        let room = usize::from(inner.bottom().saturating_sub(y).saturating_sub(4));
        let first = ed.selected.saturating_sub(room.saturating_sub(1));
        for (i, row) in ed.rows().enumerate().skip(first).take(room) {
            self.row(&row, i == ed.selected, inner, y, buf);
            y = y.saturating_add(1);
        }
        y
    }

    /// One setting on line `y`: key, value, when it applies, and what waits.
    fn row(&self, row: &Row, selected: bool, inner: Rect, y: u16, buf: &mut Buffer) {
        let theme = self.theme;
        let style = if selected {
            theme
                .accent()
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new()
        };
        let mut x = inner.x;
        let marker = if selected { "▶ " } else { "  " };
        let key = format!("{marker}{}", row.param.key);
        let w = usize::from(KEY_W);
        put(
            buf,
            inner,
            x,
            y,
            &format!("{:<w$}", clip(&key, w - 1)),
            style,
        );
        x = x.saturating_add(KEY_W);
        let value = if row.value.is_empty() {
            "\"\"".to_string()
        } else {
            row.value.clone()
        };
        put(
            buf,
            inner,
            x,
            y,
            &clip(&value, usize::from(VALUE_W) - 1),
            style,
        );
        x = x.saturating_add(VALUE_W);
        let mode_style = match row.param.apply {
            Apply::Live => theme.good(),
            Apply::NextRun => theme.dim(),
        };
        put(buf, inner, x, y, row.param.apply.label(), mode_style);
        x = x.saturating_add(MODE_W);
        let mut notes = Vec::new();
        if let Some(running) = &row.running {
            if row.param.apply == Apply::Live && self.trainer_running {
                notes.push(format!("applying (run: {running})"));
            } else {
                notes.push(format!("pending (run: {running})"));
            }
        }
        if row.unsaved {
            notes.push("unsaved".into());
        }
        put(buf, inner, x, y, &notes.join(" · "), theme.warn());
    }

    /// Below the rows (from line `y` at the earliest): the selected setting's help, or
    /// the text field and its verdict.
    fn foot(&self, inner: Rect, y: u16, buf: &mut Buffer) {
        let (ed, theme) = (self.editor, self.theme);
        let bottom = inner.bottom();
        let y = bottom.saturating_sub(4).max(y);
        if y >= bottom {
            return;
        }
        let w = usize::from(inner.width);
        line(buf, inner, y, &"─".repeat(w), theme.dim());
        let p = ed.param();
        line(buf, inner, y.saturating_add(1), p.help, theme.dim());
        let Some(field) = &ed.field else {
            return;
        };
        let prompt = format!("{} = {}", p.key, field.text);
        let end = put(
            buf,
            inner,
            inner.x,
            y.saturating_add(2),
            &clip(&prompt, w.saturating_sub(1)),
            Style::new().add_modifier(Modifier::BOLD),
        );
        put(buf, inner, end, y.saturating_add(2), "█", theme.accent());
        let verdict = match &field.error {
            Some(e) => (format!("✗ {e}"), theme.bad()),
            None => {
                let when = match (p.apply, self.trainer_running) {
                    (Apply::Live, true) => "applies live at the next batch",
                    _ => "applies to the next run",
                };
                (format!("✓ valid: Enter {when}"), theme.good())
            }
        };
        line(buf, inner, y.saturating_add(3), &verdict.0, verdict.1);
    }
}

/// `text` on line `y` of `inner`, cut to its width.
fn line(buf: &mut Buffer, inner: Rect, y: u16, text: &str, style: Style) {
    put(
        buf,
        inner,
        inner.x,
        y,
        &clip(text, usize::from(inner.width)),
        style,
    );
}

fn tone_style(tone: Tone, theme: &Theme) -> Style {
    match tone {
        Tone::Info => Style::new(),
        Tone::Good => theme.good(),
        Tone::Bad => theme.bad(),
    }
}

//! The "Log" pane: timestamped events (time since the dashboard started), newest at the
//! bottom, long lines wrapped under their text; the title names the latest checkpoint.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Widget;

use crate::duration;
use crate::ui::panes::Pane;
use crate::ui::panes::{Log, LogKind};
use crate::ui::theme::Theme;
use crate::ui::widgets::{pane_block, put, waiting, with_info};

pub struct LogView<'a> {
    pub log: &'a Log,
    pub theme: &'a Theme,
    pub focused: bool,
}

/// Width of `00:03:12 `.
const STAMP_W: u16 = 9;

fn style(kind: LogKind, theme: &Theme) -> Style {
    match kind {
        LogKind::Info => Style::new(),
        LogKind::Epoch => theme.good(),
        LogKind::Applied => theme.accent(),
        LogKind::Error => theme.bad(),
        LogKind::Done => theme.good().add_modifier(Modifier::BOLD),
    }
}

/// Word-wrap `text` into lines of at most `width` characters (long words are split).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    if text.chars().count() <= width {
        return vec![text.to_string()];
    }
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0usize;
    for word in text.split_whitespace() {
        let mut chars: Vec<char> = word.chars().collect();
        while !chars.is_empty() {
            let space = usize::from(cur_len > 0);
            if cur_len + space + chars.len() <= width {
                if space == 1 {
                    cur.push(' ');
                }
                cur_len += space + chars.len();
                cur.extend(chars.drain(..));
            } else if cur_len == 0 {
                let rest = chars.split_off(width.min(chars.len()));
                lines.push(chars.iter().collect());
                chars = rest;
            } else {
                lines.push(std::mem::take(&mut cur));
                cur_len = 0;
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

impl Widget for LogView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (log, theme) = (self.log, self.theme);
        let mut block = pane_block(Pane::Log, self.focused, theme);
        if let Some(at) = log.last_saved {
            let at = if at.fract() == 0.0 {
                format!("{at:.0}")
            } else {
                format!("{at:.2}")
            };
            let info = [format!("checkpoint @ epoch {at}"), format!("saved @ {at}")];
            block = with_info(block, Pane::Log, area.width, &info, theme.dim());
        }
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.is_empty() {
            return;
        }
        if log.entries.is_empty() {
            waiting("no events yet", inner, buf, theme);
            return;
        }
        let stamps = inner.width > STAMP_W + 10;
        let text_w = usize::from(if stamps {
            inner.width - STAMP_W
        } else {
            inner.width
        });
        // Collect rows from the newest entry back until the pane is full.
        let height = usize::from(inner.height);
        let mut rows: Vec<(Option<String>, String, Style)> = Vec::with_capacity(height);
        for e in log.entries.iter().rev() {
            let lines = wrap(&e.text, text_w);
            let s = style(e.kind, theme);
            for (i, l) in lines.into_iter().enumerate().rev() {
                let stamp = (i == 0 && stamps).then(|| duration::clock(e.at));
                rows.push((stamp, l, s));
            }
            if rows.len() >= height {
                break;
            }
        }
        let skip = rows.len().saturating_sub(height);
        for (row, (stamp, text, s)) in rows.into_iter().rev().skip(skip).enumerate() {
            let y = inner
                .y
                .saturating_add(u16::try_from(row).unwrap_or(u16::MAX));
            let mut x = inner.x;
            if let Some(stamp) = stamp {
                put(buf, inner, x, y, &stamp, theme.dim());
            }
            if stamps {
                x = x.saturating_add(STAMP_W);
            }
            put(buf, inner, x, y, &text, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_words_and_splits_long_ones() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), vec![""]);
        assert_eq!(wrap("x", 0), vec!["x"]);
    }
}

//! The footer: the main keys (from [`crate::ui::keys::BINDINGS`]; `p resume` while
//! paused; first the cursor's, from [`crate::ui::keys::CURSOR_BINDINGS`], while the
//! Confusion or Predictions pane is focused), or what the dashboard is waiting for.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::events::Phase;
use crate::ui::keys::{GlobalAction, BINDINGS, CURSOR_BINDINGS};
use crate::ui::panes::RunStatus;
use crate::ui::theme::Theme;

pub struct Footer<'a> {
    pub status: &'a RunStatus,
    pub theme: &'a Theme,
    /// The focused pane has a cursor (Confusion, Predictions): the arrows move it.
    pub cursor: bool,
}

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (status, theme) = (self.status, self.theme);
        if area.is_empty() {
            return;
        }
        let line = if status.stopping() {
            Line::styled(
                " stopping… waiting for the trainer to save the model (q again quits now)",
                theme.warn(),
            )
        } else {
            let mut spans = Vec::new();
            if status.finished() {
                spans.push(Span::styled(
                    " training finished · q quits ",
                    theme.accent(),
                ));
            }
            let mut used: usize = spans.iter().map(Span::width).sum();
            let finished = status.finished();
            let arrows = |a: GlobalAction| {
                self.cursor && matches!(a, GlobalAction::StepSample | GlobalAction::StepLayer)
            };
            // Once the run is over, pausing and quitting-with-a-question are not.
            let over = |a: GlobalAction| {
                finished && matches!(a, GlobalAction::TogglePause | GlobalAction::Quit)
            };
            let useful = BINDINGS
                .iter()
                .filter(|b| !over(b.action))
                .filter(|b| !arrows(b.action));
            let cursor = CURSOR_BINDINGS
                .iter()
                .filter(|_| self.cursor)
                .filter_map(|b| Some((None, b.footer?)));
            let paused = status.display_phase() == Phase::Paused;
            let hints = cursor.chain(useful.filter_map(|b| Some((Some(b.action), b.footer?))));
            for (action, hint) in hints {
                let (key, what) = hint.split_once(' ').unwrap_or((hint, ""));
                // The same key resumes: say what it does now.
                let what = match action {
                    Some(GlobalAction::TogglePause) if paused => "resume",
                    _ => what,
                };
                let w = key.chars().count() + what.chars().count() + 3;
                if used + w > usize::from(area.width) {
                    break;
                }
                used += w;
                spans.push(Span::styled(format!(" {key}"), theme.accent()));
                spans.push(Span::styled(format!(" {what} "), theme.dim()));
            }
            Line::from(spans)
        };
        line.render(Rect { height: 1, ..area }, buf);
    }
}

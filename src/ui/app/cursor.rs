//! The linked panes' side of the [`App`]: the Confusion pane's cursor opens a cell's
//! images in the Predictions pane, whose cursor opens an image's feature maps; and the
//! keys that move along the feature maps and zoom the charts.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::App;
use crate::events::Command;
use crate::ui::keys::{self, CursorAction, CURSOR_BINDINGS};
use crate::ui::panes::{Pane, PredictionsMode};

/// Which way an arrow (or `hjkl`, `[` `]`, `,` `.`, `+` `-`) points: (rows, columns).
fn direction(code: KeyCode) -> (i64, i64) {
    match code {
        KeyCode::Left | KeyCode::Char('h' | '[') => (0, -1),
        KeyCode::Right | KeyCode::Char('l' | ']') => (0, 1),
        KeyCode::Up | KeyCode::Char('k' | ',' | '+' | '=') => (-1, 0),
        KeyCode::Down | KeyCode::Char('j' | '.' | '-') => (1, 0),
        _ => (0, 0),
    }
}

impl App {
    /// A key of the focused Confusion or Predictions pane: `Some` when it was theirs.
    pub(super) fn cursor_key(&mut self, key: &KeyEvent) -> Option<Option<Command>> {
        if !matches!(self.focus, Pane::Confusion | Pane::Predictions) {
            return None;
        }
        let action = keys::action(CURSOR_BINDINGS, key)?;
        let (rows, cols) = direction(key.code);
        match (self.focus, action) {
            (Pane::Confusion, CursorAction::Move) => self.confusion.step(rows, cols),
            (Pane::Confusion, CursorAction::Open) => {
                let c = self.confusion;
                self.predictions.open_cell(c.row, c.col);
            }
            (_, CursorAction::Back) => {
                // Esc closes a cell's list; otherwise it is the global Esc (quit).
                if !self.predictions.close_cell() {
                    return None;
                }
            }
            (_, CursorAction::Move) => {
                let per_row = self.predictions.columns.get().max(1) as i64;
                self.predictions.step_cursor(rows * per_row + cols);
            }
            (_, CursorAction::Open) => return Some(self.open_image()),
        }
        Some(None)
    }

    /// The image under the Predictions cursor into the Feature maps pane.
    fn open_image(&mut self) -> Option<Command> {
        let index = self.predictions.selected()?;
        if self.finished() && !self.viewing {
            // No trainer to compute the maps any more.
            return None;
        }
        self.features.requested = Some(index);
        Some(Command::FeatureMaps { index })
    }

    /// `+` / `-`: the charts show the last epochs, fewer or more.
    pub(super) fn zoom_charts(&mut self, key: &KeyEvent) {
        self.charts.zoom(direction(key.code).0 < 0);
    }

    /// Whether the Predictions pane shows the cell under the Confusion cursor.
    pub fn cell_open(&self) -> bool {
        let c = self.confusion;
        self.predictions.mode
            == PredictionsMode::Cell {
                label: c.row,
                predicted: c.col,
            }
    }

    /// ← → or ↑ ↓ (and `[` `]`, `,` `.`) on the feature maps.
    pub(super) fn step_features(&mut self, key: &KeyEvent, layer: bool) -> Option<Command> {
        let (rows, cols) = direction(key.code);
        if layer {
            self.features.step_layer(rows);
            None
        } else {
            self.step_sample(cols)
        }
    }
}

//! The linked panes' side of the [`App`]: the Confusion pane's cursor opens a cell's
//! images in the Predictions pane, whose cursor opens an image's feature maps; and the
//! keys that move along the feature maps and zoom the charts.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Overlay};
use crate::events::Command;
use crate::ui::keys::{self, CursorAction, CURSOR_BINDINGS};
use crate::ui::panes::{ConfusionCursor, Pane, PredictionsMode};

/// What the mouse pointer is on ([`crate::ui::mouse`] finds it from the layout the screen
/// was drawn with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// A pane or its tab, off any cell or image.
    Pane(Pane),
    /// A cell of the confusion matrix: (true class, predicted).
    Cell(usize, usize),
    /// The `n`th image the Predictions pane shows.
    Image(usize),
}

impl Spot {
    /// The pane the spot is in.
    pub fn pane(self) -> Pane {
        match self {
            Spot::Pane(p) => p,
            Spot::Cell(..) => Pane::Confusion,
            Spot::Image(_) => Pane::Predictions,
        }
    }
}

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

    /// A click on `spot`: the pane (or tab) gets the focus; a cell also opens its images,
    /// as the cursor and Enter would; an image its feature maps. A click anywhere closes
    /// the help; the other overlays take keys only.
    pub fn on_click(&mut self, spot: Spot) -> Option<Command> {
        match self.overlay {
            Overlay::None => {}
            Overlay::Help => {
                self.overlay = Overlay::None;
                self.dirty = true;
                return None;
            }
            _ => return None,
        }
        self.dirty = true;
        self.focus = spot.pane();
        match spot {
            Spot::Pane(_) => None,
            Spot::Cell(row, col) => {
                self.confusion = ConfusionCursor {
                    row,
                    col,
                    moved: true,
                };
                self.predictions.open_cell(row, col);
                None
            }
            Spot::Image(n) => {
                self.predictions.cursor = n;
                self.open_image()
            }
        }
    }

    /// The wheel over `pane` (`up` away from the user): the Loss and Accuracy charts zoom
    /// to fewer epochs (up) or more, the Feature maps go a layer up or down.
    pub fn on_wheel(&mut self, pane: Pane, up: bool) {
        if self.overlay != Overlay::None {
            return;
        }
        match pane {
            Pane::Loss | Pane::Accuracy => self.charts.zoom(up),
            Pane::Features => self.features.step_layer(if up { -1 } else { 1 }),
            Pane::Confusion | Pane::Predictions | Pane::Log => return,
        }
        self.dirty = true;
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

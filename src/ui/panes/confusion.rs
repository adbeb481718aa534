//! The "Confusion matrix" pane's state: the cell under its cursor (row: the true class,
//! column: the predicted one), moved with the arrows or `hjkl` while the pane is focused;
//! Enter opens that cell's images in the Predictions pane.

use crate::events::{Confusion, NUM_CLASSES};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfusionCursor {
    pub row: usize,
    pub col: usize,
    /// The user moved it (until then it follows the worst confusion).
    pub moved: bool,
}

impl ConfusionCursor {
    /// Move by `rows` and `cols`, stopping at the edges.
    pub fn step(&mut self, rows: i64, cols: i64) {
        let last = NUM_CLASSES as i64 - 1;
        self.row = (self.row as i64 + rows).clamp(0, last) as usize;
        self.col = (self.col as i64 + cols).clamp(0, last) as usize;
        self.moved = true;
    }

    /// A new matrix: until the user moves the cursor, it sits on the worst confusion.
    pub fn on_matrix(&mut self, m: &Confusion) {
        if self.moved {
            return;
        }
        if let Some((t, p, _)) = crate::events::worst_confusion(m) {
            (self.row, self.col) = (t, p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_starts_on_the_worst_confusion_and_stops_at_the_edges() {
        let mut m = Confusion::default();
        m[6][0] = 112;
        m[2][4] = 40;
        let mut c = ConfusionCursor::default();
        c.on_matrix(&m);
        assert_eq!((c.row, c.col), (6, 0));
        c.step(0, -1);
        assert_eq!((c.row, c.col), (6, 0));
        c.step(5, 3);
        assert_eq!((c.row, c.col), (9, 3));
        // Moved: a new matrix leaves it where the user put it.
        m[1][1] = 999;
        m[3][5] = 500;
        c.on_matrix(&m);
        assert_eq!((c.row, c.col), (9, 3));
    }
}

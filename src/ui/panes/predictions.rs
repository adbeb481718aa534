//! The "Predictions" pane's state: the trainer's latest predictions, which list the grid
//! shows (the fixed sample, the most confident mistakes, or a confusion cell's images),
//! how many at most, and the image under its cursor.

use std::cell::Cell;

use crate::events::{Prediction, Predictions, TestImages, IMAGE_PIXELS, NUM_CLASSES};

/// Which predictions the grid shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionsMode {
    /// The fixed random sample.
    Sample,
    /// The most confident mistakes.
    Mistakes,
    /// The test images of one confusion cell: true class `label`, predicted `predicted`.
    Cell { label: usize, predicted: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PredictionsPane {
    pub latest: Option<Box<Predictions>>,
    /// The test images, for a cell's list (sent once by the trainer).
    pub images: Option<Box<TestImages>>,
    pub mode: PredictionsMode,
    /// Images shown at most (the `predictions` option).
    pub limit: usize,
    /// The highlighted image: its place in the list shown.
    pub cursor: usize,
    /// Images per row in the grid as last drawn (the cursor's ↑ ↓ step).
    pub columns: Cell<usize>,
}

/// What the grid shows now.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub list: Vec<Prediction>,
    /// How many the list stands for (a cell's count; the list holds the first `limit`).
    pub total: usize,
}

impl PredictionsPane {
    pub fn new(limit: usize) -> Self {
        PredictionsPane {
            latest: None,
            images: None,
            mode: PredictionsMode::Sample,
            limit,
            cursor: 0,
            columns: Cell::new(1),
        }
    }

    /// Switch between the random sample and the most confident mistakes (from a cell:
    /// back to the sample).
    pub fn toggle_mode(&mut self) {
        self.mode = match self.mode {
            PredictionsMode::Sample => PredictionsMode::Mistakes,
            PredictionsMode::Mistakes | PredictionsMode::Cell { .. } => PredictionsMode::Sample,
        };
        self.cursor = 0;
    }

    /// Show the images of the confusion cell (`label`, `predicted`).
    pub fn open_cell(&mut self, label: usize, predicted: usize) {
        self.mode = PredictionsMode::Cell { label, predicted };
        self.cursor = 0;
    }

    /// Back from a cell to the sample; `false` when no cell was open.
    pub fn close_cell(&mut self) -> bool {
        let open = matches!(self.mode, PredictionsMode::Cell { .. });
        if open {
            self.mode = PredictionsMode::Sample;
            self.cursor = 0;
        }
        open
    }

    /// The test images of cell (`label`, `predicted`) in the latest evaluation: an
    /// off-diagonal cell's most confident first, a diagonal one's least confident first
    /// (the correct answers the network nearly got wrong).
    pub fn cell(&self, label: usize, predicted: usize) -> Vec<usize> {
        let (Some(p), Some(t)) = (&self.latest, &self.images) else {
            return Vec::new();
        };
        let o = &p.outcomes;
        let mut ids: Vec<usize> = (0..t.labels.len().min(o.predicted.len()))
            .filter(|&i| {
                usize::from(t.labels[i]) == label && usize::from(o.predicted[i]) == predicted
            })
            .collect();
        let conf = |i: usize| o.confidence.get(i).copied().unwrap_or(0.0);
        if label == predicted {
            ids.sort_by(|&a, &b| conf(a).total_cmp(&conf(b)));
        } else {
            ids.sort_by(|&a, &b| conf(b).total_cmp(&conf(a)));
        }
        ids
    }

    /// What the grid shows now.
    pub fn shown(&self) -> Shown {
        let Some(p) = &self.latest else {
            return Shown {
                list: Vec::new(),
                total: 0,
            };
        };
        let (label, predicted) = match self.mode {
            PredictionsMode::Sample => return self.first(&p.sample),
            PredictionsMode::Mistakes => return self.first(&p.mistakes),
            PredictionsMode::Cell { label, predicted } => (label, predicted),
        };
        let ids = self.cell(label, predicted);
        let list = ids
            .iter()
            .take(self.limit)
            .filter_map(|&i| self.prediction(i))
            .collect();
        Shown {
            list,
            total: ids.len(),
        }
    }

    fn first(&self, list: &[Prediction]) -> Shown {
        let list: Vec<Prediction> = list.iter().take(self.limit).cloned().collect();
        Shown {
            total: list.len(),
            list,
        }
    }

    /// Test image `i` as a prediction of the latest evaluation.
    fn prediction(&self, i: usize) -> Option<Prediction> {
        let (p, t) = (self.latest.as_ref()?, self.images.as_ref()?);
        let pixels: Box<[u8; IMAGE_PIXELS]> = Box::new(t.image(i)?.try_into().ok()?);
        let predicted = *p.outcomes.predicted.get(i)?;
        Some(Prediction {
            index: i,
            pixels,
            label: *t.labels.get(i)?,
            predicted: predicted.min(NUM_CLASSES as u8 - 1),
            confidence: p.outcomes.confidence.get(i).copied().unwrap_or(0.0),
        })
    }

    /// Move the cursor by `by` images (a row is [`Self::columns`] of them), within the
    /// list shown.
    pub fn step_cursor(&mut self, by: i64) {
        let n = self.shown().list.len();
        if n == 0 {
            self.cursor = 0;
            return;
        }
        self.cursor = (self.cursor as i64 + by).clamp(0, n as i64 - 1) as usize;
    }

    /// The test index of the image under the cursor.
    pub fn selected(&self) -> Option<usize> {
        let list = self.shown().list;
        list.get(self.cursor.min(list.len().saturating_sub(1)))
            .map(|p| p.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcomes;

    /// Six test images: labels 6 6 6 0 6 2, predicted 0 0 6 0 0 2, with confidences.
    fn pane() -> PredictionsPane {
        let mut p = PredictionsPane::new(16);
        p.images = Some(Box::new(TestImages {
            labels: vec![6, 6, 6, 0, 6, 2],
            pixels: (0..6 * IMAGE_PIXELS)
                .map(|i| (i / IMAGE_PIXELS) as u8)
                .collect(),
        }));
        p.latest = Some(Box::new(Predictions {
            epoch: 2,
            outcomes: Outcomes {
                predicted: vec![0, 0, 6, 0, 0, 2],
                confidence: vec![0.6, 0.9, 0.55, 0.99, 0.7, 0.8],
            },
            ..Predictions::default()
        }));
        p
    }

    #[test]
    fn a_cell_lists_its_images_most_confident_first_and_the_diagonal_least_first() {
        let mut p = pane();
        assert_eq!(p.cell(6, 0), vec![1, 4, 0]);
        assert_eq!(p.cell(0, 0), vec![3]);
        assert_eq!(p.cell(6, 6), vec![2]);
        assert!(p.cell(9, 9).is_empty());
        p.open_cell(6, 0);
        let shown = p.shown();
        assert_eq!(shown.total, 3);
        let ids: Vec<usize> = shown.list.iter().map(|q| q.index).collect();
        assert_eq!(ids, vec![1, 4, 0]);
        // Each image is its own, with its outcome.
        assert!(shown.list[0].pixels.iter().all(|&v| v == 1));
        assert_eq!((shown.list[0].label, shown.list[0].predicted), (6, 0));
        assert_eq!(shown.list[0].confidence, 0.9);
        // The cursor moves within the list; Esc goes back to the sample.
        p.step_cursor(1);
        assert_eq!(p.selected(), Some(4));
        p.step_cursor(10);
        assert_eq!(p.selected(), Some(0));
        assert!(p.close_cell());
        assert_eq!(p.mode, PredictionsMode::Sample);
        assert!(!p.close_cell());
    }

    #[test]
    fn a_cell_is_cut_to_the_limit_and_keeps_its_count() {
        let mut p = pane();
        p.limit = 2;
        p.open_cell(6, 0);
        let shown = p.shown();
        assert_eq!((shown.list.len(), shown.total), (2, 3));
    }
}

//! The "Predictions" pane's state: the trainer's latest predictions, which of its lists
//! the grid shows, and how many at most.

use crate::events::Predictions;

/// Which predictions the grid shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionsMode {
    /// The fixed random sample.
    Sample,
    /// The most confident mistakes.
    Mistakes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PredictionsPane {
    pub latest: Option<Box<Predictions>>,
    pub mode: PredictionsMode,
    /// Images shown at most (the `predictions` option).
    pub limit: usize,
}

impl PredictionsPane {
    pub fn new(limit: usize) -> Self {
        PredictionsPane {
            latest: None,
            mode: PredictionsMode::Sample,
            limit,
        }
    }

    /// Switch between the random sample and the most confident mistakes.
    pub fn toggle_mode(&mut self) {
        self.mode = match self.mode {
            PredictionsMode::Sample => PredictionsMode::Mistakes,
            PredictionsMode::Mistakes => PredictionsMode::Sample,
        };
    }
}

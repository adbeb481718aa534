//! The panes ([`Pane`]) and one state per pane, each folded from trainer events by
//! [`crate::ui::app::App`] and drawn by its widget in [`crate::ui::widgets`], which borrows
//! nothing else: the charts' histories, the feature-map sample, the predictions grid, the
//! log, and the run's status for the header and footer (with the latest epoch for the
//! confusion matrix).

pub mod charts;
pub mod confusion;
pub mod features;
pub mod log;
pub mod predictions;
pub mod status;

pub use charts::Charts;
pub use confusion::ConfusionCursor;
pub use features::Features;
pub use log::{Log, LogEntry, LogKind};
pub use predictions::{PredictionsMode, PredictionsPane};
pub use status::RunStatus;

/// The panes, in number-key and tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Loss,
    Accuracy,
    Confusion,
    Features,
    Predictions,
    Log,
}

impl Pane {
    pub const ALL: [Pane; 6] = [
        Pane::Loss,
        Pane::Accuracy,
        Pane::Confusion,
        Pane::Features,
        Pane::Predictions,
        Pane::Log,
    ];

    /// The pane's title, exactly as users and tests know it.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Loss => "Loss",
            Pane::Accuracy => "Accuracy",
            Pane::Confusion => "Confusion matrix",
            Pane::Features => "Feature maps",
            Pane::Predictions => "Predictions",
            Pane::Log => "Log",
        }
    }

    /// A short name for narrow tab bars.
    pub fn short_title(self) -> &'static str {
        match self {
            Pane::Loss => "Loss",
            Pane::Accuracy => "Acc",
            Pane::Confusion => "Conf",
            Pane::Features => "Feat",
            Pane::Predictions => "Pred",
            Pane::Log => "Log",
        }
    }

    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|&p| p == self).unwrap_or(0)
    }

    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }

    /// `'1'` → Loss … `'6'` → Log.
    pub fn from_digit(c: char) -> Option<Pane> {
        let d = c.to_digit(10)? as usize;
        Pane::ALL.get(d.checked_sub(1)?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pane_digits_and_cycling() {
        assert_eq!(Pane::from_digit('1'), Some(Pane::Loss));
        assert_eq!(Pane::from_digit('6'), Some(Pane::Log));
        assert_eq!(Pane::from_digit('0'), None);
        assert_eq!(Pane::from_digit('7'), None);
        assert_eq!(Pane::Log.next(), Pane::Loss);
        assert_eq!(Pane::Loss.prev(), Pane::Log);
    }
}

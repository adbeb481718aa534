//! One state per pane, each folded from trainer events by [`crate::ui::app::App`] and
//! drawn by its widget in [`crate::ui::widgets`], which borrows nothing else: the charts'
//! histories, the feature-map sample, the predictions grid, the log, and the run's status
//! for the header and footer (with the latest epoch for the confusion matrix).

pub mod charts;
pub mod features;
pub mod log;
pub mod predictions;
pub mod status;

pub use charts::Charts;
pub use features::Features;
pub use log::{Log, LogEntry, LogKind};
pub use predictions::{PredictionsMode, PredictionsPane};
pub use status::RunStatus;

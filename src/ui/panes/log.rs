//! The "Log" pane's state: timestamped lines, bounded, and where the latest checkpoint was
//! saved (shown in its title).

use std::collections::VecDeque;
use std::time::Duration;

/// Log entries kept.
pub const LOG_CAP: usize = 1000;

/// What kind of line a log entry is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Info,
    Epoch,
    Applied,
    Error,
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Time since the dashboard started.
    pub at: Duration,
    pub kind: LogKind,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Log {
    /// The newest last; at most [`LOG_CAP`].
    pub entries: VecDeque<LogEntry>,
    /// Where the latest checkpoint was saved (fractional epochs).
    pub last_saved: Option<f64>,
}

impl Log {
    /// Add a line, dropping the oldest when full.
    pub fn push(&mut self, at: Duration, kind: LogKind, text: impl Into<String>) {
        if self.entries.len() >= LOG_CAP {
            self.entries.pop_front();
        }
        self.entries.push_back(LogEntry {
            at,
            kind,
            text: text.into(),
        });
    }
}

//! The steering side of the [`App`]: the keys that act on the run (pause, stop, Ctrl-C,
//! detach, the report) and the Runs pane's.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Overlay};
use crate::events::{Command, Phase};
use crate::ui::keys::{self, RunsAction, RUNS_BINDINGS};
use crate::ui::panes::LogKind;

impl App {
    /// A key in the Runs pane: a digit shows or hides that run, else it closes.
    pub(super) fn runs_key(&mut self, key: KeyEvent) {
        match keys::action(RUNS_BINDINGS, &key) {
            Some(RunsAction::Close) => self.overlay = Overlay::None,
            Some(RunsAction::Toggle) => {
                let n = match key.code {
                    KeyCode::Char(c) => c.to_digit(10).unwrap_or(0) as usize,
                    _ => 0,
                };
                if let Some(o) = self.charts.others.get_mut(n.wrapping_sub(1)) {
                    o.shown = !o.shown;
                }
            }
            None => {}
        }
    }

    /// `d`: quit and leave the run training (not when viewing, nor once it is over).
    pub(super) fn detach(&mut self) -> Option<Command> {
        if self.viewing || self.finished() {
            return None;
        }
        self.overlay = Overlay::None;
        self.detached = true;
        self.quit = true;
        None
    }

    /// Whether the user detached: the run goes on without this terminal.
    pub fn detached(&self) -> bool {
        self.detached
    }

    /// `x`: the report of the epochs finished so far, into the run directory; the Log
    /// says where (or why not).
    pub(super) fn write_report(&mut self) {
        let Some(dir) = self.status.info.as_ref().map(|i| i.run_dir.clone()) else {
            return self.log(LogKind::Info, "no report yet: the run has not started");
        };
        match crate::report::write_for_run(&dir) {
            Ok(Some(dir)) => self.log(
                LogKind::Applied,
                format!("report written to {}", dir.display()),
            ),
            Ok(None) => self.log(LogKind::Info, "no report yet: no epoch has finished"),
            Err(e) => self.log(LogKind::Error, format!("no report written: {e:#}")),
        }
    }

    /// `x` in `view`: viewing never writes into a run.
    pub(super) fn log_read_only_report(&mut self) {
        self.log(
            LogKind::Info,
            "view is read-only: write a report with `fashion-tui report RUN... --out DIR`",
        );
    }

    pub(super) fn toggle_pause(&mut self) -> Option<Command> {
        let can = matches!(
            self.status.phase,
            Phase::Training | Phase::Paused | Phase::Evaluating
        );
        if !can || self.finished() || self.stopping() || self.viewing {
            return None;
        }
        if self.display_phase() == Phase::Paused {
            self.status.pause_request = Some(false);
            self.log(LogKind::Applied, "resume requested");
            Some(Command::Resume)
        } else {
            self.status.pause_request = Some(true);
            self.log(LogKind::Applied, "pause requested");
            Some(Command::Pause)
        }
    }

    /// Ctrl-C, in any mode: stop and quit as [`App::interrupt`] does, and exit as
    /// interrupted.
    pub(super) fn ctrl_c(&mut self) -> Option<Command> {
        self.interrupted = true;
        self.interrupt()
    }

    /// Stop and quit: quit at once if training is over (or a stop is already pending),
    /// otherwise send `Stop` and wait for `Done` (see [`STOP_TIMEOUT`]).
    pub(super) fn interrupt(&mut self) -> Option<Command> {
        self.overlay = Overlay::None;
        // Viewing (a finished run, or one followed read-only) stops nothing.
        if self.finished() || self.stopping() || self.viewing {
            self.quit = true;
            return None;
        }
        self.status.stop_sent_at = Some(self.status.elapsed);
        self.log(
            LogKind::Applied,
            "stop requested: waiting for the trainer to save…",
        );
        Some(Command::Stop)
    }
}

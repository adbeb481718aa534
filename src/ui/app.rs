//! The dashboard's state: a pure state machine with no I/O and no terminal. Trainer
//! events go in through [`App::on_event`], keys through [`App::on_key`] (which answers
//! with the [`Command`] to send, if any), time through [`App::on_tick`] and new versions
//! of the config file through [`App::on_config_file`]; file work it wants done comes out
//! of [`App::take_action`]. It is a router: each pane's state lives in
//! [`crate::ui::panes`], and each widget borrows only its own.

mod control;
mod cursor;
mod editing;

pub use cursor::Spot;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use crate::config::live::LiveSetting;
use crate::config::Config;
use crate::events::text::{done_text, started_text};
use crate::events::{
    saved_text, Change, Command, EpochSummary, Phase, Progress, RunSummary, SaveReason, TrainEvent,
};
use crate::startup::Startup;
use crate::train::Failure;
use crate::ui::editor::{Action, ConfigInUse, Editor};
use crate::ui::keys::{
    self, ConfirmAction, GlobalAction, BINDINGS, CONFIRM_BINDINGS, OTHER_RUNS_BINDINGS,
};
use crate::ui::panes::status::DISCONNECTED;
use crate::ui::panes::{
    Charts, ConfusionCursor, Features, Log, LogEntry, LogKind, Pane, PredictionsPane, RunStatus,
};
use crate::ui::theme::{ColorMode, Theme};

/// How long to wait for `Done` after sending `Stop` before quitting anyway.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Dashboard options, usually from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiOptions {
    /// Redraws per second at most (default 10; keys redraw at once, off the clock).
    pub fps: u32,
    /// Colour capability; `Auto` is resolved from the environment by
    /// the command that starts the dashboard (as `Ansi16` if it reaches [`App::new`] unresolved).
    pub color: ColorMode,
    /// How many predictions the grid shows at most (default 16).
    pub predictions: usize,
    /// Plain-character chart markers instead of Braille.
    pub ascii_charts: bool,
    /// Clicks and the wheel (the terminal is asked to report them).
    pub mouse: bool,
}

impl Default for UiOptions {
    fn default() -> Self {
        UiOptions {
            fps: 10,
            color: ColorMode::Auto,
            predictions: 16,
            ascii_charts: false,
            mouse: true,
        }
    }
}

impl UiOptions {
    /// Time between frames.
    pub fn frame_interval(&self) -> Duration {
        Duration::from_millis(1000 / u64::from(self.fps.clamp(1, 1000)))
    }
}

/// What is drawn over the panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    ConfirmQuit,
    /// The settings editor.
    Editor,
    /// The Runs pane: other runs to show on the charts.
    Runs,
}

/// The dashboard's state: one state per pane, the overlays and the focus. It routes
/// events and keys to the pane they concern.
#[derive(Debug)]
pub struct App {
    pub(crate) opts: UiOptions,
    pub(crate) theme: Theme,
    /// Phase, run info, progress, outcome and clock (header, footer, confusion matrix).
    pub(crate) status: RunStatus,
    pub(crate) charts: Charts,
    pub(crate) features: Features,
    pub(crate) predictions: PredictionsPane,
    pub(crate) confusion: ConfusionCursor,
    pub(crate) log: Log,
    /// The settings: in use, wanted and being edited.
    pub(crate) editor: Editor,
    pub(crate) focus: Pane,
    pub(crate) zoom: bool,
    pub(crate) overlay: Overlay,
    /// File work for the run loop ([`App::take_action`]).
    actions: VecDeque<Action>,
    start: Option<Instant>,
    quit: bool,
    /// Ctrl-C was pressed: the process exits as if interrupted (130), like SIGINT.
    interrupted: bool,
    dirty: bool,
    /// Viewing stored runs (`fashion-tui view`): no trainer, nothing to edit.
    viewing: bool,
    /// Whether to tell the terminal when the run ends (`ui.notify`).
    notify: bool,
    /// The notification waiting to be sent ([`App::take_notification`]).
    notification: Option<String>,
    /// When the process started, until the first frame has said how long that took.
    startup: Option<Startup>,
    /// The user left the run training (`d`): quit without stopping it.
    detached: bool,
    /// Added to the time since the first tick: the run's time before this dashboard.
    clock_shift: Duration,
}

impl App {
    pub fn new(opts: UiOptions) -> Self {
        App {
            opts,
            theme: Theme::new(opts.color),
            status: RunStatus::default(),
            charts: Charts::default(),
            features: Features::default(),
            predictions: PredictionsPane::new(opts.predictions),
            confusion: ConfusionCursor::default(),
            log: Log::default(),
            editor: Editor::new(ConfigInUse {
                path: None,
                save_path: crate::config::FILE_NAME.into(),
                config: Config::default(),
            }),
            focus: Pane::Loss,
            zoom: false,
            overlay: Overlay::None,
            actions: VecDeque::new(),
            start: None,
            quit: false,
            interrupted: false,
            dirty: true,
            viewing: false,
            notify: false,
            notification: None,
            startup: None,
            detached: false,
            clock_shift: Duration::ZERO,
        }
    }

    /// Log, once the first frame is drawn, how long the dashboard took to come up from
    /// the process's start (see [`App::on_frame_drawn`]).
    pub fn set_startup(&mut self, startup: Startup) {
        self.startup = Some(startup);
    }

    /// A frame has been drawn at `now`. After the first, when a start was set, the Log
    /// says how long the dashboard took to come up from the process's start, and when
    /// `main` began (short enough for the Log pane at 160×48):
    /// `dashboard up in 0.43 s (main at 0.18 s)`.
    pub fn on_frame_drawn(&mut self, now: Instant) {
        if let Some(s) = self.startup.take() {
            let up = now.saturating_duration_since(s.process).as_secs_f64();
            let before = s.before_main().as_secs_f64();
            self.log(
                LogKind::Info,
                format!("dashboard up in {up:.2} s (main at {before:.2} s)"),
            );
            self.dirty = true;
        }
    }

    /// Tell the terminal when the run ends (`ui.notify`; off unless set).
    pub fn set_notify(&mut self, on: bool) {
        self.notify = on;
    }

    /// The text to notify the terminal with, once, when the run has ended.
    pub fn take_notification(&mut self) -> Option<String> {
        self.notification.take()
    }

    fn notify_end(&mut self, text: String) {
        let first = self.status.done.is_none() && self.status.failure.is_none();
        if self.notify && first {
            self.notification = Some(text);
        }
    }

    /// Viewing stored runs: feature maps stay browsable after the end, and there are no
    /// settings to edit.
    pub fn set_viewing(&mut self) {
        self.viewing = true;
    }

    /// Another run to list in the Runs pane and, when `shown`, to draw on the charts.
    pub fn add_other_run(&mut self, other: crate::ui::panes::charts::OtherRun) {
        self.charts.others.push(other);
        self.dirty = true;
    }

    pub fn options(&self) -> &UiOptions {
        &self.opts
    }

    /// Tell the app which configuration the run uses and where it came from.
    pub fn set_config(&mut self, c: ConfigInUse) {
        self.editor = Editor::new(c);
        self.dirty = true;
    }

    /// The settings editor's state.
    pub fn editor(&self) -> &Editor {
        &self.editor
    }

    /// The next piece of file work to do, if any.
    pub fn take_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// See [`RunStatus::display_phase`].
    pub fn display_phase(&self) -> Phase {
        self.status.display_phase()
    }

    /// Training is over (successfully or not), or the trainer is gone.
    pub fn finished(&self) -> bool {
        self.status.finished()
    }

    /// `Stop` was sent and `Done` has not arrived yet.
    pub fn stopping(&self) -> bool {
        self.status.stopping()
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Ctrl-C ended the dashboard (in raw mode it arrives as a key, not as SIGINT): the
    /// process should exit as SIGINT would have it, with 130.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// How the trainer really ended, known once its thread is joined after the dashboard
    /// has quit. A quit that did not wait for `Done` (a second quit key while stopping,
    /// or the stop timeout) learns here what the trainer did, so that the summary line
    /// tells it; an outcome the app already saw is kept.
    pub fn on_outcome(&mut self, outcome: &Result<RunSummary, Failure>) {
        if self.status.done.is_some() || self.status.failure.is_some() {
            return;
        }
        match outcome {
            Ok(summary) => self.on_event(TrainEvent::Done(Box::new(summary.clone()))),
            Err(failure) => self.on_event(TrainEvent::Failed(failure.reason.clone())),
        }
    }

    /// Whether something changed since the last [`App::take_dirty`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Clear the redraw flag, returning what it was.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Ask for a redraw (e.g. after a terminal resize).
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Time since the first tick.
    pub fn elapsed(&self) -> Duration {
        self.status.elapsed
    }

    pub fn log_entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.log.entries.iter()
    }

    fn log(&mut self, kind: LogKind, text: impl Into<String>) {
        self.log.push(self.status.elapsed, kind, text);
    }

    /// Fold one trainer event into the state.
    pub fn on_event(&mut self, ev: TrainEvent) {
        self.dirty = true;
        match ev {
            TrainEvent::Message(m) => self.log(LogKind::Info, m),
            TrainEvent::Clock(t) => self.set_clock(t),
            TrainEvent::Device(d) => {
                if let Some(info) = &mut self.status.info {
                    info.device = d;
                }
            }
            TrainEvent::Phase(p) => self.status.on_phase(p),
            TrainEvent::Started(info) => {
                self.status.leave_loading();
                self.log(LogKind::Info, started_text(&info));
                self.status.info = Some(info);
            }
            TrainEvent::Progress(p) => self.on_progress(p),
            TrainEvent::EpochEnd(s) => self.on_epoch_end(s),
            TrainEvent::Tested(t) => {
                self.log(
                    LogKind::Epoch,
                    format!(
                        "epoch {:.2}  test acc {:.1}%  loss {:.3}",
                        t.at,
                        t.test_acc * 100.0,
                        t.test_loss
                    ),
                );
                self.charts.push_test(t.at, t.test_loss, t.test_acc * 100.0);
            }
            TrainEvent::Planned(plan) => {
                self.charts.run_end = Some(plan.epochs);
                self.status.plan = Some(plan);
            }
            TrainEvent::Predictions(p) => self.predictions.latest = Some(p),
            TrainEvent::TestImages(t) => self.predictions.images = Some(t),
            TrainEvent::FeatureMaps(f) => self.features.on_maps(f),
            TrainEvent::Applied(what) => self.log(LogKind::Applied, what),
            TrainEvent::Changed(c) => self.on_changed(c),
            TrainEvent::Saved { at, why } => {
                // Every epoch ends with one: only the others (asked for, or on the way out)
                // are worth a line; the Log's title shows the latest.
                if why != SaveReason::EpochEnd {
                    self.log(LogKind::Applied, saved_text(at));
                }
                self.log.last_saved = Some(at);
            }
            TrainEvent::Failed(reason) => {
                self.notify_end(format!("fashion-tui: training failed: {reason}"));
                self.status.phase = Phase::Failed;
                self.log(LogKind::Error, format!("FAILED: {reason}"));
                self.status.failure = Some(reason);
                if self.status.stop_sent_at.is_some() {
                    self.quit = true;
                }
            }
            TrainEvent::Done(summary) => {
                self.notify_end(format!("fashion-tui: {}", done_text(&summary)));
                self.status.phase = Phase::Done;
                self.status.pause_request = None;
                self.log(LogKind::Done, done_text(&summary));
                self.status.done = Some(summary);
                if self.status.stop_sent_at.is_some() {
                    self.quit = true;
                }
            }
        }
    }

    fn on_changed(&mut self, c: Change) {
        self.editor.on_changed(c.setting);
        let status = &mut self.status;
        if let (LiveSetting::Epochs(n), Some(info)) = (c.setting, &mut status.info) {
            let current = status.progress.as_ref().map_or(0, |p| p.epoch + 1);
            info.epochs = n.max(current);
        }
        self.charts
            .push_change(c.at_epoch, format!("{} {}", c.setting.name(), c.setting));
    }

    fn on_progress(&mut self, mut p: Progress) {
        self.charts.push_progress(&p);
        p.losses = Vec::new();
        self.status.leave_loading();
        self.status.progress = Some(p);
    }

    fn on_epoch_end(&mut self, s: Box<EpochSummary>) {
        self.confusion.on_matrix(&s.confusion);
        let acc = s.test_acc * 100.0;
        let delta = match self.charts.test_acc.last() {
            Some(&(_, prev)) => format!(" ({:+.1})", acc - prev),
            None => String::new(),
        };
        let val_acc = s.val_acc.map(|v| v * 100.0);
        let val = val_acc.map_or(String::new(), |v| format!("  val acc {v:.1}%"));
        self.log(
            LogKind::Epoch,
            format!(
                "epoch {}/{}  test acc {acc:.1}%{delta}  loss {:.3}{val}",
                s.epoch, s.epochs, s.test_loss
            ),
        );
        self.charts.push_epoch(s.epoch, s.test_loss, acc, val_acc);
        self.status.on_epoch(s);
    }

    /// The trainer's event channel closed. Without `Done`/`Failed` first, that is a failure.
    pub fn on_disconnect(&mut self) {
        if self.status.disconnected {
            return;
        }
        self.status.disconnected = true;
        self.dirty = true;
        if self.status.done.is_none() && self.status.failure.is_none() {
            self.status.phase = Phase::Failed;
            self.status.failure = Some(DISCONNECTED.to_string());
            self.log(LogKind::Error, format!("FAILED: {DISCONNECTED}"));
        }
        if self.status.stop_sent_at.is_some() {
            self.quit = true;
        }
    }

    /// The run's clock says `t` seconds: the dashboard's runs on from there (a dashboard
    /// that attached late shows the run's time, and dates the Log by it).
    fn set_clock(&mut self, t: f64) {
        let t = Duration::try_from_secs_f64(t).unwrap_or_default();
        let local = self.status.elapsed.saturating_sub(self.clock_shift);
        self.clock_shift = t.saturating_sub(local);
        self.status.elapsed = local + self.clock_shift;
    }

    /// Advance the dashboard clock (the first tick sets time zero, or the run's clock).
    pub fn on_tick(&mut self, now: Instant) {
        let start = *self.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start) + self.clock_shift;
        if elapsed.as_secs() != self.status.elapsed.as_secs() {
            self.dirty = true;
        }
        self.status.elapsed = elapsed;
        if let Some(sent) = self.status.stop_sent_at {
            if !self.quit && elapsed.saturating_sub(sent) >= STOP_TIMEOUT {
                self.log(
                    LogKind::Error,
                    "the trainer did not confirm the stop; quitting",
                );
                self.quit = true;
                self.dirty = true;
            }
        }
    }

    /// Handle a key; returns the command to send to the trainer, if any.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.kind != KeyEventKind::Press {
            return None;
        }
        self.dirty = true;
        let global = keys::action(BINDINGS, &key).or_else(|| {
            let runs = !self.charts.others.is_empty();
            runs.then(|| keys::action(OTHER_RUNS_BINDINGS, &key))
                .flatten()
        });
        if global == Some(GlobalAction::Interrupt) {
            return self.ctrl_c();
        }
        match self.overlay {
            Overlay::ConfirmQuit => {
                let answer = keys::action(CONFIRM_BINDINGS, &key)?;
                self.overlay = Overlay::None;
                return match answer {
                    ConfirmAction::Yes => self.interrupt(),
                    ConfirmAction::No => None,
                    ConfirmAction::Detach => self.detach(),
                };
            }
            Overlay::Help => {
                if matches!(global, Some(GlobalAction::Help | GlobalAction::Quit)) {
                    self.overlay = Overlay::None;
                }
                return None;
            }
            Overlay::Editor => return self.editor_key(key),
            Overlay::Runs => {
                self.runs_key(key);
                return None;
            }
            Overlay::None => {}
        }
        if let Some(answer) = self.cursor_key(&key) {
            return answer;
        }
        match global? {
            GlobalAction::TogglePause => return self.toggle_pause(),
            GlobalAction::Quit if self.finished() || self.stopping() || self.viewing => {
                self.quit = true;
            }
            GlobalAction::Quit => self.overlay = Overlay::ConfirmQuit,
            GlobalAction::Interrupt => return self.ctrl_c(),
            GlobalAction::Help => self.overlay = Overlay::Help,
            GlobalAction::NextPane => self.focus = self.focus.next(),
            GlobalAction::PrevPane => self.focus = self.focus.prev(),
            GlobalAction::FocusPane => {
                if let KeyCode::Char(c) = key.code {
                    self.focus = Pane::from_digit(c).unwrap_or(self.focus);
                }
            }
            GlobalAction::Zoom => self.zoom = !self.zoom,
            GlobalAction::Checkpoint
                if !self.finished() && !self.viewing && self.status.info.is_some() =>
            {
                self.log(LogKind::Applied, "checkpoint requested");
                return Some(Command::Checkpoint);
            }
            GlobalAction::Checkpoint => {}
            GlobalAction::StepSample => return self.step_features(&key, false),
            GlobalAction::StepLayer => return self.step_features(&key, true),
            GlobalAction::ZoomCharts => self.zoom_charts(&key),
            GlobalAction::LogLoss => self.charts.view.log_loss = !self.charts.view.log_loss,
            GlobalAction::TogglePredictions => self.predictions.toggle_mode(),
            GlobalAction::Edit if !self.viewing => self.overlay = Overlay::Editor,
            GlobalAction::Edit => {}
            GlobalAction::Runs if !self.charts.others.is_empty() => self.overlay = Overlay::Runs,
            GlobalAction::Runs => {}
            GlobalAction::Report if !self.viewing => self.write_report(),
            GlobalAction::Report => self.log_read_only_report(),
            GlobalAction::Detach => return self.detach(),
        }
        None
    }

    /// The test index the feature-map pane shows or is about to show.
    pub fn current_sample(&self) -> usize {
        self.features.current_sample()
    }

    fn step_sample(&mut self, delta: i64) -> Option<Command> {
        if self.finished() && !self.viewing {
            return None;
        }
        let n = self.status.info.as_ref().map_or(0, |i| i.test_images);
        let index = self.features.step_sample(delta, n)?;
        Some(Command::FeatureMaps { index })
    }

    /// See [`RunStatus::summary_line`].
    pub fn summary_line(&self) -> Option<String> {
        self.status.summary_line()
    }
}

//! The dashboard's state: a pure state machine with no I/O and no terminal. Trainer
//! events go in through [`App::on_event`], keys through [`App::on_key`] (which answers
//! with the [`Command`] to send, if any), time through [`App::on_tick`] and new versions
//! of the config file through [`App::on_config_file`]; file work it wants done comes out
//! of [`App::take_action`]. The widgets borrow from it to draw.

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::params::{self, LiveSetting};
use crate::config::{Config, ConfigError};
use crate::duration;
use crate::train::events::{
    saved_text, Change, Command, EpochSummary, FeatureMaps, Phase, Predictions, Progress, RunInfo,
    RunSummary, SaveReason, TrainEvent,
};
use crate::ui::editor::{Action, Commit, ConfigInUse, Editor, Tone};
use crate::ui::history::Series;
use crate::ui::keys::{
    self, KeyAction, BINDINGS, CONFIRM_BINDINGS, EDITOR_BINDINGS, FIELD_BINDINGS,
};
use crate::ui::theme::{ColorMode, Theme};

/// Points kept per chart series (see [`Series`]).
pub const SERIES_CAP: usize = 2048;
/// Log entries kept.
pub const LOG_CAP: usize = 1000;
/// How long to wait for `Done` after sending `Stop` before quitting anyway.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Weight of the newest loss in the smoothed (EMA) loss curve.
pub const EMA_ALPHA: f64 = 0.02;
/// Accuracy of the reference Keras tutorial, drawn as a line on the accuracy chart (%).
pub const REFERENCE_ACC: f64 = 90.0;
/// Setting changes marked on the loss chart, at most.
pub const CHANGES_CAP: usize = 64;
/// Shown when the trainer's channels close without `Done` or `Failed`.
pub const DISCONNECTED: &str = "trainer thread ended unexpectedly";

/// Dashboard options, usually from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiOptions {
    /// Redraws per second at most (default 10; keys redraw at once, off the clock).
    pub fps: u32,
    /// Colour capability; `Auto` is resolved from the environment by
    /// [`crate::ui::run::run_terminal`] (as `Ansi16` if it reaches [`App::new`] unresolved).
    pub color: ColorMode,
    /// How many predictions the grid shows at most (default 16).
    pub predictions: usize,
    /// Plain-character chart markers instead of Braille.
    pub ascii_charts: bool,
}

impl Default for UiOptions {
    fn default() -> Self {
        UiOptions {
            fps: 10,
            color: ColorMode::Auto,
            predictions: 16,
            ascii_charts: false,
        }
    }
}

impl UiOptions {
    /// Time between frames.
    pub fn frame_interval(&self) -> Duration {
        Duration::from_millis(1000 / u64::from(self.fps.clamp(1, 1000)))
    }
}

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

/// What is drawn over the panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    ConfirmQuit,
    /// The settings editor.
    Editor,
}

/// Which predictions the grid shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionsMode {
    /// The fixed random sample.
    Sample,
    /// The most confident mistakes.
    Mistakes,
}

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

/// Chart histories, bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct Charts {
    /// Per-batch training loss (downsampled).
    pub loss_raw: Series,
    /// Exponential moving average of the per-batch loss.
    pub loss_ema: Series,
    ema: Option<f64>,
    /// Running training accuracy (%) over fractional epochs.
    pub train_acc: Series,
    /// (epoch, test loss) per finished epoch.
    pub test_loss: Vec<(f64, f64)>,
    /// (epoch, test accuracy %) per finished epoch.
    pub test_acc: Vec<(f64, f64)>,
    /// Live setting changes: (fractional epoch, e.g. `lr 0.0005`), the newest last.
    pub changes: Vec<(f64, String)>,
}

impl Default for Charts {
    fn default() -> Self {
        Charts {
            loss_raw: Series::new(SERIES_CAP),
            loss_ema: Series::new(SERIES_CAP),
            ema: None,
            train_acc: Series::new(SERIES_CAP),
            test_loss: Vec::new(),
            test_acc: Vec::new(),
            changes: Vec::new(),
        }
    }
}

impl Charts {
    fn push_progress(&mut self, p: &Progress) {
        for &(x, loss) in &p.losses {
            let y = f64::from(loss);
            if !y.is_finite() {
                continue;
            }
            self.loss_raw.push(x, y);
            let ema = match self.ema {
                Some(e) => e + EMA_ALPHA * (y - e),
                None => y,
            };
            self.ema = Some(ema);
            self.loss_ema.push(x, ema);
        }
        if p.batches > 0 && p.batch > 0 {
            let x = p.epoch as f64 + p.batch as f64 / p.batches as f64;
            self.train_acc.push(x, p.train_acc * 100.0);
        }
    }

    /// The right end of the charts' x axis: the epoch in progress rounded up to a whole
    /// epoch, so the curves use the width early on and the axis ends at the run's epochs.
    pub fn x_max(&self) -> f64 {
        let data = [
            self.loss_raw.points().last().map(|p| p.0),
            self.train_acc.points().last().map(|p| p.0),
            self.test_loss.last().map(|p| p.0),
        ];
        let data_max = data.into_iter().flatten().fold(0.0, f64::max);
        data_max.ceil().max(1.0)
    }
}

/// The dashboard's state.
#[derive(Debug)]
pub struct App {
    pub(crate) opts: UiOptions,
    pub(crate) theme: Theme,
    /// The phase the trainer last reported.
    pub(crate) phase: Phase,
    /// A pause (`true`) or resume (`false`) sent but not yet confirmed by a `Phase` event.
    pub(crate) pause_request: Option<bool>,
    pub(crate) info: Option<Box<RunInfo>>,
    /// The latest progress scalars (its `losses` are moved into the charts).
    pub(crate) progress: Option<Progress>,
    pub(crate) charts: Charts,
    pub(crate) last_epoch: Option<Box<EpochSummary>>,
    /// Where the latest checkpoint was saved (fractional epochs), shown in the Log's title.
    pub(crate) last_saved: Option<f64>,
    pub(crate) predictions: Option<Box<Predictions>>,
    pub(crate) predictions_mode: PredictionsMode,
    pub(crate) features: Option<Box<FeatureMaps>>,
    /// A test index asked for with `Command::FeatureMaps` and not answered yet.
    pub(crate) requested_sample: Option<usize>,
    /// Selected conv layer in the feature-map pane.
    pub(crate) layer: usize,
    pub(crate) log: VecDeque<LogEntry>,
    pub(crate) focus: Pane,
    pub(crate) zoom: bool,
    pub(crate) overlay: Overlay,
    pub(crate) done: Option<Box<RunSummary>>,
    pub(crate) failure: Option<String>,
    /// When `Stop` was sent (dashboard time).
    pub(crate) stop_sent_at: Option<Duration>,
    pub(crate) disconnected: bool,
    /// The settings: in use, wanted and being edited.
    pub(crate) editor: Editor,
    /// File work for the run loop ([`App::take_action`]).
    actions: VecDeque<Action>,
    start: Option<Instant>,
    pub(crate) elapsed: Duration,
    quit: bool,
    dirty: bool,
}

impl App {
    pub fn new(opts: UiOptions) -> Self {
        App {
            opts,
            theme: Theme::new(opts.color),
            phase: Phase::Loading,
            pause_request: None,
            info: None,
            progress: None,
            charts: Charts::default(),
            last_epoch: None,
            last_saved: None,
            predictions: None,
            predictions_mode: PredictionsMode::Sample,
            features: None,
            requested_sample: None,
            layer: 0,
            log: VecDeque::new(),
            focus: Pane::Loss,
            zoom: false,
            overlay: Overlay::None,
            done: None,
            failure: None,
            stop_sent_at: None,
            disconnected: false,
            editor: Editor::new(ConfigInUse {
                path: None,
                save_path: crate::config::FILE_NAME.into(),
                config: Config::default(),
            }),
            actions: VecDeque::new(),
            start: None,
            elapsed: Duration::ZERO,
            quit: false,
            dirty: true,
        }
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

    /// The outcome of an [`Action::Save`].
    pub fn on_saved(&mut self, path: &Path, result: Result<(), String>) {
        let (tone, line) = self.editor.on_saved(path, result);
        let kind = if tone == Tone::Bad {
            LogKind::Error
        } else {
            LogKind::Applied
        };
        self.log(kind, line);
        self.dirty = true;
    }

    /// A live setting can still reach the trainer.
    fn trainer_running(&self) -> bool {
        !self.finished() && !self.stopping()
    }

    /// A new version of the config file in use (flags re-applied, validated) or why it
    /// cannot be used. Returns the live changes to send; the rest is listed as pending
    /// for the next run. An invalid file changes nothing.
    pub fn on_config_file(&mut self, result: Result<Config, ConfigError>) -> Vec<Command> {
        self.dirty = true;
        let had_edits = !self.editor.unsaved.is_empty();
        let before = self.editor.wanted.clone();
        let running = self.trainer_running();
        let plan = match self.editor.on_reload(result, running) {
            Ok(plan) => plan,
            Err(e) => {
                self.log(
                    LogKind::Error,
                    format!("config file not applied: {e}; keeping the current values"),
                );
                return Vec::new();
            }
        };
        let changed = params::plan(&before, &self.editor.wanted, false).next_run;
        let mut line = "config file reloaded".to_string();
        if had_edits {
            line.push_str(" (replacing the unsaved edits)");
        }
        if changed.is_empty() {
            line.push_str(": no setting changed");
        } else {
            let items: Vec<String> = changed
                .iter()
                .map(|(k, from, to)| format!("{k} {from} → {to}"))
                .collect();
            line.push_str(&format!(": {}", items.join(", ")));
        }
        self.log(LogKind::Applied, line);
        if !plan.live.is_empty() {
            let live: Vec<String> = plan
                .live
                .iter()
                .map(|s| format!("{} {s}", s.name()))
                .collect();
            self.log(
                LogKind::Applied,
                format!("applying live: {}", live.join(", ")),
            );
        }
        let pending = self.editor.pending(running);
        if !pending.is_empty() {
            let items: Vec<String> = pending
                .iter()
                .map(|(k, from, to)| format!("{k} {from} → {to}"))
                .collect();
            self.log(
                LogKind::Info,
                format!("pending for the next run: {}", items.join(", ")),
            );
        }
        plan.live.into_iter().map(Command::Set).collect()
    }

    /// The phase to show: the trainer's, overridden at once by a pending pause/resume and
    /// by a final outcome.
    pub fn display_phase(&self) -> Phase {
        if self.failure.is_some() {
            return Phase::Failed;
        }
        if self.done.is_some() {
            return Phase::Done;
        }
        match (self.pause_request, self.phase) {
            (Some(true), _) => Phase::Paused,
            (Some(false), Phase::Paused) => Phase::Training,
            (_, p) => p,
        }
    }

    /// Training is over (successfully or not), or the trainer is gone.
    pub fn finished(&self) -> bool {
        self.done.is_some() || self.failure.is_some() || self.disconnected
    }

    /// `Stop` was sent and `Done` has not arrived yet.
    pub fn stopping(&self) -> bool {
        self.stop_sent_at.is_some() && !self.finished()
    }

    pub fn should_quit(&self) -> bool {
        self.quit
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
        self.elapsed
    }

    pub fn log_entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.log.iter()
    }

    fn log(&mut self, kind: LogKind, text: impl Into<String>) {
        if self.log.len() >= LOG_CAP {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry {
            at: self.elapsed,
            kind,
            text: text.into(),
        });
    }

    /// Fold one trainer event into the state.
    pub fn on_event(&mut self, ev: TrainEvent) {
        self.dirty = true;
        match ev {
            TrainEvent::Message(m) => self.log(LogKind::Info, m),
            TrainEvent::Phase(p) => {
                self.phase = p;
                match (self.pause_request, p) {
                    (Some(true), Phase::Paused) => self.pause_request = None,
                    (Some(false), p) if p != Phase::Paused => self.pause_request = None,
                    _ => {}
                }
            }
            TrainEvent::Started(info) => {
                if self.phase == Phase::Loading {
                    self.phase = Phase::Training;
                }
                self.log(
                    LogKind::Info,
                    format!(
                        "started {} ({} parameters) on {}: {} epochs × {} batches of {}, \
                         {} train / {} test images from {} in {:.1}s, lr {}, seed {}",
                        info.model,
                        group_thousands(info.parameters as u64),
                        info.device,
                        info.epochs,
                        info.batches_per_epoch,
                        info.batch_size,
                        group_thousands(info.train_images as u64),
                        group_thousands(info.test_images as u64),
                        info.data_source,
                        info.data_load_secs,
                        fmt_lr(info.lr),
                        info.seed,
                    ),
                );
                self.info = Some(info);
            }
            TrainEvent::Progress(p) => self.on_progress(p),
            TrainEvent::EpochEnd(s) => self.on_epoch_end(s),
            TrainEvent::Predictions(p) => self.predictions = Some(p),
            TrainEvent::FeatureMaps(f) => {
                if self.requested_sample == Some(f.index) {
                    self.requested_sample = None;
                }
                self.layer = self.layer.min(f.layers.len().saturating_sub(1));
                self.features = Some(f);
            }
            TrainEvent::Applied(what) => self.log(LogKind::Applied, what),
            TrainEvent::Changed(c) => self.on_changed(c),
            TrainEvent::Saved { at, why } => {
                // Every epoch ends with one: only the others (asked for, or on the way out)
                // are worth a line; the Log's title shows the latest.
                if why != SaveReason::EpochEnd {
                    self.log(LogKind::Applied, saved_text(at));
                }
                self.last_saved = Some(at);
            }
            TrainEvent::Failed(reason) => {
                self.phase = Phase::Failed;
                self.log(LogKind::Error, format!("FAILED: {reason}"));
                self.failure = Some(reason);
                if self.stop_sent_at.is_some() {
                    self.quit = true;
                }
            }
            TrainEvent::Done(summary) => {
                self.phase = Phase::Done;
                self.pause_request = None;
                self.log(LogKind::Done, done_text(&summary));
                self.done = Some(summary);
                if self.stop_sent_at.is_some() {
                    self.quit = true;
                }
            }
        }
    }

    fn on_changed(&mut self, c: Change) {
        self.editor.on_changed(c.setting);
        if let (LiveSetting::Epochs(n), Some(info)) = (c.setting, &mut self.info) {
            let current = self.progress.as_ref().map_or(0, |p| p.epoch + 1);
            info.epochs = n.max(current);
        }
        if self.charts.changes.len() >= CHANGES_CAP {
            self.charts.changes.remove(0);
        }
        self.charts
            .changes
            .push((c.at_epoch, format!("{} {}", c.setting.name(), c.setting)));
    }

    fn on_progress(&mut self, mut p: Progress) {
        self.charts.push_progress(&p);
        p.losses = Vec::new();
        if matches!(self.phase, Phase::Loading) {
            self.phase = Phase::Training;
        }
        self.progress = Some(p);
    }

    fn on_epoch_end(&mut self, s: Box<EpochSummary>) {
        let acc = s.test_acc * 100.0;
        let delta = match self.charts.test_acc.last() {
            Some(&(_, prev)) => format!(" ({:+.1})", acc - prev),
            None => String::new(),
        };
        self.log(
            LogKind::Epoch,
            format!(
                "epoch {}/{}  test acc {acc:.1}%{delta}  loss {:.3}",
                s.epoch, s.epochs, s.test_loss
            ),
        );
        let x = s.epoch as f64;
        self.charts.test_loss.push((x, s.test_loss));
        self.charts.test_acc.push((x, acc));
        self.last_epoch = Some(s);
    }

    /// The trainer's event channel closed. Without `Done`/`Failed` first, that is a failure.
    pub fn on_disconnect(&mut self) {
        if self.disconnected {
            return;
        }
        self.disconnected = true;
        self.dirty = true;
        if self.done.is_none() && self.failure.is_none() {
            self.phase = Phase::Failed;
            self.failure = Some(DISCONNECTED.to_string());
            self.log(LogKind::Error, format!("FAILED: {DISCONNECTED}"));
        }
        if self.stop_sent_at.is_some() {
            self.quit = true;
        }
    }

    /// Advance the dashboard clock (the first tick sets time zero).
    pub fn on_tick(&mut self, now: Instant) {
        let start = *self.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed.as_secs() != self.elapsed.as_secs() {
            self.dirty = true;
        }
        self.elapsed = elapsed;
        if let Some(sent) = self.stop_sent_at {
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
        let global = keys::lookup(BINDINGS, &key).map(|b| b.action);
        if global == Some(KeyAction::Interrupt) {
            return self.interrupt();
        }
        match self.overlay {
            Overlay::ConfirmQuit => {
                return match keys::lookup(CONFIRM_BINDINGS, &key).map(|b| b.action) {
                    Some(KeyAction::ConfirmYes) => {
                        self.overlay = Overlay::None;
                        self.interrupt()
                    }
                    Some(KeyAction::ConfirmNo) => {
                        self.overlay = Overlay::None;
                        None
                    }
                    _ => None,
                };
            }
            Overlay::Help => {
                if matches!(global, Some(KeyAction::Help | KeyAction::Quit)) {
                    self.overlay = Overlay::None;
                }
                return None;
            }
            Overlay::Editor => return self.editor_key(key),
            Overlay::None => {}
        }
        match global? {
            KeyAction::TogglePause => self.toggle_pause(),
            KeyAction::Quit => {
                if self.finished() || self.stopping() {
                    self.quit = true;
                } else {
                    self.overlay = Overlay::ConfirmQuit;
                }
                None
            }
            KeyAction::Interrupt => self.interrupt(),
            KeyAction::Help => {
                self.overlay = Overlay::Help;
                None
            }
            KeyAction::NextPane => {
                self.focus = self.focus.next();
                None
            }
            KeyAction::PrevPane => {
                self.focus = self.focus.prev();
                None
            }
            KeyAction::FocusPane => {
                if let KeyCode::Char(c) = key.code {
                    if let Some(p) = Pane::from_digit(c) {
                        self.focus = p;
                    }
                }
                None
            }
            KeyAction::Zoom => {
                self.zoom = !self.zoom;
                None
            }
            KeyAction::Checkpoint if !self.finished() && self.info.is_some() => {
                self.log(LogKind::Applied, "checkpoint requested");
                Some(Command::Checkpoint)
            }
            KeyAction::Checkpoint => None,
            KeyAction::PrevSample => self.step_sample(-1),
            KeyAction::NextSample => self.step_sample(1),
            KeyAction::PrevLayer => {
                self.step_layer(-1);
                None
            }
            KeyAction::NextLayer => {
                self.step_layer(1);
                None
            }
            KeyAction::TogglePredictions => {
                self.predictions_mode = match self.predictions_mode {
                    PredictionsMode::Sample => PredictionsMode::Mistakes,
                    PredictionsMode::Mistakes => PredictionsMode::Sample,
                };
                None
            }
            KeyAction::Edit => {
                self.overlay = Overlay::Editor;
                None
            }
            // Keys of the other tables.
            KeyAction::ConfirmYes
            | KeyAction::ConfirmNo
            | KeyAction::EditorUp
            | KeyAction::EditorDown
            | KeyAction::EditorEdit
            | KeyAction::EditorSave
            | KeyAction::EditorClose
            | KeyAction::FieldApply
            | KeyAction::FieldCancel
            | KeyAction::FieldDelete
            | KeyAction::FieldClear => None,
        }
    }

    /// A key while the editor is open: to its text field when one is open, else to its
    /// table ([`EDITOR_BINDINGS`]).
    fn editor_key(&mut self, key: KeyEvent) -> Option<Command> {
        let ed = &mut self.editor;
        if ed.field.is_some() {
            match keys::lookup(FIELD_BINDINGS, &key).map(|b| b.action) {
                Some(KeyAction::FieldApply) => return self.commit_field(),
                Some(KeyAction::FieldCancel) => ed.cancel(),
                Some(KeyAction::FieldDelete) => ed.delete(),
                Some(KeyAction::FieldClear) => ed.clear(),
                _ => {
                    let plain = !key
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
                    if let (KeyCode::Char(c), true) = (key.code, plain) {
                        ed.type_char(c);
                    }
                }
            }
            return None;
        }
        match keys::lookup(EDITOR_BINDINGS, &key).map(|b| b.action) {
            Some(KeyAction::EditorUp) => ed.move_by(-1),
            Some(KeyAction::EditorDown) => ed.move_by(1),
            Some(KeyAction::EditorEdit) => ed.begin(),
            Some(KeyAction::EditorSave) => {
                if let Some(action) = ed.save() {
                    self.actions.push_back(action);
                }
            }
            Some(KeyAction::EditorClose) => self.overlay = Overlay::None,
            _ => {}
        }
        None
    }

    fn commit_field(&mut self) -> Option<Command> {
        let running = self.trainer_running();
        let key = self.editor.param().key;
        match self.editor.commit(running) {
            Commit::Live(s) => {
                self.log(LogKind::Applied, format!("{key} = {s} requested"));
                Some(Command::Set(s))
            }
            Commit::NextRun => {
                let value = params::value_text(&self.editor.wanted, key);
                self.log(
                    LogKind::Info,
                    format!("{key} = {value} is pending for the next run"),
                );
                None
            }
            Commit::Refused | Commit::Unchanged => None,
        }
    }

    fn toggle_pause(&mut self) -> Option<Command> {
        let can = matches!(
            self.phase,
            Phase::Training | Phase::Paused | Phase::Evaluating
        );
        if !can || self.finished() || self.stopping() {
            return None;
        }
        if self.display_phase() == Phase::Paused {
            self.pause_request = Some(false);
            self.log(LogKind::Applied, "resume requested");
            Some(Command::Resume)
        } else {
            self.pause_request = Some(true);
            self.log(LogKind::Applied, "pause requested");
            Some(Command::Pause)
        }
    }

    /// Stop and quit: quit at once if training is over (or a stop is already pending),
    /// otherwise send `Stop` and wait for `Done` (see [`STOP_TIMEOUT`]).
    fn interrupt(&mut self) -> Option<Command> {
        self.overlay = Overlay::None;
        if self.finished() || self.stopping() {
            self.quit = true;
            return None;
        }
        self.stop_sent_at = Some(self.elapsed);
        self.log(
            LogKind::Applied,
            "stop requested: waiting for the trainer to save…",
        );
        Some(Command::Stop)
    }

    /// The test index the feature-map pane shows or is about to show.
    pub fn current_sample(&self) -> usize {
        self.requested_sample
            .or(self.features.as_ref().map(|f| f.index))
            .unwrap_or(0)
    }

    fn step_sample(&mut self, delta: i64) -> Option<Command> {
        let n = self.info.as_ref().map_or(0, |i| i.test_images);
        if n == 0 || self.finished() {
            return None;
        }
        let n = n as i64;
        let index = (self.current_sample() as i64 + delta).rem_euclid(n) as usize;
        self.requested_sample = Some(index);
        Some(Command::FeatureMaps { index })
    }

    fn step_layer(&mut self, delta: i64) {
        let n = self.features.as_ref().map_or(0, |f| f.layers.len()) as i64;
        if n > 0 {
            self.layer = (self.layer as i64 + delta).rem_euclid(n) as usize;
        }
    }

    /// One line for after the terminal is restored, e.g.
    /// `fashion-tui: 10 epochs, test accuracy 90.8%, model saved to /runs/x/model.safetensors`.
    pub fn summary_line(&self) -> Option<String> {
        if let Some(reason) = &self.failure {
            return Some(format!("fashion-tui: training failed: {reason}"));
        }
        if let Some(s) = &self.done {
            let mut line = format!(
                "fashion-tui: {} epoch{}",
                s.epochs_completed,
                if s.epochs_completed == 1 { "" } else { "s" }
            );
            if s.stopped_early {
                line.push_str(" (stopped early)");
            }
            if let Some(acc) = s.test_acc {
                line.push_str(&format!(", test accuracy {:.1}%", acc * 100.0));
            }
            match &s.model_path {
                Some(p) => line.push_str(&format!(", model saved to {}", p.display())),
                None => line.push_str(", no model saved"),
            }
            return Some(line);
        }
        self.last_epoch.as_ref().map(|e| {
            format!(
                "fashion-tui: quit after {} epoch{}, test accuracy {:.1}% (the trainer did not confirm saving)",
                e.epoch,
                if e.epoch == 1 { "" } else { "s" },
                e.test_acc * 100.0
            )
        })
    }
}

fn done_text(s: &RunSummary) -> String {
    let mut t = format!(
        "{} after {} epoch{} in {}",
        if s.stopped_early { "stopped" } else { "done" },
        s.epochs_completed,
        if s.epochs_completed == 1 { "" } else { "s" },
        duration::clock(Duration::from_secs_f64(s.seconds.max(0.0))),
    );
    if let Some(acc) = s.test_acc {
        t.push_str(&format!(", test acc {:.1}%", acc * 100.0));
    }
    match &s.model_path {
        Some(p) => t.push_str(&format!(", model saved to {}", p.display())),
        None => t.push_str(", no model saved"),
    }
    t
}

/// `1e-3`, `2.5e-4`, `0.1`.
pub fn fmt_lr(lr: f64) -> String {
    if lr == 0.0 || !lr.is_finite() {
        return format!("{lr}");
    }
    if (1e-2..10.0).contains(&lr.abs()) {
        return format!("{}", (lr * 1e4).round() / 1e4);
    }
    let s = format!("{lr:.1e}");
    s.replace(".0e", "e")
}

/// `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_lr(1e-3), "1e-3");
        assert_eq!(fmt_lr(2.5e-4), "2.5e-4");
        assert_eq!(fmt_lr(0.01), "0.01");
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(group_thousands(999), "999");
    }

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

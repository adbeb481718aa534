//! The settings editor behind `e`, as pure state. It lists every setting
//! ([`PARAMS`]) with the value wanted and whether a change applies live or on the next
//! run, edits one in a text field validated as you type ([`params::with_text`]: the same
//! schema and [`Config::validate`] as files), and keeps apart what the trainer runs with,
//! what the file, the flags and the edits want, and which edits are not saved yet.
//! File work is asked of the run loop as an [`Action`].

use std::path::{Path, PathBuf};

use crate::config::live::{self, LiveSetting, Plan};
use crate::config::params::{Apply, Param, PARAMS};
use crate::config::text;
use crate::config::Config;
use crate::error::UsageError;

/// The configuration the dashboard starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigInUse {
    /// The file it came from; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
    /// Where saving writes: the file in use, else where a new one goes.
    pub save_path: PathBuf,
    /// The effective configuration (defaults ◀ file ◀ flags) the run starts with.
    pub config: Config,
}

/// Work the run loop does for the app, which never touches files itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write `keys` of `config` into the file at `path` and report with
    /// [`crate::ui::App::on_saved`].
    Save {
        path: PathBuf,
        config: Config,
        keys: Vec<&'static str>,
    },
}

/// The value being typed, and why it cannot be used if it cannot.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub text: String,
    pub error: Option<String>,
}

/// How a status line reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

/// What applying the field did.
#[derive(Debug, Clone, PartialEq)]
pub enum Commit {
    /// Invalid: the reason is in the field and the old value stays.
    Refused,
    Unchanged,
    /// To send to the trainer.
    Live(LiveSetting),
    /// Waits for the next run.
    NextRun,
}

/// One row as the overlay shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub param: &'static Param,
    /// The wanted value.
    pub value: String,
    /// The value the run uses, when it differs from the wanted one.
    pub running: Option<String>,
    pub unsaved: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Editor {
    /// The config file in use; `None` while the built-in defaults are.
    pub path: Option<PathBuf>,
    pub save_path: PathBuf,
    /// What the trainer uses: the run's start plus the live changes it confirmed.
    pub running: Config,
    /// What the file, the flags and the edits want (the next run's settings).
    pub wanted: Config,
    /// Keys edited since the last save or reload.
    pub unsaved: Vec<&'static str>,
    /// Why the file on disk cannot be used, until it can again.
    pub reload_error: Option<String>,
    pub selected: usize,
    pub field: Option<Field>,
    pub status: Option<(Tone, String)>,
}

impl Editor {
    pub fn new(c: ConfigInUse) -> Self {
        Editor {
            path: c.path,
            save_path: c.save_path,
            running: c.config.clone(),
            wanted: c.config,
            unsaved: Vec::new(),
            reload_error: None,
            selected: 0,
            field: None,
            status: None,
        }
    }

    pub fn param(&self) -> &'static Param {
        &PARAMS[self.selected.min(PARAMS.len() - 1)]
    }

    pub fn rows(&self) -> impl Iterator<Item = Row> + '_ {
        PARAMS.iter().map(|p| {
            let value = text::value_text(&self.wanted, p.key);
            let running = text::value_text(&self.running, p.key);
            Row {
                param: p,
                running: (running != value).then_some(running),
                value,
                unsaved: self.unsaved.contains(&p.key),
            }
        })
    }

    /// `(key, running value, wanted value)` of what waits for the next run (live
    /// settings too once the trainer is no longer running).
    pub fn pending(&self, trainer_running: bool) -> Vec<(&'static str, String, String)> {
        live::plan(&self.running, &self.wanted, trainer_running).next_run
    }

    pub fn move_by(&mut self, delta: i64) {
        let n = PARAMS.len() as i64;
        self.selected = (self.selected as i64 + delta).rem_euclid(n) as usize;
    }

    /// Open the text field on the selected setting's value.
    pub fn begin(&mut self) {
        self.field = Some(Field {
            text: text::value_text(&self.wanted, self.param().key),
            error: None,
        });
        self.status = None;
    }

    pub fn cancel(&mut self) {
        self.field = None;
        self.status = Some((Tone::Info, "cancelled: the value is unchanged".into()));
    }

    pub fn type_char(&mut self, c: char) {
        if let Some(f) = &mut self.field {
            f.text.push(c);
        }
        self.revalidate();
    }

    pub fn delete(&mut self) {
        if let Some(f) = &mut self.field {
            f.text.pop();
        }
        self.revalidate();
    }

    pub fn clear(&mut self) {
        if let Some(f) = &mut self.field {
            f.text.clear();
        }
        self.revalidate();
    }

    fn revalidate(&mut self) {
        let key = self.param().key;
        if let Some(f) = &mut self.field {
            f.error = text::with_text(&self.wanted, key, &f.text)
                .err()
                .map(|e| e.0);
        }
    }

    /// Use the field's value if it is valid; `trainer_running` says whether a live
    /// setting can still reach the trainer.
    pub fn commit(&mut self, trainer_running: bool) -> Commit {
        let p = self.param();
        let Some(field) = &mut self.field else {
            return Commit::Unchanged;
        };
        let new = match text::with_text(&self.wanted, p.key, &field.text) {
            Ok(new) => new,
            Err(e) => {
                field.error = Some(e.0.clone());
                self.status = Some((Tone::Bad, format!("refused: {}", e.0)));
                return Commit::Refused;
            }
        };
        self.field = None;
        let text = text::value_text(&new, p.key);
        if text == text::value_text(&self.wanted, p.key) {
            self.status = Some((Tone::Info, format!("{} unchanged", p.key)));
            return Commit::Unchanged;
        }
        self.wanted = new;
        if !self.unsaved.contains(&p.key) {
            self.unsaved.push(p.key);
        }
        match LiveSetting::from_config(p.key, &self.wanted) {
            Some(s) if p.apply == Apply::Live && trainer_running => {
                self.status = Some((
                    Tone::Good,
                    format!("{} = {text}: sent, applies at the next batch", p.key),
                ));
                Commit::Live(s)
            }
            _ => {
                self.status = Some((Tone::Info, format!("{} = {text}: for the next run", p.key)));
                Commit::NextRun
            }
        }
    }

    /// The save to ask of the run loop, if anything is unsaved.
    pub fn save(&mut self) -> Option<Action> {
        if self.unsaved.is_empty() {
            self.status = Some((Tone::Info, "nothing to save".into()));
            return None;
        }
        self.status = Some((
            Tone::Info,
            format!("saving to {}…", self.save_path.display()),
        ));
        Some(Action::Save {
            path: self.save_path.clone(),
            config: self.wanted.clone(),
            keys: self.unsaved.clone(),
        })
    }

    /// The run loop's answer to [`Action::Save`]; returns the line for the log.
    pub fn on_saved(&mut self, path: &Path, result: Result<(), UsageError>) -> (Tone, String) {
        let line = match result {
            Ok(()) => {
                let n = self.unsaved.len();
                self.unsaved.clear();
                self.path = Some(path.to_path_buf());
                self.save_path = path.to_path_buf();
                (
                    Tone::Good,
                    format!(
                        "saved {n} setting{} to {}",
                        if n == 1 { "" } else { "s" },
                        path.display()
                    ),
                )
            }
            Err(e) => (Tone::Bad, format!("not saved: {e}")),
        };
        self.status = Some(line.clone());
        line
    }

    /// The trainer took a live setting.
    pub fn on_changed(&mut self, setting: LiveSetting) {
        setting.apply(&mut self.running);
    }

    /// A new version of the config file (already layered under the flags and
    /// validated), or why it cannot be used. Returns what to do about it.
    pub fn on_reload(
        &mut self,
        result: Result<Config, UsageError>,
        trainer_running: bool,
    ) -> Result<Plan, UsageError> {
        match result {
            Err(e) => {
                self.reload_error = Some(e.0.clone());
                Err(e)
            }
            Ok(new) => {
                self.reload_error = None;
                let plan = live::plan(&self.running, &new, trainer_running);
                self.wanted = new;
                self.unsaved.clear();
                self.revalidate();
                Ok(plan)
            }
        }
    }
}

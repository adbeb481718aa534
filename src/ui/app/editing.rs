//! The settings editor's side of the [`App`]: its keys, committing a typed value, a new
//! version of the config file from the hot reload, and the outcome of a save.

use std::path::Path;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Overlay};
use crate::config::live;
use crate::config::text;
use crate::config::Config;
use crate::error::UsageError;
use crate::events::Command;
use crate::ui::editor::{Commit, Tone};
use crate::ui::keys::{self, EditorAction, FieldAction, EDITOR_BINDINGS, FIELD_BINDINGS};
use crate::ui::panes::log::LogKind;

impl App {
    /// The outcome of an [`Action::Save`].
    pub fn on_saved(&mut self, path: &Path, result: Result<(), UsageError>) {
        let (tone, line) = self.editor.on_saved(path, result);
        let kind = if tone == Tone::Bad {
            LogKind::Error
        } else {
            LogKind::Applied
        };
        self.log(kind, line);
        self.dirty = true;
    }

    /// A new version of the config file in use (flags re-applied, validated) or why it
    /// cannot be used. Returns the live changes to send; the rest is listed as pending
    /// for the next run. An invalid file changes nothing.
    pub fn on_config_file(&mut self, result: Result<Config, UsageError>) -> Vec<Command> {
        self.dirty = true;
        let had_edits = !self.editor.unsaved.is_empty();
        let before = self.editor.wanted.clone();
        let running = self.status.trainer_running();
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
        let changed = live::plan(&before, &self.editor.wanted, false).next_run;
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

    /// A key while the editor is open: to its text field when one is open, else to its
    /// table ([`EDITOR_BINDINGS`]).
    pub(super) fn editor_key(&mut self, key: KeyEvent) -> Option<Command> {
        let ed = &mut self.editor;
        if ed.field.is_some() {
            match keys::action(FIELD_BINDINGS, &key) {
                Some(FieldAction::Apply) => return self.commit_field(),
                Some(FieldAction::Cancel) => ed.cancel(),
                Some(FieldAction::Delete) => ed.delete(),
                Some(FieldAction::Clear) => ed.clear(),
                None => {
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
        match keys::action(EDITOR_BINDINGS, &key)? {
            EditorAction::Up => ed.move_by(-1),
            EditorAction::Down => ed.move_by(1),
            EditorAction::Edit => ed.begin(),
            EditorAction::Save => {
                if let Some(action) = ed.save() {
                    self.actions.push_back(action);
                }
            }
            EditorAction::Close => self.overlay = Overlay::None,
        }
        None
    }

    fn commit_field(&mut self) -> Option<Command> {
        let running = self.status.trainer_running();
        let key = self.editor.param().key;
        match self.editor.commit(running) {
            Commit::Live(s) => {
                self.log(LogKind::Applied, format!("{key} = {s} requested"));
                Some(Command::Set(s))
            }
            Commit::NextRun => {
                let value = text::value_text(&self.editor.wanted, key);
                self.log(
                    LogKind::Info,
                    format!("{key} = {value} is pending for the next run"),
                );
                None
            }
            Commit::Refused | Commit::Unchanged => None,
        }
    }
}

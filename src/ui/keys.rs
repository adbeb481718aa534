//! The key table. [`BINDINGS`] is the single source of truth: the handler in
//! [`crate::ui::app::App::on_key`] looks keys up here, and the help overlay and the footer
//! are rendered from it, so they can never disagree.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks the dashboard to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    TogglePause,
    /// Quit; asks to confirm while training. Also closes overlays.
    Quit,
    /// Ctrl-C: stop and quit without asking.
    Interrupt,
    Help,
    NextPane,
    PrevPane,
    /// Digits 1–6: the pane is chosen by the digit ([`crate::ui::app::Pane::from_digit`]).
    FocusPane,
    Zoom,
    /// Save a checkpoint now.
    Checkpoint,
    PrevSample,
    NextSample,
    PrevLayer,
    NextLayer,
    TogglePredictions,
    /// In the quit confirmation: yes.
    ConfirmYes,
    /// In the quit confirmation: no.
    ConfirmNo,
    /// Open the settings editor.
    Edit,
    /// Editor: select the previous / next setting.
    EditorUp,
    EditorDown,
    /// Editor: start editing the selected setting.
    EditorEdit,
    /// Editor: write the edits to the config file.
    EditorSave,
    /// Editor: close it.
    EditorClose,
    /// Editor's text field: apply the value / cancel / delete a character / clear.
    FieldApply,
    FieldCancel,
    FieldDelete,
    FieldClear,
}

/// One key: a code, and whether Ctrl must be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

/// A row of the key table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub keys: &'static [Key],
    /// The keys as the help shows them.
    pub label: &'static str,
    pub description: &'static str,
    /// Short hint for the footer line, if this binding is worth one.
    pub footer: Option<&'static str>,
    pub action: KeyAction,
}

/// Every global key binding, in the order the help lists them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[ch('p'), ch(' ')],
        label: "p  Space",
        description: "pause / resume training",
        footer: Some("p pause"),
        action: KeyAction::TogglePause,
    },
    Binding {
        keys: &[ch('q'), code(KeyCode::Esc)],
        label: "q  Esc",
        description: "quit (asks first while training); Esc closes overlays",
        footer: Some("q quit"),
        action: KeyAction::Quit,
    },
    Binding {
        keys: &[ctrl('c')],
        label: "Ctrl-C",
        description: "stop training and quit without asking",
        footer: None,
        action: KeyAction::Interrupt,
    },
    Binding {
        keys: &[ch('?')],
        label: "?",
        description: "show / hide this help",
        footer: Some("? help"),
        action: KeyAction::Help,
    },
    Binding {
        keys: &[code(KeyCode::Tab)],
        label: "Tab",
        description: "next pane (next tab on small screens)",
        footer: Some("Tab/1-6 pane"),
        action: KeyAction::NextPane,
    },
    Binding {
        keys: &[code(KeyCode::BackTab)],
        label: "Shift-Tab",
        description: "previous pane",
        footer: None,
        action: KeyAction::PrevPane,
    },
    Binding {
        keys: &[ch('1'), ch('2'), ch('3'), ch('4'), ch('5'), ch('6')],
        label: "1-6",
        description: "go to a pane (tab) by its number in the tab bar",
        footer: None,
        action: KeyAction::FocusPane,
    },
    Binding {
        keys: &[ch('s')],
        label: "s",
        description: "save a checkpoint now (training goes on)",
        footer: None,
        action: KeyAction::Checkpoint,
    },
    Binding {
        keys: &[ch('z')],
        label: "z",
        description: "zoom the focused pane to the whole screen, and back",
        footer: Some("z zoom"),
        action: KeyAction::Zoom,
    },
    Binding {
        keys: &[code(KeyCode::Left), ch('[')],
        label: "←  [",
        description: "feature maps: previous test image",
        footer: Some("←→ image"),
        action: KeyAction::PrevSample,
    },
    Binding {
        keys: &[code(KeyCode::Right), ch(']')],
        label: "→  ]",
        description: "feature maps: next test image",
        footer: None,
        action: KeyAction::NextSample,
    },
    Binding {
        keys: &[code(KeyCode::Up), ch(',')],
        label: "↑  ,",
        description: "feature maps: previous layer",
        footer: Some("↑↓ layer"),
        action: KeyAction::PrevLayer,
    },
    Binding {
        keys: &[code(KeyCode::Down), ch('.')],
        label: "↓  .",
        description: "feature maps: next layer",
        footer: None,
        action: KeyAction::NextLayer,
    },
    Binding {
        keys: &[ch('m')],
        label: "m",
        description: "predictions: random sample / most confident mistakes",
        footer: Some("m mistakes"),
        action: KeyAction::TogglePredictions,
    },
    Binding {
        keys: &[ch('e')],
        label: "e",
        description: "edit settings: live (lr, epochs, …) or for the next run",
        footer: Some("e edit"),
        action: KeyAction::Edit,
    },
];

/// The keys of the "Stop training and quit?" question.
pub const CONFIRM_BINDINGS: &[Binding] = &[
    Binding {
        keys: &[ch('y'), code(KeyCode::Enter)],
        label: "y",
        description: "stop training, save and quit",
        footer: None,
        action: KeyAction::ConfirmYes,
    },
    Binding {
        keys: &[ch('n'), ch('q'), code(KeyCode::Esc)],
        label: "n",
        description: "keep training",
        footer: None,
        action: KeyAction::ConfirmNo,
    },
];

/// The settings editor's keys while a row is selected; `footer` is its hint line.
pub const EDITOR_BINDINGS: &[Binding] = &[
    Binding {
        keys: &[code(KeyCode::Up), ch('k')],
        label: "↑",
        description: "previous setting",
        footer: Some("↑↓ select"),
        action: KeyAction::EditorUp,
    },
    Binding {
        keys: &[code(KeyCode::Down), ch('j')],
        label: "↓",
        description: "next setting",
        footer: None,
        action: KeyAction::EditorDown,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        description: "edit the value",
        footer: Some("Enter edit"),
        action: KeyAction::EditorEdit,
    },
    Binding {
        keys: &[ch('s')],
        label: "s",
        description: "save the edits to the config file",
        footer: Some("s save"),
        action: KeyAction::EditorSave,
    },
    Binding {
        keys: &[code(KeyCode::Esc), ch('e'), ch('q')],
        label: "Esc",
        description: "close",
        footer: Some("Esc close"),
        action: KeyAction::EditorClose,
    },
];

/// The keys of the editor's text field (other characters are typed into it).
pub const FIELD_BINDINGS: &[Binding] = &[
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        description: "apply the value",
        footer: Some("Enter apply"),
        action: KeyAction::FieldApply,
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        label: "Esc",
        description: "cancel, keep the old value",
        footer: Some("Esc cancel"),
        action: KeyAction::FieldCancel,
    },
    Binding {
        keys: &[code(KeyCode::Backspace)],
        label: "Backspace",
        description: "delete a character",
        footer: Some("⌫ delete"),
        action: KeyAction::FieldDelete,
    },
    Binding {
        keys: &[ctrl('u')],
        label: "Ctrl-U",
        description: "clear",
        footer: Some("Ctrl-U clear"),
        action: KeyAction::FieldClear,
    },
];

/// The hint line for a table: its `footer` texts, joined.
pub fn hint_line(table: &[Binding]) -> String {
    table
        .iter()
        .filter_map(|b| b.footer)
        .collect::<Vec<_>>()
        .join(" · ")
}

impl Key {
    /// Whether a key event is this key. Letters match in either case; Shift is ignored
    /// (terminals differ on whether `?` or Shift-Tab carry it); Ctrl and Alt must match.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl != self.ctrl || ev.modifiers.contains(KeyModifiers::ALT) {
            return false;
        }
        match (self.code, ev.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) => a.eq_ignore_ascii_case(&b),
            (a, b) => a == b,
        }
    }
}

/// The binding a key event triggers in a table, if any.
pub fn lookup(table: &'static [Binding], ev: &KeyEvent) -> Option<&'static Binding> {
    table.iter().find(|b| b.keys.iter().any(|k| k.matches(ev)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEvent;

    #[test]
    fn no_key_is_bound_twice() {
        for table in [BINDINGS, CONFIRM_BINDINGS, EDITOR_BINDINGS, FIELD_BINDINGS] {
            let keys: Vec<Key> = table.iter().flat_map(|b| b.keys.iter().copied()).collect();
            for (i, a) in keys.iter().enumerate() {
                for b in &keys[i + 1..] {
                    assert_ne!(a, b, "bound twice");
                }
            }
        }
    }

    #[test]
    fn lookup_respects_modifiers() {
        let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            lookup(BINDINGS, &c).map(|b| b.action),
            Some(KeyAction::Interrupt)
        );
        let p = KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL);
        assert_eq!(lookup(BINDINGS, &p), None);
        let q = KeyEvent::new(KeyCode::Char('Q'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(BINDINGS, &q).map(|b| b.action),
            Some(KeyAction::Quit)
        );
        let help = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(BINDINGS, &help).map(|b| b.action),
            Some(KeyAction::Help)
        );
        let back = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(
            lookup(BINDINGS, &back).map(|b| b.action),
            Some(KeyAction::PrevPane)
        );
    }
}

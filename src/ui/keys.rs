//! The key tables, one per mode, each with its own action type: [`BINDINGS`] for the
//! dashboard, [`CONFIRM_BINDINGS`] for the quit question, [`EDITOR_BINDINGS`] and
//! [`FIELD_BINDINGS`] for the settings editor. Each table is the single source of truth for
//! its mode: the handler in [`crate::ui::app::App::on_key`] looks keys up in it, and the
//! help overlay, the footer, the question and the editor's hint lines are rendered from
//! it, so they can never disagree.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key of the dashboard ([`BINDINGS`]) asks it to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalAction {
    TogglePause,
    /// Quit; asks to confirm while training. Also closes overlays.
    Quit,
    /// Ctrl-C: stop and quit without asking.
    Interrupt,
    Help,
    NextPane,
    PrevPane,
    /// Digits 1–6: the pane is chosen by the digit ([`crate::ui::panes::Pane::from_digit`]).
    FocusPane,
    Zoom,
    /// Save a checkpoint now.
    Checkpoint,
    /// ← → (`[` `]`): the feature maps' previous / next test image, by the key.
    StepSample,
    /// ↑ ↓ (`,` `.`): the feature maps' previous / next layer, by the key.
    StepLayer,
    /// `+` / `-`: the charts show fewer / more of the last epochs, by the key.
    ZoomCharts,
    /// `l`: the loss chart's y axis logarithmic, and back.
    LogLoss,
    TogglePredictions,
    /// Open the settings editor.
    Edit,
    /// Write the report (plots and CSV) of the epochs so far into the run directory.
    Report,
    /// Open the Runs pane (other runs to overlay on the charts), when there are any.
    Runs,
    /// Leave the run training without this terminal.
    Detach,
}

/// A key of the Confusion and Predictions panes while one of them is focused
/// ([`CURSOR_BINDINGS`]), looked up before [`BINDINGS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorAction {
    /// Move the cell (the image) under the cursor, by the key.
    Move,
    /// A cell: its images in the Predictions pane; an image: its feature maps.
    Open,
    /// From a cell's images back to the sample.
    Back,
}

/// A key of the Runs pane ([`RUNS_BINDINGS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsAction {
    /// Digits 1–9: show or hide that run on the charts.
    Toggle,
    Close,
}

/// The answer to the quit confirmation ([`CONFIRM_BINDINGS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmAction {
    Yes,
    No,
    /// Quit without stopping: the run goes on.
    Detach,
}

/// A key of the settings editor while a row is selected ([`EDITOR_BINDINGS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorAction {
    /// Select the previous / next setting.
    Up,
    Down,
    /// Start editing the selected setting.
    Edit,
    /// Write the edits to the config file.
    Save,
    Close,
}

/// A key of the editor's text field ([`FIELD_BINDINGS`]); other characters are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldAction {
    /// Apply the value / cancel / delete a character / clear.
    Apply,
    Cancel,
    Delete,
    Clear,
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

/// A row of a key table, whose action is of the table's own type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<A> {
    pub keys: &'static [Key],
    /// The keys as the help shows them.
    pub label: &'static str,
    pub description: &'static str,
    /// Short hint for the footer line, if this binding is worth one.
    pub footer: Option<&'static str>,
    pub action: A,
}

/// Every global key binding, in the order the help lists them.
pub const BINDINGS: &[Binding<GlobalAction>] = &[
    Binding {
        keys: &[ch('p'), ch(' ')],
        label: "p  Space",
        description: "pause / resume training",
        footer: Some("p pause"),
        action: GlobalAction::TogglePause,
    },
    Binding {
        keys: &[ch('q'), code(KeyCode::Esc)],
        label: "q  Esc",
        description: "quit (asks first while training); Esc closes overlays",
        footer: Some("q quit"),
        action: GlobalAction::Quit,
    },
    Binding {
        keys: &[ctrl('c')],
        label: "Ctrl-C",
        description: "stop training and quit without asking",
        footer: None,
        action: GlobalAction::Interrupt,
    },
    Binding {
        keys: &[ch('d')],
        label: "d",
        description: "detach: the run goes on (fashion-tui attach comes back)",
        footer: None,
        action: GlobalAction::Detach,
    },
    Binding {
        keys: &[ch('?')],
        label: "?",
        description: "show / hide this help",
        footer: Some("? help"),
        action: GlobalAction::Help,
    },
    Binding {
        keys: &[code(KeyCode::Tab)],
        label: "Tab",
        description: "next pane (next tab on small screens)",
        footer: Some("Tab/1-6 pane"),
        action: GlobalAction::NextPane,
    },
    Binding {
        keys: &[code(KeyCode::BackTab)],
        label: "Shift-Tab",
        description: "previous pane",
        footer: None,
        action: GlobalAction::PrevPane,
    },
    Binding {
        keys: &[ch('1'), ch('2'), ch('3'), ch('4'), ch('5'), ch('6')],
        label: "1-6",
        description: "go to a pane (tab) by its number in the tab bar",
        footer: None,
        action: GlobalAction::FocusPane,
    },
    Binding {
        keys: &[ch('s')],
        label: "s",
        description: "save a checkpoint now (training goes on)",
        footer: None,
        action: GlobalAction::Checkpoint,
    },
    Binding {
        keys: &[ch('x')],
        label: "x",
        description: "write the report (plots, CSV) into the run directory",
        footer: None,
        action: GlobalAction::Report,
    },
    Binding {
        keys: &[ch('z')],
        label: "z",
        description: "zoom the focused pane (its grids grow), and back",
        footer: Some("z zoom"),
        action: GlobalAction::Zoom,
    },
    Binding {
        keys: &[code(KeyCode::Left), code(KeyCode::Right), ch('['), ch(']')],
        label: "← →  [ ]",
        description: "feature maps: previous / next test image",
        footer: Some("←→ image"),
        action: GlobalAction::StepSample,
    },
    Binding {
        keys: &[code(KeyCode::Up), code(KeyCode::Down), ch(','), ch('.')],
        label: "↑ ↓  , .",
        description: "feature maps: previous / next layer",
        footer: Some("↑↓ layer"),
        action: GlobalAction::StepLayer,
    },
    Binding {
        keys: &[ch('+'), ch('='), ch('-')],
        label: "+  -",
        description: "charts: the last epochs only, closer and closer / back to all",
        footer: None,
        action: GlobalAction::ZoomCharts,
    },
    Binding {
        keys: &[ch('l')],
        label: "l",
        description: "loss chart: logarithmic y axis, and back",
        footer: None,
        action: GlobalAction::LogLoss,
    },
    Binding {
        keys: &[ch('m')],
        label: "m",
        description: "predictions: random sample / most confident mistakes",
        footer: Some("m mistakes"),
        action: GlobalAction::TogglePredictions,
    },
    Binding {
        keys: &[ch('e')],
        label: "e",
        description: "edit settings: live (lr, epochs, …) or for the next run",
        footer: Some("e edit"),
        action: GlobalAction::Edit,
    },
];

/// The dashboard's keys that apply only when there are other runs to overlay (viewing
/// several runs, or earlier runs while training): looked up after [`BINDINGS`], listed
/// by the help after them when they apply.
pub const OTHER_RUNS_BINDINGS: &[Binding<GlobalAction>] = &[Binding {
    keys: &[ch('r')],
    label: "r",
    description: "runs: show or hide other runs on the charts",
    footer: None,
    action: GlobalAction::Runs,
}];

/// The keys of the Confusion and Predictions panes while focused.
pub const CURSOR_BINDINGS: &[Binding<CursorAction>] = &[
    Binding {
        keys: &[
            code(KeyCode::Left),
            code(KeyCode::Right),
            code(KeyCode::Up),
            code(KeyCode::Down),
            ch('h'),
            ch('j'),
            ch('k'),
            ch('l'),
        ],
        label: "←↑↓→ hjkl",
        description: "Confusion / Predictions focused: move the cell / the image",
        footer: Some("←↑↓→ move"),
        action: CursorAction::Move,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        description: "a cell: its images in Predictions; an image: its feature maps",
        footer: Some("Enter why"),
        action: CursorAction::Open,
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        label: "Esc",
        description: "Predictions: from a cell's images back to the sample",
        footer: None,
        action: CursorAction::Back,
    },
];

/// What the mouse does (with `ui.mouse`, where the terminal reports it), as the help lists
/// it: (what, where and what it does). [`crate::ui::mouse`] does it; every one has a key.
pub const MOUSE: &[(&str, &str)] = &[
    (
        "click",
        "a pane or tab: focus; a cell: its images; an image: its maps",
    ),
    (
        "wheel",
        "Loss / Accuracy: zoom the epochs; Feature maps: the layer",
    ),
];

/// The keys of the Runs pane.
pub const RUNS_BINDINGS: &[Binding<RunsAction>] = &[
    Binding {
        keys: &[
            ch('1'),
            ch('2'),
            ch('3'),
            ch('4'),
            ch('5'),
            ch('6'),
            ch('7'),
            ch('8'),
            ch('9'),
        ],
        label: "1-9",
        description: "show / hide that run",
        footer: Some("1-9 show/hide"),
        action: RunsAction::Toggle,
    },
    Binding {
        keys: &[ch('r'), ch('q'), code(KeyCode::Esc)],
        label: "Esc",
        description: "close",
        footer: Some("Esc close"),
        action: RunsAction::Close,
    },
];

/// The keys of the "Stop training and quit?" question.
pub const CONFIRM_BINDINGS: &[Binding<ConfirmAction>] = &[
    Binding {
        keys: &[ch('y'), code(KeyCode::Enter)],
        label: "y",
        description: "stop training, save and quit",
        footer: None,
        action: ConfirmAction::Yes,
    },
    Binding {
        keys: &[ch('n'), ch('q'), code(KeyCode::Esc)],
        label: "n",
        description: "keep training",
        footer: None,
        action: ConfirmAction::No,
    },
    Binding {
        keys: &[ch('d')],
        label: "d",
        description: "detach, training goes on",
        footer: None,
        action: ConfirmAction::Detach,
    },
];

/// The settings editor's keys while a row is selected; `footer` is its hint line.
pub const EDITOR_BINDINGS: &[Binding<EditorAction>] = &[
    Binding {
        keys: &[code(KeyCode::Up), ch('k')],
        label: "↑",
        description: "previous setting",
        footer: Some("↑↓ select"),
        action: EditorAction::Up,
    },
    Binding {
        keys: &[code(KeyCode::Down), ch('j')],
        label: "↓",
        description: "next setting",
        footer: None,
        action: EditorAction::Down,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        description: "edit the value",
        footer: Some("Enter edit"),
        action: EditorAction::Edit,
    },
    Binding {
        keys: &[ch('s')],
        label: "s",
        description: "save the edits to the config file",
        footer: Some("s save"),
        action: EditorAction::Save,
    },
    Binding {
        keys: &[code(KeyCode::Esc), ch('e'), ch('q')],
        label: "Esc",
        description: "close",
        footer: Some("Esc close"),
        action: EditorAction::Close,
    },
];

/// The keys of the editor's text field (other characters are typed into it).
pub const FIELD_BINDINGS: &[Binding<FieldAction>] = &[
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        description: "apply the value",
        footer: Some("Enter apply"),
        action: FieldAction::Apply,
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        label: "Esc",
        description: "cancel, keep the old value",
        footer: Some("Esc cancel"),
        action: FieldAction::Cancel,
    },
    Binding {
        keys: &[code(KeyCode::Backspace)],
        label: "Backspace",
        description: "delete a character",
        footer: Some("⌫ delete"),
        action: FieldAction::Delete,
    },
    Binding {
        keys: &[ctrl('u')],
        label: "Ctrl-U",
        description: "clear",
        footer: Some("Ctrl-U clear"),
        action: FieldAction::Clear,
    },
];

/// The hint line for a table: its `footer` texts, joined.
pub fn hint_line<A>(table: &[Binding<A>]) -> String {
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
pub fn lookup<A>(table: &'static [Binding<A>], ev: &KeyEvent) -> Option<&'static Binding<A>> {
    table.iter().find(|b| b.keys.iter().any(|k| k.matches(ev)))
}

/// The action a key event triggers in a table, if any.
pub fn action<A: Copy>(table: &'static [Binding<A>], ev: &KeyEvent) -> Option<A> {
    lookup(table, ev).map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEvent;

    fn keys_of<A>(table: &[Binding<A>]) -> Vec<Key> {
        table.iter().flat_map(|b| b.keys.iter().copied()).collect()
    }

    #[test]
    fn no_key_is_bound_twice() {
        for keys in [
            keys_of(BINDINGS),
            keys_of(CONFIRM_BINDINGS),
            keys_of(EDITOR_BINDINGS),
            keys_of(FIELD_BINDINGS),
        ] {
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
            Some(GlobalAction::Interrupt)
        );
        let p = KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL);
        assert_eq!(lookup(BINDINGS, &p), None);
        let q = KeyEvent::new(KeyCode::Char('Q'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(BINDINGS, &q).map(|b| b.action),
            Some(GlobalAction::Quit)
        );
        let help = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(BINDINGS, &help).map(|b| b.action),
            Some(GlobalAction::Help)
        );
        let back = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(
            lookup(BINDINGS, &back).map(|b| b.action),
            Some(GlobalAction::PrevPane)
        );
    }
}

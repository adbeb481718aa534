//! The live terminal dashboard: [`app::App`] routes events and keys to one state per pane
//! ([`panes`]), [`render::render`] draws each with its widget in [`widgets`], and [`run`]
//! drives both from the trainer's channels and the keyboard.

pub mod app;
pub mod editor;
pub mod history;
pub mod keys;
pub mod mouse;
pub mod panes;
pub mod render;
pub mod run;
pub mod theme;
pub mod widgets;

#[cfg(test)]
mod editor_tests;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod linked_tests;
#[cfg(test)]
mod mouse_tests;
#[cfg(test)]
mod tests;

pub use app::{App, UiOptions};
pub use editor::{Action, ConfigInUse};
pub use panes::Pane;
pub use render::render;
pub use run::{run_loop, run_terminal_app, Channels};
pub use theme::ColorMode;

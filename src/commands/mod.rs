//! The subcommands, one file each: `train` (the default), `attach`, `eval`, `predict`,
//! `report`, `runs`, `view` and `config`; a run's own process ([`serve`]) and how it goes
//! into the background ([`background`]); the stop-signal handling they share and the one
//! way to print. `main` dispatches here and maps an error to its exit code with
//! [`crate::error::exit_code`].

pub mod attach;
pub mod background;
pub mod config;
pub mod dashboard;
pub mod eval;
pub mod output;
pub mod predict;
pub mod report;
pub mod runs;
pub mod serve;
pub mod signals;
pub mod train;
pub mod view;

//! The subcommands, one file each: `train` (the default), `eval`, `predict`, `report`,
//! `runs`, `view` and `config`, plus the
//! stop-signal handling they share. `main` dispatches here and maps an error to its exit
//! code with [`crate::error::exit_code`].

pub mod config;
pub mod eval;
pub mod output;
pub mod predict;
pub mod report;
pub mod runs;
pub mod signals;
pub mod train;
pub mod view;

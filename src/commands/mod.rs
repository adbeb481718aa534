//! The subcommands, one file each: `train` (the default), `eval`, `predict`, `report`,
//! `runs`, `view` and `config`, plus the
//! stop-signal handling they share. `main` dispatches here and maps the result to an
//! exit code with [`exit_code`].

pub mod config;
pub mod eval;
pub mod predict;
pub mod report;
pub mod runs;
pub mod signals;
pub mod train;
pub mod view;

use std::process::ExitCode;

/// 2 for a problem with the user's settings, 1 for any other failure.
pub fn exit_code(usage: bool) -> ExitCode {
    if usage {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

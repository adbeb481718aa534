//! Entry point: parse the command line, dispatch, map errors to exit codes
//! (0 success, 2 usage or configuration error, 1 runtime failure: see
//! `fashion_tui::error`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use fashion_tui::cli::{Cli, Command};
use fashion_tui::commands;
use fashion_tui::startup::Startup;

fn main() -> ExitCode {
    // First: the dashboard says how long it took to come up.
    let startup = Startup::now();
    let cli = Cli::parse();
    let result = match &cli.command {
        None => commands::train::run(&cli.train, startup),
        Some(Command::Train(args)) => commands::train::run(args, startup),
        Some(Command::Attach(args)) => commands::attach::run(args, startup),
        Some(Command::Eval(args)) => commands::eval::run(args),
        Some(Command::Config(cmd)) => commands::config::run(cmd),
        Some(Command::Report(args)) => commands::report::run(args),
        Some(Command::Predict(args)) => commands::predict::run(args),
        Some(Command::Runs(args)) => commands::runs::run(args),
        Some(Command::View(args)) => commands::view::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader of the output has what it wanted (`| head -1`).
        Err(e) if commands::output::closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Messages quote paths, names and values from outside: escaped, one way.
            let text = fashion_tui::escape::lines(&format!("{e:#}")).into_owned();
            let _ = writeln!(std::io::stderr(), "fashion-tui: {text}");
            fashion_tui::error::exit_code(&e)
        }
    }
}

//! `fashion-tui attach [RUN]`: the dashboard on a run that trains in its own process,
//! from any terminal. The dashboard a plain `fashion-tui train` shows is this too: the
//! first terminal attached to the run it started.
//!
//! Every control works as in-process: pause and resume, the editor's live changes and
//! its save, checkpoints, reports, overlays. `d` detaches (the run goes on); `q` asks
//! whether to stop the training or detach. When this terminal goes away, `ui.on_hangup`
//! says what becomes of the run: it trains on (`detach`) or checkpoints and stops.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::dashboard::{self, terminal_name, Dashboard};
use crate::cli::AttachArgs;
use crate::config::reload::Reloader;
use crate::config::{self, Config};
use crate::error::UsageError;
use crate::escape;
use crate::live::client;
use crate::startup::Startup;
use crate::store::{catalog, run_dir, run_record::Status};

/// `fashion-tui attach`.
pub fn run(args: &AttachArgs, startup: Startup) -> Result<ExitCode> {
    let run = which_run(args)?;
    if args.json {
        return print_lines(&run);
    }
    if !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal()) {
        return Err(UsageError(
            "attach draws the dashboard and needs a terminal; `attach --json` prints what the \
             run says instead (a script can also speak to it on its socket: see the README)"
                .into(),
        )
        .into());
    }
    let (mine, source) = config::resolve(args.config.as_deref(), &|_| {})?;
    let attached = client::attach(&run, &terminal_name(), false)?.ok_or_else(|| not_live(&run))?;
    // The editor shows the run's settings; saving writes them into this user's file.
    let mut cfg = run_config(&run).unwrap_or_else(|| mine.clone());
    cfg.ui = mine.ui.clone();
    let mut in_use = dashboard::config_in_use(&cfg, &source);
    in_use.path = None;
    dashboard::open(
        attached,
        Dashboard {
            run,
            cfg,
            in_use,
            files: Reloader::none(),
            startup: Some(startup),
        },
    )
}

/// `attach --json`: the run's lines on stdout until it ends; its exit code then.
fn print_lines(run: &Path) -> Result<ExitCode> {
    let mut print = |line: &str| -> Result<bool> {
        super::output::line(line)?;
        Ok(true)
    };
    match client::follow(run, &terminal_name(), &mut print)? {
        None => Err(not_live(run).into()),
        Some(Some(code)) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
        // The run's process went away without a word (kill -9).
        Some(None) => Ok(ExitCode::FAILURE),
    }
}

/// The refusal to attach to a run that does not train now.
fn not_live(run: &Path) -> UsageError {
    UsageError(format!(
        "{} is not training now (nothing listens on its socket): `fashion-tui view {}` \
         shows what it did",
        escape::path(run),
        escape::path(run)
    ))
}

/// The settings the run in `run` started with.
fn run_config(run: &Path) -> Option<Config> {
    let dir = crate::files::Dir::open(run).ok()?;
    let text = dir
        .read_text(
            run_dir::CONFIG_FILE,
            config::MAX_FILE_BYTES,
            "a config file",
        )
        .ok()??;
    Config::from_toml(&text, &dir.join(run_dir::CONFIG_FILE)).ok()
}

/// The run to attach to: the one named (a directory, or a name under the runs
/// directory), else the most recent that trains now.
fn which_run(args: &AttachArgs) -> Result<PathBuf> {
    let root = match &args.runs_dir {
        Some(d) => Some(d.clone()),
        None => run_dir::default_runs_root(),
    };
    if let Some(named) = &args.run {
        return Ok(match &root {
            Some(r) if !named.is_dir() && r.join(named).is_dir() => r.join(named),
            _ => named.clone(),
        });
    }
    let root = root.context("cannot determine the user data directory for runs")?;
    let cat = catalog::scan(&root).unwrap_or_default();
    cat.runs
        .into_iter()
        .filter(|r| r.status == Status::Running)
        .max_by_key(catalog::sort_key)
        .map(|r| r.dir)
        .ok_or_else(|| {
            UsageError(format!(
                "no run under {} is training now; `fashion-tui runs` lists them",
                escape::path(&root)
            ))
            .into()
        })
}

//! `fashion-tui view [RUN...]`: the dashboard, read-only, on runs. A run that is training
//! is followed live (its socket, read-only: nothing it sends can steer the run). A
//! finished first run is played back through the same events the trainer sends (its charts, confusion
//! matrix and log from the stored files; predictions and feature maps recomputed from
//! its model on the CPU); the others are overlaid on the Loss and Accuracy charts, one
//! colour each, and listed in the Runs pane (`r`) where a digit shows or hides each.
//! Without a run, the most recent one. Nothing in a run directory is written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicI32;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::signals::watch_signals;
use crate::cli::ViewArgs;
use crate::error::UsageError;
use crate::live::client::{self, Attached};
use crate::store::history::StoredRun;
use crate::store::{catalog, run_dir};
use crate::train::inspect;
use crate::train::ChannelSink;
use crate::ui::panes::charts::OtherRun;
use crate::ui::{self, App, UiOptions};

/// Where `arg` names a run: a directory as given, else a name under the runs directory.
fn resolve(arg: &Path, root: Option<&Path>) -> PathBuf {
    if arg.is_dir() {
        return arg.to_path_buf();
    }
    match root {
        Some(r) if r.join(arg).is_dir() => r.join(arg),
        _ => arg.to_path_buf(),
    }
}

/// The run directories to view, in order.
pub fn run_dirs(args: &ViewArgs) -> Result<Vec<PathBuf>> {
    let root = match &args.runs_dir {
        Some(d) => Some(d.clone()),
        None => run_dir::default_runs_root(),
    };
    if args.runs.is_empty() {
        let root = root.context("cannot determine the user data directory for runs")?;
        let latest = catalog::latest(&root).ok_or_else(|| {
            UsageError(format!("no runs in {} to view; name one", root.display()))
        })?;
        return Ok(vec![latest]);
    }
    Ok(args
        .runs
        .iter()
        .map(|a| resolve(a, root.as_deref()))
        .collect())
}

/// Read the runs in `dirs`: the first as the app's run, the rest as overlays, all shown.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<StoredRun>> {
    dirs.iter()
        .map(|d| {
            StoredRun::load(d)
                .map_err(|e| UsageError(format!("cannot view {}: {e:#}", d.display())).into())
        })
        .collect()
}

/// The app for viewing `runs` (the first in full, the others overlaid).
pub fn app_for(runs: &[StoredRun], mut opts: UiOptions) -> App {
    if let Some(first) = runs.first() {
        opts.predictions = first.config.ui.predictions;
    }
    let mut app = App::new(opts);
    app.set_viewing();
    for r in runs.iter().skip(1) {
        app.add_other_run(OtherRun::of(r, true));
    }
    app
}

/// `fashion-tui view`.
pub fn run(args: &ViewArgs) -> Result<ExitCode> {
    let runs = load(&run_dirs(args)?)?;
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "view draws the dashboard and needs a terminal; `fashion-tui runs` lists runs as \
             text or JSON"
                .into(),
        )
        .into());
    }
    let first = runs[0].clone();
    let cfg = &first.config;
    let opts = UiOptions {
        color: cfg.ui.color.from_env(),
        ..super::dashboard::ui_options(cfg)
    };
    let app = app_for(&runs, opts);
    if let Some(live) = client::attach(&runs[0].dir, &super::dashboard::terminal_name(), true)? {
        return follow(app, &live);
    }
    let (sink, rx) = ChannelSink::new();
    let (cmd_tx, cmd_rx) = flume::unbounded();
    let signal = Arc::new(AtomicI32::new(0));
    watch_signals(signal.clone(), cmd_tx.clone())?;
    let player = inspect::spawn(first, cmd_rx, sink);
    let channels = ui::Channels {
        events: rx.events,
        progress: rx.progress,
        commands: cmd_tx.clone(),
    };
    let result = ui::run_terminal_app(app, channels, None, signal.clone(), false);
    let _ = cmd_tx.send(crate::events::Command::Stop);
    drop(cmd_tx);
    let _ = player.join();
    result?;
    match signal.load(std::sync::atomic::Ordering::SeqCst) {
        0 => Ok(ExitCode::SUCCESS),
        sig => Ok(ExitCode::from((128 + sig) as u8)),
    }
}

/// Follow a run that is training, read-only: what its dashboards show, live, until the
/// user quits (the run goes on) or it ends.
fn follow(app: App, live: &Attached) -> Result<ExitCode> {
    let signal = Arc::new(AtomicI32::new(0));
    super::signals::watch_client_signals(signal.clone())?;
    let channels = ui::Channels {
        events: live.rx.events.clone(),
        progress: live.rx.progress.clone(),
        commands: live.commands.clone(),
    };
    let result = ui::run_terminal_app(app, channels, None, signal.clone(), false);
    match signal.load(std::sync::atomic::Ordering::SeqCst) {
        0 => result.map(|_| ExitCode::SUCCESS),
        sig => Ok(ExitCode::from((128 + sig) as u8)),
    }
}

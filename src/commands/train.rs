//! `fashion-tui [train]`: resolve the configuration (or a resumed run's), hold the run
//! directory, start the trainer thread and hand its events to the dashboard
//! ([`dashboard`]) or the headless printer ([`headless`]); then exit as the run ended.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use flume::Sender;

use super::signals::watch_signals;
use crate::cli::TrainArgs;
use crate::config::reload::Reloader;
use crate::config::{self, Config, Source};
use crate::error::{self, UsageError};
use crate::escape;
use crate::events::text::{epochs, model_text};
use crate::events::{Command, RunSummary, TrainEvent};
use crate::files::Dir;
use crate::headless::{self, Ending};
use crate::report;
use crate::startup::Startup;
use crate::store::{self, catalog, run_dir};
use crate::train::{self, ChannelSink, Receivers, Sink};
use crate::ui;
use crate::ui::panes::charts::OtherRun;

/// What the trainer thread's join gives back.
type Joined = std::thread::Result<Result<RunSummary, train::Failure>>;

/// The config and run directory for `--resume`: the run's own config, under the flags
/// given now; refuses changed next-run settings unless `--force`.
fn resume_config(args: &TrainArgs, dir: Option<&Path>) -> Result<Config> {
    let dir = if let Some(dir) = dir {
        dir.to_path_buf()
    } else {
        let root = run_dir::default_runs_root()
            .context("cannot determine the user data directory for runs")?;
        store::checkpoint::latest_run(&root).ok_or_else(|| {
            UsageError(format!(
                "--resume: no run with a checkpoint under {}; name the run directory",
                root.display()
            ))
        })?
    };
    let ckpt = dir.join(store::checkpoint::DIR);
    let missing = || {
        UsageError(format!(
            "--resume: {} has no checkpoint ({} is missing)",
            dir.display(),
            ckpt.join(store::checkpoint::SIDECAR).display()
        ))
    };
    if !dir.exists() {
        return Err(missing().into());
    }
    let run = Dir::open(&dir)?;
    let ckpt_dir = store::checkpoint::dir_of(&run)?.ok_or_else(missing)?;
    let sidecar = store::checkpoint::read_sidecar(&ckpt_dir)?.ok_or_else(missing)?;
    let saved = Config::from_toml(&sidecar.config, &ckpt.join(store::checkpoint::SIDECAR))?;
    // Before any data is loaded; the position within an epoch is checked against the
    // data when the trainer restores it.
    sidecar
        .check(&saved, store::metrics::recorded_epochs(&run))
        .with_context(|| format!("cannot resume {}", dir.display()))?;
    let mut cfg = saved.clone();
    args.apply(&mut cfg);
    cfg.runtime.run_dir = dir.to_string_lossy().into_owned();
    cfg.validate()?;
    // The checkpoint's tensors are one network's: no --force makes them another's, and
    // finding out after the run directory was taken would leave it marked failed.
    if cfg.model.name != saved.model.name {
        return Err(UsageError(another_network(&dir, &cfg, &saved)).into());
    }
    let changes = config::next_run_changes(&saved, &cfg);
    if changes.is_empty() && args.force {
        // Said, not refused: the run resumes as asked, and the flag did nothing.
        eprintln!(
            "fashion-tui: --force: nothing to force, {} resumes with its own settings",
            crate::escape::path(&dir)
        );
    }
    if !changes.is_empty() && !args.force {
        let list: Vec<String> = changes
            .iter()
            .map(|(k, a, b)| format!("{k} {a} → {b}"))
            .collect();
        return Err(UsageError(format!(
            "cannot resume {} with changed settings ({}): the run would not continue as it \
             began; use --force to resume anyway",
            dir.display(),
            list.join(", ")
        ))
        .into());
    }
    Ok(cfg)
}

/// Why the run in `dir`, whose checkpoint holds `saved`'s network, cannot resume as
/// `cfg`'s: one sentence.
fn another_network(dir: &Path, cfg: &Config, saved: &Config) -> String {
    format!(
        "cannot resume {} as a {} model: its checkpoint holds the weights of a {} model \
         (--force lets a resumed run change settings such as the batch size, not the \
         network; start a new run for {})",
        dir.display(),
        cfg.model.name,
        saved.model.name,
        cfg.model.name
    )
}

/// The run's config, where it came from (a resumed run's is its checkpoint's: no file is
/// watched) and whether it resumes.
fn settings(args: &TrainArgs) -> Result<(Config, Source, bool)> {
    Ok(match &args.resume {
        Some(dir) => (resume_config(args, dir.as_deref())?, Source::Defaults, true),
        None => {
            let (cfg, source) = config::resolve(args.common.config.as_deref(), &|c| args.apply(c))?;
            (cfg, source, false)
        }
    })
}

/// Whether the dashboard can be drawn: asked for, and both ends a terminal that is not a
/// dumb one (an Emacs shell, some CI consoles cannot show a full-screen dashboard).
fn interactive(args: &TrainArgs) -> bool {
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    !args.headless
        && !args.json
        && !dumb
        && std::io::stdout().is_terminal()
        && std::io::stdin().is_terminal()
}

/// Hold a named run directory from here to the process's end (the trainer holds a
/// default one for its run): one process per run directory, and never a silent reuse.
/// `--overwrite` first deletes the run there, said in the log.
fn hold_run_dir(
    cfg: &Config,
    args: &TrainArgs,
    resume: bool,
    sink: &mut dyn Sink,
) -> Result<Option<run_dir::RunLock>> {
    let dir = match cfg.runtime.run_dir.as_str() {
        "" => return Ok(None),
        dir => Path::new(dir),
    };
    if !args.overwrite {
        return Ok(Some(run_dir::claim(dir, resume)?));
    }
    let held = run_dir::lock(dir)?;
    let deleted = run_dir::clear_run(&held)?;
    if !deleted.is_empty() {
        sink.send(TrainEvent::Message(format!(
            "--overwrite: deleted the previous run in {} ({})",
            dir.display(),
            deleted.join(", ")
        )));
    }
    Ok(Some(held))
}

/// The trainer and how to reach it, once it runs.
struct Session {
    cfg: Config,
    commands: Sender<Command>,
    /// Set to a stop signal's number when one came.
    signal: Arc<AtomicI32>,
    trainer: JoinHandle<Result<RunSummary, train::Failure>>,
}

/// `fashion-tui [train]`. `startup` is when the process and `main` began: the dashboard
/// logs how long it took to come up.
pub fn run(args: &TrainArgs, startup: Startup) -> Result<ExitCode> {
    let (cfg, source, resume) = settings(args)?;
    let interactive = interactive(args);
    let (mut sink, rx) = ChannelSink::new();
    let _held = hold_run_dir(&cfg, args, resume, &mut sink)?;
    let (commands, control) = flume::unbounded();
    let signal = Arc::new(AtomicI32::new(0));
    watch_signals(signal.clone(), commands.clone())?;
    let opts = train::RunOptions {
        resume,
        pause_on_fault: interactive,
        predictions: cfg.ui.predictions,
    };
    let trainer = train::spawn(cfg.clone(), opts, control, sink);
    let session = Session {
        cfg,
        commands,
        signal: signal.clone(),
        trainer,
    };
    let code = if interactive {
        dashboard(session, rx, args, &source, startup)?
    } else {
        headless(session, &rx, args)
    };
    // A run ended by a signal exits as the shell expects: 128 + the signal's number.
    match signal.load(Ordering::SeqCst) {
        0 => Ok(code),
        sig => Ok(ExitCode::from((128 + sig) as u8)),
    }
}

/// The dashboard on this terminal until the user quits (or the terminal goes away); then
/// the trainer stops, checkpointing, and a summary line is printed.
fn dashboard(
    s: Session,
    rx: Receivers,
    args: &TrainArgs,
    source: &Source,
    startup: Startup,
) -> Result<ExitCode> {
    let channels = ui::Channels {
        events: rx.events,
        progress: rx.progress,
        commands: s.commands.clone(),
    };
    let in_use = config_in_use(&s.cfg, source);
    // Every new version of the file gets the same flags on top.
    let flags = args.clone();
    let files = Reloader::new(in_use.path.as_deref(), move |c| flags.apply(c));
    let mut opts = ui_options(&s.cfg);
    opts.color = opts.color.from_env();
    let mut app = ui::App::new(opts);
    app.set_config(in_use);
    app.set_notify(s.cfg.ui.notify);
    app.set_startup(startup);
    for other in earlier_runs(&s.cfg) {
        app.add_other_run(other);
    }
    let ui = ui::run_terminal_app(app, channels, Some(files), s.signal.clone());
    // Whatever ended the dashboard (quit, a lost terminal), the trainer stops and
    // checkpoints before the process exits.
    let _ = s.commands.send(Command::Stop);
    let joined = s.trainer.join();
    write_report(&joined);
    let summary = match ui {
        Ok(mut app) => {
            // Ctrl-C is SIGINT's key in raw mode: exit as SIGINT would (130), unless a
            // signal came first.
            if app.interrupted() {
                let _ =
                    s.signal
                        .compare_exchange(0, libc::SIGINT, Ordering::SeqCst, Ordering::SeqCst);
            }
            // The dashboard may have quit before the trainer confirmed: it says what the
            // trainer did, now that it is known.
            if let Ok(outcome) = &joined {
                app.on_outcome(outcome);
            }
            app.summary_line()
        }
        // The terminal went away with the signal (an SSH drop): just exit as signalled.
        Err(_) if s.signal.load(Ordering::SeqCst) != 0 => None,
        Err(e) => return Err(e),
    };
    let sig = s.signal.load(Ordering::SeqCst);
    note_stop(&joined, sig, Some("quit from the dashboard"));
    if let Some(line) = summary {
        // Not println!: it panics when the terminal has gone away.
        let _ = writeln!(std::io::stdout(), "{}", escape::lines(&line));
    }
    // The summary line already carries a failure's reason.
    Ok(exit_code(&joined))
}

/// Earlier runs beside this one to overlay on the charts (`r`), none shown until picked.
fn earlier_runs(cfg: &Config) -> Vec<OtherRun> {
    let root = match cfg.runtime.run_dir.as_str() {
        "" => run_dir::default_runs_root(),
        dir => Path::new(dir).parent().map(Path::to_path_buf),
    };
    let this = Some(Path::new(&cfg.runtime.run_dir)).filter(|p| !p.as_os_str().is_empty());
    let runs = root.map_or_else(Vec::new, |r| catalog::earlier(&r, this));
    runs.iter().map(|r| OtherRun::of(r, false)).collect()
}

/// Print the run's progress until it ends; when stdout cannot be written any more, stop
/// the run (it checkpoints) and say so.
fn headless(s: Session, rx: &Receivers, args: &TrainArgs) -> ExitCode {
    let opts = headless::Options {
        json: args.json,
        live: std::io::stderr().is_terminal(),
    };
    let ending = headless::print_std(rx, opts);
    let unwritable = matches!(ending, Ending::Unwritable(_));
    if unwritable {
        // Nobody can see the run any more: stop it (it checkpoints) and say so.
        let _ = s.commands.send(Command::Stop);
    }
    drop(s.commands);
    let joined = s.trainer.join();
    let why = unwritable.then_some("stdout could not be written");
    note_stop(&joined, s.signal.load(Ordering::SeqCst), why);
    write_report(&joined);
    match (ending, &joined) {
        (Ending::Unwritable(why), joined) => {
            let text = format!("cannot write to stdout: {why}; {}", after_stop(joined));
            eprintln!("fashion-tui: {}", escape::lines(&text));
            ExitCode::FAILURE
        }
        (Ending::Done(_), _) => ExitCode::SUCCESS,
        (_, Ok(Err(failure))) => {
            eprintln!("fashion-tui: {}", escape::lines(&failure.reason));
            exit_code(&joined)
        }
        (Ending::Failed(reason), _) => {
            eprintln!("fashion-tui: {}", escape::lines(&reason));
            ExitCode::FAILURE
        }
    }
}

/// How the process exits for how the trainer ended: 0 when it finished or stopped as
/// asked, 2 when the user's settings failed it, 1 for any other failure.
fn exit_code(joined: &Joined) -> ExitCode {
    match joined {
        Ok(Ok(_)) => ExitCode::SUCCESS,
        Ok(Err(failure)) => error::code(failure.usage),
        Err(_) => ExitCode::FAILURE,
    }
}

/// Say in the run's record what stopped a run that stopped early: the signal `sig`
/// (when not 0), else `otherwise`, if anything.
fn note_stop(joined: &Joined, sig: i32, otherwise: Option<&str>) {
    let Ok(Ok(s)) = joined else { return };
    if !s.stopped_early {
        return;
    }
    let why = match sig {
        0 => match otherwise {
            Some(w) => w.to_string(),
            None => return,
        },
        libc::SIGINT => "SIGINT (Ctrl-C)".to_string(),
        libc::SIGTERM => "SIGTERM".to_string(),
        libc::SIGHUP => "SIGHUP (the terminal went away)".to_string(),
        n => format!("signal {n}"),
    };
    // The record is a convenience for later: a failure to note this changes nothing now.
    if let Ok(dir) = Dir::open(&s.run_dir) {
        let _ = store::run_record::update(&dir, |r| r.reason = Some(why));
    }
}

/// What became of a run stopped because its output could not be written.
fn after_stop(joined: &Joined) -> String {
    match joined {
        Ok(Ok(s)) => format!(
            "training {} after {}, {}",
            if s.stopped_early {
                "stopped"
            } else {
                "finished"
            },
            epochs(s.epochs_completed),
            model_text(s)
        ),
        Ok(Err(failure)) => format!("training failed: {}", failure.reason),
        Err(_) => "the trainer thread panicked".to_string(),
    }
}

/// Plots and CSV for a run that ended with finished epochs, into its own directory
/// (said on stderr: stdout may be carrying JSON lines). A failed report is a warning,
/// not a failed run.
fn write_report(joined: &Joined) {
    let Ok(Ok(summary)) = joined else { return };
    match report::write_for_run(&summary.run_dir) {
        Ok(Some(dir)) => eprintln!(
            "report: {} ({}, {}, {})",
            escape::path(&dir),
            report::CURVES_PNG,
            report::CONFUSION_PNG,
            report::METRICS_CSV
        ),
        Ok(None) => {}
        Err(e) => eprintln!(
            "fashion-tui: warning: no report written: {}",
            escape::lines(&format!("{e:#}"))
        ),
    }
}

/// The dashboard's view of the config: the file in use (absolute, so saving and
/// watching survive a change of directory) and where the editor saves. Without a file,
/// a save creates the user config file (like `config init`, from the documented
/// defaults), else `./config.toml` when there is no user config directory.
pub fn config_in_use(cfg: &Config, source: &Source) -> ui::ConfigInUse {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let path = match source {
        Source::File(p) => Some(absolute(p)),
        Source::Defaults => None,
    };
    let save_path = path
        .clone()
        .or_else(config::user_config_path)
        .unwrap_or_else(|| absolute(&PathBuf::from(config::FILE_NAME)));
    ui::ConfigInUse {
        path,
        save_path,
        config: cfg.clone(),
    }
}

/// The dashboard's settings from the `[ui]` section.
pub fn ui_options(cfg: &Config) -> ui::UiOptions {
    ui::UiOptions {
        fps: cfg.ui.fps,
        color: cfg.ui.color,
        predictions: cfg.ui.predictions,
        ascii_charts: cfg.ui.ascii_charts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resuming_as_another_network_is_said_in_one_sentence() {
        let saved = Config::default();
        let mut cfg = Config::default();
        cfg.model.name = crate::config::ModelKind::Fast;
        assert_eq!(
            another_network(Path::new("/runs/r"), &cfg, &saved),
            "cannot resume /runs/r as a fast model: its checkpoint holds the weights of a \
             tutorial model (--force lets a resumed run change settings such as the batch \
             size, not the network; start a new run for fast)"
        );
    }
}

//! `fashion-tui [train]`: resolve the configuration (or a resumed run's), start the
//! trainer thread and hand its events to the dashboard or the headless printer.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::signals::watch_signals;
use crate::cli::TrainArgs;
use crate::config::reload::Reloader;
use crate::config::{self, Config, Source};
use crate::error::{self, UsageError};
use crate::events::{Command, RunSummary, TrainEvent};
use crate::headless::{self, Ending};
use crate::report;
use crate::startup::Startup;
use crate::store;
use crate::train::{self, ChannelSink, Sink};
use crate::ui;
use crate::ui::panes::status::{epochs, model_text};

/// The config and run directory for `--resume`: the run's own config, under the flags
/// given now; refuses changed next-run settings unless `--force`.
fn resume_config(args: &TrainArgs, dir: Option<&Path>) -> Result<Config> {
    let dir = if let Some(dir) = dir {
        dir.to_path_buf()
    } else {
        let root = store::run_dir::default_runs_root()
            .context("cannot determine the user data directory for runs")?;
        store::checkpoint::latest_run(&root).ok_or_else(|| {
            UsageError(format!(
                "--resume: no run with a checkpoint under {}; name the run directory",
                root.display()
            ))
        })?
    };
    let ckpt = dir.join(store::checkpoint::DIR);
    let sidecar = store::checkpoint::read_sidecar(&ckpt)?.ok_or_else(|| {
        UsageError(format!(
            "--resume: {} has no checkpoint ({} is missing)",
            dir.display(),
            ckpt.join(store::checkpoint::SIDECAR).display()
        ))
    })?;
    let saved = Config::from_toml(&sidecar.config, &ckpt.join(store::checkpoint::SIDECAR))?;
    // Before any data is loaded; the position within an epoch is checked against the
    // data when the trainer restores it.
    sidecar
        .check(&saved, store::run_dir::recorded_epochs(&dir))
        .with_context(|| format!("cannot resume {}", dir.display()))?;
    let mut cfg = saved.clone();
    args.apply(&mut cfg);
    cfg.runtime.run_dir = dir.to_string_lossy().into_owned();
    cfg.validate()?;
    // The checkpoint's tensors are one network's: no --force makes them another's, and
    // finding out after the run directory was taken would leave it marked failed.
    if cfg.model.name != saved.model.name {
        return Err(UsageError(format!(
            "cannot resume {} as a {} model: its checkpoint holds the weights of a {} model              (--force lets a resumed run change settings such as the batch size, not the              network; start a new run for {})",
            dir.display(),
            cfg.model.name,
            saved.model.name,
            cfg.model.name
        ))
        .into());
    }
    let changes = config::next_run_changes(&saved, &cfg);
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

/// `fashion-tui [train]`. `startup` is when the process and `main` began: the dashboard
/// logs how long it took to come up.
pub fn run(args: &TrainArgs, startup: Startup) -> Result<ExitCode> {
    // A resumed run takes its config from its checkpoint: no config file is watched.
    let (cfg, source, resume) = match &args.resume {
        Some(dir) => (resume_config(args, dir.as_deref())?, Source::Defaults, true),
        None => {
            let (cfg, source) = config::resolve(args.common.config.as_deref(), &|c| args.apply(c))?;
            (cfg, source, false)
        }
    };
    // A dumb terminal (Emacs shell, some CI consoles) cannot show a full-screen dashboard.
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    let interactive = !args.headless
        && !args.json
        && !dumb
        && std::io::stdout().is_terminal()
        && std::io::stdin().is_terminal();
    let (mut sink, rx) = ChannelSink::new();
    // A named run directory is held from here to the process's end (the trainer holds a
    // default one for its run): one process per run directory, and never a silent reuse.
    let _held = match cfg.runtime.run_dir.as_str() {
        "" => None,
        dir if args.overwrite => {
            let held = store::run_dir::lock(Path::new(dir))?;
            let deleted = store::run_dir::clear_run(&held)?;
            if !deleted.is_empty() {
                sink.send(TrainEvent::Message(format!(
                    "--overwrite: deleted the previous run in {dir} ({})",
                    deleted.join(", ")
                )));
            }
            Some(held)
        }
        dir => Some(store::run_dir::claim(Path::new(dir), resume)?),
    };
    let (cmd_tx, cmd_rx) = flume::unbounded();
    let signal = Arc::new(AtomicI32::new(0));
    watch_signals(signal.clone(), cmd_tx.clone())?;
    let opts = train::RunOptions {
        resume,
        pause_on_fault: interactive,
        predictions: cfg.ui.predictions,
    };
    let trainer = train::spawn(cfg.clone(), opts, cmd_rx, sink);
    let code = if interactive {
        let channels = ui::Channels {
            events: rx.events,
            progress: rx.progress,
            commands: cmd_tx.clone(),
        };
        let in_use = config_in_use(&cfg, &source);
        // Every new version of the file gets the same flags on top.
        let flags = args.clone();
        let files = Reloader::new(in_use.path.as_deref(), move |c| flags.apply(c));
        let mut opts = ui_options(&cfg);
        opts.color = opts.color.from_env();
        let mut app = ui::App::new(opts);
        app.set_config(in_use);
        app.set_notify(cfg.ui.notify);
        app.set_startup(startup);
        // Earlier runs to overlay on the charts (`r`), none shown until picked.
        let root = match cfg.runtime.run_dir.as_str() {
            "" => store::run_dir::default_runs_root(),
            dir => Path::new(dir).parent().map(Path::to_path_buf),
        };
        let this = Some(Path::new(&cfg.runtime.run_dir)).filter(|p| !p.as_os_str().is_empty());
        for other in root.map_or_else(Vec::new, |r| super::view::earlier_runs(&r, this)) {
            app.add_other_run(other);
        }
        let ui = ui::run_terminal_app(app, channels, Some(files), signal.clone());
        // Whatever ended the dashboard (quit, a lost terminal), the trainer stops and
        // checkpoints before the process exits.
        let _ = cmd_tx.send(Command::Stop);
        let joined = trainer.join();
        write_report(&joined);
        let summary = match ui {
            Ok(mut app) => {
                // Ctrl-C is SIGINT's key in raw mode: exit as SIGINT would (130), unless
                // a signal came first.
                if app.interrupted() {
                    let _ = signal.compare_exchange(
                        0,
                        libc::SIGINT,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                }
                // The dashboard may have quit before the trainer confirmed: it says
                // what the trainer did, now that it is known.
                if let Ok(outcome) = &joined {
                    app.on_outcome(outcome);
                }
                app.summary_line()
            }
            // The terminal went away with the signal (an SSH drop): just exit as signalled.
            Err(_) if signal.load(Ordering::SeqCst) != 0 => None,
            Err(e) => return Err(e),
        };
        note_stop(
            &joined,
            signal.load(Ordering::SeqCst),
            Some("quit from the dashboard"),
        );
        if let Some(line) = summary {
            // Not println!: it panics when the terminal has gone away.
            let _ = writeln!(std::io::stdout(), "{line}");
        }
        match joined {
            Ok(Ok(_)) => ExitCode::SUCCESS,
            // The summary line above already carries the reason.
            Ok(Err(failure)) => error::code(failure.usage),
            Err(_) => ExitCode::FAILURE,
        }
    } else {
        let opts = headless::Options {
            json: args.json,
            live: std::io::stderr().is_terminal(),
        };
        let ending = headless::print_std(&rx, opts);
        if let Ending::Unwritable(_) = ending {
            // Nobody can see the run any more: stop it (it checkpoints) and say so.
            let _ = cmd_tx.send(Command::Stop);
        }
        drop(cmd_tx);
        let joined = trainer.join();
        let why = matches!(ending, Ending::Unwritable(_)).then_some("stdout could not be written");
        note_stop(&joined, signal.load(Ordering::SeqCst), why);
        write_report(&joined);
        match (ending, joined) {
            (Ending::Unwritable(why), joined) => {
                eprintln!(
                    "fashion-tui: cannot write to stdout: {why}; {}",
                    after_stop(joined)
                );
                ExitCode::FAILURE
            }
            (Ending::Done(_), _) => ExitCode::SUCCESS,
            (_, Ok(Err(failure))) => {
                eprintln!("fashion-tui: {}", failure.reason);
                error::code(failure.usage)
            }
            (Ending::Failed(reason), _) => {
                eprintln!("fashion-tui: {reason}");
                ExitCode::FAILURE
            }
        }
    };
    // A run ended by a signal exits as the shell expects: 128 + the signal's number.
    match signal.load(Ordering::SeqCst) {
        0 => Ok(code),
        sig => Ok(ExitCode::from((128 + sig) as u8)),
    }
}

/// Say in the run's record what stopped a run that stopped early: the signal `sig`
/// (when not 0), else `otherwise`, if anything.
fn note_stop(
    joined: &std::thread::Result<Result<RunSummary, train::Failure>>,
    sig: i32,
    otherwise: Option<&str>,
) {
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
    let _ = store::run_record::update(&s.run_dir, |r| r.reason = Some(why));
}

/// What became of a run stopped because its output could not be written.
fn after_stop(joined: std::thread::Result<Result<RunSummary, train::Failure>>) -> String {
    match joined {
        Ok(Ok(s)) => format!(
            "training {} after {}, {}",
            if s.stopped_early {
                "stopped"
            } else {
                "finished"
            },
            epochs(s.epochs_completed),
            model_text(&s)
        ),
        Ok(Err(failure)) => format!("training failed: {}", failure.reason),
        Err(_) => "the trainer thread panicked".to_string(),
    }
}

/// Plots and CSV for a run that ended with finished epochs, into its own directory
/// (said on stderr: stdout may be carrying JSON lines). A failed report is a warning,
/// not a failed run.
fn write_report<E>(joined: &Result<Result<RunSummary, train::Failure>, E>) {
    let Ok(Ok(summary)) = joined else { return };
    match report::write_for_run(&summary.run_dir) {
        Ok(Some(dir)) => eprintln!(
            "report: {} ({}, {}, {})",
            dir.display(),
            report::CURVES_PNG,
            report::CONFUSION_PNG,
            report::METRICS_CSV
        ),
        Ok(None) => {}
        Err(e) => eprintln!("fashion-tui: warning: no report written: {e:#}"),
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

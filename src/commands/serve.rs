//! The run's own process: it trains, serves the run on its socket for every dashboard
//! (and script) that attaches, prints its progress (to the terminal when headless, to the
//! run's `train.log` in the background), writes the report at the end and exits as the
//! run ended.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use serde_json::json;

use super::background::Reporter;
use super::signals::watch_signals;
use crate::config::Config;
use crate::error;
use crate::escape;
use crate::events::text::{epochs, model_text};
use crate::events::{Command, RunSummary, TrainEvent};
use crate::files::Dir;
use crate::headless::{self, Ending};
use crate::live::hub::{Earlier, Hub};
use crate::live::{server, socket};
use crate::report;
use crate::store::history::StoredRun;
use crate::store::run_dir::{self, RunLock};
use crate::store::{self, checkpoint};
use crate::train::{self, ChannelSink, Sink};

/// How the run's process runs.
pub struct Serving {
    pub cfg: Config,
    /// The run directory (held by the process).
    pub run: PathBuf,
    /// The command made it (the config names none): removed again when the run fails
    /// before writing anything into it.
    pub made: bool,
    pub resume: bool,
    /// A dashboard started the run: faults pause it for someone to decide.
    pub watched: bool,
    /// Headless output: JSON lines, and a live progress line on a terminal.
    pub json: bool,
    /// Lines for the Log before the trainer's (what the command did to the directory).
    pub notes: Vec<String>,
    /// The config file in use, said to attaching dashboards.
    pub config_file: Option<PathBuf>,
    /// A background run tells the command that started it how it goes.
    pub reporter: Option<Reporter>,
}

/// What the trainer thread's join gives back.
pub type Joined = std::thread::Result<Result<RunSummary, train::Failure>>;

/// The sink the trainer sends into: the hub's, and the first `Started` tells the waiting
/// command that the run is up.
struct Announcing<S: Sink> {
    inner: S,
    reporter: Arc<Mutex<Option<Reporter>>>,
}

impl<S: Sink> Sink for Announcing<S> {
    fn send(&mut self, ev: TrainEvent) -> bool {
        if matches!(ev, TrainEvent::Started(_)) {
            if let Some(mut r) = self.reporter.lock().ok().and_then(|mut r| r.take()) {
                r.up();
            }
        }
        self.inner.send(ev)
    }
}

/// A resumed run's stored epochs, for clients attaching to this process.
fn earlier(run: &Path) -> Option<Earlier> {
    let dir = Dir::open(run).ok()?;
    let sidecar = checkpoint::read_sidecar(&checkpoint::dir_of(&dir).ok()??).ok()??;
    Some(Earlier {
        run: StoredRun::load(run).ok()?,
        upto_epoch: sidecar.epoch,
    })
}

/// Run the run's process (see the module's header) until the run ends; `held` is its
/// hold on the run directory.
pub fn serve(s: Serving, held: RunLock) -> Result<ExitCode> {
    let reporter = Arc::new(Mutex::new(s.reporter));
    let (local, rx) = ChannelSink::new();
    let (commands, control) = flume::unbounded();
    let signal = Arc::new(AtomicI32::new(0));
    watch_signals(signal.clone(), commands.clone())?;
    let earlier = s.resume.then(|| earlier(&s.run)).flatten();
    let about = json!({
        "run": s.run,
        "pid": std::process::id(),
        "config": s.config_file,
    });
    let (hub, mut sink) = Hub::new(local, commands.clone(), earlier, about);
    for note in s.notes {
        sink.send(TrainEvent::Message(note));
    }
    let server = match server::serve(held.handle(), hub.clone(), socket::my_uid()) {
        Ok(server) => server,
        Err(e) => {
            fail_early(&reporter, &e);
            return Err(e);
        }
    };
    if let Some(r) = reporter.lock().ok().as_mut().and_then(|r| r.as_mut()) {
        r.listening();
    }
    let opts = train::RunOptions {
        resume: s.resume,
        pause_on_fault: s.watched,
        predictions: s.cfg.ui.predictions,
        run_dir: Some(s.run.clone()),
    };
    let announcing = Announcing {
        inner: sink,
        reporter: reporter.clone(),
    };
    let trainer = train::spawn(s.cfg.clone(), opts, control, announcing);
    let printing = headless::Options {
        json: s.json,
        live: std::io::stderr().is_terminal(),
    };
    let ending = headless::print_std(&rx, printing);
    let unwritable = matches!(ending, Ending::Unwritable(_));
    if unwritable {
        // Nobody can see the run any more: stop it (it checkpoints) and say so.
        let _ = commands.send(Command::Stop);
    }
    drop(commands);
    let joined = trainer.join();
    let sig = signal.load(Ordering::SeqCst);
    let stopped_by = hub.stopped_by().map(|who| format!("stopped from {who}"));
    let why = match unwritable {
        true => Some("stdout could not be written".to_string()),
        false => stopped_by,
    };
    note_stop(&joined, sig, why.as_deref());
    let report = write_report(&joined);
    let code = ending_code(ending, &joined);
    // A run ended by a signal exits as the shell expects: 128 + the signal's number.
    let code = match sig {
        0 => code,
        sig => 128 + sig,
    };
    if let Some(mut r) = reporter.lock().ok().and_then(|mut r| r.take()) {
        let reason = match &joined {
            Ok(Err(f)) => f.reason.clone(),
            _ => "the run ended before it was up".into(),
        };
        r.failed(code, &reason);
    }
    let report = report.map(|d| d.to_string_lossy().into_owned());
    server.finish(code, report.as_deref());
    if s.made {
        run_dir::remove_if_unused(&held);
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// Tell the waiting command that the run could not start, with `e`'s exit code.
fn fail_early(reporter: &Mutex<Option<Reporter>>, e: &anyhow::Error) {
    if let Some(mut r) = reporter.lock().ok().and_then(|mut r| r.take()) {
        let code = if error::is_usage(e) { 2 } else { 1 };
        r.failed(code, &format!("{e:#}"));
    }
}

/// The exit code for how the printing and the trainer ended, said on stderr when it is
/// a failure.
fn ending_code(ending: Ending, joined: &Joined) -> i32 {
    match (ending, joined) {
        (Ending::Unwritable(why), joined) => {
            let text = format!("cannot write to stdout: {why}; {}", after_stop(joined));
            eprintln!("fashion-tui: {}", escape::lines(&text));
            1
        }
        (Ending::Done(_), _) => 0,
        (_, Ok(Err(failure))) => {
            eprintln!("fashion-tui: {}", escape::lines(&failure.reason));
            exit_code(joined)
        }
        (Ending::Failed(reason), _) => {
            eprintln!("fashion-tui: {}", escape::lines(&reason));
            1
        }
    }
}

/// How the process exits for how the trainer ended: 0 when it finished or stopped as
/// asked, 2 when the user's settings failed it, 1 for any other failure.
pub fn exit_code(joined: &Joined) -> i32 {
    match joined {
        Ok(Ok(_)) => 0,
        Ok(Err(failure)) if failure.usage => 2,
        _ => 1,
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
/// (said on stderr: stdout may be carrying JSON lines); the directory, when written. A
/// failed report is a warning, not a failed run.
fn write_report(joined: &Joined) -> Option<PathBuf> {
    let Ok(Ok(summary)) = joined else { return None };
    match report::write_for_run(&summary.run_dir) {
        Ok(Some(dir)) => {
            eprintln!(
                "report: {} ({}, {}, {})",
                escape::path(&dir),
                report::CURVES_PNG,
                report::CONFUSION_PNG,
                report::METRICS_CSV
            );
            Some(dir)
        }
        Ok(None) => None,
        Err(e) => {
            eprintln!(
                "fashion-tui: warning: no report written: {}",
                escape::lines(&format!("{e:#}"))
            );
            None
        }
    }
}

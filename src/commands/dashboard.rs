//! The dashboard on a live run, whichever command opened it: `attach`, `view` following a
//! run that trains, and `train`, whose dashboard is the first terminal attached to the run
//! it started. What it is given, how this terminal is named in the run's Log, and what it
//! says and returns when it closes (detached, stopped, or the run gone).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::signals::watch_client_signals;
use crate::config::reload::Reloader;
use crate::config::{self, Config, OnHangup, Source};
use crate::escape;
use crate::events::Command;
use crate::live::client::{Attached, Ending};
use crate::startup::Startup;
use crate::store::{catalog, run_dir};
use crate::ui::{self, panes::charts::OtherRun, App};

/// What a dashboard attached to a run is given besides the connection.
pub struct Dashboard {
    pub run: PathBuf,
    /// The run's settings, with the dashboard's own (`[ui]`) from this user's config.
    pub cfg: Config,
    pub in_use: ui::ConfigInUse,
    /// The config file watched for changes (the first dashboard's), and the editor's saves.
    pub files: Reloader,
    pub startup: Option<Startup>,
}

/// What this terminal is called in the run's Log: its tty, and where an SSH session
/// comes from.
pub fn terminal_name() -> String {
    // SAFETY: ttyname returns a pointer to a static buffer or null.
    let tty = unsafe {
        let p = libc::ttyname(0);
        (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    let tty = tty.map_or_else(
        || "a terminal".into(),
        |t| t.trim_start_matches("/dev/").to_string(),
    );
    match std::env::var("SSH_CLIENT") {
        Ok(ssh) => {
            let from = ssh.split_whitespace().next().unwrap_or("?").to_string();
            format!("{tty} (ssh from {from})")
        }
        Err(_) => tty,
    }
}

/// Run the dashboard on an attached run until the user quits, detaches or the run ends;
/// then say what became of it and exit as the run did (0 on a detach).
pub fn open(attached: Attached, d: Dashboard) -> Result<ExitCode> {
    let hangup_detaches = d.cfg.ui.on_hangup == OnHangup::Detach;
    let signal = Arc::new(AtomicI32::new(0));
    watch_client_signals(signal.clone())?;
    let app = app_for(&d);
    let channels = ui::Channels {
        events: attached.rx.events.clone(),
        progress: attached.rx.progress.clone(),
        commands: attached.commands.clone(),
    };
    let ui = ui::run_terminal_app(
        app,
        channels,
        Some(d.files),
        signal.clone(),
        hangup_detaches,
    );
    let sig = signal.load(Ordering::SeqCst);
    let mut app = match ui {
        Ok(app) => app,
        // The terminal is gone (an SSH drop, SIGHUP): the run trains on, or is stopped, as
        // `ui.on_hangup` says; nobody can read a word here any more.
        Err(_) if hangup_detaches => {
            attached.detach(true);
            return Ok(ExitCode::from(129));
        }
        Err(_) => {
            let _ = attached.commands.send(Command::Stop);
            settle(None, &attached, STOP_WAIT);
            return Ok(ExitCode::from(129));
        }
    };
    if app.detached() {
        attached.detach(false);
        say(&detached_text(&d.run, &attached.hello));
        return Ok(signal_code(sig).unwrap_or(ExitCode::SUCCESS));
    }
    // The dashboard may have quit before the run confirmed: what it did, when it says.
    let ending = settle(Some(&mut app), &attached, STOP_WAIT);
    if let Some(line) = app.summary_line() {
        say(&line);
    }
    if let Some(report) = &ending.report {
        say(&format!("report: {}", escape::line(report)));
    }
    let vanished = (ending.exit.is_none() && ending.bye.is_none()).then(|| {
        say(&format!(
            "the run's process went away without a word (killed?); \
             `fashion-tui train --resume {}` continues it from its last checkpoint",
            run_word(&d.run)
        ));
        ExitCode::FAILURE
    });
    let interrupted = app.interrupted().then_some(ExitCode::from(130));
    Ok(signal_code(sig)
        .or(interrupted)
        .or(vanished)
        .or(ending.exit.map(|c| ExitCode::from(c.clamp(0, 255) as u8)))
        .unwrap_or(ExitCode::SUCCESS))
}

/// How long a stopped run may take to checkpoint, write its report and exit.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// The app for `d`: the dashboard's options, the config in use, the runs beside.
fn app_for(d: &Dashboard) -> App {
    let mut opts = ui_options(&d.cfg);
    opts.color = opts.color.from_env();
    let mut app = App::new(opts);
    app.set_config(d.in_use.clone());
    app.set_notify(d.cfg.ui.notify);
    if let Some(s) = d.startup {
        app.set_startup(s);
    }
    for other in earlier_runs(&d.run) {
        app.add_other_run(other);
    }
    app
}

/// 128 + the signal's number, for a dashboard ended by one.
fn signal_code(sig: i32) -> Option<ExitCode> {
    (sig != 0).then(|| ExitCode::from((128 + sig) as u8))
}

/// A line on stdout (not println!: it panics when the terminal has gone away).
fn say(text: &str) {
    let _ = writeln!(std::io::stdout(), "{}", escape::lines(text));
}

/// How to name `run` to `attach`: its name when it is in the runs directory, else its
/// path (escaped, quoted for a shell where needed).
pub fn run_word(run: &Path) -> String {
    let root = run_dir::default_runs_root().and_then(|r| r.canonicalize().ok());
    let parent = run.parent().and_then(|p| p.canonicalize().ok());
    let word = match (run.file_name(), root == parent && root.is_some()) {
        (Some(name), true) => name.to_string_lossy().into_owned(),
        _ => run.to_string_lossy().into_owned(),
    };
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./+:@".contains(c));
    if plain {
        word
    } else {
        format!("'{}'", escape::line(&word).replace('\'', r"'\''"))
    }
}

/// What a detach says: the run trains on, and how to come back.
fn detached_text(run: &Path, hello: &serde_json::Value) -> String {
    let pid = hello["pid"]
        .as_u64()
        .map_or_else(String::new, |p| format!(" (pid {p})"));
    format!(
        "detached: the run trains on{pid}; come back with `fashion-tui attach {}`",
        run_word(run)
    )
}

/// Feed what the run still says into `app` until its process has exited (or `limit`
/// has passed, or the connection ended without an exit); how it ended.
fn settle(mut app: Option<&mut App>, attached: &Attached, limit: Duration) -> Ending {
    let start = Instant::now();
    loop {
        let disconnected = loop {
            match attached.rx.events.try_recv() {
                Ok(ev) => {
                    if let Some(app) = app.as_deref_mut() {
                        app.on_event(ev);
                    }
                }
                Err(flume::TryRecvError::Empty) => break false,
                Err(flume::TryRecvError::Disconnected) => break true,
            }
        };
        let ending = attached
            .ending
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        if ending.exit.is_some() || disconnected || start.elapsed() >= limit {
            return ending;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Earlier runs beside `run` to overlay on the charts (`r`), none shown until picked.
fn earlier_runs(run: &Path) -> Vec<OtherRun> {
    let Some(root) = run.parent() else {
        return Vec::new();
    };
    catalog::earlier(root, Some(run))
        .iter()
        .map(|r| OtherRun::of(r, false))
        .collect()
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
        mouse: cfg.ui.mouse,
    }
}

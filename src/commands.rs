//! What each subcommand does: resolve the configuration, start the trainer thread and
//! hand its events to the dashboard or the headless printer.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use signal_hook::iterator::Signals;

use anyhow::{Context, Result};

use crate::cli::{ConfigCommand, Overrides, TrainArgs};
use crate::config::reload::Reloader;
use crate::config::{self, ColorSetting, Config, ConfigError, Source};
use crate::headless::{self, Ending};
use crate::train::events::Command;
use crate::train::{self, ChannelSink};
use crate::ui;

/// The configuration the flags and files describe, validated.
pub fn resolve_config(common: &Overrides, apply: impl FnOnce(&mut Config)) -> Result<Config> {
    resolve_config_and_source(common, apply).map(|(cfg, _)| cfg)
}

/// [`resolve_config`], and which file it came from.
pub fn resolve_config_and_source(
    common: &Overrides,
    apply: impl FnOnce(&mut Config),
) -> Result<(Config, Source)> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let source = config::locate(
        common.config.as_deref(),
        &cwd,
        config::user_config_path().as_deref(),
    )?;
    let (from_file, text) = Config::load_with_text(&source)?;
    let mut cfg = from_file.clone();
    apply(&mut cfg);
    match (&source, text) {
        (Source::File(path), Some(text)) => cfg.validate_in_file(&text, path, &from_file)?,
        _ => cfg.validate()?,
    }
    Ok((cfg, source))
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

/// Signals that end a run cleanly (checkpoint first): SIGINT, SIGTERM, SIGHUP.
const STOP_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// How long a signalled run may take to checkpoint and exit before it is ended anyway.
const SIGNAL_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// On a stop signal, record it in `flag` and ask the trainer to stop (it checkpoints).
fn watch_signals(flag: Arc<AtomicI32>, commands: flume::Sender<Command>) -> Result<()> {
    let mut signals = Signals::new(STOP_SIGNALS).context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                flag.store(sig, Ordering::SeqCst);
                let _ = commands.send(Command::Stop);
                // The run normally ends within a batch and a save; should anything hang
                // (a terminal that blocks writes), never linger past this.
                std::thread::sleep(SIGNAL_GRACE);
                crate::ui::run::restore();
                std::process::exit(128 + sig);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// The config and run directory for `--resume`: the run's own config, under the flags
/// given now; refuses changed next-run settings unless `--force`.
fn resume_config(args: &TrainArgs, dir: Option<&Path>) -> Result<Config> {
    let dir = if let Some(dir) = dir {
        dir.to_path_buf()
    } else {
        let root = train::run_dir::default_runs_root()
            .context("cannot determine the user data directory for runs")?;
        train::checkpoint::latest_run(&root).ok_or_else(|| {
            ConfigError(format!(
                "--resume: no run with a checkpoint under {}; name the run directory",
                root.display()
            ))
        })?
    };
    let ckpt = dir.join(train::checkpoint::DIR);
    let sidecar = train::checkpoint::read_sidecar(&ckpt)?.ok_or_else(|| {
        ConfigError(format!(
            "--resume: {} has no checkpoint ({} is missing)",
            dir.display(),
            ckpt.join(train::checkpoint::SIDECAR).display()
        ))
    })?;
    let saved = Config::from_toml(&sidecar.config, &ckpt.join(train::checkpoint::SIDECAR))?;
    let mut cfg = saved.clone();
    args.apply(&mut cfg);
    cfg.runtime.run_dir = dir.to_string_lossy().into_owned();
    cfg.validate()?;
    let changes = config::next_run_changes(&saved, &cfg);
    if !changes.is_empty() && !args.force {
        let list: Vec<String> = changes
            .iter()
            .map(|(k, a, b)| format!("{k} {a} → {b}"))
            .collect();
        return Err(ConfigError(format!(
            "cannot resume {} with changed settings ({}): the run would not continue as it \
             began; use --force to resume anyway",
            dir.display(),
            list.join(", ")
        ))
        .into());
    }
    Ok(cfg)
}

/// `fashion-tui [train]`.
pub fn train(args: &TrainArgs) -> Result<ExitCode> {
    // A resumed run takes its config from its checkpoint: no config file is watched.
    let (cfg, source, resume) = match &args.resume {
        Some(dir) => (resume_config(args, dir.as_deref())?, Source::Defaults, true),
        None => {
            let (cfg, source) = resolve_config_and_source(&args.common, |c| args.apply(c))?;
            (cfg, source, false)
        }
    };
    let interactive = !args.headless
        && !args.json
        && std::io::stdout().is_terminal()
        && std::io::stdin().is_terminal();
    let (sink, rx) = ChannelSink::new();
    let (cmd_tx, cmd_rx) = flume::unbounded();
    let signal = Arc::new(AtomicI32::new(0));
    watch_signals(signal.clone(), cmd_tx.clone())?;
    let opts = train::RunOptions {
        resume,
        pause_on_fault: interactive,
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
        let ui = ui::run_terminal(ui_options(&cfg), channels, in_use, files, signal.clone());
        // Whatever ended the dashboard (quit, a lost terminal), the trainer stops and
        // checkpoints before the process exits.
        let _ = cmd_tx.send(Command::Stop);
        let joined = trainer.join();
        let summary = match ui {
            Ok(app) => app.summary_line(),
            // The terminal went away with the signal (an SSH drop): just exit as signalled.
            Err(_) if signal.load(Ordering::SeqCst) != 0 => None,
            Err(e) => return Err(e),
        };
        if let Some(line) = summary {
            // Not println!: it panics when the terminal has gone away.
            let _ = writeln!(std::io::stdout(), "{line}");
        }
        match joined {
            Ok(Ok(_)) => ExitCode::SUCCESS,
            // The summary line above already carries the reason.
            Ok(Err(failure)) => exit_code(failure.usage),
            Err(_) => ExitCode::FAILURE,
        }
    } else {
        let opts = headless::Options {
            json: args.json,
            live: std::io::stderr().is_terminal(),
        };
        let ending = headless::print_std(&rx, opts);
        drop(cmd_tx);
        match (ending, trainer.join()) {
            (Ending::Done(_), _) => ExitCode::SUCCESS,
            (_, Ok(Err(failure))) => {
                eprintln!("fashion-tui: {}", failure.reason);
                exit_code(failure.usage)
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

/// The dashboard's settings from the `[ui]` section.
pub fn ui_options(cfg: &Config) -> ui::UiOptions {
    ui::UiOptions {
        fps: cfg.ui.fps,
        color: match cfg.ui.color {
            ColorSetting::Auto => ui::ColorMode::Auto,
            ColorSetting::Ansi16 => ui::ColorMode::Ansi16,
            ColorSetting::Ansi256 => ui::ColorMode::Ansi256,
            ColorSetting::Truecolor => ui::ColorMode::TrueColor,
            ColorSetting::None => ui::ColorMode::None,
        },
        predictions: cfg.ui.predictions,
        ascii_charts: cfg.ui.ascii_charts,
    }
}

/// 2 for a problem with the user's settings, 1 for any other failure.
pub fn exit_code(usage: bool) -> ExitCode {
    if usage {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// `fashion-tui config path|init`.
pub fn config(cmd: &ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Path { config: explicit } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let source = config::locate(
                explicit.as_deref(),
                &cwd,
                config::user_config_path().as_deref(),
            )?;
            match source {
                Source::File(p) => println!("{}", p.display()),
                Source::Defaults => println!("{source}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Init { force } => {
            let path =
                config::user_config_path().context("cannot determine the user config directory")?;
            init_at(&path, *force)?;
            println!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The documented default config, as shipped in the repository.
pub const DEFAULT_CONFIG: &str = include_str!("../config.toml");

fn init_at(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(ConfigError(format!(
            "{} already exists; use --force to overwrite it",
            path.display()
        ))
        .into());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::atomic::write(path, DEFAULT_CONFIG.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("config.toml");
        init_at(&p, false).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), DEFAULT_CONFIG);
        let e = init_at(&p, false).unwrap_err();
        assert!(e.downcast_ref::<ConfigError>().is_some());
        init_at(&p, true).unwrap();
    }
}

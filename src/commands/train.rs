//! `fashion-tui [train]`: resolve the configuration (or a resumed run's) and hold the run
//! directory; then run it ([`serve`]) here (headless), or in its own process in the
//! background, with this terminal's dashboard attached to it ([`attach`]) or, with
//! `--detach`, not.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::background::{self, Side};
use super::dashboard;
use super::serve::{self, Serving};
use crate::cli::TrainArgs;
use crate::config::reload::Reloader;
use crate::config::{self, Config, Source};
use crate::error::UsageError;
use crate::escape;
use crate::files::Dir;
use crate::live::client;
use crate::startup::Startup;
use crate::store::{self, run_dir};

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

/// How the run is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Its own process in the background; this terminal's dashboard is its first client.
    Dashboard,
    /// In this process, printing a line per epoch (or JSON lines).
    Headless,
    /// Its own process in the background, and this command returns once it is up.
    Detached,
}

impl Mode {
    fn of(args: &TrainArgs) -> Mode {
        if args.detach {
            Mode::Detached
        } else if interactive(args) {
            Mode::Dashboard
        } else {
            Mode::Headless
        }
    }
}

/// The run directory, held from here to the process's end: the one named (one process
/// per run directory, and never a silent reuse; `--overwrite` first deletes the run
/// there, said in `notes`), else a new one under the runs directory (`made`).
fn hold_run_dir(
    cfg: &Config,
    args: &TrainArgs,
    resume: bool,
    notes: &mut Vec<String>,
) -> Result<(run_dir::RunLock, bool)> {
    let dir = match cfg.runtime.run_dir.as_str() {
        "" => {
            let root = run_dir::default_runs_root()
                .context("cannot determine the user data directory for runs; set --run-dir")?;
            let made = run_dir::create_under(&root, cfg.model.name.name())?;
            return Ok((run_dir::claim(&made, false)?, true));
        }
        dir => Path::new(dir),
    };
    if !args.overwrite {
        return Ok((run_dir::claim(dir, resume)?, false));
    }
    let held = run_dir::lock(dir)?;
    let deleted = run_dir::clear_run(&held)?;
    if !deleted.is_empty() {
        notes.push(format!(
            "--overwrite: deleted the previous run in {} ({})",
            dir.display(),
            deleted.join(", ")
        ));
    }
    Ok((held, false))
}

/// `fashion-tui [train]`. `startup` is when the process and `main` began: the dashboard
/// logs how long it took to come up.
pub fn run(args: &TrainArgs, startup: Startup) -> Result<ExitCode> {
    let (cfg, source, resume) = settings(args)?;
    let mode = Mode::of(args);
    let mut notes = Vec::new();
    let (held, made) = hold_run_dir(&cfg, args, resume, &mut notes)?;
    let run = held.dir().to_path_buf();
    let serving = |reporter| Serving {
        cfg: cfg.clone(),
        run: run.clone(),
        made,
        resume,
        watched: mode == Mode::Dashboard,
        json: args.json,
        notes: notes.clone(),
        config_file: source_file(&source).map(Path::to_path_buf),
        reporter,
    };
    if mode == Mode::Headless {
        return serve::serve(serving(None), held);
    }
    match background::fork(&run)? {
        Side::Child(reporter) => {
            held.mark_mine();
            serve::serve(serving(Some(reporter)), held)
        }
        Side::Parent(mut waiting) => {
            // The run's process holds the directory from here.
            drop(held);
            if mode == Mode::Detached {
                waiting.until_up(&run)?;
                say_detached(&run, waiting.pid);
                return Ok(ExitCode::SUCCESS);
            }
            waiting.until_listening(&run)?;
            first_dashboard(&run, &cfg, &source, args, startup)
        }
    }
}

/// The config file a run was started from, if any.
fn source_file(source: &Source) -> Option<&Path> {
    match source {
        Source::File(p) => Some(p),
        Source::Defaults => None,
    }
}

/// What `--detach` prints once the run is up: its name, and how to come back to it.
fn say_detached(run: &Path, pid: i32) {
    let text = format!(
        "training in the background: {} (pid {pid})\n  attach: fashion-tui attach {}\n  \
         log:    {}",
        escape::path(run),
        dashboard::run_word(run),
        escape::path(&run.join(background::LOG_FILE))
    );
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// The dashboard on this terminal, the first client of the run it started; it watches
/// the config file in use (the same flags on top of every new version).
fn first_dashboard(
    run: &Path,
    cfg: &Config,
    source: &Source,
    args: &TrainArgs,
    startup: Startup,
) -> Result<ExitCode> {
    let attached = client::attach(run, &dashboard::terminal_name(), false)?
        .context("the run's process stopped listening before the dashboard attached")?;
    let in_use = dashboard::config_in_use(cfg, source);
    let flags = args.clone();
    let files = Reloader::new(in_use.path.as_deref(), move |c| flags.apply(c));
    dashboard::open(
        attached,
        dashboard::Dashboard {
            run: run.to_path_buf(),
            cfg: cfg.clone(),
            in_use,
            files,
            startup: Some(startup),
        },
    )
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

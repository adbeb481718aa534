//! `fashion-tui runs`: a table of the runs in a runs directory (name, start, model,
//! epochs, status, best and final test accuracy (with the validation accuracy where
//! held-out images chose the best epoch), duration) with the settings that differ
//! between the listed runs, and only those; or the same as JSON. Broken run directories
//! are listed with what is wrong with them; folders that hold no run are skipped with a
//! note. Reads only; never changes a run.

use super::output;
use crate::escape;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::{RunsArgs, RunsSort};
use crate::config::params::PARAMS;
use crate::config::text;
use crate::duration;
use crate::error::UsageError;
use crate::events::BestBy;
use crate::live::client::{self, Live};
use crate::store::catalog::{self, RunEntry};
use crate::store::run_dir;
use crate::store::run_record::Status;

/// Keys never compared: where a run was written, and how it was shown.
fn compared(key: &str) -> bool {
    key != "runtime.run_dir" && !key.starts_with("ui.")
}

/// The settings whose values differ between `runs` (those with a readable config), in
/// the settings table's order.
pub fn differing_keys(runs: &[RunEntry]) -> Vec<&'static str> {
    let configs: Vec<_> = runs.iter().filter_map(|r| r.config.as_ref()).collect();
    PARAMS
        .iter()
        .map(|p| p.key)
        .filter(|k| compared(k))
        .filter(|k| {
            let mut values = configs.iter().map(|c| text::value_text(c, k));
            values
                .next()
                .is_some_and(|first| values.any(|v| v != first))
        })
        .collect()
}

/// The runs directory to list: `--runs-dir`, else the default.
fn root(args: &RunsArgs) -> Result<(PathBuf, bool)> {
    match &args.runs_dir {
        Some(d) => Ok((d.clone(), true)),
        None => run_dir::default_runs_root()
            .map(|d| (d, false))
            .context("cannot determine the user data directory for runs; use --runs-dir"),
    }
}

/// The runs to show, filtered, cut to the most recent and sorted as `args` say.
pub fn select(mut runs: Vec<RunEntry>, args: &RunsArgs) -> Vec<RunEntry> {
    if let Some(m) = &args.model {
        // Names compare as models, so `tutorial` also finds runs recorded as `seed`.
        let kind = |name: &str| name.parse::<crate::model::ModelKind>().ok();
        runs.retain(|r| match (r.model.as_deref(), kind(m)) {
            (Some(have), Some(want)) => kind(have) == Some(want),
            (have, _) => have == Some(m.as_str()),
        });
    }
    runs.sort_by_key(catalog::sort_key);
    if let Some(n) = args.last {
        let drop = runs.len().saturating_sub(n);
        runs.drain(..drop);
    }
    match args.sort {
        RunsSort::Start => {}
        RunsSort::Name => runs.sort_by(|a, b| a.name.cmp(&b.name)),
        // Best first; runs without an accuracy last.
        RunsSort::Acc => runs.sort_by(|a, b| {
            let key = |r: &RunEntry| r.best_test_acc.unwrap_or(f64::NEG_INFINITY);
            key(b).total_cmp(&key(a))
        }),
    }
    runs
}

/// `fashion-tui runs`.
pub fn run(args: &RunsArgs) -> Result<ExitCode> {
    let (root, named) = root(args)?;
    match std::fs::metadata(&root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {
            if args.json {
                output::line(&json_text(&[], &[], &[], &[]))?;
            } else {
                eprintln!("no runs yet: {} does not exist", escape::path(&root));
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                UsageError(format!("--runs-dir {}: no such directory", root.display())).into(),
            )
        }
        Ok(m) if !m.is_dir() => {
            return Err(UsageError(format!(
                "--runs-dir {}: a file, not a directory of runs",
                root.display()
            ))
            .into())
        }
        _ => {}
    }
    let cat = catalog::scan(&root).with_context(|| format!("cannot list {}", root.display()))?;
    let found = cat.runs.len();
    let runs = select(cat.runs, args);
    let keys = differing_keys(&runs);
    let live = live(&runs);
    if args.json {
        output::line(&json_text(&runs, &keys, &live, &cat.skipped))?;
        return Ok(ExitCode::SUCCESS);
    }
    if !cat.skipped.is_empty() {
        eprintln!(
            "skipped {} folder{} that hold{} no run: {}",
            cat.skipped.len(),
            if cat.skipped.len() == 1 { "" } else { "s" },
            if cat.skipped.len() == 1 { "s" } else { "" },
            escape::line(&cat.skipped.join(", "))
        );
    }
    if runs.is_empty() && found > 0 {
        eprintln!(
            "none of the {found} run{} in {} match{} --model / --last",
            if found == 1 { "" } else { "s" },
            escape::path(&root),
            if found == 1 { "es" } else { "" }
        );
    } else if runs.is_empty() {
        eprintln!("no runs in {}", escape::path(&root));
    } else {
        output::write(&table(&runs, &keys, &live))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What each run that trains now says it is doing (its socket's `hello`).
fn live(runs: &[RunEntry]) -> Vec<Option<Live>> {
    runs.iter()
        .map(|r| {
            (r.status == Status::Running)
                .then(|| client::peek(&r.dir))
                .flatten()
        })
        .collect()
}

/// The EPOCHS column: epochs done of those planned; of a live run, where it is now.
fn epochs_text(r: &RunEntry, live: Option<&Live>) -> String {
    let planned = live
        .and_then(|l| l.epochs)
        .map(|e| e as usize)
        .or(r.epochs_planned);
    let done = match live.and_then(|l| l.epoch) {
        Some(e) => format!("{e:.2}"),
        None => r.epochs_done.to_string(),
    };
    match planned {
        Some(p) => format!("{done}/{p}"),
        None => done,
    }
}

/// The NOTE column's words on a live run: what it does, who is attached, how to attach.
fn live_note(r: &RunEntry, l: &Live) -> String {
    let phase = l.phase.as_deref().unwrap_or("starting");
    let attached = match l.clients {
        0 => String::new(),
        n => format!(", {n} attached"),
    };
    format!(
        "live ({phase}{attached}): fashion-tui attach {}",
        super::dashboard::run_word(&r.dir)
    )
}

fn percent(acc: Option<f64>) -> String {
    acc.map_or_else(|| "—".into(), |a| format!("{:.2}%", a * 100.0))
}

/// The BEST column: the best epoch's test accuracy and the epoch (`90.00% @3`), and when
/// held-out images chose it, their accuracy (`89.10% @7 (val 91.20%)`).
fn best_text(r: &RunEntry) -> String {
    match (r.best_test_acc, r.best_epoch, r.best_by, r.best_val_acc) {
        (Some(a), Some(e), BestBy::Val, Some(v)) => {
            format!("{} @{e} (val {})", percent(Some(a)), percent(Some(v)))
        }
        (Some(a), Some(e), _, _) => format!("{} @{e}", percent(Some(a))),
        _ => "—".into(),
    }
}

/// `2026-11-30 14:09` from RFC 3339.
fn start_text(started: Option<&str>) -> String {
    started
        .and_then(|s| s.get(..16))
        .map_or_else(|| "—".into(), |s| s.replace('T', " "))
}

/// The header's name for `key`: without its section unless that is ambiguous.
fn short_key(key: &'static str, keys: &[&'static str]) -> &'static str {
    let name = key.split_once('.').map_or(key, |(_, n)| n);
    let same = keys
        .iter()
        .filter(|k| k.ends_with(&format!(".{name}")))
        .count();
    if same > 1 {
        key
    } else {
        name
    }
}

/// What the NOTE column says about a run: whether it is live, its problems, a derived
/// status, a reason.
fn note(r: &RunEntry, live: Option<&Live>) -> String {
    let mut parts: Vec<String> = live.map(|l| live_note(r, l)).into_iter().collect();
    parts.extend(r.problems.iter().cloned());
    if r.derived {
        parts.push("no run.json: status derived".into());
    }
    if let Some(why) = &r.reason {
        let short: String = why.chars().take(60).collect();
        parts.push(if short.len() < why.len() {
            format!("{short}…")
        } else {
            short
        });
    }
    parts.join("; ")
}

/// The runs as an aligned text table, a header line first.
pub fn table(runs: &[RunEntry], keys: &[&'static str], live: &[Option<Live>]) -> String {
    let mut header: Vec<String> = [
        "RUN", "STARTED", "MODEL", "EPOCHS", "STATUS", "BEST", "FINAL", "TIME",
    ]
    .map(String::from)
    .to_vec();
    header.extend(keys.iter().map(|k| short_key(k, keys).to_string()));
    header.push("NOTE".into());
    let mut rows = vec![header];
    for (i, r) in runs.iter().enumerate() {
        let live = live.get(i).and_then(Option::as_ref);
        let mut row = vec![
            r.name.clone(),
            start_text(r.started.as_deref()),
            r.model.clone().unwrap_or_else(|| "?".into()),
            epochs_text(r, live),
            r.status.label().to_string(),
            best_text(r),
            percent(r.final_test_acc),
            r.seconds.map_or_else(|| "—".into(), duration::short),
        ];
        row.extend(keys.iter().map(|k| {
            r.config
                .as_ref()
                .map_or_else(|| "?".into(), |c| text::value_text(c, k))
        }));
        row.push(note(r, live));
        // Names, values and reasons come from files: escaped, so none can steer the
        // terminal (and the widths count what is shown).
        rows.push(row.iter().map(|c| escape::line(c).into_owned()).collect());
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths[c].saturating_sub(cell.chars().count());
            line.push_str(&" ".repeat(pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The runs as one JSON object: `runs` (each with the differing settings) and `skipped`.
pub fn json_text(
    runs: &[RunEntry],
    keys: &[&'static str],
    live: &[Option<Live>],
    skipped: &[String],
) -> String {
    let list: Vec<serde_json::Value> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let live = live.get(i).and_then(Option::as_ref).map(|l| {
                json!({
                    "epoch": l.epoch,
                    "epochs": l.epochs,
                    "test_acc": l.test_acc,
                    "phase": l.phase,
                    "attached": l.clients,
                    "pid": l.pid,
                })
            });
            let differs: serde_json::Map<String, serde_json::Value> = keys
                .iter()
                .map(|k| {
                    let v = r.config.as_ref().and_then(|c| text::value(c, k));
                    (k.to_string(), json!(v))
                })
                .collect();
            json!({
                "name": r.name,
                "dir": r.dir,
                "started": r.started,
                "model": r.model,
                "epochs_done": r.epochs_done,
                "epochs_planned": r.epochs_planned,
                "status": r.status.label(),
                "status_derived": r.derived,
                "best_epoch": r.best_epoch,
                "best_by": r.best_by,
                "best_val_acc": r.best_val_acc,
                "best_test_acc": r.best_test_acc,
                "final_test_acc": r.final_test_acc,
                "seconds": r.seconds,
                "reason": r.reason,
                "settings": differs,
                "problems": r.problems,
                "live": live,
            })
        })
        .collect();
    json!({ "runs": list, "skipped": skipped }).to_string()
}

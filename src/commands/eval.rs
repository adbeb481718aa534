//! `fashion-tui eval MODEL`: test accuracy, per-class precision and recall, and the
//! confusion matrix of a saved model, as text or JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::EvalArgs;
use crate::config::Config;
use crate::error::UsageError;
use crate::events::{Confusion, ConfusionStats, CLASS_NAMES, NUM_CLASSES};
use crate::store::run_dir;
use crate::train;

/// Per-class precision and recall from a confusion matrix (`[true][predicted]`).
pub fn precision_recall(c: &Confusion) -> [(f64, f64); NUM_CLASSES] {
    std::array::from_fn(|k| (c.precision(k).unwrap_or(0.0), c.recall(k).unwrap_or(0.0)))
}

/// The report as aligned text.
pub fn report(acc: f64, loss: f64, n: usize, c: &Confusion) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "test accuracy {:.2}%  loss {loss:.4}  ({n} images)\n",
        acc * 100.0
    );
    let _ = writeln!(s, "{:<9} {:>9} {:>7}", "class", "precision", "recall");
    for (k, (p, r)) in precision_recall(c).iter().enumerate() {
        let _ = writeln!(
            s,
            "{:<9} {:>8.1}% {:>6.1}%",
            CLASS_NAMES[k],
            p * 100.0,
            r * 100.0
        );
    }
    let _ = writeln!(
        s,
        "\nconfusion matrix (rows: true class, columns: predicted)"
    );
    let _ = write!(s, "{:<9}", "");
    for name in CLASS_NAMES {
        let _ = write!(s, " {:>5}", &name[..name.len().min(5)]);
    }
    s.push('\n');
    for (t, row) in c.iter().enumerate() {
        let _ = write!(s, "{:<9}", CLASS_NAMES[t]);
        for v in row {
            let _ = write!(s, " {v:>5}");
        }
        s.push('\n');
    }
    s
}

/// The weights file and, when it sits in a run directory, that run's config. A model
/// path that is not a regular file is reported as what it is; a run config that cannot
/// be used is an error, not silently passed over.
pub fn locate_model(path: &Path) -> Result<(PathBuf, Option<Config>), UsageError> {
    let file = if path.is_dir() {
        path.join(run_dir::MODEL_FILE)
    } else {
        path.to_path_buf()
    };
    let shown = file.display();
    match std::fs::metadata(&file) {
        Ok(meta) if meta.is_file() => {}
        Ok(meta) => {
            return Err(UsageError(format!(
                "model file {shown} is {}, not a .safetensors file",
                crate::config::file_kind(&meta)
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && file != path => {
            return Err(UsageError(format!(
                "{} is a directory but not a run directory: model file {shown} does not exist",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UsageError(format!("model file {shown} does not exist")))
        }
        Err(e) => return Err(UsageError(format!("cannot read model file {shown}: {e}"))),
    }
    if file.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        return Err(UsageError(format!(
            "{shown} is not a .safetensors file (pickled .pt/.ot files are never loaded)"
        )));
    }
    let run_cfg = file
        .parent()
        .map(|d| d.join(run_dir::CONFIG_FILE))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| {
            Config::load(&crate::config::Source::File(p)).map_err(|e| {
                UsageError(format!(
                    "{e} (the settings of the run that saved {shown}; fix or remove that file)"
                ))
            })
        })
        .transpose()?;
    Ok((file, run_cfg))
}

/// The test split named by `cfg` (searched for, or downloaded, like training's data),
/// cut to `data.test_limit`; the training split is not read.
pub(super) fn load_test_set(cfg: &Config) -> Result<crate::data::Split> {
    let explicit = (!cfg.data.dir.is_empty()).then(|| PathBuf::from(&cfg.data.dir));
    let (dir, _) = crate::data::locate::resolve(
        explicit.as_deref(),
        explicit.is_none(),
        &crate::data::TEST_FILE_NAMES,
        &mut |_| {},
    )?;
    let mut test = crate::data::load_test(&dir, crate::data::locate::repair_for(&dir))?;
    if cfg.data.test_limit > 0 {
        test.truncate(cfg.data.test_limit);
    }
    Ok(test)
}

pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    let (weights, run_cfg) = locate_model(&args.model_path)?;
    let (cfg, _) = crate::config::resolve(args.common.config.as_deref(), &|c| {
        // The run's own model name unless --model says otherwise.
        if let Some(rc) = &run_cfg {
            c.model.name = rc.model.name;
        }
        args.common.apply(c);
    })?;
    let threads = cfg.threads();
    tch::set_num_threads(threads as i32);
    let device = crate::device::resolve(cfg.runtime.device, threads)?;
    let test = load_test_set(&cfg)?;
    // Test-time flips: the flag, else as the run evaluated, else the model's recipe.
    let tta = args
        .tta_flag()
        .or(run_cfg.as_ref().map(|rc| rc.training.tta))
        .unwrap_or(cfg.training.tta);
    let e = train::evaluate_saved(cfg.model.name, &weights, &test, device.device, tta)
        .with_context(|| format!("evaluating {}", weights.display()))?;
    let text = if args.json {
        let pr = precision_recall(&e.confusion);
        let per_class: Vec<_> = pr
            .iter()
            .enumerate()
            .map(|(k, (p, r))| json!({"class": CLASS_NAMES[k], "precision": p, "recall": r}))
            .collect();
        let doc = json!({"model": weights, "test_acc": e.accuracy,
                         "test_acc_plain": e.accuracy_plain, "tta": tta, "test_loss": e.loss,
                         "images": test.len(), "per_class": per_class, "confusion": e.confusion});
        format!("{doc}\n")
    } else {
        format!(
            "{}: {}\n{}",
            crate::escape::path(&weights),
            device.description,
            report(e.accuracy, e.loss, test.len(), &e.confusion)
        )
    };
    super::output::write(&text)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_recall_from_counts() {
        let mut c = [[0u32; NUM_CLASSES]; NUM_CLASSES];
        c[0][0] = 8;
        c[0][6] = 2; // two T-shirts called Shirt
        c[6][6] = 5;
        let pr = precision_recall(&c);
        assert_eq!(pr[0], (1.0, 0.8));
        assert!((pr[6].0 - 5.0 / 7.0).abs() < 1e-12);
        assert_eq!(pr[6].1, 1.0);
        assert_eq!(pr[3], (0.0, 0.0));
        let text = report(0.866, 0.4, 15, &c);
        assert!(text.contains("test accuracy 86.60%"));
        assert!(text.contains("T-shirt      100.0%   80.0%"), "{text}");
    }

    #[test]
    fn refuses_missing_and_pickled_models() {
        let dir = tempfile::tempdir().unwrap();
        let e = locate_model(&dir.path().join("nope.safetensors")).unwrap_err();
        assert!(e.0.contains("does not exist"));
        let pt = dir.path().join("m.pt");
        std::fs::write(&pt, b"x").unwrap();
        assert!(locate_model(&pt).unwrap_err().0.contains("never loaded"));
        let e = locate_model(dir.path()).unwrap_err();
        assert!(e.0.contains("model.safetensors does not exist"));
    }

    #[test]
    fn models_that_are_not_files_are_named_for_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let e = locate_model(dir.path()).unwrap_err();
        assert!(
            e.0.contains("is a directory but not a run directory"),
            "{}",
            e.0
        );
        let sub = dir.path().join("m.safetensors");
        std::fs::create_dir_all(sub.join(run_dir::MODEL_FILE)).unwrap();
        let e = locate_model(&sub).unwrap_err();
        assert!(
            e.0.ends_with("model.safetensors is a directory, not a .safetensors file"),
            "{}",
            e.0
        );
        let e = locate_model(Path::new("/dev/null")).unwrap_err();
        assert_eq!(
            e.0,
            "model file /dev/null is a character device, not a .safetensors file"
        );
    }

    #[test]
    fn a_run_config_that_cannot_be_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(run_dir::MODEL_FILE), b"x").unwrap();
        std::fs::write(dir.path().join(run_dir::CONFIG_FILE), "[model]\nname = \n").unwrap();
        let e = locate_model(dir.path()).unwrap_err();
        assert!(e.0.contains("config.toml:2:"), "{}", e.0);
        assert!(
            e.0.contains("the settings of the run that saved"),
            "{}",
            e.0
        );
    }
}

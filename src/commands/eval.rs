//! `fashion-tui eval MODEL`: test accuracy, per-class precision and recall, and the
//! confusion matrix of a saved model, as text or JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::EvalArgs;
use crate::config::{Config, ConfigError};
use crate::train::events::{Confusion, ConfusionStats, CLASS_NAMES, NUM_CLASSES};
use crate::train::{self, run_dir};

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

/// The weights file and, when it sits in a run directory, that run's config.
fn locate_model(path: &Path) -> Result<(PathBuf, Option<Config>), ConfigError> {
    let file = if path.is_dir() {
        path.join(run_dir::MODEL_FILE)
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        return Err(ConfigError(format!(
            "model file {} does not exist",
            file.display()
        )));
    }
    if file.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        return Err(ConfigError(format!(
            "{} is not a .safetensors file (pickled .pt/.ot files are never loaded)",
            file.display()
        )));
    }
    let run_cfg = file
        .parent()
        .map(|d| d.join(run_dir::CONFIG_FILE))
        .filter(|p| p.is_file())
        .and_then(|p| Config::load(&crate::config::Source::File(p)).ok());
    Ok((file, run_cfg))
}

pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    let (weights, run_cfg) = locate_model(&args.model_path)?;
    let (mut cfg, _) = crate::config::resolve(args.common.config.as_deref(), &|c| {
        // The run's own model name unless --model says otherwise.
        if let Some(rc) = &run_cfg {
            c.model.name = rc.model.name;
        }
        args.common.apply(c);
    })?;
    cfg.data.train_limit = 0;
    let threads = cfg.threads();
    tch::set_num_threads(threads as i32);
    let device = crate::device::resolve(cfg.runtime.device, threads).map_err(ConfigError)?;
    let mut quiet = |_ev: train::events::TrainEvent| true;
    let ds = train::load_data(&cfg, &mut quiet)?;
    // Test-time flips: the flag, else as the run evaluated, else the model's recipe.
    let tta = args
        .tta_flag()
        .or(run_cfg.as_ref().map(|rc| rc.training.tta))
        .unwrap_or(cfg.training.tta);
    let e = train::evaluate_saved(cfg.model.name, &weights, &ds.test, device.device, tta)
        .with_context(|| format!("evaluating {}", weights.display()))?;
    if args.json {
        let pr = precision_recall(&e.confusion);
        let per_class: Vec<_> = pr
            .iter()
            .enumerate()
            .map(|(k, (p, r))| json!({"class": CLASS_NAMES[k], "precision": p, "recall": r}))
            .collect();
        println!(
            "{}",
            json!({"model": weights, "test_acc": e.accuracy, "test_acc_plain": e.accuracy_plain,
                   "tta": tta, "test_loss": e.loss, "images": ds.test.len(),
                   "per_class": per_class, "confusion": e.confusion})
        );
    } else {
        println!("{}: {}", weights.display(), device.description);
        print!(
            "{}",
            report(e.accuracy, e.loss, ds.test.len(), &e.confusion)
        );
    }
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
}

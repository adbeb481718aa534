//! Each model's default recipe, and how it meets the file and the flags.
//!
//! The recipe keys (the settings table's `recipe` rows: batch size, rate, optimiser,
//! weight decay, schedule, warm-up, label smoothing, weight averaging, test-time flips,
//! augmentation and when shifts start, dropout, precision) default to the chosen model's
//! values. In a file, such a key left out or set to `"auto"` means "the model's default";
//! any other value is used for every model. The one layering rule stays: the model's
//! defaults ◀ the file ◀ the flags, where the model is the one the flags, else the file,
//! else the built-in default name.
//!
//! `Config::default()` is the tutorial model with its recipe, and the repository's
//! `config.toml` (every recipe key `"auto"`) reads as exactly that.

use crate::config::params::{recipe_keys, AUTO, PARAMS};
use crate::config::{Config, ModelKind, Optimizer, Precision, Schedule};

/// The built-in configuration for `kind`: the defaults with its recipe.
pub fn defaults_for(kind: ModelKind) -> Config {
    let mut c = Config::default();
    c.model.name = kind;
    match kind {
        ModelKind::Tutorial => {}
        ModelKind::Fast => {
            let t = &mut c.training;
            t.batch_size = 256;
            t.lr = 0.8;
            t.optimizer = Optimizer::Nesterov;
            t.weight_decay = 1e-3;
            t.schedule = Schedule::Onecycle;
            t.warmup = 0.5;
            t.label_smoothing = 0.2;
            t.ema = 0.99;
            t.tta = true;
            c.model.dropout = 0.0;
            // bfloat16 layers train ~1.4x as many images a second on a CPU with
            // AVX512-BF16 (see the README's fast model); f32 elsewhere, said in the Log.
            c.model.precision = Precision::Bf16;
            // Measured over three minutes (about 20 epochs) of Fashion-MNIST: this net
            // memorises its training images (99.5%) with flips alone; a one-pixel shift
            // on top, label smoothing 0.2 and weight decay 1e-3 keep it learning. The shift
            // starts at epoch 2: earlier it slows the first epochs' learning.
            c.data.flip = true;
            c.data.translate = 1;
            c.data.translate_from = 2.0;
            c.data.cutout = 0;
        }
    }
    c
}

impl Config {
    /// Set each recipe key of `keys` to `kind`'s default (a key that is not a recipe's
    /// is left alone).
    pub fn take_recipe(&mut self, keys: &[&str], kind: ModelKind) {
        let r = defaults_for(kind);
        for p in PARAMS.iter().filter(|p| p.recipe && keys.contains(&p.key)) {
            p.copy(&r, self);
        }
    }
}

/// What a file says about the recipe: its model, and which recipe keys it leaves to the
/// model (set to `"auto"`, or left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub model: ModelKind,
    pub auto: Vec<&'static str>,
    pub absent: Vec<&'static str>,
}

impl Scan {
    /// The recipe keys the model decides.
    pub fn defaulted(&self) -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = self.auto.iter().chain(&self.absent).copied().collect();
        keys.sort_unstable();
        keys
    }
}

/// Read the recipe keys of a file's `text` (a file that is not valid TOML scans as
/// all-default; reading it properly reports the error).
pub fn scan(text: &str) -> Scan {
    let table: toml::Table = text.parse().unwrap_or_default();
    let get = |key: &str| {
        let (section, name) = key.split_once('.')?;
        table.get(section)?.get(name)
    };
    let model = get("model.name")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(Config::default().model.name);
    let mut out = Scan {
        model,
        auto: Vec::new(),
        absent: Vec::new(),
    };
    for key in recipe_keys() {
        match get(key) {
            None => out.absent.push(key),
            Some(v) if v.as_str() == Some(AUTO) => out.auto.push(key),
            Some(_) => {}
        }
    }
    out
}

/// `text` with each `"auto"` recipe value replaced by the file's model's default, so that
/// the schema reads it (comments and layout kept, so positions in messages still point
/// at the right line).
pub fn fill_auto(text: &str, scan: &Scan) -> String {
    if scan.auto.is_empty() {
        return text.to_string();
    }
    crate::config::edit::render(text, &defaults_for(scan.model), &scan.auto)
        .unwrap_or_else(|_| text.to_string())
}

/// The configuration a file read as `from_file` (its text scanned as `scan`) gives under
/// the flags `overrides`: when the flags name another model, the keys the file left to
/// the model take that model's defaults, and the flags are applied again on top.
pub fn with_flags(from_file: &Config, scan: &Scan, overrides: &dyn Fn(&mut Config)) -> Config {
    let mut cfg = from_file.clone();
    overrides(&mut cfg);
    if cfg.model.name != from_file.model.name {
        cfg.take_recipe(&scan.defaulted(), cfg.model.name);
        overrides(&mut cfg);
    }
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn read(text: &str) -> Config {
        Config::from_toml(text, Path::new("c.toml")).unwrap()
    }

    #[test]
    fn the_tutorial_recipe_is_the_built_in_default() {
        assert_eq!(defaults_for(ModelKind::Tutorial), Config::default());
        let fast = defaults_for(ModelKind::Fast);
        assert_eq!(fast.training.optimizer, Optimizer::Nesterov);
        assert_eq!(fast.model.dropout, 0.0);
        assert!(fast.training.ema > 0.0 && fast.training.label_smoothing > 0.0);
        fast.validate().unwrap();
    }

    #[test]
    fn auto_and_absent_keys_take_the_files_model_defaults() {
        let c = read("[model]\nname = \"fast\"\n[training]\nlr = \"auto\"\nbatch_size = 64\n");
        let fast = defaults_for(ModelKind::Fast);
        assert_eq!(c.training.lr, fast.training.lr, "auto");
        assert_eq!(c.training.schedule, fast.training.schedule, "absent");
        assert_eq!(c.training.batch_size, 64, "set in the file");
        let t = read("[training]\nlr = \"auto\"\n");
        assert_eq!(t, Config::default());
        // "auto" is only for recipe keys.
        assert!(Config::from_toml("[training]\nepochs = \"auto\"\n", Path::new("c.toml")).is_err());
    }

    #[test]
    fn a_model_flag_brings_its_recipe_under_the_files_values_and_the_flags() {
        let text = "[training]\nlr = \"auto\"\nweight_decay = 0.003\n";
        let from_file = read(text);
        let flags = |c: &mut Config| {
            c.model.name = ModelKind::Fast;
            c.training.seed = 7;
        };
        let c = with_flags(&from_file, &scan(text), &flags);
        let fast = defaults_for(ModelKind::Fast);
        assert_eq!(c.model.name, ModelKind::Fast);
        assert_eq!(c.training.lr, fast.training.lr, "auto: the flag's model");
        assert_eq!(
            c.training.optimizer,
            Optimizer::Nesterov,
            "absent: likewise"
        );
        assert_eq!(c.training.weight_decay, 0.003, "the file's value stays");
        assert_eq!(c.training.seed, 7);
        // A flag for a recipe key wins over the model's default.
        let c = with_flags(&from_file, &scan(text), &|c: &mut Config| {
            c.model.name = ModelKind::Fast;
            c.training.lr = 0.05;
        });
        assert_eq!(c.training.lr, 0.05);
    }

    #[test]
    fn every_recipe_key_round_trips_through_take_recipe() {
        use crate::config::text::value;
        let fast = defaults_for(ModelKind::Fast);
        let keys: Vec<&str> = recipe_keys().collect();
        // Every recipe key, and only those, comes from the model: a key added to the
        // table's recipe rows is taken, and no other is touched.
        let mut c = Config::default();
        c.take_recipe(&keys, ModelKind::Fast);
        for p in PARAMS {
            let want = if p.recipe { &fast } else { &Config::default() };
            assert_eq!(value(&c, p.key), value(want, p.key), "{}", p.key);
        }
        // And back.
        c.take_recipe(&keys, ModelKind::Tutorial);
        assert_eq!(c, Config::default());
        // The recipes differ in enough keys that a dropped one would show.
        let differ = PARAMS
            .iter()
            .filter(|p| p.recipe && value(&fast, p.key) != value(&Config::default(), p.key))
            .count();
        assert!(differ >= 12, "{differ}");
    }
}

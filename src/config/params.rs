//! The one table of settings: every `section.key` with when a change applies, its help
//! line, its allowed range and the check of it. Validation, the editor, the help, the
//! "did you mean" hints and the resume check all read this table.
//!
//! Also the settings as the editor and the hot reload work with them: a value as text, a
//! new value from text, and whether a change reaches the running trainer
//! ([`Apply::Live`], as a [`LiveSetting`]) or waits for the next run.
//!
//! A value typed in the editor is parsed by the same serde schema as the file and checked
//! by [`Config::validate`] on a copy of the whole configuration, so files, flags, the
//! editor and reloads share one source of validation truth.

use std::fmt;

use crate::config::hint::{plain_words, unknown_key_hint};
use crate::config::{Config, Schedule, Training};
use crate::error::UsageError;

/// When a change to a setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// At the trainer's next batch.
    Live,
    /// When training starts again.
    NextRun,
}

impl Apply {
    pub fn label(self) -> &'static str {
        match self {
            Apply::Live => "live",
            Apply::NextRun => "next run",
        }
    }
}

/// One row of [`PARAMS`].
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// `section.key`, as in the file.
    pub key: &'static str,
    pub apply: Apply,
    /// Shapes a run from its first step: a resumed run that changes it would not continue
    /// as it began (`--resume` refuses it without `--force`).
    pub shapes_run: bool,
    /// Part of a model's recipe: its default depends on the model, and [`AUTO`] in a file
    /// asks for that default (see [`crate::config::recipe`]).
    pub recipe: bool,
    /// What it is and what is allowed, in a few words.
    pub help: &'static str,
    /// The allowed values as an out-of-range message words them ("1 to 10000").
    pub allowed: &'static str,
    /// The value as the message shows it, when it is out of range; `None` when allowed.
    /// Keys whose every parsed value is allowed (names, paths, flags) accept all.
    pub out_of_range: fn(&Config) -> Option<String>,
}

impl PartialEq for Param {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Param {}

/// Any value the schema parses is allowed.
fn any(_: &Config) -> Option<String> {
    None
}

/// `v` shown, unless it is finite and `ok`.
fn float(v: f64, ok: bool) -> Option<String> {
    (!(v.is_finite() && ok)).then(|| v.to_string())
}

/// `v` shown, unless it lies in `range` (a NaN lies in none).
fn within<T: PartialOrd + ToString>(v: T, range: impl std::ops::RangeBounds<T>) -> Option<String> {
    (!range.contains(&v)).then(|| v.to_string())
}

const fn row(key: &'static str, apply: Apply, help: &'static str) -> Param {
    Param {
        key,
        apply,
        shapes_run: false,
        recipe: false,
        help,
        allowed: "",
        out_of_range: any,
    }
}

const fn live(key: &'static str, help: &'static str) -> Param {
    row(key, Apply::Live, help)
}

const fn next(key: &'static str, help: &'static str) -> Param {
    row(key, Apply::NextRun, help)
}

impl Param {
    /// With a range: `allowed` in words and the check that finds a value outside it.
    const fn range(mut self, allowed: &'static str, out: fn(&Config) -> Option<String>) -> Self {
        self.allowed = allowed;
        self.out_of_range = out;
        self
    }

    /// Marks a setting that shapes the run from its first step.
    const fn shapes_run(mut self) -> Self {
        self.shapes_run = true;
        self
    }

    /// Marks a setting whose default is the model's (part of its recipe).
    const fn recipe(mut self) -> Self {
        self.recipe = true;
        self
    }
}

/// The text that asks for the model's default of a recipe setting.
pub const AUTO: &str = "auto";

/// The settings whose default depends on the model (the table's `recipe` rows).
pub fn recipe_keys() -> impl Iterator<Item = &'static str> {
    PARAMS.iter().filter(|p| p.recipe).map(|p| p.key)
}

/// Every key of the schema, live ones first, in the editor's order. A test keeps it equal
/// to the keys [`Config`] serialises.
pub const PARAMS: &[Param] = &[
    live(
        "training.lr",
        "learning rate, the schedule's base: > 0 and ≤ 10",
    )
    .range("a finite number > 0 and ≤ 10", |c| {
        float(c.training.lr, c.training.lr > 0.0 && c.training.lr <= 10.0)
    })
    .recipe(),
    live(
        "training.epochs",
        "run length, 1 to 10000 (below the current epoch: ends after it)",
    )
    .range("1 to 10000", |c| within(c.training.epochs, 1..=10_000)),
    live(
        "training.weight_decay",
        "L2 penalty (adam, sgd) or decoupled decay (adamw): 0 to 1",
    )
    .range("0 to 1", |c| within(c.training.weight_decay, 0.0..=1.0))
    .recipe(),
    live(
        "training.momentum",
        "sgd momentum (adam's beta1 stays 0.9): 0 ≤ momentum < 1",
    )
    .range("0 ≤ momentum < 1", |c| {
        within(c.training.momentum, 0.0..1.0)
    }),
    live(
        "training.schedule",
        "constant | step | cosine | onecycle (both decay to 0)",
    )
    .recipe(),
    live(
        "training.step_epochs",
        "step schedule: epochs between decays, 1 or more",
    )
    .range("1 or more", |c| {
        within(c.training.step_epochs, 1..=usize::MAX)
    }),
    live("training.gamma", "step schedule: the factor, 0 < gamma ≤ 1").range(
        "0 < gamma ≤ 1",
        |c| {
            float(
                c.training.gamma,
                c.training.gamma > 0.0 && c.training.gamma <= 1.0,
            )
        },
    ),
    next("training.optimizer", "adam | adamw | sgd | nesterov")
        .shapes_run()
        .recipe(),
    next("training.batch_size", "images per step: 1 to 60000")
        .range("1 to 60000", |c| within(c.training.batch_size, 1..=60_000))
        .shapes_run()
        .recipe(),
    next(
        "training.seed",
        "seeds weights, shuffling and dropout: 0 to 2^63 - 1",
    )
    // TOML integers are signed 64-bit: a larger seed could not be written to the run's
    // config.toml, which resuming reads.
    .range("0 to 9223372036854775807 (2^63 - 1)", |c| {
        within(c.training.seed, 0..=i64::MAX as u64)
    })
    .shapes_run(),
    next(
        "training.early_stop",
        "stop after N epochs without a better test accuracy: 0 (off) to 10000",
    )
    .range("0 (off) to 10000", |c| {
        within(c.training.early_stop, 0..=10_000)
    }),
    next(
        "training.warmup",
        "onecycle: epochs of linear warm-up, 0 to 100 (auto: the model's)",
    )
    .range("0 to 100", |c| within(c.training.warmup, 0.0..=100.0))
    .shapes_run()
    .recipe(),
    next(
        "training.label_smoothing",
        "label smoothing of the loss, 0 ≤ ε < 1 (auto: the model's)",
    )
    .range("0 ≤ label_smoothing < 1", |c| {
        within(c.training.label_smoothing, 0.0..1.0)
    })
    .shapes_run()
    .recipe(),
    next(
        "training.ema",
        "decay of the evaluated weight average, 0 (off) ≤ ema < 1",
    )
    .range("0 (off) ≤ ema < 1", |c| within(c.training.ema, 0.0..1.0))
    .shapes_run()
    .recipe(),
    next(
        "training.tta",
        "evaluate each test image and its mirror: true | false",
    )
    .recipe(),
    next(
        "training.time_budget",
        "wall time for the run, e.g. 3m, 90s (empty: epochs rule)",
    )
    .range("empty (no budget) or 10s to 7 days", |c| {
        let v = c.training.time_budget;
        let ok = v
            .secs()
            .is_none_or(|s| (10.0..=7.0 * 86_400.0).contains(&s));
        (!ok).then(|| v.to_string())
    })
    .shapes_run(),
    next(
        "training.eval_every",
        "test every N epochs (0.25: four times an epoch), 0.01 to 1",
    )
    .range("0.01 to 1", |c| within(c.training.eval_every, 0.01..=1.0)),
    next(
        "training.eval_until",
        "eval_every until epoch N, then epoch ends only: 0 (all run) to 10000",
    )
    .range("0 (the whole run) to 10000", |c| {
        within(c.training.eval_until, 0.0..=10_000.0)
    }),
    next("model.name", "the network: tutorial | fast").shapes_run(),
    next("model.dropout", "before each dense layer: 0 ≤ dropout < 1")
        .range("0 ≤ dropout < 1", |c| within(c.model.dropout, 0.0..1.0))
        .shapes_run()
        .recipe(),
    next(
        "model.precision",
        "f32 | bf16 (the layers' arithmetic; bf16 where the hardware has it)",
    )
    .shapes_run()
    .recipe(),
    next(
        "data.dir",
        "with the four .gz files (empty: search, download)",
    ),
    next(
        "data.train_limit",
        "use the first N training images (0 = all)",
    )
    .shapes_run(),
    next("data.test_limit", "use the first N test images (0 = all)"),
    next(
        "data.validation",
        "hold out N training images to pick the best epoch by: 0 (off)",
    )
    // The upper bound depends on the data (and data.train_limit): checked once it is
    // loaded, by `Config::validate_against_data`.
    .range("0 (off) to 59999", |c| {
        within(c.data.validation, 0..=59_999)
    })
    .shapes_run(),
    next(
        "data.flip",
        "augment: mirror half the training images: true | false",
    )
    .shapes_run()
    .recipe(),
    next(
        "data.translate",
        "augment: shift training images by up to N pixels, 0 to 8",
    )
    .range("0 to 8", |c| within(c.data.translate, 0..=8))
    .shapes_run()
    .recipe(),
    next(
        "data.cutout",
        "augment: black out an N×N square of each training image, 0 (off) to 28",
    )
    .range("0 (off) to 28", |c| within(c.data.cutout, 0..=28))
    .shapes_run()
    .recipe(),
    next(
        "data.translate_from",
        "shift training images from this epoch on (fractions allowed): 0 to 10000",
    )
    .range("0 to 10000", |c| {
        within(c.data.translate_from, 0.0..=10_000.0)
    })
    .shapes_run()
    .recipe(),
    next("runtime.device", "auto | cpu | cuda | cuda:N"),
    next("runtime.threads", "CPU threads: 0 (one per core) to 1024")
        .range("0 (all cores) to 1024", |c| {
            within(c.runtime.threads, 0..=1024)
        }),
    next(
        "runtime.run_dir",
        "where the run is written (empty: user data dir)",
    ),
    next("ui.fps", "dashboard redraws per second: 1 to 60")
        .range("1 to 60", |c| within(c.ui.fps, 1..=60)),
    next("ui.color", "auto | 16 | 256 | truecolor | none"),
    next(
        "ui.predictions",
        "test images in the Predictions pane: 1 to 64",
    )
    .range("1 to 64", |c| within(c.ui.predictions, 1..=64)),
    next(
        "ui.notify",
        "bell and notification when a run ends: true | false",
    ),
    next(
        "ui.ascii_charts",
        "plain characters instead of Braille: true | false",
    ),
];

/// The row for `key`.
pub fn find(key: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.key == key)
}

/// A hyperparameter the trainer can change between two batches: the value it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LiveSetting {
    Lr(f64),
    /// The run's length; below the current epoch, the run ends after the current one.
    Epochs(usize),
    WeightDecay(f64),
    Momentum(f64),
    Schedule(Schedule),
    StepEpochs(usize),
    Gamma(f64),
}

impl LiveSetting {
    /// The `section.key` it sets.
    pub fn key(&self) -> &'static str {
        match self {
            LiveSetting::Lr(_) => "training.lr",
            LiveSetting::Epochs(_) => "training.epochs",
            LiveSetting::WeightDecay(_) => "training.weight_decay",
            LiveSetting::Momentum(_) => "training.momentum",
            LiveSetting::Schedule(_) => "training.schedule",
            LiveSetting::StepEpochs(_) => "training.step_epochs",
            LiveSetting::Gamma(_) => "training.gamma",
        }
    }

    /// The key without its section (`lr`), for short messages.
    pub fn name(&self) -> &'static str {
        let key = self.key();
        key.split_once('.').map_or(key, |(_, name)| name)
    }

    /// The value `cfg` holds for a live `key`; `None` for keys that are not live.
    pub fn from_config(key: &str, cfg: &Config) -> Option<LiveSetting> {
        let t = &cfg.training;
        Some(match key {
            "training.lr" => LiveSetting::Lr(t.lr),
            "training.epochs" => LiveSetting::Epochs(t.epochs),
            "training.weight_decay" => LiveSetting::WeightDecay(t.weight_decay),
            "training.momentum" => LiveSetting::Momentum(t.momentum),
            "training.schedule" => LiveSetting::Schedule(t.schedule),
            "training.step_epochs" => LiveSetting::StepEpochs(t.step_epochs),
            "training.gamma" => LiveSetting::Gamma(t.gamma),
            _ => return None,
        })
    }

    /// Set this value in `t`.
    pub fn apply(&self, t: &mut Training) {
        match *self {
            LiveSetting::Lr(v) => t.lr = v,
            LiveSetting::Epochs(v) => t.epochs = v,
            LiveSetting::WeightDecay(v) => t.weight_decay = v,
            LiveSetting::Momentum(v) => t.momentum = v,
            LiveSetting::Schedule(v) => t.schedule = v,
            LiveSetting::StepEpochs(v) => t.step_epochs = v,
            LiveSetting::Gamma(v) => t.gamma = v,
        }
    }
}

impl fmt::Display for LiveSetting {
    /// The value as the file writes it (`0.0005`, `"cosine"` without quotes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Training::default();
        self.apply(&mut t);
        let cfg = Config {
            training: t,
            ..Config::default()
        };
        f.write_str(&value_text(&cfg, self.key()))
    }
}

fn split(key: &str) -> Result<(&str, &str), UsageError> {
    key.split_once('.')
        .filter(|_| find(key).is_some())
        .ok_or_else(|| UsageError(format!("unknown setting {key:?}")))
}

fn table(cfg: &Config) -> Result<toml::Table, UsageError> {
    toml::Table::try_from(cfg).map_err(|e| UsageError(format!("cannot represent the config: {e}")))
}

/// The value of `key` in `cfg` as a TOML value.
pub fn value(cfg: &Config, key: &str) -> Option<toml::Value> {
    let (section, name) = split(key).ok()?;
    table(cfg).ok()?.get(section)?.get(name).cloned()
}

/// The value of `key` in `cfg` as the editor shows it: strings bare, the rest as in TOML.
pub fn value_text(cfg: &Config, key: &str) -> String {
    match value(cfg, key) {
        Some(toml::Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// `cfg` with `key` set to the value `text` spells, if that is a valid configuration;
/// otherwise why not, naming the key, the value and what is allowed.
pub fn with_text(cfg: &Config, key: &str, text: &str) -> Result<Config, UsageError> {
    let (section, name) = split(key)?;
    if text.trim() == AUTO && recipe_keys().any(|k| k == key) {
        let mut new = cfg.clone();
        new.take_recipe(&[key], cfg.model.name);
        new.validate()?;
        return Ok(new);
    }
    let mut t = table(cfg)?;
    let slot = t
        .get_mut(section)
        .and_then(|s| s.as_table_mut())
        .and_then(|s| s.get_mut(name))
        .ok_or_else(|| UsageError(format!("unknown setting {key:?}")))?;
    let trimmed = text.trim();
    let shown = crate::config::quoted(trimmed);
    let bad = |what: &str| UsageError(format!("{key} = {shown} is not {what}"));
    *slot = match slot {
        toml::Value::Integer(_) => toml::Value::Integer(
            trimmed
                .parse()
                .map_err(|_| bad("a whole number (0, 1, 2, …)"))?,
        ),
        toml::Value::Float(_) => toml::Value::Float(
            trimmed
                .parse()
                .map_err(|_| bad("a number (0.001, 1e-3, …)"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(match trimmed {
            "true" => true,
            "false" => false,
            _ => return Err(bad("true or false")),
        }),
        _ => toml::Value::String(trimmed.to_string()),
    };
    let new: Config = t.try_into().map_err(|e: toml::de::Error| {
        let msg = plain_words(e.message().trim_end());
        if msg.starts_with(&format!("{key} = ")) {
            // A parsed name (model, device) whose message already quotes key and value.
            return UsageError(msg);
        }
        let hint = unknown_key_hint(&msg);
        UsageError(format!("{key} = {shown}: {msg}{hint}"))
    })?;
    new.validate()?;
    Ok(new)
}

/// What differs between two configurations, split by when it can take effect.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Live settings to send to the trainer (the new values).
    pub live: Vec<LiveSetting>,
    /// `(key, from, to)` of the changes that wait for the next run.
    pub next_run: Vec<(&'static str, String, String)>,
}

/// How to go from what runs (`running`) to `wanted`. With `trainer_running` false,
/// everything waits for the next run.
pub fn plan(running: &Config, wanted: &Config, trainer_running: bool) -> Plan {
    let mut out = Plan::default();
    for p in PARAMS {
        let (from, to) = (value(running, p.key), value(wanted, p.key));
        if from == to {
            continue;
        }
        match LiveSetting::from_config(p.key, wanted) {
            Some(s) if p.apply == Apply::Live && trainer_running => out.live.push(s),
            _ => out
                .next_run
                .push((p.key, value_text(running, p.key), value_text(wanted, p.key))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_key_of_the_schema_once() {
        let full = table(&Config::default()).unwrap();
        let mut schema: Vec<String> = full
            .iter()
            .flat_map(|(s, keys)| {
                let keys = keys.as_table().unwrap();
                keys.keys().map(move |k| format!("{s}.{k}"))
            })
            .collect();
        let mut listed: Vec<String> = PARAMS.iter().map(|p| p.key.to_string()).collect();
        schema.sort();
        listed.sort();
        assert_eq!(schema, listed);
    }

    #[test]
    fn live_rows_are_exactly_the_live_settings() {
        let cfg = Config::default();
        for p in PARAMS {
            let live = LiveSetting::from_config(p.key, &cfg);
            assert_eq!(live.is_some(), p.apply == Apply::Live, "{}", p.key);
            if let Some(s) = live {
                assert_eq!(s.key(), p.key);
                assert_eq!(s.to_string(), value_text(&cfg, p.key));
            }
        }
    }

    #[test]
    fn values_read_as_text() {
        let cfg = Config::default();
        assert_eq!(value_text(&cfg, "training.lr"), "0.001");
        assert_eq!(value_text(&cfg, "training.schedule"), "constant");
        assert_eq!(value_text(&cfg, "model.name"), "tutorial");
        assert_eq!(value_text(&cfg, "data.dir"), "");
        assert_eq!(value_text(&cfg, "ui.ascii_charts"), "false");
        assert_eq!(value_text(&cfg, "ui.color"), "auto");
        assert_eq!(LiveSetting::Lr(5e-4).to_string(), "0.0005");
        assert_eq!(
            LiveSetting::Schedule(Schedule::Cosine).to_string(),
            "cosine"
        );
    }

    #[test]
    fn text_is_parsed_by_the_schema_and_validated() {
        let cfg = Config::default();
        let c = with_text(&cfg, "training.lr", " 5e-4 ").unwrap();
        assert_eq!(c.training.lr, 5e-4);
        assert_eq!(
            Config {
                training: Training {
                    lr: cfg.training.lr,
                    ..c.training.clone()
                },
                ..c.clone()
            },
            cfg,
            "only the one key changes"
        );
        assert_eq!(
            with_text(&cfg, "training.lr", "1").unwrap().training.lr,
            1.0
        );
        assert_eq!(
            with_text(&cfg, "training.schedule", "cosine")
                .unwrap()
                .training
                .schedule,
            Schedule::Cosine
        );
        assert_eq!(
            with_text(&cfg, "ui.color", "256").unwrap().ui.color,
            super::super::ColorMode::Ansi256
        );
        assert!(
            with_text(&cfg, "ui.ascii_charts", "true")
                .unwrap()
                .ui
                .ascii_charts
        );

        let err = |key, text| with_text(&cfg, key, text).unwrap_err().0;
        assert_eq!(
            err("training.lr", "-1"),
            "training.lr = -1 is out of range: allowed a finite number > 0 and ≤ 10"
        );
        assert!(err("training.lr", "nan").starts_with("training.lr = NaN is out of range"));
        assert_eq!(
            err("training.lr", "fast"),
            "training.lr = \"fast\" is not a number (0.001, 1e-3, …)"
        );
        assert_eq!(
            err("training.epochs", "2.5"),
            "training.epochs = \"2.5\" is not a whole number (0, 1, 2, …)"
        );
        assert!(err("training.epochs", "0").starts_with("training.epochs = 0 is out of range"));
        assert_eq!(
            err("training.optimizer", "sdg"),
            "training.optimizer = \"sdg\": unknown variant `sdg`, expected one of `adam`, \
             `adamw`, `sgd`, `nesterov` (did you mean `sgd`?)"
        );
        assert!(err("model.name", "resnet").starts_with("model.name = \"resnet\": unknown model"));
        assert!(err("model.dropout", "1").starts_with("model.dropout = 1 is out of range"));
        assert_eq!(
            err("model.precision", "bf15"),
            "model.precision = \"bf15\": unknown variant `bf15`, expected `f32` or `bf16`"
        );
        assert!(err("runtime.device", "tpu").starts_with("runtime.device = \"tpu\""));
        assert_eq!(
            err("ui.ascii_charts", "yes"),
            "ui.ascii_charts = \"yes\" is not true or false"
        );
        assert!(err("training.seed", "-1").contains("training.seed"));
        assert_eq!(
            err("training.nope", "1"),
            "unknown setting \"training.nope\""
        );
    }

    #[test]
    fn plans_split_live_and_next_run_changes() {
        let running = Config::default();
        let mut wanted = running.clone();
        wanted.training.lr = 5e-4;
        wanted.training.epochs = 3;
        wanted.model.dropout = 0.3;
        wanted.ui.fps = 30;
        let p = plan(&running, &wanted, true);
        assert_eq!(p.live, vec![LiveSetting::Lr(5e-4), LiveSetting::Epochs(3)]);
        assert_eq!(
            p.next_run,
            vec![
                ("model.dropout", "0.2".to_string(), "0.3".to_string()),
                ("ui.fps", "10".to_string(), "30".to_string()),
            ]
        );
        let p = plan(&running, &wanted, false);
        assert!(p.live.is_empty());
        assert_eq!(p.next_run.len(), 4);
        assert_eq!(plan(&running, &running, true), Plan::default());
    }
}

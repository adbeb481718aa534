//! The one table of settings: every `section.key` with its field, when a change applies,
//! its help line and its allowed range, each written once. Validation, the editor, the
//! help, the "did you mean" hints, the recipes, the command line's flags and the resume
//! check all read this table.
//!
//! A row's [`Field`] reaches its value in a [`Config`] (`field!(training.lr)`: read it as a
//! number to check its range, copy it, set it from text); its [`Range`] gives both the
//! check and the words that say what is allowed; its [`Flag`], when it has one, is its
//! command-line flag ([`crate::cli`] builds the flags from the table). The live settings are in
//! [`crate::config::live`], the settings as text (the editor's, a flag's) in
//! [`crate::config::text`].

use crate::config::field::field;
pub use crate::config::field::{AsNumber, Field, Number};
pub use crate::config::range::{shown, Range};
use crate::config::Config;

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

/// Which commands take a setting's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `train`, `eval` and `predict`: the model, where it runs, the data.
    Common,
    /// `train` only.
    Train,
}

/// A setting's command-line flag: `--long VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub long: &'static str,
    /// The value's name in the help (`N`, `X`, `PATH`).
    pub value: &'static str,
    pub scope: Scope,
}

/// One row of [`PARAMS`].
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// `section.key`, as in the file.
    pub key: &'static str,
    pub field: Field,
    pub apply: Apply,
    /// Shapes a run from its first step: a resumed run that changes it would not continue
    /// as it began (`--resume` refuses it without `--force`).
    pub shapes_run: bool,
    /// Part of a model's recipe: its default depends on the model, and [`AUTO`] in a file
    /// asks for that default (see [`crate::config::recipe`]).
    pub recipe: bool,
    /// What it is and what is allowed, in a few words.
    pub help: &'static str,
    pub range: Range,
    /// The allowed values in words, when the range's own words will not do.
    words: Option<&'static str>,
    /// Its command-line flag, if it has one.
    pub flag: Option<Flag>,
}

impl PartialEq for Param {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Param {}

const fn row(field: Field, apply: Apply, help: &'static str) -> Param {
    Param {
        key: field.key,
        field,
        apply,
        shapes_run: false,
        recipe: false,
        help,
        range: Range::Any,
        words: None,
        flag: None,
    }
}

const fn live(field: Field, help: &'static str) -> Param {
    row(field, Apply::Live, help)
}

const fn next(field: Field, help: &'static str) -> Param {
    row(field, Apply::NextRun, help)
}

impl Param {
    /// With a range of allowed values.
    const fn range(mut self, range: Range) -> Self {
        self.range = range;
        self
    }

    /// Its allowed values said in other words than the range's own.
    const fn words(mut self, words: &'static str) -> Self {
        self.words = Some(words);
        self
    }

    /// With the flag `--long VALUE` for the commands of `scope`.
    const fn flag(mut self, long: &'static str, value: &'static str, scope: Scope) -> Self {
        self.flag = Some(Flag { long, value, scope });
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

    /// The allowed values, in words ("1 to 10000").
    pub fn allowed(&self) -> String {
        self.words
            .map_or_else(|| self.range.words(self.key), str::to_string)
    }

    /// The value in `cfg` as an out-of-range message shows it; `None` when allowed.
    pub fn out_of_range(&self, cfg: &Config) -> Option<String> {
        self.range.check(&self.field, cfg)
    }

    /// Set this setting in `to` to its value in `from`.
    pub fn copy(&self, from: &Config, to: &mut Config) {
        (self.field.copy)(from, to)
    }
}

/// The text that asks for the model's default of a recipe setting.
pub const AUTO: &str = "auto";

/// The settings whose default depends on the model (the table's `recipe` rows).
pub fn recipe_keys() -> impl Iterator<Item = &'static str> {
    PARAMS.iter().filter(|p| p.recipe).map(|p| p.key)
}

/// The time budget: none, or 10 s to 7 days.
fn time_budget(c: &Config) -> Option<String> {
    let v = c.training.time_budget;
    let ok = v
        .secs()
        .is_none_or(|s| (10.0..=7.0 * 86_400.0).contains(&s));
    (!ok).then(|| v.to_string())
}

/// Every key of the schema, live ones first, in the editor's order. A test keeps it equal
/// to the keys [`Config`] serialises.
pub const PARAMS: &[Param] = &[
    live(
        field!(training.lr),
        "learning rate, the schedule's base: > 0 and ≤ 10",
    )
    .range(Range::above(0.0, 10.0))
    .words("a finite number > 0 and ≤ 10")
    .recipe()
    .flag("lr", "X", Scope::Train),
    live(
        field!(training.epochs),
        "run length, 1 to 10000 (below the current epoch: ends after it)",
    )
    .range(Range::whole(1, 10_000))
    .flag("epochs", "N", Scope::Train),
    live(
        field!(training.weight_decay),
        "L2 penalty (adam, sgd) or decoupled decay (adamw): 0 to 1",
    )
    .range(Range::real(0.0, 1.0))
    .recipe(),
    live(
        field!(training.momentum),
        "sgd momentum (adam's beta1 stays 0.9): 0 ≤ momentum < 1",
    )
    .range(Range::below(0.0, 1.0)),
    live(
        field!(training.schedule),
        "constant | step | cosine | onecycle (both decay to 0)",
    )
    .recipe(),
    live(
        field!(training.step_epochs),
        "step schedule: epochs between decays, 1 or more",
    )
    .range(Range::whole(1, u64::MAX)),
    live(
        field!(training.gamma),
        "step schedule: the factor, 0 < gamma ≤ 1",
    )
    .range(Range::above(0.0, 1.0)),
    next(field!(training.optimizer), "adam | adamw | sgd | nesterov")
        .shapes_run()
        .recipe(),
    next(field!(training.batch_size), "images per step: 1 to 60000")
        .range(Range::whole(1, 60_000))
        .shapes_run()
        .recipe()
        .flag("batch-size", "N", Scope::Train),
    next(
        field!(training.seed),
        "seeds weights, shuffling and dropout: 0 to 2^63 - 1",
    )
    // TOML integers are signed 64-bit: a larger seed could not be written to the run's
    // config.toml, which resuming reads.
    .range(Range::Whole {
        lo: 0,
        hi: i64::MAX as u64,
        lo_note: "",
        hi_note: " (2^63 - 1)",
    })
    .shapes_run()
    .flag("seed", "N", Scope::Train),
    next(
        field!(training.early_stop),
        "stop after N epochs without a better test accuracy: 0 (off) to 10000",
    )
    .range(Range::whole(0, 10_000).noted(" (off)")),
    next(
        field!(training.warmup),
        "onecycle: epochs of linear warm-up, 0 to 100 (auto: the model's)",
    )
    .range(Range::real(0.0, 100.0))
    .shapes_run()
    .recipe(),
    next(
        field!(training.label_smoothing),
        "label smoothing of the loss, 0 ≤ ε < 1 (auto: the model's)",
    )
    .range(Range::below(0.0, 1.0))
    .shapes_run()
    .recipe(),
    next(
        field!(training.ema),
        "decay of the evaluated weight average, 0 (off) ≤ ema < 1",
    )
    .range(Range::below(0.0, 1.0).noted(" (off)"))
    .shapes_run()
    .recipe(),
    next(
        field!(training.tta),
        "evaluate each test image and its mirror: true | false",
    )
    .recipe(),
    next(
        field!(training.time_budget),
        "wall time for the run, e.g. 3m, 90s (empty: epochs rule)",
    )
    .range(Range::Custom {
        words: "empty (no budget) or 10s to 7 days",
        check: time_budget,
    })
    .shapes_run()
    .flag("time-budget", "DURATION", Scope::Train),
    next(
        field!(training.eval_every),
        "test every N epochs (0.25: four times an epoch), 0.01 to 1",
    )
    .range(Range::real(0.01, 1.0))
    .flag("eval-every", "N", Scope::Train),
    next(
        field!(training.eval_until),
        "eval_every until epoch N, then epoch ends only: 0 (all run) to 10000",
    )
    .range(Range::real(0.0, 10_000.0).noted(" (the whole run)"))
    .flag("eval-until", "EPOCH", Scope::Train),
    next(field!(model.name), "the network: tutorial | fast")
        .shapes_run()
        .flag("model", "NAME", Scope::Common),
    next(
        field!(model.dropout),
        "before each dense layer: 0 ≤ dropout < 1",
    )
    .range(Range::below(0.0, 1.0))
    .shapes_run()
    .recipe(),
    next(
        field!(model.precision),
        "f32 | bf16 (the layers' arithmetic; bf16 where the hardware has it)",
    )
    .shapes_run()
    .recipe(),
    next(
        field!(model.dense),
        "auto | turned | linear (the dense products' order; auto: the faster, timed)",
    )
    .shapes_run(),
    next(
        field!(model.layout),
        "auto | channels_last | contiguous (activations in memory; auto: the faster, timed)",
    )
    .shapes_run(),
    next(
        field!(data.dir),
        "with the four .gz files (empty: search, download)",
    )
    .flag("data-dir", "PATH", Scope::Common),
    next(
        field!(data.train_limit),
        "use the first N training images (0 = all)",
    )
    .shapes_run()
    .flag("train-limit", "N", Scope::Train),
    next(
        field!(data.test_limit),
        "use the first N test images (0 = all)",
    )
    .flag("test-limit", "N", Scope::Common),
    next(
        field!(data.validation),
        "hold out N training images to pick the best epoch by: 0 (off)",
    )
    // The upper bound depends on the data (and data.train_limit): checked once it is
    // loaded, by `Config::validate_against_data`.
    .range(Range::whole(0, 59_999).noted(" (off)"))
    .shapes_run()
    .flag("validation", "N", Scope::Train),
    next(
        field!(data.flip),
        "augment: mirror half the training images: true | false",
    )
    .shapes_run()
    .recipe(),
    next(
        field!(data.translate),
        "augment: shift training images by up to N pixels, 0 to 8",
    )
    .range(Range::whole(0, 8))
    .shapes_run()
    .recipe(),
    next(
        field!(data.cutout),
        "augment: black out an N×N square of each training image, 0 (off) to 28",
    )
    .range(Range::whole(0, 28).noted(" (off)"))
    .shapes_run()
    .recipe(),
    next(
        field!(data.translate_from),
        "shift training images from this epoch on (fractions allowed): 0 to 10000",
    )
    .range(Range::real(0.0, 10_000.0))
    .shapes_run()
    .recipe(),
    next(field!(runtime.device), "auto | cpu | cuda | cuda:N").flag("device", "D", Scope::Common),
    next(
        field!(runtime.threads),
        "CPU threads: 0 (one per core) to 1024",
    )
    .range(Range::whole(0, 1024).noted(" (all cores)"))
    .flag("threads", "N", Scope::Common),
    next(
        field!(runtime.run_dir),
        "where the run is written (empty: user data dir)",
    )
    .flag("run-dir", "PATH", Scope::Train),
    next(field!(ui.fps), "dashboard redraws per second: 1 to 60").range(Range::whole(1, 60)),
    next(field!(ui.color), "auto | 16 | 256 | truecolor | none"),
    next(
        field!(ui.predictions),
        "test images in the Predictions pane: 1 to 64",
    )
    .range(Range::whole(1, 64)),
    next(
        field!(ui.notify),
        "bell and notification when a run ends: true | false",
    ),
    next(
        field!(ui.ascii_charts),
        "plain characters instead of Braille: true | false",
    ),
    next(
        field!(ui.mouse),
        "clicks select panes, cells and images; the wheel zooms charts: true | false",
    ),
    next(
        field!(ui.on_hangup),
        "when the dashboard's terminal goes away: detach (train on) | stop",
    ),
];

/// The row for `key`.
pub fn find(key: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.key == key)
}

/// The help line of `key`'s row, for the command line's flags (empty for a key the
/// table lacks, which a test rules out).
pub fn help(key: &str) -> &'static str {
    find(key).map_or("", |p| p.help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_key_of_the_schema_once() {
        let full = toml::Table::try_from(Config::default()).unwrap();
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
    fn ranges_say_in_words_what_they_check() {
        let words: Vec<(&str, String)> = PARAMS
            .iter()
            .filter(|p| !matches!(p.range, Range::Any))
            .map(|p| (p.key, p.allowed()))
            .collect();
        let expect = |key: &str, text: &str| {
            let got = &words.iter().find(|(k, _)| *k == key).unwrap().1;
            assert_eq!(got, text, "{key}");
        };
        expect("training.lr", "a finite number > 0 and ≤ 10");
        expect("training.epochs", "1 to 10000");
        expect("training.momentum", "0 ≤ momentum < 1");
        expect("training.step_epochs", "1 or more");
        expect("training.gamma", "0 < gamma ≤ 1");
        expect("training.seed", "0 to 9223372036854775807 (2^63 - 1)");
        expect("training.ema", "0 (off) ≤ ema < 1");
        expect("training.eval_until", "0 (the whole run) to 10000");
        expect("runtime.threads", "0 (all cores) to 1024");
        // Each end is checked as its words say.
        let mut c = Config::default();
        let momentum = find("training.momentum").unwrap();
        c.training.momentum = 0.0;
        assert_eq!(momentum.out_of_range(&c), None);
        c.training.momentum = 1.0;
        assert_eq!(momentum.out_of_range(&c).as_deref(), Some("1"));
        let gamma = find("training.gamma").unwrap();
        c.training.gamma = 0.0;
        assert_eq!(gamma.out_of_range(&c).as_deref(), Some("0"));
        c.training.gamma = f64::NAN;
        assert_eq!(gamma.out_of_range(&c).as_deref(), Some("NaN"));
        let seed = find("training.seed").unwrap();
        c.training.seed = i64::MAX as u64;
        assert_eq!(seed.out_of_range(&c), None);
        c.training.seed = i64::MAX as u64 + 1;
        assert_eq!(
            seed.out_of_range(&c).as_deref(),
            Some("9223372036854775808")
        );
    }

    #[test]
    fn long_numbers_are_quoted_short() {
        assert_eq!(shown(0.25), "0.25");
        assert_eq!(shown(1e-300), "1e-300");
        assert_eq!(shown(-1.0), "-1");
    }

    #[test]
    fn every_field_copies_its_own_value_only() {
        use crate::config::text::value;
        let from = crate::config::recipe::defaults_for(crate::config::ModelKind::Fast);
        let default = Config::default();
        for p in PARAMS {
            let mut to = Config::default();
            p.copy(&from, &mut to);
            assert_eq!(value(&to, p.key), value(&from, p.key), "{} copies", p.key);
            for q in PARAMS.iter().filter(|q| q.key != p.key) {
                assert_eq!(
                    value(&to, q.key),
                    value(&default, q.key),
                    "{} moved {}",
                    p.key,
                    q.key
                );
            }
        }
        assert!(PARAMS.iter().all(|p| help(p.key) == p.help));
    }
}

//! Hyperparameters and settings: the schema and its built-in defaults (equal to the
//! repository's documented `config.toml`). The rest lives in the files named for it:
//! [`params`] (the one table of keys, fields, ranges, help and flags; [`field`] reaches a
//! key's value, [`range`] says what it allows), [`live`] (what the trainer takes while it
//! runs), [`text`] (values as the editor shows and takes them), [`recipe`] (each model's
//! defaults), [`layer`] (finding the file and putting flags over it), [`validate`],
//! [`hint`] ("did you mean"), [`edit`] (saving from the dashboard) and [`reload`]
//! (noticing the file change).

pub mod edit;
pub mod field;
pub mod hint;
pub mod layer;
pub mod live;
pub mod params;
pub mod range;
pub mod recipe;
pub mod reload;
pub mod text;
pub mod validate;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::device::DeviceChoice;
pub use crate::duration::TimeBudget;
use crate::error::UsageError;
pub use crate::model::precision::Precision;
pub use crate::model::ModelKind;
pub use layer::{locate, resolve, user_config_path, Source};
pub use validate::next_run_changes;

/// The file name looked up in the working directory and the user config dir.
pub const FILE_NAME: &str = "config.toml";

/// The largest config file read: far above any real one (the documented file is 2 KiB),
/// far below what would strain memory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The longest value quoted whole in a message; longer ones are cut (see [`quoted`]).
const MAX_QUOTED_CHARS: usize = 60;

/// The documented default config, as shipped in the repository: what `config init`
/// writes and what a save from the dashboard starts from when there is no file yet.
pub const DEFAULT_CONFIG: &str = include_str!("../config.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub training: Training,
    pub model: Model,
    pub data: Data,
    pub runtime: Runtime,
    pub ui: Ui,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Adam,
    Adamw,
    Sgd,
    /// SGD with Nesterov momentum and decoupled weight decay.
    Nesterov,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    Step,
    Cosine,
    /// Linear warm-up over `warmup` epochs, then linear decay to 0 at the run's end.
    Onecycle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Training {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub optimizer: Optimizer,
    pub momentum: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    /// For `step`: multiply the rate by `gamma` every `step_epochs` epochs.
    pub step_epochs: usize,
    pub gamma: f64,
    pub seed: u64,
    /// Stop after this many epochs without a better test accuracy; 0 = never.
    pub early_stop: usize,
    /// For `onecycle`: epochs of linear warm-up.
    pub warmup: f64,
    /// Label smoothing of the training loss (0 = off).
    pub label_smoothing: f64,
    /// Decay of the moving average of the weights that is evaluated (0 = off).
    pub ema: f64,
    /// Evaluate on each test image and its mirror, averaged.
    pub tta: bool,
    /// Wall time for the whole run; when set it rules instead of `epochs`.
    #[serde(serialize_with = "as_text", deserialize_with = "time_budget")]
    pub time_budget: TimeBudget,
    /// Evaluate every this many epochs (fractions allowed); epoch ends always evaluate.
    pub eval_every: f64,
    /// `eval_every` holds until this epoch; after it, only epoch ends evaluate. 0 = the
    /// whole run.
    pub eval_until: f64,
}

impl Default for Training {
    fn default() -> Self {
        Training {
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            optimizer: Optimizer::Adam,
            momentum: 0.9,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            step_epochs: 3,
            gamma: 0.5,
            seed: 42,
            early_stop: 0,
            warmup: 0.0,
            label_smoothing: 0.0,
            ema: 0.0,
            tta: false,
            time_budget: TimeBudget::OFF,
            eval_every: 1.0,
            eval_until: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Model {
    /// Parsed once, when the file is read.
    #[serde(serialize_with = "as_text", deserialize_with = "model_name")]
    pub name: ModelKind,
    pub dropout: f64,
    pub precision: Precision,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            name: ModelKind::Tutorial,
            dropout: 0.2,
            precision: Precision::F32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Data {
    /// Empty: look in `$FASHION_MNIST_DIR`, the cache, the system dir, else download.
    pub dir: String,
    /// 0 = the whole split.
    pub train_limit: usize,
    pub test_limit: usize,
    /// Training images held out (the same ones for a seed) to choose the best epoch and
    /// stop early by; 0 = none, the test set chooses.
    pub validation: usize,
    /// Training augmentation: mirror half the images left–right.
    pub flip: bool,
    /// Training augmentation: shift by up to this many pixels (zero fill).
    pub translate: usize,
    /// Training augmentation: black out a square of this side at a random place; 0 = off.
    pub cutout: usize,
    /// Shift the training images (`translate`) only from this (fractional) epoch on; 0 =
    /// from the start.
    pub translate_from: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Runtime {
    /// Parsed once, when the file is read.
    #[serde(serialize_with = "as_text", deserialize_with = "device_choice")]
    pub device: DeviceChoice,
    /// 0 = one per core.
    pub threads: usize,
    /// Empty: `<user data dir>/runs/<time>-<model>`.
    pub run_dir: String,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            device: DeviceChoice::Auto,
            threads: 0,
            run_dir: String::new(),
        }
    }
}

/// How much colour the dashboard uses (`ui.color`); the dashboard resolves `auto` from
/// the terminal's environment (`ui::theme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// Decide from the environment (`COLORTERM`, `NO_COLOR`).
    #[default]
    Auto,
    /// The 16 named colours: safe everywhere.
    #[serde(rename = "16")]
    Ansi16,
    /// The xterm 256-colour palette.
    #[serde(rename = "256")]
    Ansi256,
    /// 24-bit RGB.
    #[serde(rename = "truecolor")]
    TrueColor,
    /// No colour at all: shading characters and reverse video.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ui {
    pub fps: u32,
    pub color: ColorMode,
    pub predictions: usize,
    pub ascii_charts: bool,
    /// Tell the terminal when a run ends (a bell and a desktop notification).
    pub notify: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            fps: 10,
            color: ColorMode::Auto,
            predictions: 16,
            ascii_charts: false,
            notify: true,
        }
    }
}

/// What a path that is not a regular file is, for messages: "a directory", "a FIFO"…
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// `text` quoted for a message, cut to its first characters when it is long, so that a
/// huge value in a file or flag cannot flood the terminal.
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

fn as_text<T: fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A name the schema parses into `T`, the message naming `key` and the value.
fn parsed<'de, T, D>(d: D, key: &str) -> Result<T, D::Error>
where
    T: std::str::FromStr<Err = String>,
    D: Deserializer<'de>,
{
    let text = String::deserialize(d)?;
    text.parse()
        .map_err(|e| serde::de::Error::custom(format!("{key} = {}: {e}", quoted(&text))))
}

fn model_name<'de, D: Deserializer<'de>>(d: D) -> Result<ModelKind, D::Error> {
    parsed(d, "model.name")
}

fn time_budget<'de, D: Deserializer<'de>>(d: D) -> Result<TimeBudget, D::Error> {
    parsed(d, "training.time_budget")
}

fn device_choice<'de, D: Deserializer<'de>>(d: D) -> Result<DeviceChoice, D::Error> {
    parsed(d, "runtime.device")
}

impl Config {
    /// Parse a (partial) file; keys it leaves out keep their defaults.
    /// Recipe keys left out or set to `"auto"` take the file's model's defaults (see
    /// [`recipe`]).
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, UsageError> {
        let scan = recipe::scan(text);
        let filled = recipe::fill_auto(text, &scan);
        let mut cfg = toml::from_str::<Config>(&filled).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| validate::line_col(&filled, s.start))
                .unwrap_or((1, 1));
            let msg = hint::plain_words(e.message().trim_end());
            let hint = hint::unknown_key_hint(&msg);
            UsageError(format!("{}:{line}:{col}: {msg}{hint}", path.display()))
        })?;
        cfg.take_recipe(&scan.absent, cfg.model.name);
        Ok(cfg)
    }

    pub fn load(source: &Source) -> Result<Config, UsageError> {
        match source {
            Source::Defaults => Ok(Config::default()),
            Source::File(p) => Config::from_toml(&Config::read_text(p)?, p),
        }
    }

    /// The text of the config file at `path`: a regular file of at most [`MAX_FILE_BYTES`]
    /// in UTF-8, read through a bounded reader (a file that grows while it is read, or a
    /// link to `/dev/zero`, cannot make it allocate more).
    pub fn read_text(path: &Path) -> Result<String, UsageError> {
        use std::io::Read;
        let shown = path.display();
        let cannot =
            |e: std::io::Error| UsageError(format!("cannot read config file {shown}: {e}"));
        let meta = std::fs::metadata(path).map_err(cannot)?;
        if !meta.is_file() {
            return Err(UsageError(format!(
                "config file {shown} is {}, not a regular file",
                file_kind(&meta)
            )));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(cannot)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(UsageError(format!(
                "config file {shown} is larger than {} KiB; a config file holds a few \
                 settings (is this the right file?)",
                MAX_FILE_BYTES / 1024
            )));
        }
        String::from_utf8(bytes)
            .map_err(|_| UsageError(format!("config file {shown} is not UTF-8 text")))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Threads to use: the setting, or one per core.
    pub fn threads(&self) -> usize {
        match self.runtime.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_config_equals_builtin_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE_NAME);
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = Config::from_toml(&text, &path).unwrap();
        assert_eq!(parsed, Config::default());
        // Every key is present in the documented file, not just defaulted.
        let raw: toml::Table = text.parse().unwrap();
        let full: toml::Table = Config::default().to_toml().parse().unwrap();
        for (section, keys) in &full {
            let have = raw.get(section).and_then(|s| s.as_table());
            for key in keys.as_table().unwrap().keys() {
                assert!(
                    have.is_some_and(|h| h.contains_key(key)),
                    "config.toml lacks [{section}] {key}"
                );
            }
        }
    }

    #[test]
    fn out_of_range_values_from_a_file_name_their_place_and_flags_do_not() {
        let text = "[training]\nepochs = 3\n\n[model]\n  dropout = 1.5\n";
        let path = Path::new("c.toml");
        let file = Config::from_toml(text, path).unwrap();
        let e = file.validate_in_file(text, path, &file).unwrap_err();
        assert_eq!(
            e.0,
            "c.toml:5:13: model.dropout = 1.5 is out of range: allowed 0 ≤ dropout < 1"
        );
        // A flag that set the bad value is to blame, not the file.
        let mut flagged = file.clone();
        flagged.model.dropout = 0.2;
        flagged.training.lr = -1.0;
        let e = flagged.validate_in_file(text, path, &file).unwrap_err();
        assert!(e.0.starts_with("training.lr = -1 is out of range"), "{e}");
        // Names that are not plain numbers are placed too (parsed as the file is read),
        // NaN included.
        let text = "[runtime]\ndevice = \"tpu\"\n";
        let e = Config::from_toml(text, path).unwrap_err();
        assert!(
            e.0.starts_with("c.toml:2:10: runtime.device = \"tpu\""),
            "{e}"
        );
        let text = "[training]\nlr = nan\n";
        let file = Config::from_toml(text, path).unwrap();
        let e = file.validate_in_file(text, path, &file).unwrap_err();
        assert!(e.0.starts_with("c.toml:2:6: training.lr = NaN"), "{e}");
    }

    #[test]
    fn seeds_beyond_what_toml_can_hold_are_refused() {
        let mut c = Config::default();
        c.training.seed = i64::MAX as u64;
        c.validate().unwrap();
        assert!(c.to_toml().contains("seed = 9223372036854775807"));
        c.training.seed = u64::MAX;
        let e = c.validate().unwrap_err();
        assert!(
            e.0.starts_with("training.seed = 18446744073709551615 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn partial_file_overrides_only_its_keys() {
        let c = Config::from_toml("[training]\nepochs = 3\n", Path::new("c.toml")).unwrap();
        assert_eq!(c.training.epochs, 3);
        assert_eq!(c.training.batch_size, 32);
        assert_eq!(c.model.name, ModelKind::Tutorial);
    }

    #[test]
    fn unknown_key_names_line_and_suggests() {
        let e = Config::from_toml(
            "[training]\nepochs = 3\nlearning_rat = 1\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("c.toml:3:1: unknown field `learning_rat`"),
            "{e}"
        );
        let e = Config::from_toml("[training]\nbatch_sise = 4\n", Path::new("c.toml")).unwrap_err();
        assert!(e.0.contains("did you mean `batch_size`?"), "{e}");
        let e = Config::from_toml("[training]\noptimizer = \"sdg\"\n", Path::new("c.toml"))
            .unwrap_err();
        assert!(e.0.ends_with("(did you mean `sgd`?)"), "{e}");
        let e = Config::from_toml("[training]\noptimizer = \"lion\"\n", Path::new("c.toml"))
            .unwrap_err();
        assert!(!e.0.contains("did you mean"), "{e}");
    }

    #[test]
    fn wrong_type_names_position() {
        let e =
            Config::from_toml("[training]\nepochs = \"ten\"\n", Path::new("c.toml")).unwrap_err();
        assert!(e.0.starts_with("c.toml:2:10:"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_key_value_and_range() {
        let mut c = Config::default();
        c.training.lr = -1.0;
        assert_eq!(
            c.validate().unwrap_err().0,
            "training.lr = -1 is out of range: allowed a finite number > 0 and ≤ 10"
        );
        c.training.lr = f64::NAN;
        assert!(c.validate().unwrap_err().0.starts_with("training.lr = NaN"));
        let mut c = Config::default();
        c.training.epochs = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .0
            .starts_with("training.epochs = 0"));
        let mut c = Config::default();
        c.model.dropout = 1.0;
        assert!(c.validate().unwrap_err().0.starts_with("model.dropout = 1"));
        // Names are parsed, not range-checked: a bad one never makes a Config.
        let c = Config::default();
        let named = |key, text| text::with_text(&c, key, text).unwrap_err().0;
        assert!(named("model.name", "resnet").starts_with("model.name = \"resnet\""));
        assert!(named("runtime.device", "tpu").starts_with("runtime.device = \"tpu\""));
        let c = Config::default();
        assert!(c
            .validate_against_data(10)
            .unwrap_err()
            .0
            .contains("allowed 1 to 10"));
    }

    #[test]
    fn held_out_images_must_leave_some_to_train_on() {
        let mut c = Config::default();
        c.data.validation = 100;
        c.validate().unwrap();
        c.training.batch_size = 32;
        c.validate_against_data(101).unwrap_err();
        c.training.batch_size = 1;
        c.validate_against_data(101).unwrap();
        assert_eq!(
            c.validate_against_data(100).unwrap_err().0,
            "data.validation = 100 is out of range: allowed 0 (off) to 99 (it must leave \
             images to train on: there are 100 training images)"
        );
        c.data.train_limit = 50;
        let e = c.validate_against_data(50).unwrap_err().0;
        assert!(e.starts_with("data.validation = 100 is out of range: allowed 0 (off) to 49"));
        assert!(
            e.ends_with("50 training images that data.train_limit leaves)"),
            "{e}"
        );
        // The batch must fit in what is left.
        c.data.train_limit = 0;
        c.training.batch_size = 32;
        assert_eq!(
            c.validate_against_data(120).unwrap_err().0,
            "training.batch_size = 32 is out of range: allowed 1 to 20 (the number of \
             training images once data.validation has held 100 out)"
        );
        c.data.validation = 60_000;
        assert!(c
            .validate()
            .unwrap_err()
            .0
            .starts_with("data.validation = 60000 is out of range: allowed 0 (off) to 59999"));
    }

    #[test]
    fn lookup_order() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        assert_eq!(
            locate(None, dir.path(), Some(&user)).unwrap(),
            Source::Defaults
        );
        std::fs::write(&user, "").unwrap();
        assert_eq!(
            locate(None, dir.path(), Some(&user)).unwrap(),
            Source::File(user.clone())
        );
        let local = dir.path().join(FILE_NAME);
        std::fs::write(&local, "").unwrap();
        assert_eq!(
            locate(None, dir.path(), Some(&user)).unwrap(),
            Source::File(local)
        );
        let missing = dir.path().join("nope.toml");
        let e = locate(Some(&missing), dir.path(), Some(&user)).unwrap_err();
        assert!(e.0.contains("does not exist"), "{e}");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        assert_eq!(quoted("seed"), "\"seed\"");
        let long = "x".repeat(10_000);
        let q = quoted(&long);
        assert!(
            q.len() < 100 && q.ends_with("… (10000 bytes in all)"),
            "{q}"
        );
        let e = Config::from_toml(
            &format!("[model]\nname = \"{long}\"\n"),
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(e.0.len() < 200, "{e}");
    }

    #[test]
    fn what_is_not_a_regular_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = Config::read_text(dir.path()).unwrap_err();
        assert!(e.0.ends_with("is a directory, not a regular file"), "{e}");
        let e = locate(Some(dir.path()), dir.path(), None).unwrap_err();
        assert!(e.0.contains("(given with --config) is a directory"), "{e}");
        // Where a file is looked for, a directory is named, not skipped.
        let user = dir.path().join("user");
        std::fs::create_dir(&user).unwrap();
        let e = locate(None, dir.path(), Some(&user)).unwrap_err();
        assert!(
            e.0.contains("(the user's config file) is a directory"),
            "{e}"
        );
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        let e = locate(None, dir.path(), None).unwrap_err();
        assert!(
            e.0.contains("(in the working directory) is a directory"),
            "{e}"
        );
    }
}

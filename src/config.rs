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
pub use crate::model::kernels::{Dense, Layout};
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
    /// The dense layers' product: timed at start-up (`auto`), or named.
    pub dense: Dense,
    /// The activations' memory layout: timed at start-up (`auto`), or named.
    pub layout: Layout,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            name: ModelKind::Tutorial,
            dropout: 0.2,
            precision: Precision::F32,
            dense: Dense::Auto,
            layout: Layout::Auto,
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
    /// Ask the terminal for clicks and the wheel (a click selects a pane, a confusion cell,
    /// an image; the wheel zooms a chart). Off: the terminal keeps its own mouse selection.
    pub mouse: bool,
    /// Tell the terminal when a run ends (a bell and a desktop notification).
    pub notify: bool,
    /// What the dashboard's terminal going away does to the run.
    pub on_hangup: OnHangup,
}

/// What a dashboard's terminal going away (an SSH drop, a closed window, SIGHUP) does to
/// the run it shows (`ui.on_hangup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnHangup {
    /// Training goes on; `fashion-tui attach` comes back to it.
    #[default]
    Detach,
    /// The run checkpoints and stops, and the dashboard exits 129.
    Stop,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            fps: 10,
            color: ColorMode::Auto,
            predictions: 16,
            ascii_charts: false,
            mouse: true,
            notify: true,
            on_hangup: OnHangup::Detach,
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
            let msg = hint::shortened(&msg);
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

    /// Threads to use: the setting, or one per CPU this process gets.
    pub fn threads(&self) -> usize {
        self.thread_choice().threads
    }

    /// Threads to use, and why, in words.
    pub fn thread_choice(&self) -> crate::cpus::Choice {
        match self.runtime.threads {
            0 => crate::cpus::choose(crate::cpus::granted()),
            n => crate::cpus::Choice {
                threads: n,
                most: n,
                why: format!(
                    "{n} thread{}: runtime.threads",
                    if n == 1 { "" } else { "s" }
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests;

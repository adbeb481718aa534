//! Hyperparameters and settings: the schema, the built-in defaults (equal to the
//! repository's documented `config.toml`), layering (defaults ◀ file ◀ command line)
//! and validation with messages that quote the key, the value and the allowed range.

pub mod edit;
pub mod params;
pub mod reload;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::device::DeviceChoice;
use crate::model::ModelKind;

/// The file name looked up in the working directory and the user config dir.
pub const FILE_NAME: &str = "config.toml";

/// A user-caused configuration problem: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    Step,
    Cosine,
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
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Model {
    pub name: String,
    pub dropout: f64,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            name: "seed".into(),
            dropout: 0.2,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Runtime {
    pub device: String,
    /// 0 = one per core.
    pub threads: usize,
    /// Empty: `<user data dir>/runs/<time>-<model>`.
    pub run_dir: String,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            device: "auto".into(),
            threads: 0,
            run_dir: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorSetting {
    Auto,
    #[serde(rename = "16")]
    Ansi16,
    #[serde(rename = "256")]
    Ansi256,
    Truecolor,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ui {
    pub fps: u32,
    pub color: ColorSetting,
    pub predictions: usize,
    pub ascii_charts: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            fps: 10,
            color: ColorSetting::Auto,
            predictions: 16,
            ascii_charts: false,
        }
    }
}

/// Where the settings came from, for `config path` and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Defaults,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Defaults => f.write_str("built-in defaults (no config file found)"),
        }
    }
}

/// The user config file: `<config dir>/fashion-tui/config.toml`.
pub fn user_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "fashion-tui").map(|d| d.config_dir().join(FILE_NAME))
}

/// Which file to read: `explicit` (must exist), else `./config.toml`, else the user's.
pub fn locate(
    explicit: Option<&Path>,
    cwd: &Path,
    user: Option<&Path>,
) -> Result<Source, ConfigError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(Source::File(p.to_path_buf()))
        } else {
            Err(ConfigError(format!(
                "config file {} does not exist (given with --config)",
                p.display()
            )))
        };
    }
    let local = cwd.join(FILE_NAME);
    if local.is_file() {
        return Ok(Source::File(local));
    }
    match user {
        Some(u) if u.is_file() => Ok(Source::File(u.to_path_buf())),
        _ => Ok(Source::Defaults),
    }
}

impl Config {
    /// Parse a (partial) file; keys it leaves out keep their defaults.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str::<Config>(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            let msg = e.message().trim_end().to_string();
            let hint = unknown_key_hint(&msg);
            ConfigError(format!("{}:{line}:{col}: {msg}{hint}", path.display()))
        })
    }

    pub fn load(source: &Source) -> Result<Config, ConfigError> {
        Ok(Config::load_with_text(source)?.0)
    }

    /// [`Config::load`], also returning the file's text (for [`Config::validate_in_file`]).
    pub fn load_with_text(source: &Source) -> Result<(Config, Option<String>), ConfigError> {
        match source {
            Source::Defaults => Ok((Config::default(), None)),
            Source::File(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", p.display()))
                })?;
                Ok((Config::from_toml(&text, p)?, Some(text)))
            }
        }
    }

    /// [`Config::validate`] for a config read from `text` (the file at `path`, which alone
    /// gives `from_file`) with command-line overrides applied: a value out of range that
    /// came from the file is reported at its place there (`path:line:col: key = …`), like
    /// a syntax error; one that a flag changed is reported without a place. (A flag that
    /// repeats the file's bad value is indistinguishable and gets the file's place.)
    pub fn validate_in_file(
        &self,
        text: &str,
        path: &Path,
        from_file: &Config,
    ) -> Result<(), ConfigError> {
        self.check().map_err(|(key, e)| {
            if params::value_text(from_file, key) != params::value_text(self, key) {
                return e;
            }
            match value_offset(text, key) {
                Some(at) => {
                    let (line, col) = line_col(text, at);
                    ConfigError(format!("{}:{line}:{col}: {}", path.display(), e.0))
                }
                None => e,
            }
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    pub fn model_kind(&self) -> Result<ModelKind, ConfigError> {
        self.model
            .name
            .parse()
            .map_err(|e: String| ConfigError(format!("model.name = {:?}: {e}", self.model.name)))
    }

    pub fn device_choice(&self) -> Result<DeviceChoice, ConfigError> {
        self.runtime.device.parse().map_err(|e: String| {
            ConfigError(format!("runtime.device = {:?}: {e}", self.runtime.device))
        })
    }

    /// Check every value against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map_err(|(_, e)| e)
    }

    /// [`Config::validate`], also naming the key at fault.
    fn check(&self) -> Result<(), (&'static str, ConfigError)> {
        let t = &self.training;
        let err = |key: &'static str, val: String, range: &str| {
            Err((
                key,
                ConfigError(format!("{key} = {val} is out of range: allowed {range}")),
            ))
        };
        // First: TOML integers are signed 64-bit, so a larger seed could not be written to
        // the run's config.toml (resuming needs it there), nor could any other value be
        // compared as TOML by `validate_in_file`.
        if t.seed > i64::MAX as u64 {
            return err(
                "training.seed",
                t.seed.to_string(),
                "0 to 9223372036854775807 (2^63 - 1)",
            );
        }
        if t.epochs == 0 || t.epochs > 10_000 {
            return err("training.epochs", t.epochs.to_string(), "1 to 10000");
        }
        if t.batch_size == 0 || t.batch_size > 60_000 {
            return err(
                "training.batch_size",
                t.batch_size.to_string(),
                "1 to 60000",
            );
        }
        if !(t.lr.is_finite() && t.lr > 0.0 && t.lr <= 10.0) {
            return err(
                "training.lr",
                t.lr.to_string(),
                "a finite number > 0 and ≤ 10",
            );
        }
        if !(t.momentum.is_finite() && (0.0..1.0).contains(&t.momentum)) {
            return err(
                "training.momentum",
                t.momentum.to_string(),
                "0 ≤ momentum < 1",
            );
        }
        if !(t.weight_decay.is_finite() && (0.0..=1.0).contains(&t.weight_decay)) {
            return err(
                "training.weight_decay",
                t.weight_decay.to_string(),
                "0 to 1",
            );
        }
        if t.step_epochs == 0 {
            return err("training.step_epochs", "0".into(), "1 or more");
        }
        if !(t.gamma.is_finite() && t.gamma > 0.0 && t.gamma <= 1.0) {
            return err("training.gamma", t.gamma.to_string(), "0 < gamma ≤ 1");
        }
        let d = self.model.dropout;
        if !(d.is_finite() && (0.0..1.0).contains(&d)) {
            return err("model.dropout", d.to_string(), "0 ≤ dropout < 1");
        }
        self.model_kind().map_err(|e| ("model.name", e))?;
        self.device_choice().map_err(|e| ("runtime.device", e))?;
        if self.runtime.threads > 1024 {
            return err(
                "runtime.threads",
                self.runtime.threads.to_string(),
                "0 (all cores) to 1024",
            );
        }
        if self.ui.fps == 0 || self.ui.fps > 60 {
            return err("ui.fps", self.ui.fps.to_string(), "1 to 60");
        }
        if self.ui.predictions == 0 || self.ui.predictions > 64 {
            return err("ui.predictions", self.ui.predictions.to_string(), "1 to 64");
        }
        Ok(())
    }

    /// Checks that need the dataset's size.
    pub fn validate_against_data(&self, train_images: usize) -> Result<(), ConfigError> {
        if self.training.batch_size > train_images {
            return Err(ConfigError(format!(
                "training.batch_size = {} is out of range: allowed 1 to {train_images} \
                 (the number of training images)",
                self.training.batch_size
            )));
        }
        Ok(())
    }

    /// Threads to use: the setting, or one per core.
    pub fn threads(&self) -> usize {
        match self.runtime.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// Settings that shape a run from its first step, so a resumed run cannot change them
/// without breaking its equivalence with an uninterrupted one: `(key, old, new)`.
pub fn next_run_changes(saved: &Config, now: &Config) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let mut check = |key: &'static str, a: String, b: String| {
        if a != b {
            out.push((key, a, b));
        }
    };
    check(
        "model.name",
        saved.model.name.clone(),
        now.model.name.clone(),
    );
    check(
        "model.dropout",
        saved.model.dropout.to_string(),
        now.model.dropout.to_string(),
    );
    let (s, n) = (&saved.training, &now.training);
    check(
        "training.batch_size",
        s.batch_size.to_string(),
        n.batch_size.to_string(),
    );
    check("training.seed", s.seed.to_string(), n.seed.to_string());
    check(
        "training.optimizer",
        format!("{:?}", s.optimizer),
        format!("{:?}", n.optimizer),
    );
    check(
        "data.train_limit",
        saved.data.train_limit.to_string(),
        now.data.train_limit.to_string(),
    );
    out
}

/// Where the value of `section.name` starts in a TOML text, if it is there.
fn value_offset(text: &str, key: &str) -> Option<usize> {
    let (section, name) = key.split_once('.')?;
    let doc = toml_edit::Document::parse(text).ok()?;
    doc.as_table()
        .get(section)?
        .get(name)?
        .span()
        .map(|s| s.start)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Every key the schema knows, for "did you mean" suggestions.
const KNOWN_KEYS: &[&str] = &[
    "training",
    "model",
    "data",
    "runtime",
    "ui",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "weight_decay",
    "schedule",
    "step_epochs",
    "gamma",
    "seed",
    "name",
    "dropout",
    "dir",
    "train_limit",
    "test_limit",
    "device",
    "threads",
    "run_dir",
    "fps",
    "color",
    "predictions",
    "ascii_charts",
];

/// For serde's "unknown field `x`" and "unknown variant `x`" messages, suggest the
/// nearest allowed name: from the message's "expected one of" list when it has one,
/// else from every key the schema knows.
pub(crate) fn unknown_key_hint(msg: &str) -> String {
    let Some(rest) = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))
    else {
        return String::new();
    };
    let Some((given, tail)) = rest.split_once('`') else {
        return String::new();
    };
    let listed: Vec<&str> = tail
        .split_once("expected one of ")
        .map(|(_, list)| list.split(", ").map(|c| c.trim_matches('`')).collect())
        .unwrap_or_default();
    let candidates = if listed.is_empty() {
        KNOWN_KEYS
    } else {
        &listed[..]
    };
    candidates
        .iter()
        .map(|k| (edit_distance(given, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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
        // Names that are not plain numbers are placed too, NaN included.
        let text = "[runtime]\ndevice = \"tpu\"\n";
        let file = Config::from_toml(text, path).unwrap();
        let e = file.validate_in_file(text, path, &file).unwrap_err();
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
        assert_eq!(c.model.name, "seed");
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
        let mut c = Config::default();
        c.model.name = "resnet".into();
        assert!(c
            .validate()
            .unwrap_err()
            .0
            .starts_with("model.name = \"resnet\""));
        let mut c = Config::default();
        c.runtime.device = "tpu".into();
        assert!(c
            .validate()
            .unwrap_err()
            .0
            .starts_with("runtime.device = \"tpu\""));
        let c = Config::default();
        assert!(c
            .validate_against_data(10)
            .unwrap_err()
            .0
            .contains("allowed 1 to 10"));
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
}

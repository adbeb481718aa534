//! Settings as text: a value as the editor shows it ([`value_text`]), and a configuration
//! with a new value from the text a user typed ([`with_text`]), parsed by the same serde
//! schema as the file and checked by [`Config::validate`] on a copy of the whole
//! configuration, so files, flags, the editor and reloads share one source of validation
//! truth.

use crate::config::hint::{plain_words, unknown_key_hint};
use crate::config::params::{find, recipe_keys, AUTO};
use crate::config::Config;
use crate::error::UsageError;

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
        let msg = crate::config::hint::shortened(&msg);
        UsageError(format!("{key} = {shown}: {msg}{hint}"))
    })?;
    new.validate()?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::live::LiveSetting;
    use crate::config::{Schedule, Training};

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
            "model.precision = \"bf15\": unknown variant `bf15`, expected `f32` or `bf16` \
             (did you mean `bf16`?)"
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
}

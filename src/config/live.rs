//! The settings the trainer takes while it runs ([`LiveSetting`]: the table's
//! [`Apply::Live`] rows, each a variant named once with its field), and how to go from the
//! settings that run to the ones wanted ([`plan`]): live changes for the trainer, the rest
//! for the next run.

use std::fmt;

use crate::config::params::{Apply, PARAMS};
use crate::config::text::{value, value_text, with_text};
use crate::config::{Config, Schedule};
use crate::error::UsageError;

/// The live settings: each variant with its value's type and its field, written once; the
/// key, reading it from a config and setting it in one derive from that.
macro_rules! live_settings {
    ($($(#[$doc:meta])* $variant:ident($t:ty) = $section:ident . $key:ident,)*) => {
        /// A hyperparameter the trainer can change between two batches: the value it takes.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum LiveSetting {
            $($(#[$doc])* $variant($t),)*
        }

        impl LiveSetting {
            /// The `section.key` it sets.
            pub fn key(&self) -> &'static str {
                match self {
                    $(LiveSetting::$variant(_) => concat!(stringify!($section), ".", stringify!($key)),)*
                }
            }

            /// The value `cfg` holds for a live `key`; `None` for keys that are not live.
            pub fn from_config(key: &str, cfg: &Config) -> Option<LiveSetting> {
                $(if key == concat!(stringify!($section), ".", stringify!($key)) {
                    return Some(LiveSetting::$variant(cfg.$section.$key));
                })*
                None
            }

            /// Set this value in `cfg`.
            pub fn apply(&self, cfg: &mut Config) {
                match *self {
                    $(LiveSetting::$variant(v) => cfg.$section.$key = v,)*
                }
            }
        }
    };
}

live_settings! {
    Lr(f64) = training.lr,
    /// The run's length; below the current epoch, the run ends after the current one.
    Epochs(usize) = training.epochs,
    WeightDecay(f64) = training.weight_decay,
    Momentum(f64) = training.momentum,
    Schedule(Schedule) = training.schedule,
    StepEpochs(usize) = training.step_epochs,
    Gamma(f64) = training.gamma,
}

impl LiveSetting {
    /// The key without its section (`lr`), for short messages.
    pub fn name(&self) -> &'static str {
        let key = self.key();
        key.split_once('.').map_or(key, |(_, name)| name)
    }
}

impl LiveSetting {
    /// The live setting `key` with the value `text` spells, checked as the editor checks a
    /// typed value (the schema's parse and the key's range); refused, with the reason, for
    /// a key that is not live or a value that is not allowed.
    pub fn parse(key: &str, text: &str) -> Result<LiveSetting, UsageError> {
        let live = PARAMS
            .iter()
            .any(|p| p.key == key && p.apply == Apply::Live);
        if !live {
            return Err(UsageError(format!(
                "{} is not a setting that changes while training",
                crate::config::quoted(key)
            )));
        }
        let cfg = with_text(&Config::default(), key, text)?;
        LiveSetting::from_config(key, &cfg)
            .ok_or_else(|| UsageError(format!("{key} is not a live setting")))
    }
}

/// `{"key": "training.lr", "value": 0.0005}`: what the wire and the events carry.
impl serde::Serialize for LiveSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut cfg = Config::default();
        self.apply(&mut cfg);
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("key", self.key())?;
        m.serialize_entry("value", &value(&cfg, self.key()))?;
        m.end()
    }
}

impl<'de> serde::Deserialize<'de> for LiveSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            key: String,
            value: serde_json::Value,
        }
        let w = Wire::deserialize(d)?;
        let text = match &w.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        LiveSetting::parse(&w.key, &text).map_err(|e| serde::de::Error::custom(e.0))
    }
}

impl fmt::Display for LiveSetting {
    /// The value as the file writes it (`0.0005`, `"cosine"` without quotes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cfg = Config::default();
        self.apply(&mut cfg);
        f.write_str(&value_text(&cfg, self.key()))
    }
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

    #[test]
    fn live_settings_travel_as_key_and_value_checked_on_arrival() {
        let s = LiveSetting::Lr(5e-4);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"key":"training.lr","value":0.0005}"#);
        assert_eq!(serde_json::from_str::<LiveSetting>(&json).unwrap(), s);
        let cosine = r#"{"key":"training.schedule","value":"cosine"}"#;
        assert_eq!(
            serde_json::from_str::<LiveSetting>(cosine).unwrap(),
            LiveSetting::Schedule(Schedule::Cosine)
        );
        for bad in [
            r#"{"key":"training.lr","value":-1}"#,
            r#"{"key":"training.batch_size","value":8}"#,
            r#"{"key":"training.lr","value":"fast"}"#,
            r#"{"key":"training.lr"}"#,
        ] {
            assert!(serde_json::from_str::<LiveSetting>(bad).is_err(), "{bad}");
        }
    }
}

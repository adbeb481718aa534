//! The settings the trainer takes while it runs ([`LiveSetting`]: the table's
//! [`Apply::Live`] rows, each a variant named once with its field), and how to go from the
//! settings that run to the ones wanted ([`plan`]): live changes for the trainer, the rest
//! for the next run.

use std::fmt;

use crate::config::params::{Apply, PARAMS};
use crate::config::text::{value, value_text};
use crate::config::{Config, Schedule};

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
}

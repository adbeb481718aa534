//! An exponential moving average of the weights: a second copy of the network whose
//! parameters follow the trained ones, `avg ← avg + (1 - d)·(w - avg)` after every step,
//! with the decay warmed up as `d = min(decay, (1 + t) / (10 + t))` so that the average
//! is useful from the first hundred steps. BatchNorm's running statistics are copied, not
//! averaged (they are averages already). Evaluating the average instead of the last
//! weights gains accuracy for free at the end of a decaying schedule.

use std::collections::HashMap;

use anyhow::{bail, Result};
use tch::{nn, Tensor};

/// Checkpoint names of the averaged tensors: `ema.<variable>`.
pub const PREFIX: &str = "ema.";

/// The average of a var store's variables, held in a var store of the same network.
pub struct Ema {
    pub decay: f64,
    /// (name, trained variable, averaged variable), sorted by name.
    pairs: Vec<(String, Tensor, Tensor)>,
    /// Whether each pair is a trained parameter (averaged) or a buffer (copied).
    trained: Vec<bool>,
}

impl std::fmt::Debug for Ema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ema")
            .field("decay", &self.decay)
            .field("tensors", &self.pairs.len())
            .finish()
    }
}

/// The decay used after `step` updates (1-based): warmed up from 0.1.
pub fn decay_at(decay: f64, step: i64) -> f64 {
    let t = step.max(0) as f64;
    decay.min((1.0 + t) / (10.0 + t))
}

impl Ema {
    /// Start the average of `live` in `avg` (built with the same network), equal to it.
    pub fn new(decay: f64, live: &nn::VarStore, avg: &nn::VarStore) -> Ema {
        let avg_vars = avg.variables();
        let mut pairs: Vec<(String, Tensor, Tensor)> = live
            .variables()
            .into_iter()
            .filter_map(|(name, v)| {
                let a = avg_vars.get(&name)?.shallow_clone();
                Some((name, v, a))
            })
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let trained = pairs.iter().map(|(_, v, _)| v.requires_grad()).collect();
        let _guard = tch::no_grad_guard();
        for (_, v, a) in pairs.iter_mut() {
            a.copy_(v);
        }
        Ema {
            decay,
            pairs,
            trained,
        }
    }

    /// Fold the current weights in, after optimiser step `step` (1-based).
    pub fn update(&mut self, step: i64) {
        let d = decay_at(self.decay, step);
        let _guard = tch::no_grad_guard();
        for ((_, v, a), &trained) in self.pairs.iter_mut().zip(&self.trained) {
            if trained {
                let _ = a.lerp_(v, 1.0 - d);
            } else {
                a.copy_(v);
            }
        }
    }

    /// The averaged tensors to checkpoint, named `ema.<variable>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.pairs
            .iter()
            .map(|(n, _, a)| (format!("{PREFIX}{n}"), a.shallow_clone()))
            .collect()
    }

    /// Restore the average from a checkpoint's `ema.*` tensors (refusing missing or
    /// misshapen ones before changing anything).
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let mut problems = Vec::new();
        for (name, _, a) in &self.pairs {
            match tensors.get(&format!("{PREFIX}{name}")) {
                None => problems.push(format!("missing {PREFIX}{name}")),
                Some(t) if t.size() != a.size() => problems.push(format!(
                    "{PREFIX}{name} has shape {:?}, expected {:?}",
                    t.size(),
                    a.size()
                )),
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            bail!(
                "the weight average does not fit the model: {}",
                problems.join(", ")
            );
        }
        let _guard = tch::no_grad_guard();
        for (name, _, a) in self.pairs.iter_mut() {
            a.copy_(&tensors[&format!("{PREFIX}{name}")]);
        }
        Ok(())
    }
}

/// Take the `ema.*` tensors out of a checkpoint's remaining tensors.
pub fn split_off(tensors: &mut HashMap<String, Tensor>) -> HashMap<String, Tensor> {
    let names: Vec<String> = tensors
        .keys()
        .filter(|k| k.starts_with(PREFIX))
        .cloned()
        .collect();
    names
        .into_iter()
        .filter_map(|k| tensors.remove_entry(&k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn store(value: f64) -> nn::VarStore {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[3], nn::Init::Const(value));
        let _b = vs.root().zeros_no_train("running_mean", &[2]).fill_(value);
        drop(w);
        vs
    }

    #[test]
    fn the_decay_warms_up_then_holds() {
        assert!((decay_at(0.99, 1) - 0.2 / 1.1).abs() < 1e-12);
        assert!(decay_at(0.99, 10) < decay_at(0.99, 100));
        assert_eq!(decay_at(0.99, 100_000), 0.99);
    }

    #[test]
    fn an_update_moves_the_average_toward_the_weights_and_copies_buffers() {
        let live = store(1.0);
        let avg = store(0.0);
        let mut ema = Ema::new(0.9, &live, &avg);
        // Starts equal to the live weights.
        assert_eq!(avg.variables()["w"].double_value(&[0]), 1.0);
        let _guard = tch::no_grad_guard();
        let mut w = live.variables()["w"].shallow_clone();
        let _ = w.fill_(3.0);
        let mut m = live.variables()["running_mean"].shallow_clone();
        let _ = m.fill_(5.0);
        ema.update(1_000);
        // avg = 1 + (1 - 0.9)·(3 - 1) = 1.2
        let a = avg.variables()["w"].double_value(&[1]);
        assert!((a - 1.2).abs() < 1e-6, "{a}");
        assert_eq!(avg.variables()["running_mean"].double_value(&[0]), 5.0);
        // The state round-trips.
        let saved: HashMap<String, Tensor> = ema
            .state()
            .into_iter()
            .map(|(k, v)| (k, v.copy()))
            .collect();
        assert!(saved.contains_key("ema.w") && saved.contains_key("ema.running_mean"));
        ema.update(1_001);
        ema.load_state(&saved).unwrap();
        assert!((avg.variables()["w"].double_value(&[0]) - 1.2).abs() < 1e-6);
        let mut wrong = saved;
        wrong.insert(
            "ema.w".into(),
            Tensor::zeros([4], (Kind::Float, Device::Cpu)),
        );
        let e = ema.load_state(&wrong).unwrap_err().to_string();
        assert!(e.contains("ema.w has shape [4], expected [3]"), "{e}");
    }

    #[test]
    fn split_off_takes_only_the_average() {
        let mut t: HashMap<String, Tensor> = HashMap::new();
        t.insert("ema.w".into(), Tensor::from(1.0f32));
        t.insert("opt.m.w".into(), Tensor::from(2.0f32));
        let ema = split_off(&mut t);
        assert_eq!(ema.keys().collect::<Vec<_>>(), ["ema.w"]);
        assert_eq!(t.keys().collect::<Vec<_>>(), ["opt.m.w"]);
    }
}

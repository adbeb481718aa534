//! Optimisers written on tensors (Adam, AdamW, SGD with momentum, Nesterov SGD with
//! decoupled weight decay), with the same arithmetic as libtorch's `torch::optim` ones. tch cannot export its optimisers' state;
//! owning it here lets a checkpoint save the moments and the step count, so that a resumed
//! run continues exactly.

use std::collections::HashMap;

use anyhow::{bail, Result};
use tch::{nn, Kind, Tensor};

use crate::config::{Optimizer, Training};

mod flat;
mod fused;
use flat::Flat;

/// Hyperparameters that can change while training (the rest are fixed per run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyper {
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
}

/// One optimiser over a var store's trainable variables, kept in flat buffers
/// ([`Flat`]) so that a step is a dozen tensor operations whatever the network's size.
pub struct Optim {
    kind: Optimizer,
    pub hyper: Hyper,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// Steps taken so far (Adam's bias correction uses it).
    step: i64,
    /// The variables' names, sorted, in the flat buffers' order.
    names: Vec<String>,
    flat: Flat,
    /// First moment (Adam) or momentum buffer (SGD); second moment (Adam); flat.
    first: Tensor,
    second: Tensor,
    /// Two flat work buffers for the update.
    scratch: (Tensor, Tensor),
    /// Adam's update in one pass ([`fused`]) where the buffers allow it (the CPU); the
    /// tensor-op chain otherwise.
    fused: bool,
}

impl std::fmt::Debug for Optim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optim")
            .field("kind", &self.kind)
            .field("hyper", &self.hyper)
            .field("step", &self.step)
            .field("params", &self.names.len())
            .finish()
    }
}

impl Optim {
    /// Keras's Adam constants: β = (0.9, 0.999), ε = 1e-7. The trainable variables'
    /// storage moves into one flat buffer (their values and names are unchanged).
    pub fn new(t: &Training, vs: &nn::VarStore) -> Optim {
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, v)| v.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let (names, vars): (Vec<String>, Vec<Tensor>) = params.into_iter().unzip();
        let flat = Flat::new(&vars);
        let has_second = matches!(t.optimizer, Optimizer::Adam | Optimizer::Adamw);
        let second = if has_second {
            flat.zeros()
        } else {
            Tensor::zeros([0], (Kind::Float, flat.params.device()))
        };
        Optim {
            kind: t.optimizer,
            hyper: Hyper {
                lr: t.lr,
                weight_decay: t.weight_decay,
                momentum: t.momentum,
            },
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            step: 0,
            names,
            first: flat.zeros(),
            second,
            scratch: (flat.zeros(), flat.zeros()),
            fused: fused::applies(&[&flat.params, &flat.grads]),
            flat,
        }
    }

    /// Adam's kinds keep a second moment; the SGD kinds only a momentum buffer.
    fn has_second_moment(&self) -> bool {
        matches!(self.kind, Optimizer::Adam | Optimizer::Adamw)
    }

    pub fn step_count(&self) -> i64 {
        self.step
    }

    /// Zero the gradients, back-propagate `loss`, take one step.
    pub fn backward_step(&mut self, loss: &Tensor) {
        self.backward(loss);
        self.step();
    }

    /// Zero the gradients and back-propagate `loss` into the flat gradient buffer.
    pub fn backward(&mut self, loss: &Tensor) {
        self.flat.zero_grads();
        loss.backward();
        self.flat.gather_grads();
    }

    /// One update of every parameter from the flat gradient buffer. The arithmetic, per
    /// element, is libtorch's `torch::optim` one (Adam's textbook order, decoupled decay
    /// for AdamW and Nesterov); the tests hold it to a per-tensor update within 1e-6.
    pub fn step(&mut self) {
        let _guard = tch::no_grad_guard();
        self.step += 1;
        let Hyper {
            lr,
            weight_decay: wd,
            momentum,
        } = self.hyper;
        let t = self.step as i32;
        let p = &mut self.flat.params;
        let g = self.flat.grads.shallow_clone();
        let (a, b) = &mut self.scratch;
        match self.kind {
            Optimizer::Adam | Optimizer::Adamw => {
                let g = if self.kind == Optimizer::Adam && wd != 0.0 {
                    &g + &*p * wd
                } else {
                    g
                };
                if self.kind == Optimizer::Adamw && wd != 0.0 {
                    let _ = p.g_mul_scalar_(1.0 - lr * wd);
                }
                let bc1 = 1.0 - self.beta1.powi(t);
                let bc2 = 1.0 - self.beta2.powi(t);
                let (m, v) = (&mut self.first, &mut self.second);
                if self.fused && fused::applies(&[p, &g, m, v]) {
                    let c = fused::AdamStep {
                        one_minus_beta1: (1.0 - self.beta1) as f32,
                        beta2: self.beta2 as f32,
                        one_minus_beta2: (1.0 - self.beta2) as f32,
                        sqrt_bc2: bc2.sqrt() as f32,
                        eps: self.eps as f32,
                        step_size: (lr / bc1) as f32,
                    };
                    fused::adam(p, &g, m, v, c);
                    return;
                }
                // m = lerp(m, g, 1-β1); v = β2·v + (1-β2)·g²;
                // p -= (lr/bc1)·m / (√v/√bc2 + ε), each operation into preallocated scratch.
                let _ = m.lerp_(&g, 1.0 - self.beta1);
                let _ = g.mul_out(a, &g);
                let _ = a.g_mul_scalar_(1.0 - self.beta2);
                let _ = v.g_mul_scalar_(self.beta2);
                let _ = v.g_add_(a);
                let _ = v.sqrt_out(b);
                let _ = b.g_div_scalar_(bc2.sqrt());
                let _ = b.g_add_scalar_(self.eps);
                let _ = m.div_out(a, b);
                let _ = a.g_mul_scalar_(lr / bc1);
                let _ = p.g_sub_(a);
            }
            Optimizer::Sgd => {
                let g = if wd != 0.0 { &g + &*p * wd } else { g };
                let g = if momentum != 0.0 {
                    accumulate_momentum(&mut self.first, &g, momentum, self.step);
                    self.first.shallow_clone()
                } else {
                    g
                };
                a.copy_(&g);
                let _ = a.g_mul_scalar_(lr);
                let _ = p.g_sub_(a);
            }
            Optimizer::Nesterov => {
                // Decoupled decay: shrink the weights, not the gradient.
                if wd != 0.0 {
                    let _ = p.g_mul_scalar_(1.0 - lr * wd);
                }
                accumulate_momentum(&mut self.first, &g, momentum, self.step);
                // p -= lr·(g + momentum·buf)
                a.copy_(&self.first);
                let _ = a.g_mul_scalar_(momentum);
                let _ = a.g_add_(&g);
                let _ = a.g_mul_scalar_(lr);
                let _ = p.g_sub_(a);
            }
        }
    }

    /// The state to save: `(name, tensor)` pairs, names prefixed `opt.m.` / `opt.v.`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(self.names.len() * 2);
        let first = self.flat.split(&self.first);
        let second = self
            .has_second_moment()
            .then(|| self.flat.split(&self.second));
        for (i, (name, m)) in self.names.iter().zip(first).enumerate() {
            out.push((format!("opt.m.{name}"), m));
            if let Some(second) = &second {
                out.push((format!("opt.v.{name}"), second[i].shallow_clone()));
            }
        }
        out
    }

    /// Restore moments and step count; refuses missing, extra or misshapen tensors
    /// before changing anything.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, step: i64) -> Result<()> {
        let expected: Vec<(String, Vec<i64>)> = self
            .state()
            .into_iter()
            .map(|(n, t)| (n, t.size()))
            .collect();
        let mut problems = Vec::new();
        for (name, shape) in &expected {
            match tensors.get(name) {
                None => problems.push(format!("missing {name}")),
                Some(t) if t.size() != *shape => problems.push(format!(
                    "{name} has shape {:?}, expected {shape:?}",
                    t.size()
                )),
                Some(t) if t.kind() != Kind::Float => {
                    problems.push(format!("{name} is {:?}, expected Float", t.kind()))
                }
                Some(_) => {}
            }
        }
        let known: std::collections::HashSet<&str> =
            expected.iter().map(|(n, _)| n.as_str()).collect();
        for name in tensors.keys() {
            if !known.contains(name.as_str()) {
                problems.push(format!("unexpected {name}"));
            }
        }
        if !problems.is_empty() {
            problems.sort();
            bail!(
                "optimizer state does not match the model: {}",
                problems.join(", ")
            );
        }
        let _guard = tch::no_grad_guard();
        for (name, mut view) in self.state() {
            view.copy_(&tensors[&name]);
        }
        self.step = step;
        Ok(())
    }
}

/// SGD's momentum buffer after step `step` (1-based): the gradient itself at the first
/// step, then `momentum·buf + g` (libtorch's order, no dampening).
fn accumulate_momentum(buf: &mut Tensor, g: &Tensor, momentum: f64, step: i64) {
    if step == 1 {
        buf.copy_(g);
    } else {
        let _ = buf.g_mul_scalar_(momentum);
        let _ = buf.g_add_(g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::{Module, OptimizerConfig};
    use tch::Device;

    fn net(vs: &nn::Path) -> impl Module {
        nn::seq()
            .add(nn::linear(vs / "a", 6, 8, Default::default()))
            .add_fn(|x| x.relu())
            .add(nn::linear(vs / "b", 8, 3, Default::default()))
    }

    /// Train two copies of a tiny net, one with ours and one with tch's, and compare.
    fn matches_tch(opt: Optimizer, wd: f64) {
        tch::manual_seed(1);
        let t = Training {
            optimizer: opt,
            lr: 0.01,
            weight_decay: wd,
            momentum: 0.9,
            ..Training::default()
        };
        let vs_a = nn::VarStore::new(Device::Cpu);
        let net_a = net(&vs_a.root());
        let mut vs_b = nn::VarStore::new(Device::Cpu);
        let net_b = net(&vs_b.root());
        vs_b.copy(&vs_a).unwrap();
        let mut ours = Optim::new(&t, &vs_a);
        let mut theirs = match opt {
            Optimizer::Adam => nn::Adam {
                wd,
                eps: 1e-7,
                ..Default::default()
            }
            .build(&vs_b, 0.01),
            Optimizer::Adamw => nn::AdamW {
                wd,
                eps: 1e-7,
                ..Default::default()
            }
            .build(&vs_b, 0.01),
            Optimizer::Sgd => nn::Sgd {
                momentum: 0.9,
                wd,
                ..Default::default()
            }
            .build(&vs_b, 0.01),
            // libtorch has no decoupled decay for SGD: compared without decay.
            Optimizer::Nesterov => nn::Sgd {
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            }
            .build(&vs_b, 0.01),
        }
        .unwrap();
        for step in 0..8 {
            let xs = Tensor::randn([5, 6], (Kind::Float, Device::Cpu));
            let ys = Tensor::from_slice(&[0i64, 1, 2, 1, step % 3]);
            ours.backward_step(&net_a.forward(&xs).cross_entropy_for_logits(&ys));
            theirs.backward_step(&net_b.forward(&xs).cross_entropy_for_logits(&ys));
        }
        let (a, b) = (vs_a.variables(), vs_b.variables());
        for (name, ta) in &a {
            let diff = (ta - &b[name]).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "{opt:?} wd={wd}: {name} differs by {diff}");
        }
        assert_eq!(ours.step_count(), 8);
    }

    #[test]
    fn adam_matches_libtorch() {
        matches_tch(Optimizer::Adam, 0.0);
        matches_tch(Optimizer::Adam, 0.01);
    }

    /// The flat-buffer update, fused or as tensor ops, equals the per-parameter textbook
    /// form (one allocating op chain per tensor) to 1e-6 over several steps.
    #[test]
    fn flat_adam_equals_the_per_parameter_textbook_form() {
        textbook_adam(true);
        textbook_adam(false);
    }

    fn textbook_adam(fused: bool) {
        tch::manual_seed(3);
        let vs_a = nn::VarStore::new(Device::Cpu);
        let net_a = net(&vs_a.root());
        let mut vs_b = nn::VarStore::new(Device::Cpu);
        let net_b = net(&vs_b.root());
        vs_b.copy(&vs_a).unwrap();
        let t = Training::default();
        let mut ours = Optim::new(&t, &vs_a);
        ours.fused = fused;
        let mut params: Vec<(String, Tensor)> = vs_b.variables().into_iter().collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let mut m: Vec<Tensor> = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let mut v: Vec<Tensor> = params.iter().map(|(_, p)| p.zeros_like()).collect();
        for step in 1..=20 {
            let xs = Tensor::randn([5, 6], (Kind::Float, Device::Cpu));
            let ys = Tensor::from_slice(&[0i64, 1, 2, 1, 0]);
            ours.backward_step(&net_a.forward(&xs).cross_entropy_for_logits(&ys));
            for (_, p) in params.iter_mut() {
                p.zero_grad();
            }
            net_b.forward(&xs).cross_entropy_for_logits(&ys).backward();
            let _guard = tch::no_grad_guard();
            for (i, (_, p)) in params.iter_mut().enumerate() {
                let g = p.grad();
                let _ = m[i].lerp_(&g, 1.0 - 0.9);
                let _ = v[i].g_mul_scalar_(0.999);
                let _ = v[i].g_add_(&(&g * &g * (1.0 - 0.999)));
                let bc1 = 1.0 - 0.9f64.powi(step);
                let bc2 = 1.0 - 0.999f64.powi(step);
                let denom = v[i].sqrt() / bc2.sqrt() + 1e-7;
                let _ = p.g_sub_(&(&m[i] / denom * (t.lr / bc1)));
            }
        }
        let b = vs_b.variables();
        for (name, a) in vs_a.variables() {
            let diff = (&a - &b[&name]).abs().max().double_value(&[]);
            assert!(diff <= 1e-6, "fused={fused}: {name} differs by {diff}");
        }
    }

    #[test]
    fn adamw_matches_libtorch() {
        matches_tch(Optimizer::Adamw, 0.05);
    }

    #[test]
    fn sgd_momentum_matches_libtorch() {
        matches_tch(Optimizer::Sgd, 0.0);
        matches_tch(Optimizer::Sgd, 0.01);
    }

    #[test]
    fn nesterov_matches_libtorch_and_decays_decoupled() {
        matches_tch(Optimizer::Nesterov, 0.0);
        // With a zero gradient, one step only shrinks the weights by lr·wd.
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[2], nn::Init::Const(2.0));
        let t = Training {
            optimizer: Optimizer::Nesterov,
            lr: 0.1,
            weight_decay: 0.5,
            ..Training::default()
        };
        let mut opt = Optim::new(&t, &vs);
        opt.backward_step(&(&w * 0.0).sum(Kind::Float));
        assert!((w.double_value(&[0]) - 2.0 * (1.0 - 0.05)).abs() < 1e-6);
        assert_eq!(opt.state().len(), 1, "a momentum buffer, no second moment");
    }

    #[test]
    fn state_round_trips_and_mismatches_are_refused() {
        let vs = nn::VarStore::new(Device::Cpu);
        let n = net(&vs.root());
        let mut opt = Optim::new(&Training::default(), &vs);
        let xs = Tensor::randn([4, 6], (Kind::Float, Device::Cpu));
        let ys = Tensor::from_slice(&[0i64, 1, 2, 0]);
        opt.backward_step(&n.forward(&xs).cross_entropy_for_logits(&ys));
        let saved: HashMap<String, Tensor> = opt
            .state()
            .into_iter()
            .map(|(k, v)| (k, v.copy()))
            .collect();
        let mut other = Optim::new(&Training::default(), &vs);
        other.load_state(&saved, opt.step_count()).unwrap();
        assert_eq!(other.step_count(), 1);
        for ((_, a), (_, b)) in other.state().iter().zip(opt.state().iter()) {
            assert!(a.equal(b));
        }
        let copy = |m: &HashMap<String, Tensor>| -> HashMap<String, Tensor> {
            m.iter().map(|(k, v)| (k.clone(), v.copy())).collect()
        };
        let mut broken = copy(&saved);
        broken.remove("opt.m.a.weight");
        broken.insert(
            "opt.m.zzz".into(),
            Tensor::zeros([1], (Kind::Float, Device::Cpu)),
        );
        let err = other.load_state(&broken, 1).unwrap_err().to_string();
        assert!(err.contains("missing opt.m.a.weight"), "{err}");
        assert!(err.contains("unexpected opt.m.zzz"), "{err}");
        let mut misshapen = saved;
        misshapen.insert(
            "opt.v.b.bias".into(),
            Tensor::zeros([7], (Kind::Float, Device::Cpu)),
        );
        let err = other.load_state(&misshapen, 1).unwrap_err().to_string();
        assert!(
            err.contains("opt.v.b.bias has shape [7], expected [3]"),
            "{err}"
        );
    }
}

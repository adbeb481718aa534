//! The learner: what takes a training step. It owns the network and its variables, the
//! optimiser, the moving average of the weights (when the recipe averages), the
//! augmentation and the training images on the device. A step is [`Learner::forward`]
//! (the batch's loss, which the trainer may refuse when it is not finite) then
//! [`Learner::apply`] (back-propagation, the optimiser's update, the average).
//!
//! Every draw of a step comes from the run's seed and the step's number: dropout from
//! libtorch's generator reseeded each batch, augmentation from our own, so that a resumed
//! run repeats exactly what an uninterrupted one would have done.

use std::collections::HashMap;

use anyhow::Result;
use tch::{nn, Device, Kind, Tensor};

use super::augment::Augment;
use super::ema::{self, Ema};
use super::fault::Faults;
use super::input::{scale, split_tensors};
use super::loss;
use super::optim::Optim;
use crate::config::{Config, Optimizer, Training};
use crate::data::Split;
use crate::model::{self, Kernels, Network};
use crate::rng::step_seed;

/// The moving average of the weights and the network that evaluates it.
struct Averaged {
    vs: nn::VarStore,
    net: Box<dyn Network + Send>,
    ema: Ema,
}

/// One batch through the network, before its update: the loss (a scalar tensor, kept on
/// the device) and how many of its images the network got right.
pub struct Forward {
    pub loss: Tensor,
    pub correct: Tensor,
    pub images: usize,
}

/// The network, its optimiser and average, and the training images.
pub struct Learner {
    device: Device,
    vs: nn::VarStore,
    net: Box<dyn Network + Send>,
    opt: Optim,
    averaged: Option<Averaged>,
    augment: Augment,
    /// Shifts start at this fractional epoch (`data.translate_from`).
    translate_from: f64,
    label_smoothing: f64,
    seed: u64,
    train_x: Tensor,
    train_y: Tensor,
}

impl Learner {
    /// Build `cfg`'s network on `device`, computing as `kernels` says, with weights drawn
    /// from the run's seed, and put the training images `train` on the device.
    pub fn new(cfg: &Config, train: &Split, device: Device, kernels: Kernels) -> Learner {
        let tc = &cfg.training;
        tch::manual_seed(tc.seed as i64);
        let vs = nn::VarStore::new(device);
        let (kind, dropout) = (cfg.model.name, cfg.model.dropout);
        let net = model::build_in(kind, &vs.root(), dropout, kernels);
        let opt = Optim::new(tc, &vs);
        // Built after the trained network, so that its weights draw what they always did.
        let averaged = (tc.ema > 0.0).then(|| {
            let mut avg_vs = nn::VarStore::new(device);
            let avg_net = model::build_in(kind, &avg_vs.root(), dropout, kernels);
            avg_vs.freeze();
            let ema = Ema::new(tc.ema, &vs, &avg_vs);
            Averaged {
                vs: avg_vs,
                net: avg_net,
                ema,
            }
        });
        let (train_x, train_y) = split_tensors(train, device);
        Learner {
            device,
            vs,
            net,
            opt,
            averaged,
            augment: Augment::of(&cfg.data),
            translate_from: cfg.data.translate_from,
            label_smoothing: tc.label_smoothing,
            seed: tc.seed,
            train_x,
            train_y,
        }
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Trainable parameters of the network.
    pub fn parameters(&self) -> usize {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum()
    }

    /// Optimiser steps taken so far in the run.
    pub fn steps(&self) -> i64 {
        self.opt.step_count()
    }

    /// The learning rate of the next step.
    pub fn lr(&self) -> f64 {
        self.opt.hyper.lr
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.opt.hyper.lr = lr;
    }

    /// Take the live settings the optimiser reads (weight decay; momentum for the SGD
    /// kinds, Adam's beta1 staying 0.9) from `t`.
    pub fn follow(&mut self, t: &Training) {
        self.opt.hyper.weight_decay = t.weight_decay;
        if matches!(t.optimizer, Optimizer::Sgd | Optimizer::Nesterov) {
            self.opt.hyper.momentum = t.momentum;
        }
    }

    /// The network that is evaluated and saved: the weight average when there is one.
    pub fn evaluated(&self) -> &dyn Network {
        match &self.averaged {
            Some(avg) => avg.net.as_ref(),
            None => self.net.as_ref(),
        }
    }

    /// The variables of [`Learner::evaluated`]'s network.
    pub fn evaluated_weights(&self) -> &nn::VarStore {
        self.averaged.as_ref().map_or(&self.vs, |avg| &avg.vs)
    }

    /// The batch of training images at `idx` (indices into the training split), at
    /// fractional epoch `frac`: augmented, through the network in training mode, and
    /// its loss. `faults` may poison the loss (tests only).
    pub fn forward(&mut self, idx: &Tensor, frac: f64, faults: &mut Faults) -> Forward {
        let step = self.opt.step_count();
        tch::manual_seed(step_seed(self.seed, step));
        let xs = scale(&self.train_x.index_select(0, idx));
        let augment = match frac >= self.translate_from {
            true => self.augment,
            false => self.augment.without_shifts(),
        };
        let xs = augment.apply(&xs, self.seed, step);
        let ys = self.train_y.index_select(0, idx);
        let logits = self.net.forward_t(&xs, true);
        let loss = loss::cross_entropy(&logits, &ys, self.label_smoothing);
        let loss = faults.poison(step, loss);
        Forward {
            correct: logits.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64),
            images: idx.size()[0] as usize,
            loss,
        }
    }

    /// Back-propagate `f`'s loss, take the optimiser's step and fold the new weights into
    /// the average.
    pub fn apply(&mut self, f: &Forward) {
        self.opt.backward_step(&f.loss);
        if let Some(avg) = &mut self.averaged {
            avg.ema.update(self.opt.step_count());
        }
    }

    /// Everything a checkpoint holds of the learner: the weights (by the var store), the
    /// optimiser's moments and the average.
    pub fn state(&self) -> (&nn::VarStore, Vec<(String, Tensor)>) {
        let mut extra = self.opt.state();
        if let Some(avg) = &self.averaged {
            extra.extend(avg.ema.state());
        }
        (&self.vs, extra)
    }

    /// The trained variables, to load a checkpoint's weights into.
    pub fn weights_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// Restore the optimiser (at `step`) and the average from a checkpoint's tensors other
    /// than the weights.
    pub fn restore(&mut self, mut rest: HashMap<String, Tensor>, step: i64) -> Result<()> {
        let averaged = ema::split_off(&mut rest);
        self.opt.load_state(&rest, step)?;
        if let Some(avg) = &mut self.averaged {
            avg.ema.load_state(&averaged)?;
        }
        Ok(())
    }

    /// The hyperparameters a checkpoint records: rate, weight decay, momentum.
    pub fn hyper(&self) -> (f64, f64, f64) {
        let h = self.opt.hyper;
        (h.lr, h.weight_decay, h.momentum)
    }
}

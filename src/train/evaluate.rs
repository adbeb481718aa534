//! Evaluation on the test set: loss, accuracy and confusion after each epoch (and for
//! `eval`), and what the dashboard shows of it: the predictions on a fixed sample and
//! the most confident mistakes, and one image's feature maps. [`Evaluator`] is the
//! trainer's part that holds the test set (and the held-out images) on the device.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use tch::{nn, Device, Kind, Tensor};

use super::input::{pixels, scale, split_tensors};
use crate::data::{Dataset, Split};
use crate::events::{
    Confusion, FeatureMaps, LayerMaps, Outcomes, Prediction, Predictions, TestImages, IMAGE_PIXELS,
    IMAGE_SIDE, NUM_CLASSES,
};
use crate::model::{self, Network};
use crate::rng::SplitMix64;
use crate::store::checkpoint;

/// Images per forward pass when evaluating. Measured on two cores, 10,000 test images:
/// batches of 256 took 0.40 s for `fast` and 0.11 s for the tutorial where batches of
/// 1000 took 1.0 s and 0.36 s (a batch's activations, tens of MB, no longer fit the caches
/// and are mapped afresh by the allocator for every layer).
const EVAL_BATCH: i64 = 256;

/// Test-set results of one evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub loss: f64,
    /// With test-time flips when asked for, else equal to `accuracy_plain`.
    pub accuracy: f64,
    /// On the images alone.
    pub accuracy_plain: f64,
    pub confusion: Confusion,
    pub predicted: Vec<u8>,
    pub confidence: Vec<f32>,
}

/// Run `net` over a test set in evaluation mode (no dropout, no gradients). With `tta`,
/// each image's logits are averaged with its mirror's (test-time augmentation); the
/// accuracy without is reported too.
pub fn evaluate(
    net: &dyn Network,
    images: &Tensor,
    labels: &Tensor,
    tta: bool,
) -> Result<Evaluation> {
    let _guard = tch::no_grad_guard();
    let n = images.size()[0];
    let mut loss_sum = 0.0;
    let mut predicted = Vec::with_capacity(n as usize);
    let mut confidence = Vec::with_capacity(n as usize);
    let mut plain_correct = Tensor::zeros([], (Kind::Int64, images.device()));
    let mut start = 0;
    while start < n {
        let len = EVAL_BATCH.min(n - start);
        let xs = scale(&images.narrow(0, start, len));
        let ys = labels.narrow(0, start, len);
        let plain = net.forward_t(&xs, false);
        plain_correct += plain.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
        let logits = if tta {
            (&plain + net.forward_t(&xs.flip([3]), false)) / 2.0
        } else {
            plain
        };
        loss_sum += logits
            .log_softmax(-1, Kind::Float)
            .nll_loss_nd::<Tensor>(&ys, None, tch::Reduction::Sum, -100)
            .double_value(&[]);
        let (conf, pred) = logits.softmax(-1, Kind::Float).max_dim(-1, false);
        let pred: Vec<i64> = Vec::try_from(pred.to_device(Device::Cpu))?;
        let conf: Vec<f32> = Vec::try_from(conf.to_device(Device::Cpu))?;
        predicted.extend(pred.into_iter().map(|p| p as u8));
        confidence.extend(conf);
        start += len;
    }
    let truth: Vec<i64> = Vec::try_from(labels.to_device(Device::Cpu))?;
    let mut confusion = [[0u32; NUM_CLASSES]; NUM_CLASSES];
    let mut correct = 0usize;
    for (&t, &p) in truth.iter().zip(&predicted) {
        let (t, p) = (t as usize, p as usize);
        if t < NUM_CLASSES && p < NUM_CLASSES {
            confusion[t][p] += 1;
        }
        correct += usize::from(t == p);
    }
    Ok(Evaluation {
        loss: loss_sum / n.max(1) as f64,
        accuracy: correct as f64 / n.max(1) as f64,
        accuracy_plain: plain_correct.int64_value(&[]) as f64 / n.max(1) as f64,
        confusion,
        predicted,
        confidence,
    })
}

/// The test set (and the held-out training images) on the device, the fixed sample the
/// Predictions pane shows and the image whose feature maps were last asked for: what the
/// trainer evaluates and shows, for whichever network it is given.
pub struct Evaluator<'a> {
    test: &'a Split,
    test_x: Tensor,
    test_y: Tensor,
    /// The held-out training images (`data.validation`), when there are any.
    val: Option<(Tensor, Tensor)>,
    /// Test-time flips.
    tta: bool,
    /// Fixed random test indices shown in the Predictions pane.
    sample: Vec<usize>,
    /// Test index whose feature maps were last asked for.
    feature_index: usize,
}

impl<'a> Evaluator<'a> {
    /// `ds`'s test and held-out images on `device`, and a sample of `predictions` test
    /// images drawn by `seed`.
    pub fn new(ds: &'a Dataset, device: Device, tta: bool, seed: u64, predictions: usize) -> Self {
        let (test_x, test_y) = split_tensors(&ds.test, device);
        let val = (!ds.validation.is_empty()).then(|| split_tensors(&ds.validation, device));
        Evaluator {
            test: &ds.test,
            test_x,
            test_y,
            val,
            tta,
            sample: sample_of(ds.test.len(), seed, predictions),
            feature_index: 0,
        }
    }

    /// `net` on the whole test set.
    pub fn test(&self, net: &dyn Network) -> Result<Evaluation> {
        evaluate(net, &self.test_x, &self.test_y, self.tta)
    }

    /// `net` on the held-out training images, when there are any.
    pub fn validate(&self, net: &dyn Network) -> Result<Option<Evaluation>> {
        let Some((x, y)) = &self.val else {
            return Ok(None);
        };
        evaluate(net, x, y, self.tta).map(Some)
    }

    /// Seconds one evaluation of the test set takes, timed on a part of it.
    pub fn time(&self, net: &dyn Network) -> Result<f64> {
        let n = self.test_x.size()[0];
        let part = n.min(2000);
        let start = Instant::now();
        evaluate(
            net,
            &self.test_x.narrow(0, 0, part),
            &self.test_y.narrow(0, 0, part),
            self.tta,
        )?;
        Ok(start.elapsed().as_secs_f64() * n as f64 / part.max(1) as f64)
    }

    /// The grids of the Predictions pane from `eval`, when `epoch` epochs are complete.
    pub fn predictions(&self, eval: &Evaluation, epoch: usize) -> Predictions {
        predictions(eval, self.test, &self.sample, epoch)
    }

    /// Ask for test image `index`'s feature maps from now on (clamped to the test set).
    pub fn choose(&mut self, index: usize) {
        self.feature_index = index.min(self.test.len().saturating_sub(1));
    }

    /// The chosen image's feature maps in `net`, at fractional epoch `at_epoch`.
    pub fn feature_maps(&self, net: &dyn Network, at_epoch: f64) -> FeatureMaps {
        feature_maps(net, &self.test_x, self.test, self.feature_index, at_epoch)
    }
}

/// The test indices the Predictions pane shows: `count` of `n`, drawn by `seed` (the same
/// for a run and for `view` of it).
pub fn sample_of(n: usize, seed: u64, count: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ 0x5EED_5A3F);
    let mut all: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut all);
    all.truncate(count.min(n));
    all
}

/// Load the test split of `ds` and a saved model, and evaluate it (for `eval`).
pub fn evaluate_saved(
    kind: model::ModelKind,
    weights: &Path,
    test: &Split,
    device: Device,
    tta: bool,
) -> Result<Evaluation> {
    let model = Classifier::load(kind, weights, device)?;
    let (x, y) = split_tensors(test, device);
    evaluate(model.net.as_ref(), &x, &y, tta)
}

/// A saved model ready to classify images (for `predict` and `eval`).
pub struct Classifier {
    net: Box<dyn Network + Send>,
    device: Device,
    // The variables the network's layers were built in.
    _vs: nn::VarStore,
}

impl Classifier {
    /// Build `kind` and load `weights` into it, refusing weights of another shape; when
    /// they are another of our networks', the error says which (a usage error: the user
    /// named the wrong model).
    pub fn load(kind: model::ModelKind, weights: &Path, device: Device) -> Result<Classifier> {
        let mut vs = nn::VarStore::new(device);
        let net = model::build(kind, &vs.root(), 0.0);
        if let Err(e) = checkpoint::load_weights(&mut vs, weights) {
            if e.chain().any(|c| c.is::<checkpoint::Mismatch>()) {
                let holds = model::ModelKind::ALL.into_iter().find(|&other| {
                    let mut vs = nn::VarStore::new(Device::Cpu);
                    let _net = model::build(other, &vs.root(), 0.0);
                    other != kind && checkpoint::load_weights(&mut vs, weights).is_ok()
                });
                if let Some(holds) = holds {
                    return Err(crate::error::UsageError(format!(
                        "{} holds a {holds} model, not a {kind} one: add --model {holds}",
                        weights.display()
                    ))
                    .into());
                }
            }
            return Err(e)
                .with_context(|| format!("cannot load model weights from {}", weights.display()));
        }
        Ok(Classifier {
            net,
            device,
            _vs: vs,
        })
    }

    /// Class probabilities of each 28×28 image in `images` (`n × 784` bytes, as in the
    /// dataset), evaluated in batches.
    pub fn probabilities(&self, images: &[u8]) -> Result<Vec<[f32; NUM_CLASSES]>> {
        let _guard = tch::no_grad_guard();
        let side = IMAGE_SIDE as i64;
        let mut out = Vec::with_capacity(images.len() / IMAGE_PIXELS);
        for batch in images.chunks(EVAL_BATCH as usize * IMAGE_PIXELS) {
            let n = (batch.len() / IMAGE_PIXELS) as i64;
            let xs = scale(
                &Tensor::from_slice(batch)
                    .view([n, 1, side, side])
                    .to_device(self.device),
            );
            let probs = self.net.forward_t(&xs, false).softmax(-1, Kind::Float);
            let flat: Vec<f32> = Vec::try_from(probs.to_device(Device::Cpu).flatten(0, -1))?;
            out.extend(flat.chunks_exact(NUM_CLASSES).map(|c| {
                let mut p = [0f32; NUM_CLASSES];
                p.copy_from_slice(c);
                p
            }));
        }
        Ok(out)
    }
}

/// The predictions on the `sample` of test indices and as many of the most confident
/// mistakes, when `epoch` epochs are complete.
pub fn predictions(eval: &Evaluation, test: &Split, sample: &[usize], epoch: usize) -> Predictions {
    let make = |i: usize| Prediction {
        index: i,
        pixels: pixels(test, i),
        label: test.labels[i],
        predicted: eval.predicted[i],
        confidence: eval.confidence[i],
    };
    let mut wrong: Vec<usize> = (0..test.len())
        .filter(|&i| eval.predicted[i] != test.labels[i])
        .collect();
    wrong.sort_by(|&a, &b| eval.confidence[b].total_cmp(&eval.confidence[a]));
    wrong.truncate(sample.len());
    Predictions {
        epoch,
        sample: sample.iter().map(|&i| make(i)).collect(),
        mistakes: wrong.into_iter().map(make).collect(),
        outcomes: Outcomes {
            predicted: eval.predicted.clone(),
            confidence: eval.confidence.clone(),
        },
    }
}

/// The test split as the consumers' [`TestImages`].
pub fn test_images(test: &Split) -> TestImages {
    TestImages {
        labels: test.labels.clone(),
        pixels: test.images.clone(),
    }
}

/// The activations of every layer of `net` for test image `index` (`images` is the test
/// split as [`split_tensors`] gives it), at fractional epoch `at_epoch`.
pub fn feature_maps(
    net: &dyn Network,
    images: &Tensor,
    test: &Split,
    index: usize,
    at_epoch: f64,
) -> FeatureMaps {
    let _guard = tch::no_grad_guard();
    let x = scale(&images.narrow(0, index as i64, 1));
    let (logits, acts) = net.forward_with_activations(&x);
    let layers = acts
        .into_iter()
        .map(|(name, t)| {
            let size = t.size();
            let values: Vec<f32> =
                Vec::try_from(t.flatten(0, -1).to_device(Device::Cpu)).unwrap_or_default();
            let (min, max) = values
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            LayerMaps {
                name: name.to_string(),
                channels: size[1] as usize,
                height: size[2] as usize,
                width: size[3] as usize,
                values,
                min: if min.is_finite() { min } else { 0.0 },
                max: if max.is_finite() { max } else { 0.0 },
            }
        })
        .collect();
    let probabilities: Vec<f32> = Vec::try_from(
        logits
            .softmax(-1, tch::Kind::Float)
            .flatten(0, -1)
            .to_device(Device::Cpu),
    )
    .unwrap_or_default();
    FeatureMaps {
        index,
        probabilities,
        label: test.labels[index],
        predicted: logits.argmax(-1, false).int64_value(&[0]) as u8,
        pixels: pixels(test, index),
        layers,
        at_epoch,
    }
}

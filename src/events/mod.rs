//! The messages that cross between the trainer thread and its consumers (dashboard,
//! headless printer, tests). Only plain data lives here: no tch types, nothing `!Send`.
//!
//! Two kinds of traffic go trainer → consumer: rare lifecycle [`TrainEvent`]s that are
//! never dropped, and frequent [`Progress`] snapshots that are coalesced (see
//! [`crate::train::sink`]). [`Command`]s go consumer → trainer on their own channel.

pub mod json;
pub mod text;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::config::live::LiveSetting;
pub use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};

/// Short class names for display, indexed by label (the dataset's own are longer:
/// "T-shirt/top", "Ankle boot").
pub const CLASS_NAMES: [&str; NUM_CLASSES] = [
    "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot",
];

/// The Keras tutorial's test accuracy in percent, the reference line on every accuracy
/// chart.
pub const TUTORIAL_PERCENT: f64 = 90.0;

/// A 10×10 confusion matrix: `counts[true_label][predicted_label]`.
pub type Confusion = [[u32; NUM_CLASSES]; NUM_CLASSES];

/// What the trainer is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Reading the dataset, building the model.
    Loading,
    Training,
    Paused,
    /// Running the test set at an epoch end.
    Evaluating,
    Done,
    Failed,
}

impl Phase {
    /// The word the header shows.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Loading => "LOADING",
            Phase::Training => "TRAINING",
            Phase::Paused => "PAUSED",
            Phase::Evaluating => "EVALUATING",
            Phase::Done => "DONE",
            Phase::Failed => "FAILED",
        }
    }
}

/// Sent once, when the model is built and the data is loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub model: String,
    /// Human description, e.g. `cpu · 2 threads` or `cuda:0 · NVIDIA H200`.
    pub device: String,
    pub parameters: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub batches_per_epoch: usize,
    pub train_images: usize,
    pub test_images: usize,
    pub lr: f64,
    pub seed: u64,
    /// The wall-time budget in seconds, when one rules the run's length.
    pub time_budget: Option<f64>,
    pub run_dir: PathBuf,
    /// Where the data came from and how long it took to load.
    pub data_source: String,
    pub data_load_secs: f64,
    /// `training.early_stop`: epochs without a better accuracy (by [`RunInfo::best_by`])
    /// that end the run (0: never).
    pub early_stop: usize,
    /// Training images held out to choose the best epoch by (`data.validation`; 0: none,
    /// the test set chooses). `train_images` does not count them.
    pub validation: usize,
}

impl RunInfo {
    /// What chooses the run's best epoch.
    pub fn best_by(&self) -> BestBy {
        BestBy::with(self.validation)
    }
}

/// What chooses a run's best epoch (and ends it early): the accuracy on training images
/// held out for it (`data.validation`), or, without them, the test accuracy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BestBy {
    #[default]
    Test,
    Val,
}

impl BestBy {
    /// With `held_out` validation images (0: none).
    pub fn with(held_out: usize) -> BestBy {
        if held_out > 0 {
            BestBy::Val
        } else {
            BestBy::Test
        }
    }

    /// `val` or `test`, as `run.json` and short labels have it.
    pub fn label(self) -> &'static str {
        match self {
            BestBy::Test => "test",
            BestBy::Val => "val",
        }
    }

    /// In words, for messages: `validation accuracy` or `test accuracy`.
    pub fn accuracy(self) -> &'static str {
        match self {
            BestBy::Test => "test accuracy",
            BestBy::Val => "validation accuracy",
        }
    }
}

/// The best epoch of a run so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Best {
    /// 1-based.
    pub epoch: usize,
    pub by: BestBy,
    /// Its accuracy by `by`: what later epochs must beat.
    pub acc: f64,
    /// Its test accuracy (the same as `acc` when the test set chooses).
    pub test_acc: f64,
}

impl Best {
    /// Epoch `s` as a candidate, judged `by`; `None` when it lacks that accuracy (an
    /// epoch of a run that held nothing out, judged by validation).
    pub fn of(s: &EpochSummary, by: BestBy) -> Option<Best> {
        let acc = match by {
            BestBy::Test => s.test_acc,
            BestBy::Val => s.val_acc?,
        };
        Some(Best {
            epoch: s.epoch,
            by,
            acc,
            test_acc: s.test_acc,
        })
    }

    /// `best` updated with the candidate `next`: a strictly higher accuracy wins, so the
    /// first of equals stays.
    pub fn update(best: Option<Best>, next: Option<Best>) -> Option<Best> {
        match (best, next) {
            (Some(b), Some(n)) if n.acc > b.acc => Some(n),
            (None, n) => n,
            (b, _) => b,
        }
    }
}

/// Results of one finished epoch, including its test-set evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochSummary {
    /// 1-based epoch number.
    pub epoch: usize,
    pub epochs: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: f64,
    /// With test-time flips when the recipe uses them.
    pub test_acc: f64,
    /// Without test-time flips.
    pub test_acc_plain: f64,
    /// Loss and accuracy on the held-out training images (`data.validation`), when the
    /// run holds some out.
    pub val_loss: Option<f64>,
    pub val_acc: Option<f64>,
    pub lr: f64,
    /// Wall time of the training part of the epoch (evaluation excluded).
    pub seconds: f64,
    /// Seconds since the run's first batch, evaluations included, pauses left out.
    pub elapsed: f64,
    pub eval_seconds: f64,
    pub images_per_sec: f64,
    pub confusion: Confusion,
}

/// One test image with the model's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Index in the test set.
    pub index: usize,
    #[serde(with = "pixels_hex")]
    pub pixels: Box<[u8; IMAGE_PIXELS]>,
    pub label: u8,
    pub predicted: u8,
    /// Softmax probability of `predicted`.
    pub confidence: f32,
}

/// Two grids of predictions, refreshed every epoch: a fixed random sample and the most
/// confident mistakes on the test set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Predictions {
    pub epoch: usize,
    pub sample: Vec<Prediction>,
    pub mistakes: Vec<Prediction>,
    /// Every test image's outcome in the same evaluation (what the Confusion pane's cells
    /// open: their images, from [`TestImages`]).
    #[serde(default)]
    pub outcomes: Outcomes,
}

/// What the network said of each test image, in test-set order, and how sure it was.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Outcomes {
    pub predicted: Vec<u8>,
    /// Softmax probability of `predicted`.
    pub confidence: Vec<f32>,
}

/// The test images and their classes, sent once: a consumer shows any test image (a
/// confusion cell's) from them without asking the trainer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TestImages {
    pub labels: Vec<u8>,
    /// `labels.len()` images of 28×28 bytes, one after another.
    #[serde(with = "bytes_hex")]
    pub pixels: Vec<u8>,
}

impl TestImages {
    /// Test image `i`'s pixels, when there is one.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        self.pixels.get(i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS)
    }
}

/// The activations of one layer for one image: `channels` maps of `height × width`,
/// row-major, channel-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerMaps {
    pub name: String,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
    pub min: f32,
    pub max: f32,
}

impl LayerMaps {
    /// Values of channel `c` (row-major `height × width`), or an empty slice if out of range.
    pub fn channel(&self, c: usize) -> &[f32] {
        let n = self.height.saturating_mul(self.width);
        let start = c.saturating_mul(n);
        self.values
            .get(start..start.saturating_add(n))
            .unwrap_or(&[])
    }
}

/// The input image and every conv layer's activations for one test sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMaps {
    /// Index in the test set.
    pub index: usize,
    pub label: u8,
    pub predicted: u8,
    #[serde(with = "pixels_hex")]
    pub pixels: Box<[u8; IMAGE_PIXELS]>,
    pub layers: Vec<LayerMaps>,
    /// Fractional epoch of the weights these came from.
    pub at_epoch: f64,
    /// The probability of each class for this image, from the same forward pass.
    #[serde(default)]
    pub probabilities: Vec<f32>,
}

/// Frequent per-batch metrics, coalesced: when the consumer is slow, consecutive
/// snapshots are merged ([`Progress::merge`]) instead of queued.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// 0-based epoch in progress.
    pub epoch: usize,
    /// Batches finished in this epoch.
    pub batch: usize,
    pub batches: usize,
    /// New per-batch training losses since the previous snapshot, as
    /// (fractional epoch, loss). Bounded: see [`Progress::MAX_POINTS`].
    pub losses: Vec<(f64, f32)>,
    /// Running training accuracy over this epoch so far.
    pub train_acc: f64,
    pub images_per_sec: f64,
    /// Estimated seconds to the end of the run.
    pub eta_secs: f64,
    pub lr: f64,
    /// Seconds since the run's first batch, pauses left out.
    pub elapsed_secs: f64,
    /// What is left of the time budget, when there is one.
    pub budget_left_secs: Option<f64>,
}

impl Progress {
    /// Most loss points one snapshot carries; beyond it, neighbours are averaged pairwise.
    pub const MAX_POINTS: usize = 4096;

    /// Fold a newer snapshot into this one (its scalars win, its points are appended).
    pub fn merge(&mut self, newer: Progress) {
        let mut points = std::mem::take(&mut self.losses);
        points.extend(newer.losses);
        *self = Progress {
            losses: points,
            ..newer
        };
        while self.losses.len() > Self::MAX_POINTS {
            self.losses = self
                .losses
                .chunks(2)
                .map(|c| {
                    let n = c.len() as f64;
                    let x = c.iter().map(|p| p.0).sum::<f64>() / n;
                    let y = c.iter().map(|p| p.1 as f64).sum::<f64>() / n;
                    (x, y as f32)
                })
                .collect();
        }
    }
}

/// A test-set evaluation between two epoch ends (`training.eval_every` below 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestPoint {
    /// Fractional epoch of the weights evaluated.
    pub at: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    pub test_acc_plain: f64,
    pub lr: f64,
    /// Seconds since the run's first batch, evaluations included.
    pub elapsed: f64,
}

/// What a time budget decided, once the run measured its speed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetPlan {
    pub budget_secs: f64,
    /// Batches in the whole run, and the same in (fractional) epochs: where the
    /// schedule ends.
    pub total_batches: usize,
    pub epochs: f64,
    /// What the warm-up measured.
    pub images_per_sec: f64,
    pub eval_secs: f64,
    /// When it was decided, in seconds since the first batch.
    pub at_secs: f64,
}

impl BudgetPlan {
    /// The Log's line for it.
    pub fn describe(&self) -> String {
        format!(
            "time budget {}: measured {:.0} img/s and {:.1}s per evaluation; training {} \
             batches ({:.2} epochs), {} of the budget left",
            crate::duration::short(self.budget_secs),
            self.images_per_sec,
            self.eval_secs,
            self.total_batches,
            self.epochs,
            crate::duration::short(self.budget_secs - self.at_secs),
        )
    }
}

/// Summary of a finished (or stopped) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub epochs_completed: usize,
    /// Test accuracy after the last completed epoch, if any epoch completed.
    pub test_acc: Option<f64>,
    pub model_path: Option<PathBuf>,
    pub run_dir: PathBuf,
    pub stopped_early: bool,
    pub seconds: f64,
}

/// Everything the trainer tells its consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// A status line for the log (e.g. "loading dataset from …").
    Message(String),
    Phase(Phase),
    Started(Box<RunInfo>),
    Progress(Progress),
    EpochEnd(Box<EpochSummary>),
    /// An evaluation between epoch ends.
    Tested(Box<TestPoint>),
    /// A time budget fixed the run's length.
    Planned(Box<BudgetPlan>),
    Predictions(Box<Predictions>),
    FeatureMaps(Box<FeatureMaps>),
    /// A command took effect (pause, resume, a setting, …), described for the log.
    Applied(String),
    /// A live setting changed (after its `Applied` line), as data for the charts and the
    /// header.
    Changed(Change),
    /// A checkpoint was saved at `at` (fractional epochs). At an epoch's end it comes just
    /// before that epoch's [`TrainEvent::EpochEnd`].
    Saved {
        at: f64,
        why: SaveReason,
    },
    /// The run failed; the string is the reason, ready to show.
    Failed(String),
    Done(Box<RunSummary>),
    /// The run's clock: seconds since its process began. Not the trainer's: a live run's
    /// socket says it before what it sends, so that a dashboard attaching late dates its
    /// Log and its elapsed time as the run's.
    Clock(f64),
    /// The device's description changed (`cpu · 1 thread`): the thread team was fitted
    /// to a busy or a free CPU (the Log says why).
    Device(String),
    /// The test set's images and classes, once, before the first predictions.
    TestImages(Box<TestImages>),
}

/// Why a checkpoint was saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveReason {
    /// Every epoch ends with one.
    EpochEnd,
    /// Asked for (`s` in the dashboard).
    Requested,
    /// Training is stopping early (quit, a signal, a vanished consumer).
    Stopping,
}

/// How a checkpoint is announced in a log line.
pub fn saved_text(at_epoch: f64) -> String {
    format!("checkpoint saved at epoch {at_epoch:.2}")
}

/// A live setting the trainer changed, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The new value.
    pub setting: LiveSetting,
    /// The old value, as text.
    pub from: String,
    /// Fractional epoch from which the new value is used.
    pub at_epoch: f64,
}

/// What a consumer can ask of the trainer.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Pause,
    Resume,
    /// Finish cleanly: save the model and send `Done`.
    Stop,
    /// Compute feature maps for this test-set index from the current weights.
    FeatureMaps {
        index: usize,
    },
    /// Save a checkpoint of the exact position now.
    Checkpoint,
    /// Change a hyperparameter from the next batch on. The trainer validates it, answers
    /// with `Applied` (and `Changed` when it took it) and owns the value from then on.
    Set(LiveSetting),
    /// A line for every consumer's log, sent back as `Applied` in its place among the
    /// events (which terminal asked for what, just before the trainer does it).
    Note(String),
    /// A terminal left the run training on (it lost its connection, or detached): a line
    /// for every log, and for the run's record.
    Detached(String),
}

/// Per-class precision and recall of a [`Confusion`] matrix, the one definition that the
/// `eval` report and the dashboard's matrix share. `Confusion` is an array, so these are
/// methods of a trait; `k` is a class label below [`NUM_CLASSES`].
pub trait ConfusionStats {
    /// Correct predictions of class `k`, and how many images were predicted `k`.
    fn precision_counts(&self, k: usize) -> (u32, u32);
    /// Correct predictions of class `k`, and how many images truly are `k`.
    fn recall_counts(&self, k: usize) -> (u32, u32);

    /// Share of the images predicted `k` that are `k`; `None` when none was predicted `k`.
    fn precision(&self, k: usize) -> Option<f64> {
        ratio(self.precision_counts(k))
    }

    /// Share of the images of class `k` predicted `k`; `None` when there are none.
    fn recall(&self, k: usize) -> Option<f64> {
        ratio(self.recall_counts(k))
    }
}

impl ConfusionStats for Confusion {
    fn precision_counts(&self, k: usize) -> (u32, u32) {
        (self[k][k], self.iter().map(|row| row[k]).sum())
    }

    fn recall_counts(&self, k: usize) -> (u32, u32) {
        (self[k][k], self[k].iter().sum())
    }
}

/// The largest off-diagonal count as (true, predicted, count), if any is non-zero.
pub fn worst_confusion(m: &Confusion) -> Option<(usize, usize, u32)> {
    let mut worst = None;
    for (t, row) in m.iter().enumerate() {
        for (p, &n) in row.iter().enumerate() {
            if t != p && n > 0 && worst.is_none_or(|(_, _, w)| n > w) {
                worst = Some((t, p, n));
            }
        }
    }
    worst
}

fn ratio((hits, of): (u32, u32)) -> Option<f64> {
    (of > 0).then(|| f64::from(hits) / f64::from(of))
}

/// A 28×28 image as 1,568 hex digits, row by row (compact, and any JSON reader reads it).
/// Bytes as one string of hex digits, two per byte.
mod bytes_hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    const DIGITS: &[u8; 16] = b"0123456789abcdef";

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut text = Vec::with_capacity(2 * bytes.len());
        for b in bytes {
            text.push(DIGITS[usize::from(b >> 4)]);
            text.push(DIGITS[usize::from(b & 15)]);
        }
        s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if text.len() % 2 != 0 {
            return Err(D::Error::custom("an odd number of hex digits"));
        }
        text.as_bytes()
            .chunks_exact(2)
            .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| D::Error::custom("not hex digits"))
    }
}

mod pixels_hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    use super::IMAGE_PIXELS;

    pub fn serialize<S: Serializer>(px: &[u8; IMAGE_PIXELS], s: S) -> Result<S::Ok, S::Error> {
        let text: String = px.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Box<[u8; IMAGE_PIXELS]>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() != 2 * IMAGE_PIXELS || !text.is_ascii() {
            return Err(D::Error::custom("an image is 1568 hex digits"));
        }
        let mut px = Box::new([0u8; IMAGE_PIXELS]);
        for (i, b) in px.iter_mut().enumerate() {
            *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(D::Error::custom)?;
        }
        Ok(px)
    }
}

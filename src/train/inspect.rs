//! Inspecting a stored run for `fashion-tui view`: its history from the run store
//! ([`StoredRun::events`]), then its predictions and feature maps recomputed from the saved
//! model on the CPU, answering feature-map requests as the trainer does.

use std::path::PathBuf;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use flume::Receiver;
use tch::{nn, Device};

use super::evaluate;
use super::input::split_tensors;
use super::sink::Sink;
use crate::config::Config;
use crate::data;
use crate::events::{Command, TrainEvent};
use crate::model;
use crate::store::checkpoint;
use crate::store::history::StoredRun;
use crate::store::run_dir::MODEL_FILE;

/// Play `run` back into `sink` on a new thread, then recompute its predictions and
/// feature maps from the saved model on the CPU (when the model and the test set can be
/// found; never downloading) and answer [`Command::FeatureMaps`] until [`Command::Stop`]
/// or the consumer goes away.
pub fn spawn(
    run: StoredRun,
    control: Receiver<Command>,
    mut sink: impl Sink + Send + 'static,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("inspect".into())
        .spawn(move || {
            for ev in run.events() {
                if !sink.send(ev) {
                    return;
                }
            }
            if let Err(e) = serve(&run, &control, &mut sink) {
                sink.send(TrainEvent::Message(format!(
                    "no predictions or feature maps: {e:#}"
                )));
                // Wait for the end, as a trainer would.
                while let Ok(cmd) = control.recv() {
                    if cmd == Command::Stop {
                        break;
                    }
                }
            }
        })
        .expect("spawning the inspect thread")
}

/// The test split as the run saw it, found where `train` would look, never downloaded.
fn test_split(cfg: &Config) -> Result<data::Split> {
    let explicit = (!cfg.data.dir.is_empty()).then(|| PathBuf::from(&cfg.data.dir));
    let cands = data::locate::usual_candidates(explicit.as_deref());
    let found = data::locate::find(&cands, &data::TEST_FILE_NAMES)
        .context("the Fashion-MNIST test set is not where the run found it")?;
    let mut test = data::load_test(&found.dir, data::Repair::Replace)?;
    if cfg.data.test_limit > 0 {
        test.truncate(cfg.data.test_limit);
    }
    Ok(test)
}

fn serve(run: &StoredRun, control: &Receiver<Command>, sink: &mut dyn Sink) -> Result<()> {
    let cfg = &run.config;
    let weights = run.dir.join(MODEL_FILE);
    let test = test_split(cfg)?;
    anyhow::ensure!(!test.is_empty(), "the test set is empty");
    let device = Device::Cpu;
    let mut vs = nn::VarStore::new(device);
    let net = model::build(cfg.model.name, &vs.root(), 0.0);
    checkpoint::load_weights(&mut vs, &weights)
        .with_context(|| format!("cannot load {}", weights.display()))?;
    let (x, y) = split_tensors(&test, device);
    let eval = evaluate::evaluate(net.as_ref(), &x, &y, cfg.training.tta)?;
    // The trainer's fixed sample of test images.
    let sample = evaluate::sample_of(test.len(), cfg.training.seed, cfg.ui.predictions);
    let epochs = run.epochs.last().map_or(0, |s| s.epoch);
    let preds = evaluate::predictions(&eval, &test, &sample, epochs);
    sink.send(TrainEvent::TestImages(Box::new(evaluate::test_images(
        &test,
    ))));
    sink.send(TrainEvent::Predictions(Box::new(preds)));
    let at = epochs as f64;
    let fm = evaluate::feature_maps(net.as_ref(), &x, &test, 0, at);
    sink.send(TrainEvent::FeatureMaps(Box::new(fm)));
    while let Ok(cmd) = control.recv() {
        match cmd {
            Command::FeatureMaps { index } => {
                let i = index.min(test.len() - 1);
                let fm = evaluate::feature_maps(net.as_ref(), &x, &test, i, at);
                if !sink.send(TrainEvent::FeatureMaps(Box::new(fm))) {
                    break;
                }
            }
            Command::Stop => break,
            _ => {}
        }
    }
    Ok(())
}

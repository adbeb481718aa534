//! The training engine. [`run`] is a blocking entry point that owns every tch object:
//! it loads the data, builds the model and optimiser, trains, evaluates each epoch and
//! reports through a [`Sink`], obeying [`Command`]s between batches. [`spawn`] runs it on
//! its own thread and turns errors and panics into a `Failed` event.
//!
//! The trainer owns the live hyperparameters ([`Command::Set`]): it validates a new value,
//! applies it from the next batch (the learning-rate schedule scales a new base rate, a
//! new epoch count moves the loop's end) and reports it as `Applied` and `Changed`.
//!
//! Here are the entry points. The loop is `trainer` (its commands in `trainer/control`,
//! its saves in `trainer/save`, what it records in `trainer/record`, a time budget's side
//! in `trainer/timing`), a thin loop over its parts: the `learner` (network, optimiser,
//! weight average, augmentation: a step), the `plan` (how long the run is and when it
//! evaluates: pure arithmetic, with `budget`'s), the `evaluate` module's `Evaluator` (the
//! test set on the device, predictions, feature maps) and the run store
//! ([`crate::store::run`]). The data as tensors is in `input`, the validation images held
//! out of the training set in `holdout`, test fault injection in `fault` (its randomness
//! is the crate's `rng`), a stored run inspected for `view` in `inspect`, and how the
//! network computes on this CPU (timed once, remembered) in `kernel_choice`. The recipe's
//! pieces each have their file: `optim`, `schedule`, `loss`, `augment` and `ema`.

pub mod augment;
pub mod budget;
pub mod ema;
mod evaluate;
mod fault;
pub mod holdout;
mod input;
pub mod inspect;
pub mod kernel_choice;
mod learner;
pub mod loss;
pub mod optim;
mod plan;
pub mod schedule;
pub mod sink;
mod threads;
mod trainer;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use flume::Receiver;

use crate::config::Config;
use crate::data::{self, Dataset};
use crate::events::{BestBy, Command, Phase, RunSummary, TrainEvent};
pub use crate::rng::{step_seed, SplitMix64};
use crate::store::run::Run;
use crate::store::{run_dir, run_record};
pub use evaluate::{evaluate, evaluate_saved, Classifier, Evaluation};
pub use sink::{ChannelSink, Receivers, Sink};
use trainer::Trainer;

/// How a run starts, reacts to failures and what its consumer wants shown, beyond its
/// config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Continue from the checkpoint in `cfg.runtime.run_dir`.
    pub resume: bool,
    /// Someone is watching (the dashboard): when a checkpoint cannot be written (disk full,
    /// unwritable directory) or the loss is not finite, pause and wait for Resume or Stop
    /// instead of failing.
    pub pause_on_fault: bool,
    /// Test images in each grid of the [`Predictions`](crate::events::Predictions) sent
    /// after every epoch.
    pub predictions: usize,
    /// The run directory the command made for a run whose config names none (else the
    /// trainer makes one under the runs directory).
    pub run_dir: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            resume: false,
            pause_on_fault: false,
            predictions: 16,
            run_dir: None,
        }
    }
}

/// Why a run failed, and whether the user's settings were to blame (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub usage: bool,
}

/// Run [`run`] on a new thread. The thread never panics out: a failure becomes a
/// [`TrainEvent::Failed`] followed by [`Phase::Failed`], and `Err` from the join value.
pub fn spawn(
    cfg: Config,
    opts: RunOptions,
    control: Receiver<Command>,
    mut sink: impl Sink + Send + 'static,
) -> JoinHandle<Result<RunSummary, Failure>> {
    std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                run_with(&cfg, opts, &control, &mut sink)
            }));
            let failure = match outcome {
                Ok(Ok(summary)) => return Ok(summary),
                Ok(Err(e)) => Failure {
                    reason: format!("{e:#}"),
                    usage: crate::error::is_usage(&e),
                },
                Err(panic) => Failure {
                    reason: format!("trainer panicked: {}", panic_message(&panic)),
                    usage: false,
                },
            };
            sink.send(TrainEvent::Failed(failure.reason.clone()));
            sink.send(TrainEvent::Phase(Phase::Failed));
            Err(failure)
        })
        .expect("spawning the trainer thread")
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Find, fetch if needed, and load the dataset named by `cfg`, reporting progress.
pub fn load_data(cfg: &Config, sink: &mut dyn Sink) -> Result<Dataset> {
    let explicit = (!cfg.data.dir.is_empty()).then(|| PathBuf::from(&cfg.data.dir));
    let mut last_report = Instant::now();
    let mut progress = |p: data::fetch::FetchProgress| {
        if last_report.elapsed() >= Duration::from_millis(250) || p.total == Some(p.bytes) {
            last_report = Instant::now();
            let total = p
                .total
                .map_or(String::new(), |t| format!(" of {:.1} MB", t as f64 / 1e6));
            sink.send(TrainEvent::Message(format!(
                "downloading {}: {:.1} MB{total}",
                p.file,
                p.bytes as f64 / 1e6
            )));
        }
    };
    // An explicit directory must already hold the files; only the cache is downloaded into.
    let (dir, origin) = data::locate::resolve(
        explicit.as_deref(),
        explicit.is_none(),
        &data::FILE_NAMES,
        &mut progress,
    )?;
    let mut ds = data::load_dir(&dir, data::locate::repair_for(&dir))?;
    if cfg.data.train_limit > 0 {
        ds.train.truncate(cfg.data.train_limit);
    }
    if cfg.data.test_limit > 0 {
        ds.test.truncate(cfg.data.test_limit);
    }
    sink.send(TrainEvent::Message(format!(
        "loaded {} training and {} test images from {} ({origin}) in {:.2}s",
        ds.train.len(),
        ds.test.len(),
        dir.display(),
        ds.load_secs
    )));
    Ok(ds)
}

/// Train as `cfg` says. Blocks until done, stopped, or failed.
pub fn run(cfg: &Config, control: &Receiver<Command>, sink: &mut dyn Sink) -> Result<RunSummary> {
    run_with(cfg, RunOptions::default(), control, sink)
}

/// [`run`] with [`RunOptions`].
pub fn run_with(
    cfg: &Config,
    opts: RunOptions,
    control: &Receiver<Command>,
    sink: &mut dyn Sink,
) -> Result<RunSummary> {
    let started = Instant::now();
    sink.send(TrainEvent::Phase(Phase::Loading));
    cfg.validate()?;
    // Test builds only (see `fault`): armed faults are announced, a malformed value refused.
    let faults = match fault::Faults::from_env()? {
        Some((faults, note)) => {
            sink.send(TrainEvent::Message(note));
            faults
        }
        None => fault::Faults::default(),
    };
    let (device, compute, trains_on) = choose_device(cfg, sink)?;
    let ds = prepare_data(cfg, sink)?;
    let run_dir = match (cfg.runtime.run_dir.as_str(), &opts.run_dir) {
        ("", Some(made)) => made.clone(),
        ("", None) => {
            let root = run_dir::default_runs_root()
                .context("cannot determine the user data directory for runs; set --run-dir")?;
            run_dir::create_under(&root, cfg.model.name.name())?
        }
        (dir, _) => PathBuf::from(dir),
    };
    let (kernels, cfg) = choose_kernels(cfg, (device, compute), &run_dir, opts.resume, sink);
    let cfg = &cfg;
    // Held until the run ends: no other process writes here meanwhile.
    let run = Run::open(&run_dir, cfg, opts.resume)?;
    let _held = run.hold();
    run.start_record(
        cfg.model.name.name(),
        &trains_on,
        cfg.training.epochs,
        opts.resume,
        BestBy::with(cfg.data.validation),
    )?;
    // From here on the run has a record, and it says how the run ended.
    let watch = trainer::Watch {
        pause_on_fault: opts.pause_on_fault,
        faults,
        predictions: opts.predictions,
    };
    let mut t = Trainer::new(cfg, &ds, (device, kernels), run, watch);
    let result = train_in(&mut t, cfg, opts, &trains_on, control, sink)
        .map(|outcome| t.summary(outcome, started.elapsed().as_secs_f64()));
    if let Ok(summary) = &result {
        sink.send(TrainEvent::Done(Box::new(summary.clone())));
        sink.send(TrainEvent::Phase(Phase::Done));
    }
    let (status, reason) = match &result {
        Ok(s) if s.stopped_early => (run_record::Status::Stopped, None),
        Ok(_) => (run_record::Status::Finished, None),
        Err(e) if e.chain().any(|c| c.is::<run_record::Diverged>()) => {
            (run_record::Status::Diverged, Some(format!("{e:#}")))
        }
        Err(e) => (run_record::Status::Failed, Some(format!("{e:#}"))),
    };
    if let Err(e) = run_record::end(_held.handle(), status, reason) {
        sink.send(TrainEvent::Message(format!("{e:#}")));
    }
    result
}

/// The device the run trains on, the kind its network computes in, and both in words
/// (the header's and `run.json`'s `cpu · 2 threads, bf16`); what was chosen instead of
/// what was asked for is said in the log.
fn choose_device(cfg: &Config, sink: &mut dyn Sink) -> Result<(tch::Device, tch::Kind, String)> {
    let choice = cfg.thread_choice();
    tch::set_num_threads(choice.threads as i32);
    let resolved = crate::device::resolve(cfg.runtime.device, choice.threads)?;
    if let Some(why) = &resolved.fallback_reason {
        sink.send(TrainEvent::Message(format!("using the CPU: {why}")));
    }
    if resolved.device == tch::Device::Cpu {
        let fitted = if cfg.runtime.threads == 0 && choice.most > 1 {
            "; fitted to a busy CPU while training (runtime.threads = N keeps N)"
        } else {
            ""
        };
        sink.send(TrainEvent::Message(format!("{}{fitted}", choice.why)));
    }
    let (compute, note) = crate::model::precision::resolve(cfg.model.precision, resolved.device);
    if let Some(note) = note {
        sink.send(TrainEvent::Message(note));
    }
    let trains_on = match compute {
        tch::Kind::BFloat16 => format!("{}, bf16", resolved.description),
        _ => resolved.description.clone(),
    };
    Ok((resolved.device, compute, trains_on))
}

/// How the network computes on this CPU ([`kernel_choice`]), said in the Log, and the
/// run's config with it: the run goes on (and resumes) with what was chosen.
fn choose_kernels(
    cfg: &Config,
    (device, compute): (tch::Device, tch::Kind),
    run_dir: &std::path::Path,
    resume: bool,
    sink: &mut dyn Sink,
) -> (crate::model::Kernels, Config) {
    let threads = usize::try_from(tch::get_num_threads()).unwrap_or(1);
    let began = resume.then(|| kernel_choice::checkpointed(run_dir).unwrap_or_default());
    let at = (device, compute, threads);
    let choice = kernel_choice::choose(cfg, at, began, crate::paths::cache_dir());
    for note in choice.notes {
        sink.send(TrainEvent::Message(note));
    }
    let k = choice.kernels;
    let (dense, layout) = choice.recorded;
    let model = crate::config::Model {
        dense,
        layout,
        ..cfg.model.clone()
    };
    (
        k,
        Config {
            model,
            ..cfg.clone()
        },
    )
}

/// The dataset as the run uses it: loaded, limited, and with the validation images held
/// out of the training set.
fn prepare_data(cfg: &Config, sink: &mut dyn Sink) -> Result<Dataset> {
    sink.send(TrainEvent::Message(
        "loading the Fashion-MNIST dataset…".into(),
    ));
    let mut ds = load_data(cfg, sink)?;
    // (An empty split is refused as the data loads; a limit never empties one.)
    cfg.validate_against_data(ds.train.len())?;
    let held = cfg.data.validation;
    if held > 0 {
        ds.validation = holdout::hold_out(&mut ds.train, held, cfg.training.seed);
        sink.send(TrainEvent::Message(format!(
            "held out {held} of the {} training images for validation (by the seed, {}): \
             the best epoch and early stopping go by their accuracy",
            held + ds.train.len(),
            cfg.training.seed
        )));
    }
    Ok(ds)
}

/// The run with its trainer built: restore a checkpoint when resuming, say what the run
/// is, and train.
fn train_in(
    t: &mut Trainer<'_>,
    cfg: &Config,
    opts: RunOptions,
    trains_on: &str,
    control: &Receiver<Command>,
    sink: &mut dyn Sink,
) -> Result<trainer::Outcome> {
    if opts.resume {
        t.restore(sink)?;
    }
    sink.send(TrainEvent::Started(Box::new(t.info(cfg, trains_on))));
    sink.send(TrainEvent::TestImages(Box::new(t.test_images())));
    t.train(control, sink)
}

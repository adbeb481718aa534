//! The trainer on generated data, CPU, fixed seed: event order, learning, pause, stop,
//! live setting changes.

mod common;

use std::time::Duration;

use fashion_tui::config::{Config, Schedule};
use fashion_tui::events::{
    Change, Command, FeatureMaps, LiveSetting, Phase, RunSummary, SaveReason, TrainEvent,
};
use fashion_tui::store::run_dir;
use fashion_tui::train::{self, ChannelSink};

fn name(ev: &TrainEvent) -> &'static str {
    match ev {
        TrainEvent::Message(_) => "Message",
        TrainEvent::Phase(_) => "Phase",
        TrainEvent::Started(_) => "Started",
        TrainEvent::Progress(_) => "Progress",
        TrainEvent::EpochEnd(_) => "EpochEnd",
        TrainEvent::Tested(_) => "Tested",
        TrainEvent::Planned(_) => "Planned",
        TrainEvent::Predictions(_) => "Predictions",
        TrainEvent::FeatureMaps(_) => "FeatureMaps",
        TrainEvent::Applied(_) => "Applied",
        TrainEvent::Changed(_) => "Changed",
        TrainEvent::Saved { .. } => "Saved",
        TrainEvent::Failed(_) => "Failed",
        TrainEvent::Done(_) => "Done",
        TrainEvent::Clock(_) => "Clock",
        TrainEvent::Device(_) => "Device",
        TrainEvent::TestImages(_) => "TestImages",
    }
}

#[test]
fn a_short_run_emits_events_in_order_learns_and_writes_its_run_dir() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 100);
    let cfg = common::quick_config(data.path(), run.path(), 3);
    let (_tx, rx) = flume::unbounded();
    let mut events = Vec::new();
    let mut sink = |ev: TrainEvent| {
        events.push(ev);
        true
    };
    let summary = train::run(&cfg, &rx, &mut sink).unwrap();

    // Lifecycle order (progress and messages filtered out).
    let order: Vec<&str> = events
        .iter()
        .map(name)
        .filter(|n| !matches!(*n, "Progress" | "Message" | "Phase"))
        .collect();
    let per_epoch = ["Saved", "EpochEnd", "Predictions", "FeatureMaps"];
    // The test images once, before the first predictions.
    let mut expected = vec!["Started", "TestImages"];
    for _ in 0..3 {
        expected.extend(per_epoch);
    }
    expected.push("Done");
    assert_eq!(order, expected);
    assert_eq!(events.first(), Some(&TrainEvent::Phase(Phase::Loading)));
    assert_eq!(events.last(), Some(&TrainEvent::Phase(Phase::Done)));

    // Learning: the loss falls and the easy synthetic classes are learnt.
    let epochs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::EpochEnd(s) => Some(s.as_ref().clone()),
            _ => None,
        })
        .collect();
    assert!(epochs[2].train_loss < epochs[0].train_loss, "{epochs:?}");
    assert!(epochs[2].test_acc > 0.8, "test acc {}", epochs[2].test_acc);
    let counted: u32 = epochs[2].confusion.iter().flatten().sum();
    assert_eq!(counted, 100);
    let losses: Vec<f32> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Progress(p) => Some(p.losses.iter().map(|l| l.1)),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(losses.len(), 3 * 25, "one loss point per batch");

    // Feature maps have the model's real shapes.
    let fm = last_feature_maps(&events);
    let shapes: Vec<_> = fm
        .layers
        .iter()
        .map(|l| (l.channels, l.height, l.width, l.values.len()))
        .collect();
    assert_eq!(
        shapes,
        [
            (32, 13, 13, 32 * 169),
            (64, 6, 6, 64 * 36),
            (128, 2, 2, 128 * 4)
        ]
    );

    // The run directory.
    assert_eq!(summary.epochs_completed, 3);
    assert!(!summary.stopped_early);
    let metrics = std::fs::read_to_string(run.path().join(run_dir::METRICS_FILE)).unwrap();
    assert_eq!(metrics.lines().count(), 3);
    let first: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    assert_eq!(first["epoch"], 1);
    assert!(run.path().join(run_dir::MODEL_FILE).is_file());
    let saved = std::fs::read_to_string(run.path().join(run_dir::CONFIG_FILE)).unwrap();
    assert!(saved.contains("epochs = 3"), "{saved}");
}

/// Wait for an event matching `pred`, failing after a generous timeout.
fn wait_for(rx: &flume::Receiver<TrainEvent>, pred: impl Fn(&TrainEvent) -> bool) -> TrainEvent {
    loop {
        let ev = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("trainer went quiet");
        if let TrainEvent::Failed(reason) = &ev {
            panic!("trainer failed: {reason}");
        }
        if pred(&ev) {
            return ev;
        }
    }
}

/// Ask for a checkpoint, wait for it, and read back the position it recorded.
fn checkpoint_now(
    tx: &flume::Sender<Command>,
    events: &flume::Receiver<TrainEvent>,
    run: &std::path::Path,
) -> fashion_tui::store::checkpoint::Sidecar {
    tx.send(Command::Checkpoint).unwrap();
    wait_for(events, |e| {
        matches!(
            e,
            TrainEvent::Saved {
                why: SaveReason::Requested,
                ..
            }
        )
    });
    let dir = fashion_tui::files::Dir::open(&run.join("checkpoint")).unwrap();
    fashion_tui::store::checkpoint::read_sidecar(&dir)
        .unwrap()
        .expect("checkpoint written")
}

#[test]
fn pause_blocks_feature_maps_answer_while_paused_and_stop_is_honoured() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 50);
    // Far more epochs than the test lets it run: only Stop ends it.
    let cfg = common::quick_config(data.path(), run.path(), 10_000);
    let (sink, rx) = ChannelSink::new();
    let (tx, control) = flume::unbounded();
    let handle = train::spawn(cfg, Default::default(), control, sink);

    rx.progress
        .recv_timeout(Duration::from_secs(120))
        .expect("first progress");
    tx.send(Command::Pause).unwrap();
    wait_for(&rx.events, |e| *e == TrainEvent::Phase(Phase::Paused));
    let TrainEvent::Applied(paused_at) =
        wait_for(&rx.events, |e| matches!(e, TrainEvent::Applied(_)))
    else {
        unreachable!()
    };

    // A checkpoint on request, while paused, records the exact position: the batch the
    // pause came at, every batch before it one optimiser step (25 batches an epoch).
    let at_pause = checkpoint_now(&tx, &rx.events, run.path());
    assert_eq!(
        paused_at,
        format!(
            "paused at epoch {:.2}",
            at_pause.epoch as f64 + at_pause.batch as f64 / 25.0
        )
    );
    assert!(at_pause.step > 0);
    assert_eq!(at_pause.step, (at_pause.epoch * 25 + at_pause.batch) as i64);
    // Snapshots taken before the pause may still be on their way; none is beyond it.
    let position = (at_pause.epoch, at_pause.batch);
    let stale = |rx: &flume::Receiver<_>| {
        while let Ok(p) = rx.try_recv() {
            let p: fashion_tui::events::Progress = p;
            assert!(
                (p.epoch, p.batch) <= position,
                "{p:?} after the pause at {position:?}"
            );
        }
    };
    stale(&rx.progress);

    tx.send(Command::FeatureMaps { index: 7 }).unwrap();
    let fm = wait_for(&rx.events, |e| matches!(e, TrainEvent::FeatureMaps(_)));
    let TrainEvent::FeatureMaps(fm) = fm else {
        unreachable!()
    };
    assert_eq!(fm.index, 7);

    // Paused really blocks: between these commands the trainer was free to train, and it
    // did not take a single step (no timing involved: the step counter says so).
    stale(&rx.progress);
    let later = checkpoint_now(&tx, &rx.events, run.path());
    assert!(later.generation > at_pause.generation, "a second save");
    assert_eq!(
        (later.epoch, later.batch, later.step),
        (at_pause.epoch, at_pause.batch, at_pause.step),
        "trained while paused"
    );
    stale(&rx.progress);
    assert!(!handle.is_finished());

    // Many quick toggles never deadlock; it ends up running.
    for _ in 0..50 {
        tx.send(Command::Resume).unwrap();
        tx.send(Command::Pause).unwrap();
    }
    tx.send(Command::Resume).unwrap();
    // The pending snapshot was drained above: what comes now was trained after the resume.
    let p = rx
        .progress
        .recv_timeout(Duration::from_secs(120))
        .expect("progress after resume");
    assert!((p.epoch, p.batch) > position, "{p:?} not past {position:?}");

    tx.send(Command::Stop).unwrap();
    let done = wait_for(&rx.events, |e| matches!(e, TrainEvent::Done(_)));
    let TrainEvent::Done(summary) = done else {
        unreachable!()
    };
    assert!(summary.stopped_early);
    let summary_back = handle.join().unwrap().unwrap();
    assert_eq!(*summary, summary_back);
    assert!(run.path().join(run_dir::MODEL_FILE).is_file());
}

#[test]
fn a_vanished_consumer_stops_the_trainer() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 20);
    let cfg = common::quick_config(data.path(), run.path(), 10_000);
    let (sink, rx) = ChannelSink::new();
    let (_tx, control) = flume::unbounded();
    let handle = train::spawn(cfg, Default::default(), control, sink);
    rx.progress
        .recv_timeout(Duration::from_secs(120))
        .expect("first progress");
    drop(rx);
    let summary = handle.join().unwrap().unwrap();
    assert!(summary.stopped_early);
}

#[test]
fn bad_settings_fail_as_usage_errors_with_the_reason() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 20, 10);
    let mut cfg = common::quick_config(data.path(), run.path(), 1);
    cfg.training.batch_size = 21;
    let (sink, rx) = ChannelSink::new();
    let (_tx, control) = flume::unbounded();
    let failure = train::spawn(cfg, Default::default(), control, sink)
        .join()
        .unwrap()
        .unwrap_err();
    assert!(failure.usage);
    assert!(
        failure
            .reason
            .contains("training.batch_size = 21 is out of range: allowed 1 to 20"),
        "{}",
        failure.reason
    );
    let failed = rx
        .events
        .iter()
        .find(|e| matches!(e, TrainEvent::Failed(_)));
    assert_eq!(failed, Some(TrainEvent::Failed(failure.reason)));
}

/// Run `cfg` to the end with a closure sink; the first event `when` matches sends
/// `commands`, which the trainer obeys before its next batch.
fn run_sending(
    cfg: &Config,
    mut when: impl FnMut(&TrainEvent) -> bool,
    commands: Vec<Command>,
) -> (Vec<TrainEvent>, RunSummary) {
    let (tx, control) = flume::unbounded();
    let mut commands = Some(commands);
    let mut events = Vec::new();
    let mut sink = |ev: TrainEvent| {
        if when(&ev) {
            for c in commands.take().into_iter().flatten() {
                tx.send(c).unwrap();
            }
        }
        events.push(ev);
        true
    };
    let summary = train::run(cfg, &control, &mut sink).unwrap();
    (events, summary)
}

/// Matches the start of the `n`-th epoch (1-based) trained: commands sent then are obeyed
/// after its first batch, whatever the machine's speed (progress snapshots are timed).
fn epoch_start(n: usize) -> impl FnMut(&TrainEvent) -> bool {
    let mut seen = 0;
    move |e| {
        if *e == TrainEvent::Phase(Phase::Training) {
            seen += 1;
            return seen == n;
        }
        false
    }
}

fn applied(events: &[TrainEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Applied(a) => Some(a.as_str()),
            _ => None,
        })
        .collect()
}

fn epoch_ends(events: &[TrainEvent]) -> Vec<(usize, usize, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::EpochEnd(s) => Some((s.epoch, s.epochs, s.lr)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_learning_rate_change_applies_from_the_next_batch_and_the_schedule_scales_it() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 50);
    let mut cfg = common::quick_config(data.path(), run.path(), 3);
    cfg.training.schedule = Schedule::Step;
    cfg.training.step_epochs = 1;
    cfg.training.gamma = 0.5;
    let (events, summary) = run_sending(
        &cfg,
        epoch_start(1),
        vec![
            Command::Set(LiveSetting::Lr(-1.0)),
            Command::Set(LiveSetting::Lr(0.0005)),
        ],
    );
    assert_eq!(summary.epochs_completed, 3);

    // The invalid value is refused with the reason; the valid one is reported.
    let lines = applied(&events);
    assert_eq!(
        lines[0],
        "refused: training.lr = -1 is out of range: allowed a finite number > 0 and ≤ 10"
    );
    let at = events
        .iter()
        .position(|e| matches!(e, TrainEvent::Changed(_)))
        .expect("a Changed event");
    let TrainEvent::Changed(Change {
        setting,
        from,
        at_epoch,
    }) = &events[at]
    else {
        unreachable!()
    };
    assert_eq!(
        (*setting, from.as_str()),
        (LiveSetting::Lr(0.0005), "0.001")
    );
    assert_eq!(*at_epoch, 1.0 / 25.0, "after the first batch");
    assert_eq!(
        events[at - 1],
        TrainEvent::Applied(format!("lr 0.001 → 0.0005 at epoch {at_epoch:.2}"))
    );

    // Before: the old rate. After: the new base, scaled by the step schedule.
    let rates: Vec<(usize, usize, f64, f64)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            TrainEvent::Progress(p) => Some((i, p.epoch, p.lr, p.losses[0].0)),
            _ => None,
        })
        .collect();
    assert!(rates.iter().any(|r| r.0 > at && r.1 == 0), "{rates:?}");
    for (i, epoch, lr, _) in rates {
        let want = if i < at {
            0.001
        } else {
            0.0005 * 0.5f64.powi(epoch as i32)
        };
        assert_eq!(lr, want, "progress at event {i}, epoch {epoch}");
    }
    assert_eq!(
        epoch_ends(&events),
        vec![(1, 3, 0.0005), (2, 3, 0.00025), (3, 3, 0.000125)]
    );
}

#[test]
fn an_epochs_change_lengthens_or_shortens_the_run() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 20);

    // Lengthen: 1 → 3, during the first epoch.
    let cfg = common::quick_config(data.path(), run.path(), 1);
    let (events, summary) = run_sending(
        &cfg,
        epoch_start(1),
        vec![Command::Set(LiveSetting::Epochs(3))],
    );
    assert_eq!(
        (summary.epochs_completed, summary.stopped_early),
        (3, false)
    );
    let ends: Vec<_> = epoch_ends(&events).iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(ends, vec![(1, 3), (2, 3), (3, 3)]);
    assert!(
        applied(&events)
            .iter()
            .any(|a| a.starts_with("epochs 1 → 3 at epoch 0.08")),
        "{:?}",
        applied(&events)
    );

    // Shorten below the current epoch: 5 → 1 during the second; it ends after it, and
    // the cosine schedule spans the run as it really is (no zero rate in its last epoch).
    let shorter = tempfile::tempdir().unwrap();
    let mut cfg = common::quick_config(data.path(), shorter.path(), 5);
    cfg.training.schedule = Schedule::Cosine;
    let (events, summary) = run_sending(
        &cfg,
        epoch_start(2),
        vec![Command::Set(LiveSetting::Epochs(1))],
    );
    assert_eq!(
        (summary.epochs_completed, summary.stopped_early),
        (2, false)
    );
    let ends = epoch_ends(&events);
    let shape: Vec<_> = ends.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(shape, vec![(1, 5), (2, 2)]);
    assert!(ends[1].2 > 0.0 && ends[1].2 < ends[0].2, "{ends:?}");
    let line = applied(&events)
        .into_iter()
        .find(|a| a.starts_with("epochs 5 → 1 at epoch 1.08"))
        .expect("applied");
    assert!(
        line.contains(" (the run ends after the current epoch, 2) (rate now "),
        "{line}"
    );
    assert_eq!(events.last(), Some(&TrainEvent::Phase(Phase::Done)));
}

/// `common::fast_config`, with the recipe's shifts from the first epoch.
fn fast_config(data: &std::path::Path, run: &std::path::Path, epochs: usize) -> Config {
    let mut cfg = common::fast_config(data, run, epochs);
    // The recipe's shifts from the first epoch on, so that the losses compared below
    // come from one kind of batch.
    cfg.data.translate_from = 0.0;
    cfg
}

fn run_collecting(cfg: &Config) -> Vec<TrainEvent> {
    let (_tx, rx) = flume::unbounded();
    let mut events = Vec::new();
    let mut sink = |ev: TrainEvent| {
        events.push(ev);
        true
    };
    train::run(cfg, &rx, &mut sink).unwrap();
    events
}

#[test]
fn the_fast_model_learns_and_shows_every_conv_layer() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 100);
    let mut cfg = fast_config(data.path(), run.path(), 3);
    cfg.training.eval_every = 0.5;
    cfg.training.eval_until = 2.0;
    let events = run_collecting(&cfg);
    let epochs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::EpochEnd(s) => Some(s.as_ref().clone()),
            _ => None,
        })
        .collect();
    assert_eq!(epochs.len(), 3);
    assert!(epochs[2].train_loss < epochs[0].train_loss, "{epochs:?}");
    assert!(epochs[2].test_acc > 0.8, "test acc {}", epochs[2].test_acc);
    assert!(epochs.windows(2).all(|w| w[0].elapsed < w[1].elapsed));
    // One evaluation in the middle of each of the first two epochs (`eval_until`), at
    // its place in the order; the third has only its end's.
    let tested: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Tested(t) => Some(t.at),
            _ => None,
        })
        .collect();
    assert_eq!(tested, [0.52, 1.52]);
    let fm = last_feature_maps(&events);
    let layers: Vec<_> = fm
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l.channels, l.height))
        .collect();
    assert_eq!(
        layers,
        [
            ("conv1", 32, 14),
            ("conv2", 64, 14),
            ("conv3", 128, 7),
            ("conv4", 256, 3)
        ]
    );
}

/// A time budget measures, plans a number of batches, and ends the run there: the last
/// epoch may be cut short, and the schedule's rate is near 0 at the end. The budget
/// decides the length, not `epochs` (here 1, which would end the run before the speed
/// is measured).
#[test]
fn a_time_budget_plans_the_runs_length_and_ends_it_there() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 100);
    let mut cfg = fast_config(data.path(), run.path(), 1);
    cfg.training.time_budget = "10s".parse().unwrap();
    let events = run_collecting(&cfg);
    // The plan, as fitted again after each evaluation: the last one rules.
    let plan = events
        .iter()
        .rev()
        .find_map(|e| match e {
            TrainEvent::Planned(p) => Some(p.as_ref().clone()),
            _ => None,
        })
        .expect("a plan");
    assert_eq!(plan.budget_secs, 10.0);
    assert!(
        plan.total_batches > 0 && plan.images_per_sec > 0.0,
        "{plan:?}"
    );
    let last = events
        .iter()
        .rev()
        .find_map(|e| match e {
            TrainEvent::EpochEnd(s) => Some(s.as_ref().clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last.epochs, (plan.epochs.ceil() as usize), "{plan:?}");
    assert_eq!(last.epoch, last.epochs);
    assert!(
        last.epochs > 1,
        "{plan:?}: the epochs setting ended the run"
    );
    let batches: usize = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Progress(p) => Some(p.losses.len()),
            _ => None,
        })
        .sum();
    assert_eq!(batches, plan.total_batches, "the run ends where it planned");
    assert!(
        last.lr < 0.05 * 0.05,
        "the schedule has decayed: {}",
        last.lr
    );
    let dir = fashion_tui::files::Dir::open(&run.path().join(fashion_tui::store::checkpoint::DIR))
        .unwrap();
    let sc = fashion_tui::store::checkpoint::read_sidecar(&dir)
        .unwrap()
        .unwrap();
    assert_eq!(sc.total_batches, Some(plan.total_batches));
}

/// The last feature maps a run sent.
fn last_feature_maps(events: &[TrainEvent]) -> &FeatureMaps {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            TrainEvent::FeatureMaps(f) => Some(f.as_ref()),
            _ => None,
        })
        .expect("the run sent feature maps")
}

//! The trainer on generated data, CPU, fixed seed: event order, learning, pause, stop.

mod common;

use std::time::Duration;

use fashion_tui::train::events::{Command, Phase, TrainEvent};
use fashion_tui::train::{self, run_dir, ChannelSink};

fn name(ev: &TrainEvent) -> &'static str {
    match ev {
        TrainEvent::Message(_) => "Message",
        TrainEvent::Phase(_) => "Phase",
        TrainEvent::Started(_) => "Started",
        TrainEvent::Progress(_) => "Progress",
        TrainEvent::EpochEnd(_) => "EpochEnd",
        TrainEvent::Predictions(_) => "Predictions",
        TrainEvent::FeatureMaps(_) => "FeatureMaps",
        TrainEvent::Applied(_) => "Applied",
        TrainEvent::Failed(_) => "Failed",
        TrainEvent::Done(_) => "Done",
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
    let per_epoch = ["EpochEnd", "Predictions", "FeatureMaps"];
    let mut expected = vec!["Started"];
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
    let fm = events
        .iter()
        .rev()
        .find_map(|e| match e {
            TrainEvent::FeatureMaps(f) => Some(f),
            _ => None,
        })
        .unwrap();
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
    // Paused: the one slot may hold a snapshot taken before the pause; then silence.
    let _ = rx.progress.try_recv();
    std::thread::sleep(Duration::from_millis(300));
    assert!(rx.progress.try_recv().is_err(), "progress while paused");
    assert!(!handle.is_finished());

    tx.send(Command::FeatureMaps { index: 7 }).unwrap();
    let fm = wait_for(&rx.events, |e| matches!(e, TrainEvent::FeatureMaps(_)));
    let TrainEvent::FeatureMaps(fm) = fm else {
        unreachable!()
    };
    assert_eq!(fm.index, 7);

    // A checkpoint on request, while paused, records the exact position.
    tx.send(Command::Checkpoint).unwrap();
    wait_for(
        &rx.events,
        |e| matches!(e, TrainEvent::Message(m) if m.starts_with("checkpoint saved")),
    );
    let sidecar = fashion_tui::train::checkpoint::read_sidecar(&run.path().join("checkpoint"))
        .unwrap()
        .expect("checkpoint written");
    assert!(sidecar.step > 0);

    // Many quick toggles never deadlock; it ends up running.
    for _ in 0..50 {
        tx.send(Command::Resume).unwrap();
        tx.send(Command::Pause).unwrap();
    }
    tx.send(Command::Resume).unwrap();
    rx.progress
        .recv_timeout(Duration::from_secs(120))
        .expect("progress after resume");

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

//! Headless consumer of trainer events: a Keras-like line per epoch (or JSON lines with
//! `--json`), and a live progress line on stderr when stderr is a terminal.
//!
//! A failed write to stdout (a full disk, `> /dev/full`) ends the printing with
//! [`Ending::Unwritable`]: the output is the point of a headless run. A closed pipe
//! (`| head -1`) is not a failure: the reader has what it wanted and the run goes on.

use std::io::{self, Write};
use std::time::Duration;

use serde_json::json;

use crate::duration;
use crate::events::{
    saved_text, EpochSummary, Phase, Progress, RunInfo, RunSummary, SaveReason, TestPoint,
    TrainEvent,
};
use crate::store::run_dir::epoch_json;
use crate::train::Receivers;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Only JSON lines on `out`; human text goes to `err`.
    pub json: bool,
    /// Redraw a progress line on `err` with `\r` (only when it is a terminal).
    pub live: bool,
}

/// How the run ended, as seen by the printer.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Done(Box<RunSummary>),
    Failed(String),
    /// Writing to stdout failed (not a closed pipe); the text says why. The trainer may
    /// still be running.
    Unwritable(String),
}

/// A write to stdout that counts: any error but a closed pipe.
fn written(result: io::Result<()>) -> Result<(), String> {
    match result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// `line` and a newline to `w`, flushed.
fn write_line(w: &mut dyn Write, line: &str) -> io::Result<()> {
    writeln!(w, "{line}")?;
    w.flush()
}

/// The per-epoch line, Keras style (`val_loss` and `val_acc` when the run holds training
/// images out).
pub fn epoch_line(s: &EpochSummary, eta_secs: f64) -> String {
    let eta = if s.epoch < s.epochs {
        format!(" - ETA {}", duration::short(eta_secs))
    } else {
        String::new()
    };
    let val = match (s.val_loss, s.val_acc) {
        (Some(loss), Some(acc)) => format!(" - val_loss: {loss:.4} - val_acc: {acc:.4}"),
        _ => String::new(),
    };
    format!(
        "Epoch {}/{} - {:.1}s - {:.0} img/s - loss: {:.4} - acc: {:.4}{val} - test_loss: {:.4} - test_acc: {:.4} - lr: {}{eta}",
        s.epoch, s.epochs, s.seconds, s.images_per_sec, s.train_loss, s.train_acc, s.test_loss,
        s.test_acc, s.lr
    ) + &plain_text(s.test_acc, s.test_acc_plain)
}

/// ` (plain 0.9312)` when test-time flips changed the accuracy, else nothing.
fn plain_text(acc: f64, plain: f64) -> String {
    if acc == plain {
        String::new()
    } else {
        format!(" (plain {plain:.4})")
    }
}

/// An evaluation between epoch ends.
pub fn test_line(t: &TestPoint) -> String {
    format!(
        "  at epoch {:.2} - {} - test_loss: {:.4} - test_acc: {:.4}{}",
        t.at,
        duration::short(t.elapsed),
        t.test_loss,
        t.test_acc,
        plain_text(t.test_acc, t.test_acc_plain)
    )
}

/// An evaluation between epoch ends as a JSON line.
pub fn test_json(t: &TestPoint) -> serde_json::Value {
    json!({
        "event": "test",
        "at": t.at,
        "test_loss": t.test_loss,
        "test_acc": t.test_acc,
        "test_acc_plain": t.test_acc_plain,
        "lr": t.lr,
        "elapsed": t.elapsed,
    })
}

fn banner(info: &RunInfo) -> String {
    let val = match info.validation {
        0 => String::new(),
        n => format!(" / {n} validation"),
    };
    format!(
        "Training {} ({} parameters) on {}: {} epochs, batch {}, lr {}, {} train{val} / {} test images, seed {}\nRun directory: {}",
        info.model,
        info.parameters,
        info.device,
        info.epochs,
        info.batch_size,
        info.lr,
        info.train_images,
        info.test_images,
        info.seed,
        info.run_dir.display()
    )
}

fn progress_line(p: &Progress, epochs: usize) -> String {
    let width = 30usize;
    let filled = (p.batch * width)
        .checked_div(p.batches)
        .unwrap_or(0)
        .min(width);
    format!(
        "\rEpoch {}/{} [{}{}] {}/{} - {:.0} img/s - acc: {:.4} - ETA {}   ",
        p.epoch + 1,
        epochs,
        "=".repeat(filled),
        " ".repeat(width - filled),
        p.batch,
        p.batches,
        p.images_per_sec,
        p.train_acc,
        duration::short(p.eta_secs)
    )
}

/// Erase the live progress line, if one is showing, before other output.
fn clear_live(err: &mut dyn Write, live_line: &mut bool) {
    if std::mem::take(live_line) {
        let _ = write!(err, "\r\x1b[2K");
    }
}

/// Print events until the trainer finishes, or until stdout cannot be written; returns
/// how it ended.
pub fn print(rx: &Receivers, out: &mut dyn Write, err: &mut dyn Write, opts: Options) -> Ending {
    print_until_unwritable(rx, out, err, opts).unwrap_or_else(Ending::Unwritable)
}

/// [`print`], with a failed write to stdout as `Err`.
fn print_until_unwritable(
    rx: &Receivers,
    out: &mut dyn Write,
    err: &mut dyn Write,
    opts: Options,
) -> Result<Ending, String> {
    let mut epochs = 0;
    let mut eta = f64::NAN;
    let mut live_line = false;
    // An epoch-end checkpoint is announced on that epoch's line, which comes next.
    let mut saved_at_end = false;
    // Human text goes to stdout, or to stderr in JSON mode (whose failures nobody can
    // be told about).
    let human = |err: &mut dyn Write, out: &mut dyn Write, text: &str, live_line: &mut bool| {
        clear_live(err, live_line);
        if opts.json {
            let _ = write_line(err, text);
            Ok(())
        } else {
            written(write_line(out, text))
        }
    };
    loop {
        while let Ok(p) = rx.progress.try_recv() {
            eta = p.eta_secs;
            if opts.live {
                let _ = write!(err, "{}", progress_line(&p, epochs));
                let _ = err.flush();
                live_line = true;
            }
        }
        let ev = match rx.events.recv_timeout(Duration::from_millis(100)) {
            Ok(ev) => ev,
            Err(flume::RecvTimeoutError::Timeout) => continue,
            Err(flume::RecvTimeoutError::Disconnected) => {
                return Ok(Ending::Failed(
                    "the trainer thread ended without a result".into(),
                ))
            }
        };
        match ev {
            TrainEvent::Message(m) | TrainEvent::Applied(m) => {
                human(err, out, &m, &mut live_line)?;
            }
            // Without a human epoch line (JSON mode) an epoch-end save gets its own line too.
            TrainEvent::Saved {
                why: SaveReason::EpochEnd,
                ..
            } if !opts.json => saved_at_end = true,
            TrainEvent::Saved { at, .. } => {
                human(err, out, &saved_text(at), &mut live_line)?;
            }
            TrainEvent::Started(info) => {
                epochs = info.epochs;
                human(err, out, &banner(&info), &mut live_line)?;
            }
            TrainEvent::EpochEnd(s) => {
                let remaining = s.epochs.saturating_sub(s.epoch) as f64;
                let eta_now = if eta.is_finite() {
                    eta
                } else {
                    remaining * (s.seconds + s.eval_seconds)
                };
                if opts.json {
                    clear_live(err, &mut live_line);
                    written(write_line(out, &epoch_json(&s).to_string()))?;
                } else {
                    let mut line = epoch_line(&s, eta_now);
                    if std::mem::take(&mut saved_at_end) {
                        line.push_str(" - saved");
                    }
                    human(err, out, &line, &mut live_line)?;
                }
            }
            TrainEvent::Tested(t) => {
                if opts.json {
                    clear_live(err, &mut live_line);
                    written(write_line(out, &test_json(&t).to_string()))?;
                } else {
                    human(err, out, &test_line(&t), &mut live_line)?;
                }
            }
            TrainEvent::Planned(plan) => epochs = plan.epochs.ceil() as usize,
            TrainEvent::Failed(reason) => {
                clear_live(err, &mut live_line);
                return Ok(Ending::Failed(reason));
            }
            TrainEvent::Done(summary) => {
                let acc = summary
                    .test_acc
                    .map_or("n/a".into(), |a| format!("{:.2}%", a * 100.0));
                let model = summary
                    .model_path
                    .as_ref()
                    .map_or("(none)".into(), |p| p.display().to_string());
                if opts.json {
                    clear_live(err, &mut live_line);
                    let line = json!({
                        "event": "done",
                        "epochs_completed": summary.epochs_completed,
                        "test_acc": summary.test_acc,
                        "model": summary.model_path,
                        "run_dir": summary.run_dir,
                        "stopped_early": summary.stopped_early,
                        "seconds": summary.seconds,
                    });
                    written(write_line(out, &line.to_string()))?;
                } else {
                    let text = format!(
                        "Done: {} epoch(s) in {}, test accuracy {acc}, model saved to {model}",
                        summary.epochs_completed,
                        duration::short(summary.seconds)
                    );
                    human(err, out, &text, &mut live_line)?;
                }
                return Ok(Ending::Done(summary));
            }
            TrainEvent::Phase(Phase::Failed) => {}
            TrainEvent::Phase(_)
            | TrainEvent::Changed(_)
            | TrainEvent::Progress(_)
            | TrainEvent::Predictions(_)
            | TrainEvent::FeatureMaps(_) => {}
        }
    }
}

/// [`print`] to the process's stdout and stderr. Their handles lock per write, not for
/// the whole run: a held lock would block any other thread that writes there (a warning,
/// a panic message) and with it the training.
pub fn print_std(rx: &Receivers, opts: Options) -> Ending {
    print(rx, &mut io::stdout(), &mut io::stderr(), opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::sink::{ChannelSink, Sink};
    use std::path::PathBuf;

    fn summary(epoch: usize) -> EpochSummary {
        EpochSummary {
            epoch,
            epochs: 2,
            train_loss: 0.5,
            train_acc: 0.8,
            test_loss: 0.4,
            test_acc: 0.85,
            test_acc_plain: 0.85,
            val_loss: None,
            val_acc: None,
            elapsed: 10.0,
            lr: 0.001,
            seconds: 10.0,
            eval_seconds: 1.0,
            images_per_sec: 6000.0,
            confusion: [[0; 10]; 10],
        }
    }

    fn script(sink: &mut ChannelSink) {
        sink.send(TrainEvent::Message("loading".into()));
        sink.send(TrainEvent::Saved {
            at: 1.0,
            why: SaveReason::EpochEnd,
        });
        sink.send(TrainEvent::EpochEnd(Box::new(summary(1))));
        sink.send(TrainEvent::Saved {
            at: 1.25,
            why: SaveReason::Requested,
        });
        sink.send(TrainEvent::EpochEnd(Box::new(summary(2))));
        sink.send(TrainEvent::Done(Box::new(RunSummary {
            epochs_completed: 2,
            test_acc: Some(0.85),
            model_path: Some(PathBuf::from("/r/model.safetensors")),
            run_dir: PathBuf::from("/r"),
            stopped_early: false,
            seconds: 22.0,
        })));
    }

    #[test]
    fn json_mode_writes_only_json_lines_to_stdout() {
        let (mut sink, rx) = ChannelSink::new();
        script(&mut sink);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let end = print(
            &rx,
            &mut out,
            &mut err,
            Options {
                json: true,
                live: false,
            },
        );
        assert!(matches!(end, Ending::Done(_)));
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        // The epoch lines are the run directory's metrics lines (their keys are the CLI
        // contract, tested in tests/cli.rs).
        assert_eq!(lines[0], epoch_json(&summary(1)));
        assert_eq!(lines[1], epoch_json(&summary(2)));
        assert_eq!(lines[2]["event"], "done");
        assert_eq!(lines[2]["test_acc"], 0.85);
        assert_eq!(lines[2]["model"], "/r/model.safetensors");
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("loading"));
        // No human epoch line to mark: every save has its own line on stderr.
        assert!(err.contains("checkpoint saved at epoch 1.00\n"), "{err}");
        assert!(err.contains("checkpoint saved at epoch 1.25\n"), "{err}");
    }

    #[test]
    fn text_mode_prints_keras_like_lines() {
        let (mut sink, rx) = ChannelSink::new();
        script(&mut sink);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        print(&rx, &mut out, &mut err, Options::default());
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("Epoch 1/2 - 10.0s - 6000 img/s - loss: 0.5000 - acc: 0.8000 - test_loss: 0.4000 - test_acc: 0.8500 - lr: 0.001 - ETA 11s - saved\n"), "{out}");
        // A mid-epoch checkpoint has its own line; an epoch not saved at its end says nothing.
        assert!(
            out.contains("checkpoint saved at epoch 1.25\nEpoch 2/2 - "),
            "{out}"
        );
        assert!(out.contains("test_acc: 0.8500 - lr: 0.001\n"), "{out}");
        assert!(!out.contains("val_"), "{out}");
        assert!(out.contains(
            "Done: 2 epoch(s) in 22s, test accuracy 85.00%, model saved to /r/model.safetensors"
        ));
    }

    /// A stdout whose every write fails with `errno`.
    struct Failing(i32);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_to_stdout_ends_the_printing_but_a_closed_pipe_does_not() {
        for json in [false, true] {
            let opts = Options { json, live: false };
            let (mut sink, rx) = ChannelSink::new();
            script(&mut sink);
            let end = print(&rx, &mut Failing(libc::ENOSPC), &mut Vec::new(), opts);
            match end {
                Ending::Unwritable(why) => assert!(why.contains("No space left"), "{why}"),
                other => panic!("json {json}: {other:?}"),
            }
            let (mut sink, rx) = ChannelSink::new();
            script(&mut sink);
            let end = print(&rx, &mut Failing(libc::EPIPE), &mut Vec::new(), opts);
            assert!(matches!(end, Ending::Done(_)), "json {json}: {end:?}");
        }
    }

    #[test]
    fn held_out_images_add_their_loss_and_accuracy() {
        let s = EpochSummary {
            val_loss: Some(0.25),
            val_acc: Some(0.9),
            ..summary(1)
        };
        let line = epoch_line(&s, 11.0);
        assert!(
            line.contains("acc: 0.8000 - val_loss: 0.2500 - val_acc: 0.9000 - test_loss: 0.4000"),
            "{line}"
        );
        let v = epoch_json(&s);
        assert_eq!(
            (v["val_loss"].as_f64(), v["val_acc"].as_f64()),
            (Some(0.25), Some(0.9))
        );
        let plain = epoch_json(&summary(1));
        assert!(plain.get("val_acc").is_none() && plain.get("val_loss").is_none());
    }

    #[test]
    fn failure_is_reported() {
        let (mut sink, rx) = ChannelSink::new();
        sink.send(TrainEvent::Failed("boom".into()));
        let end = print(&rx, &mut Vec::new(), &mut Vec::new(), Options::default());
        assert_eq!(end, Ending::Failed("boom".into()));
    }

    #[test]
    fn other_threads_can_write_to_stderr_while_the_events_are_printed() {
        let (mut sink, rx) = ChannelSink::new();
        let (told, heard) = flume::bounded(1);
        let writer = std::thread::spawn(move || {
            // Let the printer start waiting for events first.
            std::thread::sleep(Duration::from_millis(300));
            let _ = writeln!(io::stderr(), "(headless test: a line from another thread)");
            sink.send(TrainEvent::Done(Box::new(RunSummary {
                epochs_completed: 0,
                test_acc: None,
                model_path: None,
                run_dir: PathBuf::from("/r"),
                stopped_early: false,
                seconds: 0.0,
            })));
            let _ = told.send(());
        });
        let printer = std::thread::spawn(move || {
            print_std(
                &rx,
                Options {
                    json: false,
                    live: false,
                },
            )
        });
        // Generous: the writer needs a fraction of a second unless it is blocked for good.
        assert!(
            heard.recv_timeout(Duration::from_secs(60)).is_ok(),
            "the other thread stayed blocked on stderr while the printer waited for events"
        );
        writer.join().unwrap();
        assert!(matches!(printer.join().unwrap(), Ending::Done(_)));
    }
}

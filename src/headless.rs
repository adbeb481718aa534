//! Headless consumer of trainer events: a Keras-like line per epoch (or JSON lines with
//! `--json`), and a live progress line on stderr when stderr is a terminal.
//!
//! Each format is a [`Format`]: what it writes for an event, and where. The printer's
//! loop is the same for both.
//!
//! A failed write to stdout (a full disk, `> /dev/full`) ends the printing with
//! [`Ending::Unwritable`]: the output is the point of a headless run. A closed pipe
//! (`| head -1`) is not a failure: the reader has what it wanted and the run goes on.

use std::io::{self, Write};
use std::time::Duration;

use crate::duration;
use crate::events::text::{done_text, epoch_line, test_line};
use crate::events::{json, saved_text, Progress, RunInfo, RunSummary, SaveReason, TrainEvent};
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

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    /// Stdout: the output, whose failure to be written ends the printing.
    Out,
    /// Stderr: words for a person, whose failures nobody can be told about.
    Err,
}

/// What the printer knows of the run so far, for the lines it writes.
#[derive(Debug, Default)]
struct Seen {
    /// The run's epochs (a time budget's plan changes them).
    epochs: usize,
    /// The latest estimate of the time left.
    eta: Option<f64>,
    /// An epoch-end checkpoint is announced on that epoch's line, which comes next.
    saved_at_end: bool,
}

/// A headless output format: the lines an event makes, and where each goes.
trait Format {
    fn lines(&self, ev: &TrainEvent, seen: &mut Seen) -> Vec<(To, String)>;
}

/// Keras-like text on stdout.
struct Text;

/// JSON lines on stdout (epochs, evaluations, the end), words for people on stderr.
struct Json;

impl Format for Text {
    fn lines(&self, ev: &TrainEvent, seen: &mut Seen) -> Vec<(To, String)> {
        let line = match ev {
            TrainEvent::Message(m) | TrainEvent::Applied(m) => m.clone(),
            TrainEvent::Saved {
                why: SaveReason::EpochEnd,
                ..
            } => {
                seen.saved_at_end = true;
                return Vec::new();
            }
            TrainEvent::Saved { at, .. } => saved_text(*at),
            TrainEvent::Started(info) => banner(info),
            TrainEvent::EpochEnd(s) => {
                let remaining = s.epochs.saturating_sub(s.epoch) as f64;
                let eta = seen.eta.unwrap_or(remaining * (s.seconds + s.eval_seconds));
                let mut line = epoch_line(s, eta);
                if std::mem::take(&mut seen.saved_at_end) {
                    line.push_str(" - saved");
                }
                line
            }
            TrainEvent::Tested(t) => test_line(t),
            TrainEvent::Done(summary) => capitalised(&done_text(summary)),
            _ => return Vec::new(),
        };
        vec![(To::Out, line)]
    }
}

impl Format for Json {
    fn lines(&self, ev: &TrainEvent, _: &mut Seen) -> Vec<(To, String)> {
        match ev {
            TrainEvent::Message(m) | TrainEvent::Applied(m) => vec![(To::Err, m.clone())],
            // Without a human epoch line an epoch-end save gets its own line too.
            TrainEvent::Saved { at, .. } => vec![(To::Err, saved_text(*at))],
            TrainEvent::Started(info) => vec![(To::Err, banner(info))],
            TrainEvent::EpochEnd(s) => vec![(To::Out, json::epoch(s).to_string())],
            TrainEvent::Tested(t) => vec![(To::Out, json::test(t).to_string())],
            TrainEvent::Done(summary) => vec![(To::Out, json::done(summary).to_string())],
            _ => Vec::new(),
        }
    }
}

/// `text` with a capital first letter, as a line of its own starts.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
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

/// The printer's two streams, and whether a live progress line is showing on `err`.
struct Streams<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    live_line: bool,
}

impl Streams<'_> {
    /// Erase the live progress line, if one is showing, before other output.
    fn clear_live(&mut self) {
        if std::mem::take(&mut self.live_line) {
            let _ = write!(self.err, "\r\x1b[2K");
        }
    }

    /// Redraw the live progress line.
    fn live(&mut self, line: &str) {
        let _ = write!(self.err, "{line}");
        let _ = self.err.flush();
        self.live_line = true;
    }

    /// `line` to its stream; a failed write to stdout (but a closed pipe) is `Err`.
    fn write(&mut self, to: To, line: &str) -> io::Result<()> {
        self.clear_live();
        let w: &mut dyn Write = match to {
            To::Out => self.out,
            To::Err => self.err,
        };
        let result = writeln!(w, "{line}").and_then(|()| w.flush());
        match (to, result) {
            (To::Out, Err(e)) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

/// Print events until the trainer finishes, or until stdout cannot be written; returns
/// how it ended.
pub fn print(rx: &Receivers, out: &mut dyn Write, err: &mut dyn Write, opts: Options) -> Ending {
    let format: &dyn Format = if opts.json { &Json } else { &Text };
    let mut streams = Streams {
        out,
        err,
        live_line: false,
    };
    let mut seen = Seen::default();
    loop {
        while let Ok(p) = rx.progress.try_recv() {
            seen.eta = Some(p.eta_secs);
            if opts.live {
                streams.live(&progress_line(&p, seen.epochs));
            }
        }
        let ev = match rx.events.recv_timeout(Duration::from_millis(100)) {
            Ok(ev) => ev,
            Err(flume::RecvTimeoutError::Timeout) => continue,
            Err(flume::RecvTimeoutError::Disconnected) => {
                return Ending::Failed("the trainer thread ended without a result".into())
            }
        };
        for (to, line) in format.lines(&ev, &mut seen) {
            // Messages quote paths and values from outside (JSON lines are escaped by
            // serde): none may steer the terminal.
            let line = crate::escape::lines(&line);
            if let Err(why) = streams.write(to, &line) {
                return Ending::Unwritable(why.to_string());
            }
        }
        match ev {
            TrainEvent::Started(info) => seen.epochs = info.epochs,
            TrainEvent::Planned(plan) => seen.epochs = plan.epochs.ceil() as usize,
            TrainEvent::Failed(reason) => {
                streams.clear_live();
                return Ending::Failed(reason);
            }
            TrainEvent::Done(summary) => return Ending::Done(summary),
            _ => {}
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
    use crate::events::EpochSummary;
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
        assert_eq!(lines[0], json::epoch(&summary(1)));
        assert_eq!(lines[1], json::epoch(&summary(2)));
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
            "Done after 2 epochs in 00:00:22, test acc 85.0%, model saved to /r/model.safetensors"
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
        let v = json::epoch(&s);
        assert_eq!(
            (v["val_loss"].as_f64(), v["val_acc"].as_f64()),
            (Some(0.25), Some(0.9))
        );
        let plain = json::epoch(&summary(1));
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

//! The client's end of a live run: connect to its socket, say who we are, and turn what
//! the run says into the dashboard's channels (events and merged progress, as a
//! [`ChannelSink`] gives them) and the dashboard's commands into requests. The
//! connection's end (`bye`, `exit`, or the socket closing) is kept for the command to
//! tell.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use flume::{Receiver, Sender};
use serde_json::Value;

use super::socket;
use super::wire::{self, FromRun, Request};
use crate::events::{Command, TrainEvent};
use crate::train::{ChannelSink, Receivers, Sink};

/// How the connection ended, as the run said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ending {
    /// The run's `bye`: why it closed this connection.
    pub bye: Option<String>,
    /// The run's process exited with this code.
    pub exit: Option<i32>,
    /// Where the run's process wrote its report as it ended.
    pub report: Option<String>,
}

/// A live run, attached.
pub struct Attached {
    /// The run's `hello`: what it is and what it is doing.
    pub hello: Value,
    /// What the run says, as the dashboard takes it.
    pub rx: Receivers,
    /// What the dashboard asks, to the run.
    pub commands: Sender<Command>,
    /// How the connection ended, once it has.
    pub ending: Arc<Mutex<Ending>>,
    /// The last request, and who waits for it to be sent.
    leave: Sender<(Request, Sender<()>)>,
    stream: UnixStream,
}

/// Attach to the live run in `run` as `name` (for its Log), `read_only` to only watch
/// (the run then takes nothing from it but requests for feature maps); `Ok(None)` when
/// the run is not live.
pub fn attach(run: &Path, name: &str, read_only: bool) -> Result<Option<Attached>> {
    let Some(stream) = socket::connect(run)? else {
        return Ok(None);
    };
    let mut reader = BufReader::new(stream.try_clone()?);
    let hello =
        read_hello(&mut reader).with_context(|| format!("attaching to {}", run.display()))?;
    let mut out = stream.try_clone()?;
    let line = wire::request_line(&Request::Hello {
        name: name.into(),
        read_only,
    });
    if let Some(line) = line {
        writeln!(out, "{line}").context("cannot speak to the run")?;
    }
    let (sink, rx) = ChannelSink::new();
    let ending = Arc::new(Mutex::new(Ending::default()));
    let e = ending.clone();
    std::thread::Builder::new()
        .name("attach-read".into())
        .spawn(move || read_loop(reader, sink, &e))?;
    let (commands, requests) = flume::unbounded();
    let (leave, last) = flume::bounded(1);
    std::thread::Builder::new()
        .name("attach-write".into())
        .spawn(move || write_loop(out, &requests, &last))?;
    Ok(Some(Attached {
        hello,
        rx,
        commands,
        ending,
        leave,
        stream,
    }))
}

impl Attached {
    /// Leave the run (it goes on); `lost` when this terminal went away. Waits (briefly)
    /// until the run has been told.
    pub fn detach(&self, lost: bool) {
        let (done, told) = flume::bounded(1);
        if self.leave.send((Request::Detach { lost }, done)).is_ok() {
            let _ = told.recv_timeout(std::time::Duration::from_secs(2));
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Follow the live run in `run` read-only as `name`, handing each line it says (its
/// `hello` first, checked) to `each` until it ends or `each` says stop (`Ok(false)`);
/// the exit code the run's process said, if it did. `Ok(None)` when the run is not live.
pub fn follow(
    run: &Path,
    name: &str,
    each: &mut dyn FnMut(&str) -> Result<bool>,
) -> Result<Option<Option<i32>>> {
    let Some(stream) = socket::connect(run)? else {
        return Ok(None);
    };
    let mut reader = BufReader::new(stream.try_clone()?);
    let hello = read_hello(&mut reader).with_context(|| format!("following {}", run.display()))?;
    let line = wire::request_line(&Request::Hello {
        name: name.into(),
        read_only: true,
    });
    if let Some(line) = line {
        (&stream)
            .write_all(format!("{line}\n").as_bytes())
            .context("cannot speak to the run")?;
    }
    if !each(&hello.to_string())? {
        return Ok(Some(None));
    }
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if !each(&line)? {
            return Ok(Some(None));
        }
        if let Ok(FromRun::Exit { code, .. }) = wire::from_run(&line) {
            return Ok(Some(Some(code)));
        }
    }
    Ok(Some(None))
}

/// What a live run says it is doing, as `runs` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// Where training is: epochs done and the fraction of the one in progress.
    pub epoch: Option<f64>,
    pub epochs: Option<u64>,
    /// The last finished epoch's test accuracy.
    pub test_acc: Option<f64>,
    pub phase: Option<String>,
    /// Terminals and scripts attached now.
    pub clients: u64,
    pub pid: Option<u64>,
}

/// What the live run in `run` is doing, from its `hello` (nothing is said to it, so its
/// Log does not hear of this); `None` when it is not live or does not answer in a second.
pub fn peek(run: &Path) -> Option<Live> {
    let stream = socket::connect(run).ok()??;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .ok()?;
    let hello = read_hello(&mut BufReader::new(stream)).ok()?;
    let n = |k: &str| hello[k].as_f64();
    let epoch = match (n("epoch"), n("batch"), n("batches")) {
        (Some(e), Some(b), Some(of)) if of > 0.0 => Some(e + b / of),
        (e, ..) => e,
    };
    Some(Live {
        epoch,
        epochs: hello["epochs"].as_u64(),
        test_acc: n("test_acc"),
        phase: hello["phase"].as_str().map(String::from),
        // This peek is one of them.
        clients: hello["clients"].as_u64().unwrap_or(1).saturating_sub(1),
        pid: hello["pid"].as_u64(),
    })
}

/// The run's clock is passed on when it has moved by this much (seconds).
const CLOCK_STEP: f64 = 0.25;

/// The run's first line: its `hello`, of the protocol this program speaks.
fn read_hello(reader: &mut impl BufRead) -> Result<Value> {
    let mut line = String::new();
    reader
        .take(wire::MAX_LINE as u64)
        .read_line(&mut line)
        .context("the run said nothing")?;
    match wire::from_run(line.trim_end()) {
        Ok(FromRun::Hello(v)) => {
            let protocol = v["protocol"].as_u64().unwrap_or(0);
            if protocol != u64::from(wire::PROTOCOL) {
                bail!(
                    "the run speaks protocol {protocol}, this fashion-tui {}: attach with the \
                     fashion-tui that started it",
                    wire::PROTOCOL
                );
            }
            Ok(v)
        }
        Ok(FromRun::Bye(reason)) => Err(crate::error::UsageError(reason).into()),
        Ok(other) => bail!("the run began with {other:?} instead of hello"),
        Err(e) => bail!("the run's first line is not a hello ({e})"),
    }
}

/// What the run says, into the dashboard's channels, until the connection ends.
fn read_loop(reader: BufReader<UnixStream>, mut sink: ChannelSink, ending: &Mutex<Ending>) {
    let mut clock = f64::NEG_INFINITY;
    // The history comes first, and is taken in order; then live progress is merged.
    let mut live = false;
    for line in reader.lines() {
        let Ok(line) = line else { break };
        match wire::from_run(&line) {
            Ok(FromRun::Event(ev, t)) => {
                // The run's time, when it moved on: the dashboard dates what follows by it.
                if let Some(t) = t.filter(|t| (t - clock).abs() >= CLOCK_STEP) {
                    clock = t;
                    sink.send(TrainEvent::Clock(t));
                }
                let sent = if live {
                    sink.send(ev)
                } else {
                    sink.send_in_order(ev)
                };
                if !sent {
                    break;
                }
            }
            Ok(FromRun::Live) => live = true,
            Ok(FromRun::Bye(reason)) => {
                sink.send(TrainEvent::Message(format!(
                    "the run closed this connection: {reason}"
                )));
                if let Ok(mut e) = ending.lock() {
                    e.bye = Some(reason);
                }
            }
            Ok(FromRun::Exit { code, report }) => {
                if let Ok(mut e) = ending.lock() {
                    e.exit = Some(code);
                    e.report = report;
                }
            }
            Ok(FromRun::Hello(_)) => {}
            Err(e) => {
                sink.send(TrainEvent::Message(format!(
                    "a line from the run was not understood: {e}"
                )));
            }
        }
    }
    let said = ending
        .lock()
        .map(|e| e.exit.is_some() || e.bye.is_some())
        .unwrap_or(true);
    if !said {
        sink.send(TrainEvent::Failed(VANISHED.into()));
    }
}

/// What a dashboard says when the run's connection ends without a word from the run.
pub const VANISHED: &str = "the run's process went away without a word (killed?); \
                            `fashion-tui train --resume` continues it from its last checkpoint";

/// The dashboard's commands, as requests to the run, in order, until the last request
/// (said, then whoever waits for it is told).
fn write_loop(
    mut out: UnixStream,
    requests: &Receiver<Command>,
    last: &Receiver<(Request, Sender<()>)>,
) {
    let mut send = |r: &Request| match wire::request_line(r) {
        Some(line) => out.write_all(format!("{line}\n").as_bytes()).is_ok(),
        None => true,
    };
    loop {
        let next = flume::Selector::new()
            .recv(requests, |c| c.map(|c| (Request::Command(c), None)))
            .recv(last, |l| l.map(|(r, done)| (r, Some(done))))
            .wait();
        let Ok((request, done)) = next else { return };
        if let Some(done) = done {
            // Commands sent before the last request go first.
            for cmd in requests.try_iter() {
                let _ = send(&Request::Command(cmd));
            }
            let _ = send(&request);
            let _ = done.send(());
            return;
        }
        if !send(&request) {
            return;
        }
    }
}

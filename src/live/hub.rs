//! The hub: the trainer's [`Sink`] in a live run. Every event goes to the run's own
//! consumer (the headless printer) and to each attached client; the hub keeps the run's
//! history since this process began (compacted, bounded) so that a client attaching late
//! sees everything a dashboard started with the run would show now.
//!
//! The trainer never waits for a client. Per client, progress is merged into one pending
//! snapshot (as [`ChannelSink`] does) and lifecycle events go into a bounded queue; a
//! client whose queue is full has fallen behind and is dropped (it may attach again, and
//! resyncs from the history). Commands from clients go to the trainer's command channel,
//! and the Log says which terminal sent each.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use flume::Sender;
use serde_json::Value;

use super::wire;
use crate::events::{Command, Phase, Progress, RunInfo, TrainEvent};
use crate::store::history::StoredRun;
use crate::train::{ChannelSink, Sink};

/// Lifecycle lines a client may have waiting before it counts as fallen behind: many
/// epochs' worth.
pub const CLIENT_QUEUE: usize = 4096;
/// Log lines (messages, applied changes) kept for a client attaching late.
const LOG_KEPT: usize = 2000;
/// Loss points kept in the history, at most (older ones are averaged pairwise beyond).
const LOSS_POINTS: usize = 16_384;

/// A line to a client: one event's JSON, serialized once for every client.
pub type Line = Arc<str>;

/// What a client's writer takes from the hub.
pub struct Feed {
    /// Lifecycle lines, in order.
    pub lines: flume::Receiver<Line>,
    /// The progress not yet sent, merged.
    pub progress: Arc<Mutex<Option<Progress>>>,
}

struct Client {
    id: usize,
    name: String,
    /// It said who it is (a dashboard does; a script need not).
    named: bool,
    /// It only watches (`view`): it may ask for feature maps, nothing else.
    read_only: bool,
    lines: Sender<Line>,
    progress: Arc<Mutex<Option<Progress>>>,
    /// The test image whose feature maps this client asked for last.
    wants_maps: Option<usize>,
}

/// The run's history since this process began, compacted: consecutive progress merged
/// (their losses kept, bounded), only the latest predictions and feature maps, the Log's
/// lines bounded.
#[derive(Default)]
struct History {
    /// Each with the run's time when it happened.
    events: Vec<(f64, TrainEvent)>,
    log_lines: VecDeque<usize>,
    predictions: Option<TrainEvent>,
    feature_maps: Option<TrainEvent>,
    phase: Option<Phase>,
    info: Option<RunInfo>,
    /// The latest epoch's number and test accuracy, and the latest progress, for `hello`.
    epoch: Option<(usize, f64)>,
    progress: Option<Progress>,
    loss_points: usize,
}

impl History {
    fn push(&mut self, t: f64, ev: &TrainEvent) {
        match ev {
            TrainEvent::Progress(p) => {
                self.loss_points += p.losses.len();
                match self.events.last_mut() {
                    Some((at, TrainEvent::Progress(last))) => {
                        last.merge(p.clone());
                        *at = t;
                    }
                    _ => self.events.push((t, ev.clone())),
                }
                let mut scalars = p.clone();
                scalars.losses = Vec::new();
                self.progress = Some(scalars);
                if self.loss_points > LOSS_POINTS {
                    self.thin_losses();
                }
            }
            TrainEvent::Predictions(_) => self.predictions = Some(ev.clone()),
            TrainEvent::FeatureMaps(_) => self.feature_maps = Some(ev.clone()),
            TrainEvent::Message(_) | TrainEvent::Applied(_) => {
                self.log_lines.push_back(self.events.len());
                self.events.push((t, ev.clone()));
                if self.log_lines.len() > LOG_KEPT {
                    if let Some(i) = self.log_lines.pop_front() {
                        // A placeholder keeps the other indices valid.
                        self.events[i].1 = TrainEvent::Phase(self.phase.unwrap_or(Phase::Loading));
                    }
                }
            }
            other => {
                match other {
                    TrainEvent::Phase(p) => self.phase = Some(*p),
                    TrainEvent::Started(info) => self.info = Some((**info).clone()),
                    TrainEvent::EpochEnd(s) => self.epoch = Some((s.epoch, s.test_acc)),
                    _ => {}
                }
                self.events.push((t, other.clone()));
            }
        }
    }

    /// Average every progress's loss points pairwise, halving what is kept.
    fn thin_losses(&mut self) {
        self.loss_points = 0;
        for (_, ev) in &mut self.events {
            if let TrainEvent::Progress(p) = ev {
                p.losses = p
                    .losses
                    .chunks(2)
                    .map(|c| {
                        let n = c.len() as f64;
                        let x = c.iter().map(|q| q.0).sum::<f64>() / n;
                        let y = c.iter().map(|q| f64::from(q.1)).sum::<f64>() / n;
                        (x, y as f32)
                    })
                    .collect();
                self.loss_points += p.losses.len();
            }
        }
    }
}

/// How a client leaves the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// Its terminal went away (an SSH drop, a closed window).
    Lost,
    /// It detached on purpose (`d`).
    Asked,
    /// Its connection closed without a word.
    Closed,
}

/// The run's stored history from before this process, for a resumed run: its finished
/// epochs up to the checkpoint's, and its losses before this process's first.
#[derive(Debug, Clone)]
pub struct Earlier {
    pub run: StoredRun,
    pub upto_epoch: usize,
}

struct State {
    clients: Vec<Client>,
    next_id: usize,
    history: History,
    earlier: Option<Earlier>,
    /// The client that asked the run to stop, for the run's record.
    stopped_by: Option<String>,
    /// Clients whose writer has stopped (the connection broke) and whose reader may still
    /// have their last word (a `detach`): (id, name, named), the latest few.
    gone: Vec<(usize, String, bool)>,
}

/// How many clients whose writer stopped are kept for their reader's last word.
const GONE_KEPT: usize = 16;

/// The live run's event hub (see the module's header). Cheap to clone: every clone is
/// the same hub.
#[derive(Clone)]
pub struct Hub {
    state: Arc<Mutex<State>>,
    /// When the run's process began serving: the run's clock.
    began: std::time::Instant,
    commands: Sender<Command>,
    /// The run's pid and directory, for `hello`.
    about: Arc<Value>,
}

/// The hub's end that the trainer sends into: the run's own consumer first, then the hub.
pub struct HubSink {
    local: ChannelSink,
    hub: Hub,
}

impl Sink for HubSink {
    fn send(&mut self, ev: TrainEvent) -> bool {
        self.hub.publish(&ev);
        self.local.send(ev)
    }
}

impl Hub {
    /// A hub forwarding clients' commands to `commands`, whose history starts with
    /// `earlier` (a resumed run's stored epochs), and the sink the trainer sends into,
    /// which passes every event to `local` (the run's own consumer) too. `about` is said
    /// in every `hello` (the run's directory, the process).
    pub fn new(
        local: ChannelSink,
        commands: Sender<Command>,
        earlier: Option<Earlier>,
        about: Value,
    ) -> (Hub, HubSink) {
        let hub = Hub {
            began: std::time::Instant::now(),
            state: Arc::new(Mutex::new(State {
                clients: Vec::new(),
                next_id: 1,
                history: History::default(),
                earlier,
                stopped_by: None,
                gone: Vec::new(),
            })),
            commands,
            about: Arc::new(about),
        };
        let sink = HubSink {
            local,
            hub: hub.clone(),
        };
        (hub, sink)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An event from the trainer: into the history and to every client; a client that has
    /// fallen behind is dropped.
    fn publish(&self, ev: &TrainEvent) {
        let t = self.began.elapsed().as_secs_f64();
        let mut st = self.lock();
        st.history.push(t, ev);
        if st.clients.is_empty() {
            return;
        }
        if let TrainEvent::Progress(p) = ev {
            for c in &st.clients {
                let mut pending = c.progress.lock().unwrap_or_else(|e| e.into_inner());
                match pending.as_mut() {
                    Some(q) => q.merge(p.clone()),
                    None => *pending = Some(p.clone()),
                }
            }
            return;
        }
        let line: Line = wire::stamped(ev, Some(t)).to_string().into();
        let maps_for = match ev {
            TrainEvent::FeatureMaps(f) => Some(f.index),
            _ => None,
        };
        let mut asks = Vec::new();
        st.clients.retain(|c| {
            // Feature maps of another image than the client asked for: asked again for it.
            if let (Some(got), Some(want)) = (maps_for, c.wants_maps) {
                if got != want {
                    asks.push(want);
                    return true;
                }
            }
            c.lines.try_send(line.clone()).is_ok()
        });
        asks.sort_unstable();
        asks.dedup();
        for index in asks {
            let _ = self.commands.send(Command::FeatureMaps { index });
        }
    }

    /// `hello`'s object for a client named `you`, with what the run is doing now.
    fn hello(&self, st: &State, you: &str) -> Value {
        let h = &st.history;
        let mut v = serde_json::json!({
            "event": "hello",
            "protocol": wire::PROTOCOL,
            "program": concat!("fashion-tui ", env!("CARGO_PKG_VERSION")),
            "you": you,
            "clients": st.clients.len() + 1,
            "phase": h.phase,
            "epoch": h.progress.as_ref().map(|p| p.epoch),
            "batch": h.progress.as_ref().map(|p| p.batch),
            "batches": h.progress.as_ref().map(|p| p.batches),
            "epochs": h.info.as_ref().map(|i| i.epochs),
            "epochs_done": h.epoch.map(|e| e.0),
            "test_acc": h.epoch.map(|e| e.1),
            "model": h.info.as_ref().map(|i| i.model.clone()),
            "t": self.began.elapsed().as_secs_f64(),
        });
        if let (Some(m), Some(about)) = (v.as_object_mut(), self.about.as_object()) {
            m.extend(about.clone());
        }
        v
    }

    /// A new client: its `hello` and the history (then the live marker) to send first,
    /// and its feed of what follows. Taken under one lock, so nothing falls between.
    pub fn attach(&self) -> (usize, Vec<Line>, Feed) {
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        let name = format!("terminal {id}");
        let mut first: Vec<Line> = vec![self.hello(&st, &name).to_string().into()];
        for (t, ev) in replay(&st.history, st.earlier.as_ref()) {
            first.push(wire::stamped(&ev, t).to_string().into());
        }
        first.push(r#"{"event":"live"}"#.into());
        let (tx, rx) = flume::bounded(CLIENT_QUEUE);
        let progress = Arc::new(Mutex::new(None));
        st.clients.push(Client {
            id,
            name,
            named: false,
            read_only: false,
            lines: tx,
            progress: progress.clone(),
            wants_maps: None,
        });
        (
            id,
            first,
            Feed {
                lines: rx,
                progress,
            },
        )
    }

    /// The client `id`'s writer stopped (it left, or its connection broke): it gets no
    /// more lines. Its name is kept a while, for a `detach` its reader may still hand to
    /// [`Hub::leave`] (a terminal that hangs up says so and closes at once, and the broken
    /// write can come first).
    pub fn detach(&self, id: usize) {
        let mut st = self.lock();
        if let Some(i) = st.clients.iter().position(|c| c.id == id) {
            let c = st.clients.remove(i);
            st.gone.push((c.id, c.name, c.named));
            let extra = st.gone.len().saturating_sub(GONE_KEPT);
            st.gone.drain(..extra);
        }
    }

    /// The client `id` says who it is, and whether it only watches.
    pub fn name(&self, id: usize, name: &str, read_only: bool) {
        if let Some(c) = self.lock().clients.iter_mut().find(|c| c.id == id) {
            c.name = format!("{name} (terminal {id})");
            c.named = true;
            c.read_only = read_only;
        }
    }

    /// The client `id` leaves the run training: `lost` when its terminal went away,
    /// `asked` when it detached on purpose, else it closed without a word. A dashboard's
    /// leaving is said in the Log (a lost one in the run's record too).
    pub fn leave(&self, id: usize, how: Leaving) {
        let (who, named) = {
            let mut st = self.lock();
            if let Some(i) = st.clients.iter().position(|c| c.id == id) {
                let c = st.clients.remove(i);
                (c.name, c.named)
            } else if let Some(i) = st.gone.iter().position(|g| g.0 == id) {
                let (_, name, named) = st.gone.remove(i);
                (name, named)
            } else {
                return;
            }
        };
        let at = crate::store::run_record::now_text();
        let cmd = match how {
            Leaving::Lost => Command::Detached(format!(
                "{at}: the terminal of {who} went away; the run trains on detached"
            )),
            Leaving::Asked => Command::Note(format!("{who} detached; the run trains on")),
            Leaving::Closed if named => Command::Note(format!("{who} left")),
            Leaving::Closed => return,
        };
        let _ = self.commands.send(cmd);
    }

    /// The client that asked the run to stop, if one did.
    pub fn stopped_by(&self) -> Option<String> {
        self.lock().stopped_by.clone()
    }

    /// A command from client `id`: said in every terminal's Log (who sent what), then
    /// passed to the trainer.
    pub fn command(&self, id: usize, cmd: Command) {
        let who = {
            let mut st = self.lock();
            let Some(c) = st.clients.iter_mut().find(|c| c.id == id) else {
                return;
            };
            if let Command::FeatureMaps { index } = cmd {
                c.wants_maps = Some(index);
            } else if c.read_only {
                return;
            }
            let name = c.name.clone();
            if cmd == Command::Stop {
                st.stopped_by = Some(name.clone());
            }
            name
        };
        let what = match &cmd {
            Command::Pause => Some("pause".to_string()),
            Command::Resume => Some("resume".to_string()),
            Command::Stop => Some("stop the training".to_string()),
            Command::Checkpoint => Some("checkpoint".to_string()),
            Command::Set(s) => Some(format!("{} → {s}", s.name())),
            Command::FeatureMaps { .. } | Command::Note(_) | Command::Detached(_) => None,
        };
        // Through the trainer, so that every consumer (the run's own log too) hears it,
        // just before what it did.
        if let Some(what) = what {
            let _ = self
                .commands
                .send(Command::Note(format!("{who} asks: {what}")));
        }
        let _ = self.commands.send(cmd);
    }

    /// The run's process ends with exit `code` (its report written into `report`):
    /// every client is told, and let go.
    pub fn close(&self, code: i32, report: Option<&str>) {
        let mut st = self.lock();
        let line: Line = serde_json::json!({"event": "exit", "code": code, "report": report})
            .to_string()
            .into();
        for c in &st.clients {
            let _ = c.lines.try_send(line.clone());
        }
        st.clients.clear();
    }

    /// How many clients are attached.
    pub fn clients(&self) -> usize {
        self.lock().clients.len()
    }
}

/// The events a client attaching now is sent: the run's history in order, a resumed
/// run's stored epochs right after its start, then the latest predictions and feature
/// maps.
fn replay(h: &History, earlier: Option<&Earlier>) -> Vec<(Option<f64>, TrainEvent)> {
    let mut out = Vec::with_capacity(h.events.len() + 4);
    for (t, ev) in &h.events {
        out.push((Some(*t), ev.clone()));
        if let (TrainEvent::Started(_), Some(e)) = (ev, earlier) {
            let first_live = h.events.iter().find_map(|(_, e)| match e {
                TrainEvent::Progress(p) => p.losses.first().map(|l| l.0),
                _ => None,
            });
            let stored = e
                .run
                .history(e.upto_epoch, first_live.unwrap_or(f64::INFINITY));
            out.extend(stored.into_iter().map(|ev| (None, ev)));
        }
    }
    out.extend(h.predictions.clone().map(|ev| (None, ev)));
    out.extend(h.feature_maps.clone().map(|ev| (None, ev)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixtures;

    /// A hub whose run's own consumer drains its events as it goes (as the headless
    /// printer does).
    fn hub() -> (Hub, HubSink, flume::Receiver<Command>) {
        let (local, rx) = ChannelSink::new();
        std::thread::spawn(move || while rx.events.recv().is_ok() {});
        let (tx, commands) = flume::unbounded();
        let (hub, sink) = Hub::new(local, tx, None, serde_json::json!({"pid": 1}));
        (hub, sink, commands)
    }

    #[test]
    fn a_late_client_gets_the_history_then_what_follows() {
        let (hub, mut sink, _cmds) = hub();
        for (_, ev) in fixtures::script().into_iter().take(40) {
            sink.send(ev);
        }
        let (id, first, feed) = hub.attach();
        let parse = |l: &str| wire::from_run(l).unwrap();
        assert!(matches!(parse(&first[0]), wire::FromRun::Hello(_)));
        assert_eq!(parse(first.last().unwrap()), wire::FromRun::Live);
        assert!(first
            .iter()
            .any(|l| matches!(parse(l), wire::FromRun::Event(TrainEvent::Started(_), _))));
        sink.send(TrainEvent::Message("after".into()));
        assert!(matches!(
            parse(&feed.lines.try_recv().unwrap()),
            wire::FromRun::Event(TrainEvent::Message(m), Some(_)) if m == "after"
        ));
        hub.detach(id);
        assert_eq!(hub.clients(), 0);
    }

    #[test]
    fn a_client_that_falls_behind_is_dropped_and_the_trainer_never_waits() {
        let (hub, mut sink, _cmds) = hub();
        let (_id, _first, feed) = hub.attach();
        for i in 0..CLIENT_QUEUE + 10 {
            assert!(sink.send(TrainEvent::Message(format!("{i}"))));
        }
        assert_eq!(hub.clients(), 0, "dropped once its queue was full");
        assert_eq!(feed.lines.len(), CLIENT_QUEUE);
        // Progress to a stalled client is merged, not queued.
        let (_id, _first, feed) = hub.attach();
        for b in 0..10_000 {
            sink.send(TrainEvent::Progress(Progress {
                batch: b,
                losses: vec![(b as f64, 1.0)],
                ..Progress::default()
            }));
        }
        let pending = feed.progress.lock().unwrap().take().unwrap();
        assert_eq!(pending.batch, 9_999);
        assert!(pending.losses.len() <= Progress::MAX_POINTS);
    }

    #[test]
    fn commands_are_named_for_the_log_and_passed_on() {
        let (hub, _sink, cmds) = hub();
        let (id, _first, _feed) = hub.attach();
        hub.name(id, "pts/3", false);
        hub.command(id, Command::Pause);
        assert_eq!(
            cmds.try_recv().unwrap(),
            Command::Note("pts/3 (terminal 1) asks: pause".into())
        );
        assert_eq!(cmds.try_recv().unwrap(), Command::Pause);
        hub.command(id, Command::Stop);
        assert_eq!(hub.stopped_by().as_deref(), Some("pts/3 (terminal 1)"));
    }

    #[test]
    fn a_watcher_may_ask_for_feature_maps_and_nothing_else() {
        let (hub, _sink, cmds) = hub();
        let (id, _first, _feed) = hub.attach();
        hub.name(id, "pts/4", true);
        for c in [Command::Pause, Command::Stop, Command::Checkpoint] {
            hub.command(id, c);
        }
        hub.command(id, Command::FeatureMaps { index: 3 });
        assert_eq!(cmds.try_recv().unwrap(), Command::FeatureMaps { index: 3 });
        assert!(cmds.try_recv().is_err());
        assert_eq!(hub.stopped_by(), None);
    }

    #[test]
    fn a_lost_terminal_is_recorded_even_when_its_broken_write_came_first() {
        let (hub, _sink, cmds) = hub();
        let (a, _, _fa) = hub.attach();
        hub.name(a, "pts/3", false);
        // The terminal hung up: its client said `detach` (lost) and closed; the server's
        // writer saw the broken connection before its reader read the word.
        hub.detach(a);
        hub.leave(a, Leaving::Lost);
        let Command::Detached(text) = cmds.try_recv().unwrap() else {
            panic!("a lost terminal is recorded");
        };
        assert!(text.contains("pts/3 (terminal 1) went away"), "{text}");
        // Once only.
        hub.leave(a, Leaving::Lost);
        assert!(cmds.try_recv().is_err());
    }

    #[test]
    fn leaving_is_said_as_it_happened() {
        let (hub, _sink, cmds) = hub();
        let (a, _, _fa) = hub.attach();
        let (b, _, _fb) = hub.attach();
        let (c, _, _fc) = hub.attach();
        hub.name(a, "pts/1", false);
        hub.name(b, "pts/2", false);
        hub.leave(a, Leaving::Asked);
        assert_eq!(
            cmds.try_recv().unwrap(),
            Command::Note("pts/1 (terminal 1) detached; the run trains on".into())
        );
        hub.leave(b, Leaving::Lost);
        let Command::Detached(text) = cmds.try_recv().unwrap() else {
            panic!("a lost terminal is recorded");
        };
        assert!(
            text.ends_with(
                "the terminal of pts/2 (terminal 2) went away; the run trains on detached"
            ),
            "{text}"
        );
        // A script that never said who it is comes and goes unannounced.
        hub.leave(c, Leaving::Closed);
        assert!(cmds.try_recv().is_err());
        assert_eq!(hub.clients(), 0);
    }
}

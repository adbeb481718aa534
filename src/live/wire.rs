//! The live run's protocol: JSON lines, one object each, over the run's Unix socket.
//!
//! The run says, each line with its `"event"`:
//!
//! - `hello` first: `{"event":"hello","protocol":1,"run":…,"pid":…,"you":"terminal 3",…}`;
//! - then the run's history as the events the trainer sent, and `{"event":"live"}` where
//!   the history ends and live events begin;
//! - the events as they come: the same objects `train --json` prints for an epoch
//!   (`"epoch"`), an evaluation (`"test"`) and the end (`"done"`), and `message`,
//!   `applied`, `phase`, `started`, `progress`, `planned`, `predictions`, `feature_maps`,
//!   `changed`, `saved`, `failed`;
//! - `{"event":"bye","reason":…}` before the run closes a connection of its own accord,
//!   and `{"event":"exit","code":N}` when the run's process is about to exit.
//!
//! A client may say, each line with its `"cmd"`: `hello` (`"name"`: what the Log calls
//! this terminal), `pause`, `resume`, `stop`, `checkpoint`, `set` (`"key"`, `"value"`: a
//! live setting, checked as the editor checks it), `feature_maps` (`"index"`: a test
//! image), `detach`. A line that is not one of these, or longer than [`MAX_LINE`] bytes,
//! closes that connection; the run goes on.

use serde_json::{json, Map, Value};

use crate::config::live::LiveSetting;
use crate::events::{json as lines, Command, EpochSummary, Progress, RunSummary, TrainEvent};

/// The protocol's version, said in `hello`; bumped when a line changes meaning.
pub const PROTOCOL: u32 = 1;

/// The longest line a client may send, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// `payload`'s fields (an object) with `"event": name` first.
fn tagged(name: &str, payload: Value) -> Value {
    let mut m = Map::new();
    m.insert("event".into(), json!(name));
    if let Value::Object(fields) = payload {
        m.extend(fields);
    }
    Value::Object(m)
}

fn value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// One event as its line's object.
pub fn event(ev: &TrainEvent) -> Value {
    match ev {
        TrainEvent::Message(t) => json!({"event": "message", "text": t}),
        TrainEvent::Applied(t) => json!({"event": "applied", "text": t}),
        TrainEvent::Phase(p) => json!({"event": "phase", "phase": p}),
        TrainEvent::Started(info) => tagged("started", value(info)),
        TrainEvent::Progress(p) => tagged("progress", value(p)),
        TrainEvent::EpochEnd(s) => lines::epoch(s),
        TrainEvent::Tested(t) => lines::test(t),
        TrainEvent::Planned(plan) => tagged("planned", value(plan)),
        TrainEvent::Predictions(p) => tagged("predictions", value(p)),
        TrainEvent::FeatureMaps(f) => tagged("feature_maps", value(f)),
        TrainEvent::Changed(c) => tagged("changed", value(c)),
        TrainEvent::Saved { at, why } => json!({"event": "saved", "at": at, "why": why}),
        TrainEvent::Failed(reason) => json!({"event": "failed", "reason": reason}),
        TrainEvent::Done(s) => lines::done(s),
        TrainEvent::Clock(t) => json!({"event": "clock", "t": t}),
        TrainEvent::Device(d) => json!({"event": "device", "device": d}),
        TrainEvent::TestImages(t) => tagged("test_images", value(t)),
    }
}

/// An event's line with the run's time `t` (seconds since its process began) in it.
pub fn stamped(ev: &TrainEvent, t: Option<f64>) -> Value {
    let mut v = event(ev);
    if let (Some(t), Some(m)) = (t, v.as_object_mut()) {
        m.insert("t".into(), json!((t * 1000.0).round() / 1000.0));
    }
    v
}

/// A progress snapshot's line.
pub fn progress(p: &Progress) -> Value {
    tagged("progress", value(p))
}

/// What a line from the run is.
#[derive(Debug, Clone, PartialEq)]
pub enum FromRun {
    Hello(Value),
    /// An event, and the run's time when it happened (when said).
    Event(TrainEvent, Option<f64>),
    /// The history is over: what follows is live.
    Live,
    Bye(String),
    /// The run's process exits with this code, its report written there (if it was).
    Exit {
        code: i32,
        report: Option<String>,
    },
}

/// A line from the run, read back; `Err` says what is wrong with it.
pub fn from_run(line: &str) -> Result<FromRun, String> {
    let mut v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let name = v["event"].as_str().ok_or("no \"event\"")?.to_string();
    let t = v
        .as_object_mut()
        .and_then(|m| m.remove("t"))
        .and_then(|t| t.as_f64());
    let text = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .ok_or(format!("no \"{k}\""))
    };
    // The event's own fields, for a type that knows no "event".
    let parse = |mut v: Value| -> Result<Value, String> {
        if let Some(m) = v.as_object_mut() {
            m.remove("event");
        }
        Ok(v)
    };
    fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
    let ev = match name.as_str() {
        "hello" => return Ok(FromRun::Hello(v)),
        "live" => return Ok(FromRun::Live),
        "bye" => return Ok(FromRun::Bye(text("reason")?)),
        "exit" => {
            return Ok(FromRun::Exit {
                code: v["code"].as_i64().ok_or("no \"code\"")? as i32,
                report: v["report"].as_str().map(String::from),
            })
        }
        "message" => TrainEvent::Message(text("text")?),
        "applied" => TrainEvent::Applied(text("text")?),
        "failed" => TrainEvent::Failed(text("reason")?),
        "phase" => TrainEvent::Phase(typed(v["phase"].take())?),
        "started" => TrainEvent::Started(Box::new(typed(parse(v)?)?)),
        "progress" => TrainEvent::Progress(typed(parse(v)?)?),
        "epoch" => TrainEvent::EpochEnd(Box::new(epoch(&v)?)),
        "test" => TrainEvent::Tested(Box::new(typed(parse(v)?)?)),
        "planned" => TrainEvent::Planned(Box::new(typed(parse(v)?)?)),
        "predictions" => TrainEvent::Predictions(Box::new(typed(parse(v)?)?)),
        "feature_maps" => TrainEvent::FeatureMaps(Box::new(typed(parse(v)?)?)),
        "changed" => TrainEvent::Changed(typed(parse(v)?)?),
        "saved" => TrainEvent::Saved {
            at: v["at"].as_f64().ok_or("no \"at\"")?,
            why: typed(v["why"].take())?,
        },
        "done" => TrainEvent::Done(Box::new(done(&v)?)),
        "clock" => TrainEvent::Clock(v["t"].as_f64().ok_or("no \"t\"")?),
        "device" => TrainEvent::Device(text("device")?),
        "test_images" => TrainEvent::TestImages(Box::new(typed(parse(v)?)?)),
        other => return Err(format!("unknown event {other:?}")),
    };
    Ok(FromRun::Event(ev, t))
}

/// An epoch's line (as `metrics.jsonl` holds it) back into its summary.
fn epoch(v: &Value) -> Result<EpochSummary, String> {
    crate::store::metrics::parse(&v.to_string()).ok_or_else(|| "a malformed epoch".to_string())
}

/// The end's line back into the run's summary.
fn done(v: &Value) -> Result<RunSummary, String> {
    Ok(RunSummary {
        epochs_completed: v["epochs_completed"]
            .as_u64()
            .ok_or("no epochs_completed")? as usize,
        test_acc: v["test_acc"].as_f64(),
        model_path: v["model"].as_str().map(Into::into),
        run_dir: v["run_dir"].as_str().ok_or("no run_dir")?.into(),
        stopped_early: v["stopped_early"].as_bool().unwrap_or(false),
        seconds: v["seconds"].as_f64().unwrap_or(0.0),
    })
}

/// What a client asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Who the client is, for the Log.
    Hello {
        name: String,
        read_only: bool,
    },
    Command(Command),
    /// The client leaves; the run goes on. `lost`: its terminal went away (an SSH drop).
    Detach {
        lost: bool,
    },
}

/// A client's line as its request; `Err` (the connection is then closed) says what is
/// wrong with it. A setting's value is checked here as the editor checks a typed one.
pub fn request(line: &str) -> Result<Request, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not an object")?;
    let cmd = obj.get("cmd").and_then(Value::as_str).ok_or("no \"cmd\"")?;
    let allowed: &[&str] = match cmd {
        "hello" => &["cmd", "name", "protocol", "read_only"],
        "set" => &["cmd", "key", "value"],
        "feature_maps" => &["cmd", "index"],
        "detach" => &["cmd", "lost"],
        _ => &["cmd"],
    };
    if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("{cmd}: unknown field {extra:?}"));
    }
    Ok(match cmd {
        "hello" => Request::Hello {
            // Said in every terminal's Log: no control characters, not too long.
            name: obj
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("a client")
                .chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect(),
            read_only: match obj.get("read_only") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err("hello: \"read_only\" is true or false".into()),
            },
        },
        "pause" => Request::Command(Command::Pause),
        "resume" => Request::Command(Command::Resume),
        "stop" => Request::Command(Command::Stop),
        "checkpoint" => Request::Command(Command::Checkpoint),
        "detach" => Request::Detach {
            lost: match obj.get("lost") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err("detach: \"lost\" is true or false".into()),
            },
        },
        "feature_maps" => {
            let index = v["index"]
                .as_u64()
                .ok_or("feature_maps: no whole \"index\"")?;
            Request::Command(Command::FeatureMaps {
                index: index as usize,
            })
        }
        "set" => {
            let setting: LiveSetting =
                serde_json::from_value(json!({"key": v["key"], "value": v["value"]}))
                    .map_err(|e| format!("set: {e}"))?;
            Request::Command(Command::Set(setting))
        }
        other => return Err(format!("unknown command {other:?}")),
    })
}

/// A request's line, as a client sends it (`None` for what only the run itself says).
pub fn request_line(r: &Request) -> Option<Value> {
    Some(match r {
        Request::Hello { name, read_only } => json!({
            "cmd": "hello", "name": name, "protocol": PROTOCOL, "read_only": read_only
        }),
        Request::Detach { lost: false } => json!({"cmd": "detach"}),
        Request::Detach { lost: true } => json!({"cmd": "detach", "lost": true}),
        Request::Command(c) => match c {
            Command::Pause => json!({"cmd": "pause"}),
            Command::Resume => json!({"cmd": "resume"}),
            Command::Stop => json!({"cmd": "stop"}),
            Command::Checkpoint => json!({"cmd": "checkpoint"}),
            Command::FeatureMaps { index } => json!({"cmd": "feature_maps", "index": index}),
            Command::Set(s) => {
                let mut v = value(s);
                v["cmd"] = json!("set");
                v
            }
            Command::Note(_) | Command::Detached(_) => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{FeatureMaps, LayerMaps, Phase, Prediction, Predictions, SaveReason};

    #[test]
    fn every_event_reads_back_as_itself() {
        let pixels = Box::new(std::array::from_fn(|i| (i % 251) as u8));
        let epoch = crate::ui::fixtures::epoch_summary(2);
        let events = vec![
            TrainEvent::Message("loading \u{1b}[2J".into()),
            TrainEvent::Applied("paused".into()),
            TrainEvent::Phase(Phase::Paused),
            TrainEvent::Started(Box::new(crate::ui::fixtures::run_info())),
            TrainEvent::Progress(
                crate::ui::fixtures::progress(0, 1, 10, &mut crate::ui::fixtures::Rng::new(3))
                    .remove(0),
            ),
            TrainEvent::EpochEnd(Box::new(epoch)),
            TrainEvent::Predictions(Box::new(crate::ui::fixtures::predictions(2))),
            TrainEvent::FeatureMaps(Box::new(crate::ui::fixtures::feature_maps(7, 1.5))),
            TrainEvent::Predictions(Box::new(Predictions {
                epoch: 2,
                sample: vec![Prediction {
                    index: 7,
                    pixels: pixels.clone(),
                    label: 3,
                    predicted: 4,
                    confidence: 0.5,
                }],
                mistakes: vec![],
                outcomes: crate::events::Outcomes {
                    predicted: vec![4, 0],
                    confidence: vec![0.5, 0.25],
                },
            })),
            TrainEvent::FeatureMaps(Box::new(FeatureMaps {
                index: 7,
                label: 3,
                predicted: 4,
                pixels,
                layers: vec![LayerMaps {
                    name: "conv1".into(),
                    channels: 1,
                    height: 2,
                    width: 2,
                    values: vec![0.5, 1.0, -2.0, 0.25],
                    min: -2.0,
                    max: 1.0,
                }],
                at_epoch: 1.5,
                probabilities: vec![0.5; 10],
            })),
            TrainEvent::Changed(crate::events::Change {
                setting: LiveSetting::Lr(0.002),
                from: "0.001".into(),
                at_epoch: 1.25,
            }),
            TrainEvent::Saved {
                at: 1.0,
                why: SaveReason::Requested,
            },
            TrainEvent::Failed("disk full".into()),
            TrainEvent::Device("cpu · 1 thread".into()),
            TrainEvent::TestImages(Box::new(crate::events::TestImages {
                labels: vec![3, 9],
                pixels: (0..2 * 784).map(|i| (i % 256) as u8).collect(),
            })),
        ];
        for ev in events {
            let line = event(&ev).to_string();
            assert!(!line.contains('\u{1b}'), "escaped on the wire: {line}");
            assert_eq!(
                from_run(&line),
                Ok(FromRun::Event(ev.clone(), None)),
                "{line}"
            );
        }
    }

    #[test]
    fn requests_are_checked_and_anything_else_refused() {
        for c in [
            Command::Pause,
            Command::Resume,
            Command::Stop,
            Command::Checkpoint,
            Command::FeatureMaps { index: 3 },
            Command::Set(LiveSetting::Epochs(12)),
        ] {
            let r = Request::Command(c);
            assert_eq!(request(&request_line(&r).unwrap().to_string()), Ok(r));
        }
        assert_eq!(
            request(r#"{"cmd":"hello","name":"pts/3"}"#),
            Ok(Request::Hello {
                name: "pts/3".into(),
                read_only: false
            })
        );
        assert_eq!(
            request(r#"{"cmd":"hello","name":"pts/\u001b[2J3","read_only":true}"#),
            Ok(Request::Hello {
                name: "pts/[2J3".into(),
                read_only: true
            })
        );
        for bad in [
            "garbage",
            "[]",
            r#"{"cmd":"rm -rf"}"#,
            r#"{"cmd":"pause","extra":1}"#,
            r#"{"cmd":"set","key":"training.lr","value":-1}"#,
            r#"{"cmd":"set","key":"training.batch_size","value":8}"#,
            r#"{"cmd":"feature_maps","index":-1}"#,
        ] {
            assert!(request(bad).is_err(), "{bad}");
        }
    }
}

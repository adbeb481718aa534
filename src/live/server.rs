//! Serving a live run on its socket: a thread accepts connections (only from the run's
//! owner), and each client gets a writer (its `hello`, the history, then events and
//! progress at most [`PROGRESS_EVERY`] apart) and a reader (its requests, checked, passed
//! to the hub). A client that sends something malformed, oversized or unknown is told why
//! and closed; one that stalls is dropped by the hub when its queue is full and closed
//! when a write has waited [`WRITE_TIMEOUT`]. None of it ever waits the trainer.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::hub::{Feed, Hub, Leaving, Line};
use super::socket::{self, peer_uid};
use super::wire::{self, Request};
use crate::files::Dir;

/// Progress goes to a client at most this often: the dashboard's default 10 frames a
/// second.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// A write to a client that takes longer than this closes it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The run's socket, served until [`Server::finish`] (or the process's end).
pub struct Server {
    hub: Hub,
    run: Dir,
    dir: Dir,
    writers: Arc<AtomicUsize>,
}

/// Serve `hub` on the socket in `run`, accepting only connections of the uid `owner`.
pub fn serve(run: &Dir, hub: Hub, owner: u32) -> Result<Server> {
    let (listener, dir) = socket::listen(run)?;
    let writers = Arc::new(AtomicUsize::new(0));
    let (h, w) = (hub.clone(), writers.clone());
    std::thread::Builder::new()
        .name("live-accept".into())
        .spawn(move || accept(listener, h, w, owner))?;
    Ok(Server {
        hub,
        run: run.try_clone()?,
        dir,
        writers,
    })
}

impl Server {
    /// The run ends with exit code `code` (and wrote its report into `report`, if it did):
    /// every client is told, the writers are given a moment to say it, and the socket is
    /// removed.
    pub fn finish(self, code: i32, report: Option<&str>) {
        let _ = self.dir.remove(socket::NAME);
        self.run.remove_dir(socket::DIR);
        self.hub.close(code, report);
        let start = Instant::now();
        while self.writers.load(Ordering::SeqCst) > 0 && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn accept(listener: UnixListener, hub: Hub, writers: Arc<AtomicUsize>, owner: u32) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        match peer_uid(&stream) {
            Ok(uid) if uid == owner => {}
            Ok(uid) => {
                refuse(
                    stream,
                    &format!("only the run's owner (uid {owner}) may attach; you are uid {uid}"),
                );
                continue;
            }
            Err(_) => continue,
        }
        let _ = start_client(stream, &hub, &writers);
    }
}

/// Say why to a connection that is not served, and close it.
fn refuse(mut stream: UnixStream, reason: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    // One write: a client that reads once gets the whole line.
    let line = format!("{}\n", json!({"event": "bye", "reason": reason}));
    let _ = stream.write_all(line.as_bytes());
}

/// One client's two threads.
fn start_client(stream: UnixStream, hub: &Hub, writers: &Arc<AtomicUsize>) -> Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let reader = stream.try_clone()?;
    let out = Arc::new(Mutex::new(stream));
    let (id, first, feed) = hub.attach();
    let why = Arc::new(Mutex::new(None::<String>));
    writers.fetch_add(1, Ordering::SeqCst);
    let (o, w, n) = (out.clone(), why.clone(), writers.clone());
    let hub_w = hub.clone();
    std::thread::Builder::new()
        .name("live-write".into())
        .spawn(move || {
            write_loop(&o, first, feed, &w);
            hub_w.detach(id);
            n.fetch_sub(1, Ordering::SeqCst);
        })?;
    let h = hub.clone();
    std::thread::Builder::new()
        .name("live-read".into())
        .spawn(move || read_loop(reader, &h, id, &why, &out))?;
    Ok(())
}

/// `line` and a new line to the client; `false` when it cannot be written.
fn send(out: &Mutex<UnixStream>, line: &str) -> bool {
    let mut s = out.lock().unwrap_or_else(|e| e.into_inner());
    s.write_all(line.as_bytes())
        .and_then(|()| s.write_all(b"\n"))
        .is_ok()
}

/// The client's `first` lines, then its feed until it is dropped or closed; a last `bye`
/// when the run did not end (why, if the reader knows).
fn write_loop(out: &Mutex<UnixStream>, first: Vec<Line>, feed: Feed, why: &Mutex<Option<String>>) {
    for line in &first {
        if !send(out, line) {
            return;
        }
    }
    let mut last_progress = Instant::now();
    loop {
        match feed.lines.recv_timeout(PROGRESS_EVERY) {
            Ok(line) => {
                if !send(out, &line) {
                    return;
                }
                // The run's last line (keys are sorted: "code" comes first). Inside a
                // JSON string a quote is escaped, so only the key itself matches.
                if line.contains(r#""event":"exit""#) {
                    return;
                }
            }
            Err(flume::RecvTimeoutError::Timeout) => {}
            Err(flume::RecvTimeoutError::Disconnected) => {
                let reason = why.lock().ok().and_then(|w| w.clone()).unwrap_or_else(|| {
                    "this terminal fell behind the run; attach again to catch up".into()
                });
                send(out, &json!({"event": "bye", "reason": reason}).to_string());
                let s = out.lock().unwrap_or_else(|e| e.into_inner());
                let _ = s.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            let pending = feed.progress.lock().ok().and_then(|mut p| p.take());
            if let Some(p) = pending {
                if !send(out, &wire::progress(&p).to_string()) {
                    return;
                }
            }
        }
    }
}

/// The client's requests, each checked; the first that is not one ends the connection.
fn read_loop(
    stream: UnixStream,
    hub: &Hub,
    id: usize,
    why: &Mutex<Option<String>>,
    out: &Mutex<UnixStream>,
) {
    let mut reader = BufReader::new(stream);
    let close = |reason: Option<String>, how: Leaving| {
        if let Ok(mut w) = why.lock() {
            *w = reason;
        }
        hub.leave(id, how);
    };
    loop {
        let mut buf = Vec::new();
        let read = (&mut reader)
            .take(wire::MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf);
        match read {
            Ok(0) | Err(_) => return close(None, Leaving::Closed),
            Ok(_) if !buf.ends_with(b"\n") && buf.len() > wire::MAX_LINE => {
                let reason = format!("a line longer than {} bytes", wire::MAX_LINE);
                return close(Some(reason), Leaving::Closed);
            }
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        if line.trim().is_empty() {
            continue;
        }
        match wire::request(line.trim_end()) {
            Ok(Request::Hello { name, read_only }) => hub.name(id, &name, read_only),
            Ok(Request::Command(c)) => hub.command(id, c),
            Ok(Request::Detach { lost }) => {
                let how = if lost { Leaving::Lost } else { Leaving::Asked };
                return close(Some("detached".into()), how);
            }
            Err(e) => {
                let shown: String = e.chars().take(200).collect();
                close(Some(format!("refused: {shown}")), Leaving::Closed);
                // The writer says bye and closes; a client that never reads is closed
                // here too.
                let s = out.lock().unwrap_or_else(|e| e.into_inner());
                let _ = s.shutdown(std::net::Shutdown::Read);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_line_is_a_client_s_last_and_no_bye_follows_it() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let (tx, rx) = flume::bounded(8);
        let feed = Feed {
            lines: rx,
            progress: Arc::new(Mutex::new(None)),
        };
        // As the hub writes it: keys sorted, "code" before "event".
        let exit: Line = json!({"event": "exit", "code": 0, "report": null})
            .to_string()
            .into();
        assert!(exit.starts_with(r#"{"code""#));
        tx.send(r#"{"event":"message","text":"say \"event\":\"exit\""}"#.into())
            .unwrap();
        tx.send(exit).unwrap();
        drop(tx);
        write_loop(&Mutex::new(ours), Vec::new(), feed, &Mutex::new(None));
        let mut said = String::new();
        BufReader::new(theirs).read_to_string(&mut said).unwrap();
        let lines: Vec<&str> = said.lines().collect();
        assert_eq!(lines.len(), 2, "{said}");
        assert!(lines[1].contains(r#""event":"exit""#), "{said}");
    }
}

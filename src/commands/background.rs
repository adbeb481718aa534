//! A run's own process in the background: [`fork`] splits the command in two before any
//! thread is started. The child becomes the run's process: a session of its own (no
//! terminal can hang it up), stdin from `/dev/null`, stdout and stderr appended to the
//! run's `train.log`; it tells the parent over a pipe when it listens on its socket and
//! when the run is up (or why it failed). The parent waits for that, then attaches a
//! dashboard or says how to.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::error::UsageError;
use crate::files::Dir;

pub use crate::store::run_dir::LOG_FILE;

/// Which side of the fork this is.
pub enum Side {
    /// The command the user started: it waits for the run.
    Parent(Waiting),
    /// The run's process.
    Child(Reporter),
}

/// The parent's end of the pipe.
pub struct Waiting {
    lines: BufReader<File>,
    pub pid: i32,
}

/// The child's end of the pipe: how the run's process tells the parent how it goes.
pub struct Reporter {
    pipe: Option<File>,
}

/// What the run's process said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// It listens on its socket.
    Listening,
    /// The run is up: the data is loaded and training has begun.
    Up,
    /// It failed before it was up, and exits with `code`.
    Failed { code: i32, reason: String },
}

/// Split into the run's process and the waiting command. `run` is the run directory
/// (already held by this process: the lock passes to the child).
pub fn fork(run: &Path) -> Result<Side> {
    // A fork copies only the thread that calls it: with another thread running (holding a
    // lock, say), the child could hang. None is started before this; should that change,
    // fail here instead.
    let threads = std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count());
    if threads > 1 {
        bail!("internal error: {threads} threads before the run's process was forked");
    }
    let mut fds = [0; 2];
    // SAFETY: a two-element array for pipe2.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot make a pipe");
    }
    // SAFETY: both descriptors were just made and are ours.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let log = Dir::open(run)?.append(LOG_FILE)?;
    // SAFETY: no thread has been started in this process yet (the command forks first),
    // so the child is a whole copy of it.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(std::io::Error::last_os_error()).context("cannot fork the run's process"),
        0 => {
            drop(read);
            become_background(&log)?;
            Ok(Side::Child(Reporter {
                pipe: Some(File::from(write)),
            }))
        }
        pid => {
            drop(write);
            Ok(Side::Parent(Waiting {
                lines: BufReader::new(File::from(read)),
                pid,
            }))
        }
    }
}

/// The child: a session of its own, no terminal, its output into `log`.
fn become_background(log: &File) -> Result<()> {
    // SAFETY: setsid, open and dup2 on descriptors we own; the child has one thread.
    unsafe {
        if libc::setsid() < 0 {
            return Err(std::io::Error::last_os_error()).context("cannot leave the terminal");
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
        libc::dup2(log.as_raw_fd(), 1);
        libc::dup2(log.as_raw_fd(), 2);
    }
    Ok(())
}

impl Reporter {
    fn say(&mut self, line: &str) {
        if let Some(p) = self.pipe.as_mut() {
            let _ = writeln!(p, "{line}");
        }
    }

    /// The socket listens.
    pub fn listening(&mut self) {
        self.say("listening");
    }

    /// The run is up; nothing more will be said.
    pub fn up(&mut self) {
        self.say("up");
        self.pipe = None;
    }

    /// The run failed before it was up.
    pub fn failed(&mut self, code: i32, reason: &str) {
        let one_line = reason.replace('\n', " ");
        self.say(&format!("failed {code} {one_line}"));
        self.pipe = None;
    }
}

impl Waiting {
    /// The next thing the run's process says; its end without a word is a failure that
    /// points to its log.
    pub fn next(&mut self, run: &Path) -> Result<Report> {
        let mut line = String::new();
        self.lines
            .read_line(&mut line)
            .context("waiting for the run's process")?;
        let line = line.trim_end();
        if line.is_empty() {
            bail!(
                "the run's process ended before it was up; see {}",
                run.join(LOG_FILE).display()
            );
        }
        Ok(match line {
            "listening" => Report::Listening,
            "up" => Report::Up,
            other => {
                let rest = other.strip_prefix("failed ").unwrap_or(other);
                let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                Report::Failed {
                    code: code.parse().unwrap_or(1),
                    reason: reason.to_string(),
                }
            }
        })
    }

    /// Wait until the run is up (or failed: its error, with its exit code's kind).
    pub fn until_up(&mut self, run: &Path) -> Result<()> {
        loop {
            match self.next(run)? {
                Report::Listening => continue,
                Report::Up => return Ok(()),
                Report::Failed { code: 2, reason } => return Err(UsageError(reason).into()),
                Report::Failed { reason, .. } => bail!("{reason}"),
            }
        }
    }

    /// Wait until the run's socket listens.
    pub fn until_listening(&mut self, run: &Path) -> Result<()> {
        match self.next(run)? {
            Report::Listening | Report::Up => Ok(()),
            Report::Failed { code: 2, reason } => Err(UsageError(reason).into()),
            Report::Failed { reason, .. } => bail!("{reason}"),
        }
    }
}

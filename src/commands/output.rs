//! A command's output on stdout, written one way for every command: a closed pipe
//! (`| head -1`) ends the output quietly ([`Closed`]: the command exits 0, the reader has
//! what it wanted); any other failure to write (`> /dev/full`) is an error said on
//! stderr (exit 1). Never `print!`, which panics on both.
//!
//! What is written is the caller's text as it is (a preview's colours are escapes of
//! ours); the parts of it that came from outside the program are escaped by the caller
//! with [`crate::escape`].

use std::io::{self, Write};

use anyhow::Result;

/// The reader of stdout went away: nothing more to write, and nothing went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct Closed;

/// `text` to stdout, flushed.
pub fn write(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Closed.into()),
        Err(e) => Err(anyhow::Error::from(e).context("cannot write to stdout")),
    }
}

/// `line` and a new line to stdout.
pub fn line(line: &str) -> Result<()> {
    write(&format!("{line}\n"))
}

/// Whether `e` is the reader having closed stdout.
pub fn closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Closed>())
}

//! The live run's Unix socket: `<run>/.live/sock`, in a directory only the run's owner
//! can enter (mode 0700) and itself mode 0600, as OpenSSH's agent and tmux keep theirs;
//! both ends check the other's uid (`SO_PEERCRED`). A path too long for a socket's
//! address (108 bytes) is reached through the directory's handle
//! (`/proc/self/fd/N/sock`). A socket left by a run killed with `kill -9` is removed by
//! the next process that holds the run directory, so it never blocks a start or a resume.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::UsageError;
use crate::files::Dir;

/// The socket's directory inside a run directory.
pub const DIR: &str = crate::store::run_dir::LIVE_DIR;
/// The socket's name in it.
pub const NAME: &str = "sock";
/// The longest path a socket address holds (with its NUL).
const MAX_ADDRESS: usize = 107;

/// This process's effective uid.
pub fn my_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// The uid of the process at the other end of `s`.
pub fn peer_uid(s: &UnixStream) -> io::Result<u32> {
    // SAFETY: a zeroed ucred is a valid out-parameter of its size.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: a valid socket, and the buffer and its length.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// The path to name the socket by: its own when short enough, else through `dir`'s
/// handle.
fn address(dir: &Dir) -> PathBuf {
    let direct = dir.join(NAME);
    if direct.as_os_str().len() <= MAX_ADDRESS {
        direct
    } else {
        PathBuf::from(format!("/proc/self/fd/{}/{NAME}", dir.fd()))
    }
}

/// The socket's directory in `run`, created private to its owner; one that is a link,
/// another user's, or open to others is refused.
fn private_dir(run: &Dir) -> Result<Dir> {
    let dir = run.create_sub(DIR, true)?;
    let (uid, mode) = dir.owner_and_mode()?;
    if uid != my_uid() {
        return Err(UsageError(format!(
            "{} belongs to uid {uid}, not to this user: remove it",
            dir.path().display()
        ))
        .into());
    }
    if mode & 0o077 != 0 {
        dir.set_mode(0o700)?;
    }
    Ok(dir)
}

/// Listen on the run's socket (a stale one removed first); the socket's directory is
/// returned for removing it when the run ends.
pub fn listen(run: &Dir) -> Result<(UnixListener, Dir)> {
    let dir = private_dir(run)?;
    dir.remove(NAME).with_context(|| {
        format!(
            "cannot remove the stale socket {}",
            dir.join(NAME).display()
        )
    })?;
    let listener = UnixListener::bind(address(&dir))
        .with_context(|| format!("cannot listen on {}", dir.join(NAME).display()))?;
    dir.set_mode_of(NAME, 0o600)?;
    Ok((listener, dir))
}

/// Connect to the live run in `run` (a path the user gave): `Ok(None)` when it is not
/// live (no socket, or nobody listening). A socket that another user's process serves is
/// refused, as is one this user cannot reach.
pub fn connect(run: &Path) -> Result<Option<UnixStream>> {
    let run_dir = Dir::open(run)?;
    if !run_dir.has(DIR) {
        return Ok(None);
    }
    let dir = match run_dir.sub(DIR) {
        Ok(d) => d,
        Err(e) if is_denied(&e) => return Err(not_yours(run, &run_dir)),
        Err(e) => return Err(e),
    };
    if !dir.has(NAME) {
        return Ok(None);
    }
    let stream = match UnixStream::connect(address(&dir)) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(not_yours(run, &run_dir))
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot reach {}", dir.join(NAME).display()))
        }
    };
    let server = peer_uid(&stream)?;
    if server != my_uid() {
        return Err(UsageError(format!(
            "the run in {} is served by uid {server}, not by you (uid {}): only the run's \
             owner may attach",
            run.display(),
            my_uid()
        ))
        .into());
    }
    Ok(Some(stream))
}

fn is_denied(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::PermissionDenied)
}

/// The refusal when the socket's directory cannot be entered: another user's run.
fn not_yours(run: &Path, dir: &Dir) -> anyhow::Error {
    let owner = dir
        .owner_and_mode()
        .map_or_else(|_| "?".into(), |(u, _)| u.to_string());
    UsageError(format!(
        "the run in {} belongs to uid {owner}, not to you (uid {}): only the run's owner \
         may attach",
        run.display(),
        my_uid()
    ))
    .into()
}

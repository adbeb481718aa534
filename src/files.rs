//! Files the program reads and writes, opened so that nothing planted gets through.
//!
//! Inside a directory the program keeps (a run's, a report's), every file is reached
//! through the directory's own handle ([`Dir`], `openat`) and never through a final
//! symbolic link (`O_NOFOLLOW`): a `.lock` or `checkpoint/` someone replaced by a link to
//! another file is refused, not written through. Writes are atomic (a temp file created
//! anew, synced, renamed into place, the directory synced); deletions remove the entry
//! itself (`unlinkat`), never what a link points to.
//!
//! Every read checks that the file is a regular one before reading it (opened
//! non-blocking, so a FIFO cannot hang the program) and reads at most a bound fitting what
//! the file should hold: a device file, a FIFO or a runaway file is refused with its name.
//! A path the user gave on the command line is followed as given ([`read_path`]); only
//! what it names must be a regular file within bounds.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::UsageError;

/// Kilobytes, for read bounds.
pub const KB: u64 = 1 << 10;
/// Megabytes, for read bounds.
pub const MB: u64 = 1 << 20;

/// What was found at a path instead of what the program needs there.
#[derive(Debug)]
pub enum Refused {
    /// A symbolic link where the program writes or reads its own file.
    Link(PathBuf),
    /// Something other than a regular file (a FIFO, a device, a directory, a socket).
    NotFile(PathBuf, &'static str),
    /// Something other than a directory where a directory belongs.
    NotDir(PathBuf, &'static str),
    /// A file larger than it can be: `(path, size, bound, what it should hold)`.
    TooLarge(PathBuf, u64, u64, &'static str),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Link(p) => write!(
                f,
                "{} is a symbolic link: fashion-tui does not follow links inside the \
                 directories it keeps (it could write or read someone else's file); \
                 remove the link",
                p.display()
            ),
            Refused::NotFile(p, kind) => {
                write!(f, "{} is {kind}, not a regular file", p.display())
            }
            Refused::NotDir(p, kind) => write!(f, "{} is {kind}, not a directory", p.display()),
            Refused::TooLarge(p, size, bound, what) => write!(
                f,
                "{} is {}, far more than {what} ({} at most): refused",
                p.display(),
                bytes(*size),
                bytes(*bound)
            ),
        }
    }
}

impl From<Refused> for UsageError {
    fn from(r: Refused) -> UsageError {
        UsageError(r.to_string())
    }
}

impl From<Refused> for anyhow::Error {
    fn from(r: Refused) -> anyhow::Error {
        UsageError::from(r).into()
    }
}

/// `n` bytes in words: `512 bytes`, `64 KB`, `200 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 10 * MB => format!("{} MB", n / MB),
        n if n >= 10 * KB => format!("{} KB", n / KB),
        n => format!("{n} bytes"),
    }
}

/// What a file type is, in words, for messages.
fn kind_of(mode: libc::mode_t) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => "a directory",
        libc::S_IFIFO => "a FIFO (named pipe)",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFSOCK => "a socket",
        libc::S_IFLNK => "a symbolic link",
        libc::S_IFREG => "a regular file",
        _ => "not a regular file",
    }
}

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// `fstat` of an open descriptor.
fn stat_fd(fd: i32) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid out-parameter; fd is open for the call.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// Read all of `file` (at most `bound` bytes, else `TooLarge` naming `path`).
fn read_bounded(
    mut file: File,
    path: &Path,
    bound: u64,
    what: &'static str,
) -> anyhow::Result<Vec<u8>> {
    let st = stat_fd(file.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Refused::NotFile(path.to_path_buf(), kind_of(st.st_mode)).into());
    }
    let size = st.st_size.max(0) as u64;
    if size > bound {
        return Err(Refused::TooLarge(path.to_path_buf(), size, bound, what).into());
    }
    let mut out = Vec::with_capacity(size as usize);
    (&mut file).take(bound + 1).read_to_end(&mut out)?;
    if out.len() as u64 > bound {
        // It grew while read.
        return Err(Refused::TooLarge(path.to_path_buf(), out.len() as u64, bound, what).into());
    }
    Ok(out)
}

/// Open `path` for reading without blocking on a FIFO and with `flags` besides.
fn open_read(at: Option<i32>, path: &Path, name: &OsStr, flags: i32) -> io::Result<File> {
    let c = c_name(name)?;
    let all = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | flags;
    // SAFETY: a valid NUL-terminated name; the directory handle, if any, is open.
    let fd = unsafe {
        match at {
            Some(dir) => libc::openat(dir, c.as_ptr(), all),
            None => libc::open(c.as_ptr(), all),
        }
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just opened and own.
    let file = unsafe { File::from_raw_fd(fd) };
    // Blocking reads from here on: the file is checked to be regular before any read.
    // SAFETY: fcntl on our own descriptor.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
    }
    let _ = path;
    Ok(file)
}

/// Read the file at `path`, which the user named (a link there is followed): it must be
/// a regular file of at most `bound` bytes (`what` says what it should hold, for the
/// message). `Ok(None)` when there is nothing at `path`.
pub fn read_path(path: &Path, bound: u64, what: &'static str) -> anyhow::Result<Option<Vec<u8>>> {
    match open_read(None, path, path.as_os_str(), 0) {
        Ok(file) => read_bounded(file, path, bound, what).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::from(e).context(format!("cannot read {}", path.display()))),
    }
}

/// A directory held open: everything in it is reached through this handle and never
/// through a final symbolic link.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Open the directory at `path` (a path the user gave, or the program chose: links
    /// on the way are followed), refusing anything that is not a directory.
    pub fn open(path: &Path) -> anyhow::Result<Dir> {
        let c = c_name(path.as_os_str())?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: a valid NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), flags) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOTDIR) {
                let kind = std::fs::metadata(path).map_or("not a directory", |m| {
                    kind_of(std::os::unix::fs::MetadataExt::mode(&m) as libc::mode_t)
                });
                return Err(Refused::NotDir(path.to_path_buf(), kind).into());
            }
            return Err(anyhow::Error::from(e).context(format!("cannot open {}", path.display())));
        }
        Ok(Dir {
            // SAFETY: a descriptor we just opened and own.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_path_buf(),
        })
    }

    /// The directory's path, for messages and for what must be named by path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's device and inode: the same for every path to it.
    pub fn identity(&self) -> io::Result<(u64, u64)> {
        let st = stat_fd(self.raw())?;
        Ok((st.st_dev, st.st_ino))
    }

    /// `name`'s device and inode, not through a link; `None` when nothing is there.
    pub fn identity_of(&self, name: &str) -> Option<(u64, u64)> {
        let c = c_name(OsStr::new(name)).ok()?;
        // SAFETY: a zeroed stat is a valid out-parameter; the handle is open.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: see above.
        let r =
            unsafe { libc::fstatat(self.raw(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        (r == 0).then_some((st.st_dev, st.st_ino))
    }

    /// The directory's descriptor, for naming it through `/proc/self/fd`.
    pub fn fd(&self) -> i32 {
        self.raw()
    }

    /// A second handle on the same directory.
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// The directory's owner and permission bits.
    pub fn owner_and_mode(&self) -> io::Result<(u32, u32)> {
        let st = stat_fd(self.raw())?;
        Ok((st.st_uid, st.st_mode & 0o7777))
    }

    /// Set the directory's permission bits.
    pub fn set_mode(&self, mode: u32) -> io::Result<()> {
        // SAFETY: fchmod on our open handle.
        if unsafe { libc::fchmod(self.raw(), mode as libc::mode_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Set the permission bits of `name` in the directory.
    pub fn set_mode_of(&self, name: &str, mode: u32) -> io::Result<()> {
        let c = c_name(OsStr::new(name))?;
        // SAFETY: a valid name relative to our open handle.
        if unsafe { libc::fchmodat(self.raw(), c.as_ptr(), mode as libc::mode_t, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `name`'s path, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// An `openat` error on `name` in words: a link is refused, the rest said with the path.
    fn refuse(&self, name: &str, e: io::Error, doing: &str) -> anyhow::Error {
        match e.raw_os_error() {
            Some(libc::ELOOP) => Refused::Link(self.join(name)).into(),
            Some(libc::ENOTDIR) => {
                let kind = self.kind(name).unwrap_or("not a directory");
                Refused::NotDir(self.join(name), kind).into()
            }
            _ => anyhow::Error::from(e)
                .context(format!("cannot {doing} {}", self.join(name).display())),
        }
    }

    /// What is at `name` (a link is a link, not what it points to); `None` when nothing.
    pub fn kind(&self, name: &str) -> Option<&'static str> {
        let c = c_name(OsStr::new(name)).ok()?;
        // SAFETY: a zeroed stat is a valid out-parameter; the handle is open.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: see above.
        let r =
            unsafe { libc::fstatat(self.raw(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        (r == 0).then(|| kind_of(st.st_mode))
    }

    /// Whether anything is at `name` (a dangling link counts).
    pub fn has(&self, name: &str) -> bool {
        self.kind(name).is_some()
    }

    /// The subdirectory `name`, which must be a real directory, not a link to one.
    pub fn sub(&self, name: &str) -> anyhow::Result<Dir> {
        let c = c_name(OsStr::new(name))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: a valid name relative to our open handle.
        let fd = unsafe { libc::openat(self.raw(), c.as_ptr(), flags) };
        if fd < 0 {
            return Err(self.refuse(name, io::Error::last_os_error(), "open"));
        }
        Ok(Dir {
            // SAFETY: a descriptor we just opened and own.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: self.join(name),
        })
    }

    /// The subdirectory `name`, created (private to its owner when `private`) if missing.
    pub fn create_sub(&self, name: &str, private: bool) -> anyhow::Result<Dir> {
        let c = c_name(OsStr::new(name))?;
        let mode = if private { 0o700 } else { 0o777 };
        // SAFETY: a valid name relative to our open handle.
        if unsafe { libc::mkdirat(self.raw(), c.as_ptr(), mode) } != 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(self.refuse(name, e, "create"));
            }
        }
        self.sub(name)
    }

    /// Read `name` (not through a link), a regular file of at most `bound` bytes (`what`
    /// it should hold, for the message); `Ok(None)` when there is none.
    pub fn read(
        &self,
        name: &str,
        bound: u64,
        what: &'static str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        match open_read(
            Some(self.raw()),
            &self.join(name),
            OsStr::new(name),
            libc::O_NOFOLLOW,
        ) {
            Ok(file) => read_bounded(file, &self.join(name), bound, what).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.refuse(name, e, "read")),
        }
    }

    /// [`read`](Self::read) as text (a byte that is not UTF-8 becomes `�`).
    pub fn read_text(
        &self,
        name: &str,
        bound: u64,
        what: &'static str,
    ) -> anyhow::Result<Option<String>> {
        Ok(self
            .read(name, bound, what)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Open `name` for reading (not through a link), checked to be a regular file: for
    /// files read in parts (a model's header first).
    pub fn open_file(&self, name: &str) -> anyhow::Result<Option<(File, u64)>> {
        let file = match open_read(
            Some(self.raw()),
            &self.join(name),
            OsStr::new(name),
            libc::O_NOFOLLOW,
        ) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.refuse(name, e, "read")),
        };
        let st = stat_fd(file.as_raw_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Refused::NotFile(self.join(name), kind_of(st.st_mode)).into());
        }
        Ok(Some((file, st.st_size.max(0) as u64)))
    }

    /// Open `name` with `flags` (creating it with `mode` when `O_CREAT` is among them),
    /// never through a link, and check it is a regular file.
    fn open_write(&self, name: &str, flags: i32, mode: u32) -> anyhow::Result<File> {
        let c = c_name(OsStr::new(name))?;
        let all = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
        // SAFETY: a valid name relative to our open handle.
        let fd = unsafe { libc::openat(self.raw(), c.as_ptr(), all, mode as libc::c_uint) };
        if fd < 0 {
            return Err(self.refuse(name, io::Error::last_os_error(), "write"));
        }
        // SAFETY: a descriptor we just opened and own.
        let file = unsafe { File::from_raw_fd(fd) };
        let st = stat_fd(fd)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Refused::NotFile(self.join(name), kind_of(st.st_mode)).into());
        }
        // SAFETY: fcntl on our own descriptor.
        unsafe {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
        Ok(file)
    }

    /// `name` opened to append to (created if missing).
    pub fn append(&self, name: &str) -> anyhow::Result<File> {
        self.open_write(name, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT, 0o644)
    }

    /// `name` opened to read and write (created if missing, not truncated): a lock file.
    pub fn open_rw(&self, name: &str) -> anyhow::Result<File> {
        self.open_write(name, libc::O_RDWR | libc::O_CREAT, 0o644)
    }

    /// Replace `name` with `bytes`, atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.write_with(name, |f| f.write_all(bytes))
    }

    /// Replace `name` with what `fill` writes, atomically: into a temp file created anew
    /// (`.<name>.tmp`, whatever was there removed first), synced, renamed over `name`, and
    /// the directory synced. A crash leaves the old file or the new, never half of one;
    /// a failure (or a panic in `fill`) removes the temp file.
    pub fn write_with(
        &self,
        name: &str,
        fill: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> anyhow::Result<()> {
        let tmp = temp_name(name);
        let _ = self.remove(&tmp);
        let mut file =
            self.open_write(&tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o644)?;
        let mut guard = TempGuard {
            dir: self,
            name: &tmp,
            done: false,
        };
        let written = fill(&mut file).and_then(|()| file.sync_all());
        if let Err(e) = written {
            return Err(anyhow::Error::from(e)
                .context(format!("cannot write {}", self.join(name).display())));
        }
        self.rename(&tmp, name)?;
        guard.done = true;
        self.sync()
    }

    /// Rename `from` to `to` within the directory (a link at `to` is replaced, not
    /// followed).
    pub fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let (a, b) = (c_name(OsStr::new(from))?, c_name(OsStr::new(to))?);
        // SAFETY: valid names relative to our open handle.
        if unsafe { libc::renameat(self.raw(), a.as_ptr(), self.raw(), b.as_ptr()) } != 0 {
            let e = io::Error::last_os_error();
            return Err(anyhow::Error::from(e).context(format!(
                "cannot rename {} to {to}",
                self.join(from).display()
            )));
        }
        Ok(())
    }

    /// Flush the directory's entries to disk.
    pub fn sync(&self) -> anyhow::Result<()> {
        // SAFETY: fsync on our open handle.
        if unsafe { libc::fsync(self.raw()) } != 0 {
            let e = io::Error::last_os_error();
            return Err(
                anyhow::Error::from(e).context(format!("cannot sync {}", self.path.display()))
            );
        }
        Ok(())
    }

    /// Remove the entry `name` (a link itself, never what it points to); nothing there is
    /// not an error.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let c = c_name(OsStr::new(name))?;
        // SAFETY: a valid name relative to our open handle.
        if unsafe { libc::unlinkat(self.raw(), c.as_ptr(), 0) } != 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::NotFound {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Remove the empty subdirectory `name`; one that is not empty, or not there, stays.
    pub fn remove_dir(&self, name: &str) {
        if let Ok(c) = c_name(OsStr::new(name)) {
            // SAFETY: a valid name relative to our open handle.
            unsafe { libc::unlinkat(self.raw(), c.as_ptr(), libc::AT_REMOVEDIR) };
        }
    }

    /// The names in the directory (not `.` and `..`), read through its handle.
    pub fn names(&self) -> io::Result<Vec<String>> {
        // SAFETY: dup of our open handle, owned by the DIR stream from here.
        let fd = unsafe { libc::dup(self.raw()) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fdopendir takes ownership of fd.
        let stream = unsafe { libc::fdopendir(fd) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fd is still ours when fdopendir fails.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        // SAFETY: the stream reads from its own offset, starting at the beginning.
        unsafe { libc::rewinddir(stream) };
        let mut names = Vec::new();
        loop {
            // SAFETY: a valid stream; readdir's entry lives until the next call.
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                break;
            }
            // SAFETY: d_name is NUL-terminated within the entry.
            let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
            let name = String::from_utf8_lossy(name.to_bytes()).into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        // SAFETY: closes the stream and its descriptor.
        unsafe { libc::closedir(stream) };
        Ok(names)
    }
}

/// The temp name [`Dir::write_with`] uses for `name`: `.<name>.tmp` beside it.
pub fn temp_name(name: &str) -> String {
    format!(".{name}.tmp")
}

/// Removes the temp file when dropped, unless it was renamed into place: on an error and
/// on a panic alike.
struct TempGuard<'a> {
    dir: &'a Dir,
    name: &'a str,
    done: bool,
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.dir.remove(self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn writes_never_go_through_a_planted_link() {
        let root = tempfile::tempdir().unwrap();
        let outside = root.path().join("outside");
        std::fs::write(&outside, "precious").unwrap();
        let run = root.path().join("run");
        std::fs::create_dir(&run).unwrap();
        symlink(&outside, run.join(".lock")).unwrap();
        symlink(&outside, run.join("metrics.jsonl")).unwrap();
        symlink(&outside, run.join(".run.json.tmp")).unwrap();
        symlink(root.path(), run.join("checkpoint")).unwrap();
        let dir = Dir::open(&run).unwrap();
        for e in [
            dir.open_rw(".lock").unwrap_err(),
            dir.append("metrics.jsonl").unwrap_err(),
            dir.sub("checkpoint").unwrap_err(),
            dir.read("metrics.jsonl", KB, "metrics").unwrap_err(),
        ] {
            let msg = format!("{e:#}");
            assert!(msg.contains("is a symbolic link"), "{msg}");
            assert!(crate::error::is_usage(&e), "{msg}");
        }
        // A planted temp name is removed (the link, not its target) and the write lands
        // in the directory; a planted final name is replaced, not followed.
        dir.write("run.json", b"{}").unwrap();
        symlink(&outside, run.join("config.toml")).unwrap();
        dir.write("config.toml", b"x = 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(run.join("config.toml"))
            .unwrap()
            .file_type()
            .is_symlink());
        dir.remove("metrics.jsonl").unwrap();
        assert!(outside.exists());
    }

    #[test]
    fn reads_refuse_fifos_devices_and_runaway_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = Dir::open(root.path()).unwrap();
        let fifo = CString::new(root.path().join("run.json").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let e = dir.read("run.json", KB, "a run record").unwrap_err();
        assert!(
            format!("{e}").contains("is a FIFO (named pipe), not a regular file"),
            "{e}"
        );
        std::fs::write(root.path().join("big"), vec![b'x'; 5000]).unwrap();
        let e = dir.read("big", KB, "a run record").unwrap_err();
        assert!(format!("{e}").contains("far more than a run record"), "{e}");
        assert!(dir.read("missing", KB, "x").unwrap().is_none());
        let e = read_path(Path::new("/dev/zero"), KB, "a config").unwrap_err();
        assert!(format!("{e}").contains("is a character device"), "{e}");
        let e = Dir::open(&root.path().join("big")).unwrap_err();
        assert!(
            format!("{e}").contains("is a regular file, not a directory"),
            "{e}"
        );
    }

    #[test]
    fn a_failed_write_leaves_no_temp_and_the_old_file() {
        let root = tempfile::tempdir().unwrap();
        let dir = Dir::open(root.path()).unwrap();
        dir.write("a", b"old").unwrap();
        let e = dir.write_with("a", |f| {
            f.write_all(b"half")?;
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        });
        assert!(e.is_err());
        assert_eq!(std::fs::read(root.path().join("a")).unwrap(), b"old");
        assert_eq!(dir.names().unwrap(), vec!["a".to_string()]);
    }
}

//! A run that outlives its terminal, against the real binary: `train --detach` returns
//! while the run trains; dashboards attach from other terminals (tmux windows), steer it
//! together and leave it training; a lost terminal leaves it training and changes none of
//! its numbers; clients that misbehave on its socket change nothing either; another user
//! is refused.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::tmux::{dashboard_script_on_hangup, sh_quote, Tmux};
use common::RunGuard;

const LONG: Duration = Duration::from_secs(180);

/// `fashion-tui` with `args`, as the tests run it, in a script for a tmux pane; its exit
/// code into `exit_file`.
fn pane_script(args: &str, exit_file: &Path) -> String {
    format!(
        "XDG_CONFIG_HOME=/nonexistent-fashion-tui-test {} {args}; echo $? > {}; sleep 600",
        sh_quote(Path::new(env!("CARGO_BIN_EXE_fashion-tui"))),
        sh_quote(exit_file),
    )
}

/// `train` on `data` into `run` with the tests' CPU settings and `flags` (`--resume`
/// last, when resuming: `run` follows it).
fn train(data: &Path, run: &Path, flags: &[&str]) -> Command {
    let mut c = common::bin();
    c.args([
        "train",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--batch-size",
        "16",
    ])
    .arg("--data-dir")
    .arg(data)
    .args(flags);
    if flags.contains(&"--resume") {
        c.arg(run);
    } else {
        c.arg("--run-dir").arg(run);
    }
    c
}

/// Start a run in the background; it is killed when the guard goes.
fn detach(data: &Path, run: &Path, flags: &[&str]) -> RunGuard {
    let o = train(data, run, &[&["--detach"], flags].concat())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(out.contains("training in the background"), "{out}");
    assert!(out.contains("fashion-tui attach"), "{out}");
    RunGuard(run.to_path_buf())
}

/// The epochs in `run`'s metrics, without what depends on the clock: the complete lines
/// (the run may be writing the next one).
fn metrics(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let m = v.as_object_mut().unwrap();
            for clock in ["elapsed", "seconds", "eval_seconds", "images_per_sec"] {
                m.remove(clock);
            }
            v
        })
        .collect()
}

/// Wait until the run in `run` has ended: its process gone, its record not `running`.
fn wait_for_end(run: &Path, limit: Duration) {
    common::wait_for("the run to end", limit, || {
        let gone = common::run_pid(run).is_none_or(|p| !common::alive(p));
        let record = std::fs::read_to_string(run.join("run.json")).unwrap_or_default();
        gone && !record.contains("\"running\"")
    });
}

#[test]
fn detach_then_attach_pause_and_detach_from_several_terminals() {
    let data = tempfile::tempdir().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 100);
    let run = dirs.path().join("run");
    let _guard = detach(data.path(), &run, &["--epochs", "10000"]);
    let pid = common::run_pid(&run).expect("the run holds its directory");
    assert!(common::alive(pid));

    // Two dashboards attach; a pause from one shows in the other, and its Log says who.
    let attach = |n: &str| pane_script(&format!("attach {}", sh_quote(&run)), &dirs.path().join(n));
    let tmux = Tmux::start("attach", &attach("exit-1"), 140, 40);
    tmux.window("w2", &attach("exit-2"));
    tmux.wait("the first dashboard", LONG, |s| s.contains("TRAINING"));
    tmux.wait_on("ft:w2", "the second dashboard", LONG, |s| {
        s.contains("TRAINING")
    });
    tmux.keys(&["p"]);
    let s = tmux.wait_on("ft:w2", "PAUSED in the other terminal", LONG, |s| {
        s.contains("PAUSED") && s.contains("asks: pause")
    });
    assert!(s.contains("(terminal"), "{s}");
    // A third terminal attaching now sees the pause too.
    tmux.window("w3", &attach("exit-3"));
    tmux.wait_on("ft:w3", "PAUSED in a third terminal", LONG, |s| {
        s.contains("PAUSED")
    });
    tmux.keys_to("ft:w3", &["p"]);
    tmux.wait("TRAINING again everywhere", LONG, |s| {
        s.contains("TRAINING")
    });

    // `d` detaches: the dashboard says how to come back, exits 0; the run trains on.
    tmux.keys_to("ft:w2", &["d"]);
    assert_eq!(
        common::wait_for_exit_code(&dirs.path().join("exit-2"), LONG),
        0
    );
    let s = tmux.screen_of("ft:w2");
    assert!(s.contains("detached: the run trains on"), "{s}");
    // `q` then `d` in the confirmation does the same.
    tmux.keys_to("ft:w3", &["q"]);
    tmux.wait_on("ft:w3", "the question", LONG, |s| s.contains("y/n/d"));
    tmux.keys_to("ft:w3", &["d"]);
    assert_eq!(
        common::wait_for_exit_code(&dirs.path().join("exit-3"), LONG),
        0
    );
    assert!(common::alive(pid));

    // `runs` marks it live; the socket speaks JSON lines to a script.
    let o = common::bin()
        .args(["runs", "--json", "--runs-dir"])
        .arg(dirs.path())
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let live = &listed["runs"][0]["live"];
    assert_eq!(live["pid"], pid, "{listed}");
    assert_eq!(live["attached"], 1, "{listed}");

    // `view` follows it live, read-only: its keys steer nothing.
    tmux.window(
        "w4",
        &pane_script(
            &format!("view {}", sh_quote(&run)),
            &dirs.path().join("exit-5"),
        ),
    );
    tmux.wait_on("ft:w4", "the run, followed", LONG, |s| {
        s.contains("TRAINING")
    });
    tmux.keys_to("ft:w4", &["p", "s", "C-c"]);
    assert_eq!(
        common::wait_for_exit_code(&dirs.path().join("exit-5"), LONG),
        0
    );
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    assert_eq!(log.matches("asks: pause").count(), 1, "{log}");
    assert!(
        !log.contains("asks: checkpoint") && !log.contains("asks: stop"),
        "{log}"
    );
    assert!(common::alive(pid));

    // An SSH drop of the first terminal: the run trains on, and an `attach` later shows
    // every epoch it trained meanwhile.
    let done_before = metrics(&run).len();
    drop(tmux);
    common::wait_for("two more epochs", LONG, || {
        metrics(&run).len() >= done_before + 2
    });
    assert!(common::alive(pid));
    let record = std::fs::read_to_string(run.join("run.json")).unwrap();
    assert!(
        record.contains("went away; the run trains on detached"),
        "{record}"
    );
    // The run stores an epoch a moment before it tells it: an attach in between hears it
    // just after its history. So: some attach tells every epoch stored before it came.
    common::wait_for("an attach that tells every stored epoch", LONG, || {
        let stored = metrics(&run).len();
        let told = history_lines(&run)
            .iter()
            .filter(|l| l.contains(r#""event":"epoch""#))
            .count();
        told >= stored
    });
    let stored = metrics(&run).len();
    let tmux = Tmux::start("reattach", &attach("exit-4"), 140, 40);
    let s = tmux.wait("the run, reattached", LONG, |s| s.contains("TRAINING"));
    // Its header counts from the run's first epoch, not from this dashboard's.
    let shown: usize = s
        .split("epoch ")
        .find_map(|rest| rest.split_once("/10000").and_then(|(n, _)| n.parse().ok()))
        .unwrap_or_else(|| panic!("no epoch in the header:\n{s}"));
    assert!(shown > stored, "epoch {shown} shown, {stored} stored:\n{s}");
}

/// What `attach --json` prints of a live run up to its `live` marker: its history.
fn history_lines(run: &Path) -> Vec<String> {
    let mut child = common::bin()
        .args(["attach", "--json"])
        .arg(run)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let live = line.contains(r#""event":"live""#);
        lines.push(line);
        if live {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines[0].contains(r#""event":"hello""#), "{lines:?}");
    assert!(lines[0].contains(r#""protocol":1"#), "{lines:?}");
    lines
}

#[test]
fn a_run_whose_dashboard_lost_its_terminal_ends_as_an_uninterrupted_one() {
    let data = tempfile::tempdir().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 100);
    let (plain, dropped) = (dirs.path().join("plain"), dirs.path().join("dropped"));
    let o = train(
        data.path(),
        &plain,
        &["--headless", "--epochs", "3", "--seed", "7"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");

    let exit_file = dirs.path().join("exit");
    let script =
        dashboard_script_on_hangup(data.path(), &dropped, &exit_file, "--seed 7", "detach")
            .replace("--epochs 10000", "--epochs 3");
    let tmux = Tmux::start("lost", &script, 140, 40);
    let _guard = RunGuard(dropped.clone());
    tmux.wait("training", LONG, |s| s.contains("TRAINING"));
    drop(tmux);
    wait_for_end(&dropped, LONG);
    let record = std::fs::read_to_string(dropped.join("run.json")).unwrap();
    assert!(record.contains("\"finished\""), "{record}");
    assert_eq!(metrics(&dropped), metrics(&plain));
    assert_eq!(metrics(&plain).len(), 3);
}

/// Connect to the run's socket and read its `hello`.
fn connect(run: &Path) -> (UnixStream, BufReader<UnixStream>) {
    let s = UnixStream::connect(run.join(".live/sock")).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut hello = String::new();
    r.read_line(&mut hello).unwrap();
    assert!(hello.contains(r#""event":"hello""#), "{hello}");
    (s, r)
}

/// The reason of the `bye` the run sends before it closes a connection.
fn bye(r: &mut BufReader<UnixStream>) -> String {
    for line in r.lines() {
        let Ok(line) = line else { break };
        if line.contains(r#""event":"bye""#) {
            return line;
        }
    }
    String::new()
}

#[test]
fn clients_that_misbehave_change_nothing_in_the_run() {
    let data = tempfile::tempdir().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 100);
    let (plain, served) = (dirs.path().join("plain"), dirs.path().join("served"));
    let flags = ["--epochs", "3", "--seed", "11"];
    let o = train(data.path(), &plain, &[&["--headless"], &flags[..]].concat())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");

    let _guard = detach(data.path(), &served, &flags);
    // One stalls: it reads nothing, for the whole run.
    let (_stalled, _stalled_reader) = connect(&served);
    // One sends garbage: it is told why and closed.
    let (mut garbage, mut reader) = connect(&served);
    garbage.write_all(b"\x1b[2J{not json\n").unwrap();
    let said = bye(&mut reader);
    assert!(said.contains("refused: not JSON"), "{said}");
    // One sends a 100 MB line: closed after the longest line the protocol allows.
    let (mut big, mut reader) = connect(&served);
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0usize;
    for _ in 0..100 {
        match big.write_all(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(_) => break,
        }
    }
    assert!(sent < 100 << 20, "the run read all 100 MB");
    let said = bye(&mut reader);
    assert!(said.contains("a line longer than"), "{said}");
    // One asks for something that is no command.
    let (mut odd, mut reader) = connect(&served);
    odd.write_all(b"{\"cmd\":\"rm -rf /\"}\n").unwrap();
    assert!(bye(&mut reader).contains("unknown command"));

    wait_for_end(&served, LONG);
    let record = std::fs::read_to_string(served.join("run.json")).unwrap();
    assert!(record.contains("\"finished\""), "{record}");
    assert_eq!(metrics(&served), metrics(&plain));
    // The socket is gone with the run.
    assert!(!served.join(".live").exists());
    let mut rest = Vec::new();
    let _ = _stalled_reader.into_inner().read_to_end(&mut rest);
}

/// What a process of uid 65534 (nobody) gets when it connects to `sock`: `Err(errno)`
/// from `connect`, or the first bytes the run sends. Forked, so that only async-signal-
/// safe calls run in the child.
fn as_nobody(sock: &Path) -> Result<String, i32> {
    let path = std::ffi::CString::new(sock.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a zeroed sockaddr_un, filled below within its bounds.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(path.as_bytes_with_nul()) {
        *d = *s as libc::c_char;
    }
    let mut fds = [0; 2];
    // SAFETY: pipe, fork, and in the child only raw system calls, then _exit.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let pid = libc::fork();
        if pid == 0 {
            libc::close(fds[0]);
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                libc::_exit(3);
            }
            let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if libc::connect(s, (&addr as *const libc::sockaddr_un).cast(), len) != 0 {
                let e = *libc::__errno_location();
                libc::_exit(100 + e.min(100));
            }
            // Everything the run says, until it closes the connection.
            let mut buf = [0u8; 4096];
            loop {
                let n = libc::read(s, buf.as_mut_ptr().cast(), buf.len());
                if n <= 0 {
                    break;
                }
                libc::write(fds[1], buf.as_ptr().cast(), n as usize);
            }
            libc::_exit(0);
        }
        libc::close(fds[1]);
        let mut out = String::new();
        let mut f = <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]);
        let _ = f.read_to_string(&mut out);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        let code = libc::WEXITSTATUS(status);
        assert_ne!(code, 3, "cannot become uid 65534");
        if code >= 100 {
            return Err(code - 100);
        }
        Ok(out)
    }
}

#[test]
fn another_user_is_refused() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "skipped: acting as a second user needs root (this test runs as uid {})",
            unsafe { libc::geteuid() }
        );
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 100);
    let run: PathBuf = dirs.path().join("run");
    let _guard = detach(data.path(), &run, &["--epochs", "10000"]);
    // The other user may reach the run directory, not the socket's.
    use std::os::unix::fs::PermissionsExt;
    let open = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open(dirs.path(), 0o755);
    open(&run, 0o755);
    let sock = run.join(".live/sock");
    assert_eq!(as_nobody(&sock), Err(libc::EACCES));
    // Should the socket's directory be opened to all, the run still checks who connects.
    open(&run.join(".live"), 0o755);
    open(&sock, 0o666);
    let said = as_nobody(&sock).expect("connected");
    assert!(said.contains(r#""event":"bye""#), "{said}");
    assert!(
        said.contains("only the run's owner (uid 0) may attach; you are uid 65534"),
        "{said}"
    );
    assert!(!said.contains("hello"), "{said}");
}

#[test]
fn a_run_killed_hard_leaves_nothing_that_blocks_its_resume() {
    let data = tempfile::tempdir().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 400, 100);
    let run = dirs.path().join("run");
    let guard = detach(data.path(), &run, &["--epochs", "10000"]);
    common::wait_for("a checkpoint", LONG, || {
        run.join("checkpoint/checkpoint.json").exists()
    });
    let pid = common::run_pid(&run).unwrap();
    drop(guard); // kill -9
    common::wait_for("the run to die", LONG, || !common::alive(pid));
    assert!(run.join(".live/sock").exists(), "the socket is left behind");
    // Not live: `attach` says so, `runs` does not offer it.
    let o = common::bin()
        .args(["attach", "--json"])
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not training now"),
        "{o:?}"
    );
    // It resumes, and serves its socket again.
    let done = metrics(&run).len();
    let o = train(
        data.path(),
        &run,
        &[
            "--headless",
            "--epochs",
            &(done + 1).to_string(),
            "--resume",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(metrics(&run).len(), done + 1);
    assert!(!run.join(".live").exists());
}

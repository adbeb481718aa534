//! A private tmux server for end-to-end tests of the real binary in a real terminal.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server, killed on drop.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// A new private server (named after `name` and this process) whose one window, of
    /// `cols`×`rows`, runs `script` under `sh -c`.
    pub fn start(name: &str, script: &str, cols: u16, rows: u16) -> Tmux {
        let tmux = Tmux {
            socket: format!("fashion-tui-{name}-{}", std::process::id()),
        };
        let shell = format!("sh -c {}", shell_word(script));
        let (x, y) = (cols.to_string(), rows.to_string());
        tmux.cmd(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "ft",
            "-x",
            &x,
            "-y",
            &y,
            &shell,
        ]);
        tmux
    }

    pub fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is needed for this test: `make setup` installs it");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Type `keys` (tmux key names) into the session's pane.
    pub fn keys(&self, keys: &[&str]) {
        self.keys_to("ft", keys);
    }

    /// Type `keys` into the pane of `target` (`ft:NAME` for a window).
    pub fn keys_to(&self, target: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", target];
        args.extend(keys);
        self.cmd(&args);
    }

    /// A left click at column `x`, row `y` (from 0) of the session's pane, as a terminal
    /// reports it to a program that asked for clicks (SGR encoding: press, then release).
    #[allow(dead_code)]
    pub fn click(&self, x: usize, y: usize) {
        let (x, y) = (x + 1, y + 1);
        let report = format!("\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m");
        self.cmd(&["send-keys", "-t", "ft", "-l", &report]);
    }

    /// A second window, `name`, running `script` under `sh -c`.
    pub fn window(&self, name: &str, script: &str) {
        let shell = format!("sh -c {}", shell_word(script));
        self.cmd(&["new-window", "-d", "-t", "ft", "-n", name, &shell]);
    }

    pub fn screen(&self) -> String {
        self.screen_of("ft")
    }

    pub fn screen_of(&self, target: &str) -> String {
        self.cmd(&["capture-pane", "-p", "-t", target])
    }

    /// Wait until the screen satisfies `pred`; panic with the screen after `limit`.
    pub fn wait(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        self.wait_on("ft", what, limit, pred)
    }

    /// [`Tmux::wait`] on the pane of `target`.
    pub fn wait_on(
        &self,
        target: &str,
        what: &str,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen_of(target);
            if pred(&s) {
                return s;
            }
            if start.elapsed() > limit {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// The `sh` script the end-to-end tests run: the real binary training on `data` into
/// `run` (CPU, one thread, batch 16, effectively endless) with `extra` flags, then its exit
/// code written to `exit_file`, then a pause that keeps the pane open for inspection.
///
/// Its config (beside `exit_file`) says `ui.on_hangup = "stop"`: when the test ends and
/// its tmux server goes, the run stops instead of training on in the background.
pub fn dashboard_script(data: &Path, run: &Path, exit_file: &Path, extra: &str) -> String {
    dashboard_script_on_hangup(data, run, exit_file, extra, "stop")
}

/// [`dashboard_script`] with `ui.on_hangup = on_hangup` (a test that lets the run train
/// on must stop it itself: see [`super::RunGuard`]).
pub fn dashboard_script_on_hangup(
    data: &Path,
    run: &Path,
    exit_file: &Path,
    extra: &str,
    on_hangup: &str,
) -> String {
    let cfg = exit_file.with_file_name("dashboard.toml");
    std::fs::write(&cfg, format!("[ui]\non_hangup = \"{on_hangup}\"\n")).unwrap();
    format!(
        "{} --config {} --device cpu --threads 1 --epochs 10000 --batch-size 16 --data-dir {} \
         --run-dir {} {extra}; echo $? > {}; sleep 600",
        sh_quote(Path::new(env!("CARGO_BIN_EXE_fashion-tui"))),
        sh_quote(&cfg),
        sh_quote(data),
        sh_quote(run),
        sh_quote(exit_file),
    )
}

/// Quote a path for `sh`.
pub fn sh_quote(p: &Path) -> String {
    shell_word(&p.display().to_string())
}

/// Quote `s` as one word for the shell tmux types into.
pub fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

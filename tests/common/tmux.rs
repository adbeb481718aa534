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
        let mut args = vec!["send-keys", "-t", "ft"];
        args.extend(keys);
        self.cmd(&args);
    }

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "ft"])
    }

    /// Wait until the screen satisfies `pred`; panic with the screen after `limit`.
    pub fn wait(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
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
pub fn dashboard_script(data: &Path, run: &Path, exit_file: &Path, extra: &str) -> String {
    format!(
        "{} --device cpu --threads 1 --epochs 10000 --batch-size 16 --data-dir {} --run-dir {} {extra}; \
         echo $? > {}; sleep 600",
        sh_quote(Path::new(env!("CARGO_BIN_EXE_fashion-tui"))),
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

//! The event loop, generic over a ratatui [`Backend`] so tests can drive it with a
//! `TestBackend`, and the real-terminal entry point with its restore-exactly-once guard.
//!
//! Loop: wait for input up to one frame interval, drain a bounded number of trainer events
//! and progress snapshots, look at the config file about once a second (hot reload), do
//! the file work the app asks for (saving settings), advance the clock, draw only if
//! something changed.

use std::io::{self, Stdout, Write};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use anyhow::Context;
use flume::{Receiver, Sender, TryRecvError};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::layout::{Position, Rect};
use ratatui::Terminal;

use crate::config::reload::Reloader;
use crate::error::UsageError;
use crate::events::{Command, Progress, TrainEvent};
use crate::ui::app::App;
use crate::ui::editor::Action;
use crate::ui::mouse;
use crate::ui::render::render;

/// Most trainer events handled per loop iteration (the rest wait for the next one).
pub const MAX_EVENTS_PER_TICK: usize = 256;
/// Most progress snapshots merged per loop iteration.
pub const MAX_PROGRESS_PER_TICK: usize = 256;
/// How often the config file in use is looked at for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// The dashboard's ends of the trainer's channels.
pub struct Channels {
    /// Lifecycle events, never dropped.
    pub events: Receiver<TrainEvent>,
    /// Coalesced per-batch snapshots.
    pub progress: Receiver<Progress>,
    pub commands: Sender<Command>,
}

/// Run the dashboard on `terminal` until the app wants to quit, or until `until` has
/// passed if given (the dashboard-cost benchmark runs the loop in timed windows).
///
/// `input` waits up to the given time for a terminal event ([`read_input`] in
/// [`run_terminal_app`], a script in tests). `files`, the config file in use, is polled every
/// [`RELOAD_EVERY`] and does the app's saves; without it nothing is reloaded and saving is
/// refused.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    rx: &Channels,
    input: &mut dyn FnMut(Duration) -> io::Result<Option<Event>>,
    mut files: Option<&mut Reloader>,
    until: Option<Instant>,
) -> anyhow::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let interval = app.options().frame_interval();
    let mut next_frame = Instant::now();
    let mut next_reload = next_frame + RELOAD_EVERY;
    loop {
        drain(app, rx);
        let now = Instant::now();
        if now >= next_reload {
            next_reload = now + RELOAD_EVERY;
            if let Some(change) = files.as_deref_mut().and_then(Reloader::check) {
                for cmd in app.on_config_file(change) {
                    send(app, rx, cmd);
                }
            }
        }
        perform(app, files.as_deref_mut());
        app.on_tick(now);
        if app.take_dirty() {
            terminal
                .draw(|f| render(app, f))
                .context("drawing the dashboard")?;
            app.on_frame_drawn(Instant::now());
        }
        if app.should_quit() || until.is_some_and(|u| now >= u) {
            return Ok(());
        }
        if next_frame <= now {
            next_frame = now + interval;
        }
        let wake = until.map_or(next_frame, |u| u.min(next_frame));
        let wait = wake.saturating_duration_since(now);
        if let Some(ev) = input(wait).context("reading terminal input")? {
            match ev {
                Event::Key(key) => {
                    if let Some(cmd) = app.on_key(key) {
                        send(app, rx, cmd);
                    }
                }
                Event::Mouse(m) => {
                    let size = terminal.size().context("reading the terminal's size")?;
                    if let Some(cmd) = mouse::on_mouse(app, m, Rect::from((Position::ORIGIN, size)))
                    {
                        send(app, rx, cmd);
                    }
                }
                Event::Resize(..) => app.mark_dirty(),
                _ => {}
            }
        }
    }
}

fn send(app: &mut App, rx: &Channels, cmd: Command) {
    if rx.commands.send(cmd).is_err() {
        app.on_disconnect();
    }
}

/// Do the file work the app asked for and tell it how it went.
pub fn perform(app: &mut App, mut files: Option<&mut Reloader>) {
    while let Some(action) = app.take_action() {
        match action {
            Action::Save { path, config, keys } => {
                let result = match files.as_deref_mut() {
                    Some(f) => f.save(&path, &config, &keys),
                    None => Err(UsageError("saving is not available here".to_string())),
                };
                app.on_saved(&path, result);
            }
        }
    }
}

/// Feed what the trainer sent since the last call into the app (bounded).
pub fn drain(app: &mut App, rx: &Channels) {
    drain_events(app, rx);
    if let Some(text) = app.take_notification() {
        notify_terminal(&text);
    }
}

/// Ring the terminal's bell and send `text` as a desktop notification (OSC 9; terminals
/// without it ignore the sequence). Neither moves the cursor nor changes the screen, so
/// it may go straight to stdout between frames. A failure to write is the terminal's
/// loss only.
pub fn notify_terminal(text: &str) {
    let mut out = io::stdout();
    let _ = out.write_all(notification_bytes(text).as_bytes());
    let _ = out.flush();
}

/// OSC 9 with `text` (control characters dropped, cut to 200 characters), then a bell.
pub fn notification_bytes(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    format!("\x1b]9;{clean}\x07\x07")
}

fn drain_events(app: &mut App, rx: &Channels) {
    let mut merged: Option<Progress> = None;
    for _ in 0..MAX_PROGRESS_PER_TICK {
        match rx.progress.try_recv() {
            Ok(p) => match &mut merged {
                Some(m) => m.merge(p),
                None => merged = Some(p),
            },
            Err(_) => break,
        }
    }
    if let Some(p) = merged {
        app.on_event(TrainEvent::Progress(p));
    }
    for _ in 0..MAX_EVENTS_PER_TICK {
        match rx.events.try_recv() {
            Ok(ev) => app.on_event(ev),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => {
                app.on_disconnect();
                break;
            }
        }
    }
}

/// The real terminal's input: wait up to `timeout` for a key, resize or other event.
///
/// crossterm's own wait spins forever on a hung-up terminal (an SSH drop), so this waits on
/// stdin itself and lets crossterm parse only what is ready; a hung-up terminal is an error.
pub fn read_input(timeout: Duration) -> io::Result<Option<Event>> {
    if event::poll(Duration::ZERO)? {
        return event::read().map(Some);
    }
    if wait_for_stdin(timeout)? && event::poll(Duration::ZERO)? {
        return event::read().map(Some);
    }
    Ok(None)
}

/// Wait up to `timeout` for input on stdin: `Ok(true)` when some is ready, an error when
/// the terminal has hung up (so the dashboard ends instead of polling a dead terminal).
fn wait_for_stdin(timeout: Duration) -> io::Result<bool> {
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, its count, a timeout.
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        return if err.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(err)
        };
    }
    if fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the terminal went away",
        ));
    }
    Ok(n > 0)
}

/// Whether the terminal is in raw mode / alternate screen because of us.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The thread that runs the dashboard: a panic there restores the terminal.
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);
/// Panic messages from other threads while the dashboard was up, printed after restore.
static DEFERRED_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

/// Leave raw mode and the alternate screen and show the cursor, once: later calls (from
/// the guard's `Drop` after the panic hook, say) do nothing.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(
            io::stdout(),
            ReportClicks(false),
            LeaveAlternateScreen,
            cursor::Show
        );
    }
}

/// Ask the terminal to report mouse buttons and the wheel (`true`), in SGR encoding, or to
/// stop. Not crossterm's `EnableMouseCapture`: that also asks for every motion, which would
/// send bytes over SSH whenever the pointer crosses the window.
struct ReportClicks(bool);

impl ratatui::crossterm::Command for ReportClicks {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str(if self.0 {
            "\x1b[?1000h\x1b[?1006h"
        } else {
            "\x1b[?1006l\x1b[?1000l"
        })
    }
}

fn on_ui_thread() -> bool {
    let me = std::thread::current().id();
    UI_THREAD.lock().map(|t| *t == Some(me)).unwrap_or(false)
}

/// Chain a hook in front of the current panic hook (once per process). A panic on the
/// dashboard thread restores the terminal first so the message is readable; a panic on
/// another thread while the dashboard is up is kept and printed after restore, because
/// writing it now would garble the screen (the trainer reports its failure as an event).
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) && !on_ui_thread() {
                let name = std::thread::current()
                    .name()
                    .unwrap_or("<unnamed>")
                    .to_string();
                if let Ok(mut d) = DEFERRED_PANICS.lock() {
                    d.push(format!("thread '{name}' {info}"));
                }
                return;
            }
            restore();
            previous(info);
        }));
    });
}

/// Owns the terminal while the dashboard is up; dropping it restores the terminal.
struct TerminalGuard {
    /// Dropped by hand: when the terminal has gone away, ratatui's own `Drop` would try to
    /// show the cursor and `eprintln!` the failure, which panics on a dead stderr.
    terminal: ManuallyDrop<Terminal<CrosstermBackend<Stdout>>>,
}

impl TerminalGuard {
    /// Take the terminal; `mouse`: ask it for clicks and the wheel.
    fn enter(mouse: bool) -> anyhow::Result<TerminalGuard> {
        install_panic_hook();
        if let Ok(mut t) = UI_THREAD.lock() {
            *t = Some(std::thread::current().id());
        }
        enable_raw_mode().context("cannot put the terminal in raw mode (is stdout a terminal?)")?;
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = || -> anyhow::Result<Terminal<CrosstermBackend<Stdout>>> {
            execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
            if mouse {
                execute!(io::stdout(), ReportClicks(true))?;
            }
            let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
            terminal.clear()?;
            Ok(terminal)
        };
        match setup() {
            Ok(terminal) => Ok(TerminalGuard {
                terminal: ManuallyDrop::new(terminal),
            }),
            Err(e) => {
                restore();
                if let Ok(mut t) = UI_THREAD.lock() {
                    *t = None;
                }
                Err(e.context("setting up the terminal"))
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if self.terminal.show_cursor().is_ok() {
            // SAFETY: dropped exactly once, here; the field is never used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.terminal) };
        }
        restore();
        if let Ok(mut t) = UI_THREAD.lock() {
            *t = None;
        }
    }
}

/// Run the dashboard `app` in the real terminal until the user quits; returns the final
/// state (for [`App::summary_line`]). `files`, when given, watches the config file in use
/// and saves the editor's changes. Nothing is printed to stdout while the dashboard is up;
/// panics of other threads in that time are printed to stderr after the terminal is
/// restored.
///
/// `signal` is set (to the signal's number) by a SIGINT/SIGTERM/SIGHUP handler: it acts
/// like Ctrl-C (stop the trainer, which checkpoints, then quit), except a SIGHUP when
/// `hangup_detaches`: that ends the dashboard as a lost terminal does (an error).
pub fn run_terminal_app(
    mut app: App,
    ch: Channels,
    mut files: Option<Reloader>,
    signal: Arc<AtomicI32>,
    hangup_detaches: bool,
) -> anyhow::Result<App> {
    let result = {
        let mut guard = TerminalGuard::enter(app.options().mouse)?;
        let mut signalled = false;
        let mut input = |timeout: Duration| -> io::Result<Option<Event>> {
            let sig = signal.load(Ordering::SeqCst);
            if sig == libc::SIGHUP && hangup_detaches {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the terminal hung up",
                ));
            }
            if !signalled && sig != 0 {
                signalled = true;
                let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
                return Ok(Some(Event::Key(ctrl_c)));
            }
            read_input(timeout)
        };
        run_loop(
            &mut *guard.terminal,
            &mut app,
            &ch,
            &mut input,
            files.as_mut(),
            None,
        )
    };
    if let Ok(mut d) = DEFERRED_PANICS.lock() {
        for msg in d.drain(..) {
            let _ = writeln!(io::stderr(), "{msg}");
        }
    }
    result.map(|()| app)
}

//! What the dashboard costs the trainer, measured in one process.
//!
//! Run it in a real terminal (`scripts/bench_dashboard.sh` runs it in tmux at 160×48):
//!
//! ```text
//! cargo run --release --example dashboard_cost -- --data-dir /usr/share/datasets/fashion-mnist
//! ```
//!
//! The real trainer trains while the real dashboard loop ([`run_loop`]) alternates,
//! in windows of `--window-ms`, between drawing into this terminal and sleeping (nothing
//! reads the trainer's snapshots then, so this is the cost against no consumer at all; a
//! headless run in a terminal also redraws one progress line). Windows come in ABBA order and each
//! adjacent pair gives one ratio of training throughput with and without the dashboard.
//! Pairs a second apart see the same machine, so a shared VM whose speed wanders by ±25%
//! over minutes still yields a tight figure; separate headless and dashboard runs cannot.
//! Windows that cross an epoch's end (evaluation) are left out.

use std::io::{self, IsTerminal, Stdout, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::Terminal;

use fashion_tui::commands::dashboard::ui_options;
use fashion_tui::config::Config;
use fashion_tui::events::{Command, TrainEvent};
use fashion_tui::train::{self, ChannelSink, RunOptions};
use fashion_tui::ui::run::{drain, read_input, run_loop};
use fashion_tui::ui::{App, Channels};

#[derive(Parser)]
struct Args {
    /// Directory holding the four Fashion-MNIST .gz files.
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    data_dir: PathBuf,
    /// CPU threads for the trainer (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Length of one window, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    window_ms: u64,
    /// Pairs of windows (one drawing, one not).
    #[arg(long, default_value_t = 30)]
    pairs: usize,
    /// Dashboard frames per second (the config's default otherwise).
    #[arg(long)]
    fps: Option<u32>,
    /// Also write the report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// Counts the bytes the dashboard writes to the terminal.
struct Counting {
    out: Stdout,
    bytes: Arc<AtomicU64>,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Raw mode and the alternate screen for as long as it lives.
struct Screen;

impl Screen {
    fn enter() -> anyhow::Result<Screen> {
        enable_raw_mode().context("raw mode")?;
        execute!(io::stdout(), EnterAlternateScreen, cursor::Hide).context("alternate screen")?;
        Ok(Screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    }
}

/// Where training stood at an instant.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    epoch: usize,
    batch: usize,
}

/// Fold what is waiting into the app, then wait for the trainer's next snapshot (it sends
/// one every few tens of milliseconds), so the mark is fresh.
fn mark(app: &mut App, ch: &Channels) -> anyhow::Result<Mark> {
    drain(app, ch);
    let p = ch
        .progress
        .recv_timeout(Duration::from_secs(60))
        .context("the trainer sent no progress for a minute")?;
    let m = Mark {
        at: Instant::now(),
        epoch: p.epoch,
        batch: p.batch,
    };
    app.on_event(TrainEvent::Progress(p));
    Ok(m)
}

/// The real dashboard loop, drawing into the terminal and reading keys, until `until`.
fn draw_until(
    terminal: &mut Terminal<CrosstermBackend<Counting>>,
    app: &mut App,
    ch: &Channels,
    until: Instant,
) -> anyhow::Result<()> {
    run_loop(terminal, app, ch, &mut read_input, None, Some(until))
}

/// Batches trained between two marks, if both are in the same epoch (a window across an
/// epoch's end includes the evaluation and is left out).
fn batches(a: Mark, b: Mark) -> Option<usize> {
    (a.epoch == b.epoch && b.batch > a.batch).then(|| b.batch - a.batch)
}

/// This thread's CPU time so far (ns), from the scheduler's own accounting.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// 95% bootstrap interval of the median (deterministic: fixed xorshift seed).
fn bootstrap(v: &[f64]) -> (f64, f64) {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut medians: Vec<f64> = (0..10_000)
        .map(|_| {
            let sample: Vec<f64> = (0..v.len())
                .map(|_| v[(next() % v.len() as u64) as usize])
                .collect();
            median(&sample)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    (medians[249], medians[9_749])
}

struct Window {
    drawing: bool,
    batches: Option<usize>,
    seconds: f64,
    cpu_ns: u64,
    bytes: u64,
}

impl Window {
    /// Batches per second, if usable.
    fn rate(&self) -> Option<f64> {
        self.batches.map(|b| b as f64 / self.seconds)
    }
}

/// Images per second over the usable windows that were (or were not) drawing.
fn throughput(windows: &[Window], drawing: bool, batch_size: usize) -> f64 {
    let (batches, seconds) = windows
        .iter()
        .filter(|w| w.drawing == drawing)
        .filter_map(|w| Some((w.batches?, w.seconds)))
        .fold((0, 0.0), |(b, s), (wb, ws)| (b + wb, s + ws));
    (batches * batch_size) as f64 / seconds
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        bail!("run this in a terminal: it measures drawing into a real one");
    }
    if args.pairs == 0 || args.window_ms == 0 {
        bail!("--pairs and --window-ms must be at least 1");
    }
    let run_dir = tempfile::tempdir().context("a temporary run directory")?;
    let mut cfg = Config::default();
    cfg.data.dir = args.data_dir.to_string_lossy().into_owned();
    cfg.data.test_limit = 1000;
    cfg.runtime.device = fashion_tui::config::DeviceChoice::Cpu;
    cfg.runtime.threads = args.threads;
    cfg.runtime.run_dir = run_dir.path().to_string_lossy().into_owned();
    cfg.training.epochs = 1000;
    if let Some(fps) = args.fps {
        cfg.ui.fps = fps;
    }
    cfg.validate().map_err(|e| anyhow::anyhow!(e.0))?;

    let (sink, rx) = ChannelSink::new();
    let (cmd_tx, cmd_rx) = flume::unbounded();
    let trainer = train::spawn(cfg.clone(), RunOptions::default(), cmd_rx, sink);
    let ch = Channels {
        events: rx.events,
        progress: rx.progress,
        commands: cmd_tx.clone(),
    };
    let mut opts = ui_options(&cfg);
    opts.color = opts.color.from_env();
    let mut app = App::new(opts);
    let bytes = Arc::new(AtomicU64::new(0));
    let window = Duration::from_millis(args.window_ms);

    let windows = {
        let _screen = Screen::enter()?;
        let mut terminal = Terminal::new(CrosstermBackend::new(Counting {
            out: io::stdout(),
            bytes: bytes.clone(),
        }))?;
        terminal.clear()?;
        // Warm up: the data is loaded and the first epoch is under way.
        let first = mark(&mut app, &ch)?;
        draw_until(&mut terminal, &mut app, &ch, first.at + window)?;
        let mut prev = mark(&mut app, &ch)?;
        let mut windows = Vec::new();
        for i in 0..2 * args.pairs {
            // ABBA: drawing first in even pairs, second in odd ones.
            let drawing = matches!(i % 4, 0 | 3);
            let cpu0 = thread_cpu_ns();
            let bytes0 = bytes.load(Ordering::Relaxed);
            if drawing {
                draw_until(&mut terminal, &mut app, &ch, prev.at + window)?;
            } else {
                std::thread::sleep((prev.at + window).saturating_duration_since(Instant::now()));
            }
            let cpu = thread_cpu_ns() - cpu0;
            let written = bytes.load(Ordering::Relaxed) - bytes0;
            let now = mark(&mut app, &ch)?;
            windows.push(Window {
                drawing,
                batches: batches(prev, now),
                seconds: (now.at - prev.at).as_secs_f64(),
                cpu_ns: cpu,
                bytes: written,
            });
            prev = now;
            if app.should_quit() {
                bail!("the dashboard quit during the measurement");
            }
        }
        windows
    };
    let _ = cmd_tx.send(Command::Stop);
    let _ = trainer.join();

    let mut ratios = Vec::new();
    for pair in windows.chunks(2) {
        if let [a, b] = pair {
            let (on, off) = if a.drawing { (a, b) } else { (b, a) };
            if let (Some(on), Some(off)) = (on.rate(), off.rate()) {
                ratios.push(100.0 * on / off);
            }
        }
    }
    if ratios.len() < 3 {
        bail!(
            "only {} usable pairs: use longer runs (--pairs) or shorter windows",
            ratios.len()
        );
    }
    let on_rate = throughput(&windows, true, cfg.training.batch_size);
    let off_rate = throughput(&windows, false, cfg.training.batch_size);
    let drawing_secs: f64 = windows
        .iter()
        .filter(|w| w.drawing)
        .map(|w| w.seconds)
        .sum();
    let cpu: u64 = windows.iter().filter(|w| w.drawing).map(|w| w.cpu_ns).sum();
    let written: u64 = windows.iter().filter(|w| w.drawing).map(|w| w.bytes).sum();
    let (lo, hi) = bootstrap(&ratios);
    let (w, h) = ratatui::crossterm::terminal::size().unwrap_or((0, 0));
    let report = format!(
        "dashboard cost: {} pairs of {} ms windows, the dashboard drawing at up to {} fps into a \
         {w}x{h} terminal or not, trainer on {} thread(s)\n\
         training throughput: {on_rate:.0} img/s while drawing, {off_rate:.0} img/s while not \
         (all usable windows)\n\
         the dashboard keeps {:.1}% of the throughput without it (median of {} pairs; bootstrap \
         95% interval {lo:.1}-{hi:.1}%; {:.1}% over all windows)\n\
         per pair: {}\n\
         while drawing: UI thread {:.2}% of one core, {:.1} KiB/s written to the terminal\n\
         | redraw rate | in one process: median of pairs (95% interval) | over all windows | UI thread CPU | to the terminal |\n\
         | --- | ---: | ---: | ---: | ---: |\n\
         | {} fps | **{:.1}%** ({lo:.1}–{hi:.1}%) | {:.1}% | {:.2}% of one core | {:.1} KiB/s |\n",
        args.pairs,
        args.window_ms,
        cfg.ui.fps,
        if cfg.runtime.threads == 0 {
            "all".to_string()
        } else {
            cfg.runtime.threads.to_string()
        },
        median(&ratios),
        ratios.len(),
        100.0 * on_rate / off_rate,
        ratios
            .iter()
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>()
            .join(" "),
        100.0 * cpu as f64 / 1e9 / drawing_secs,
        written as f64 / 1024.0 / drawing_secs,
        cfg.ui.fps,
        median(&ratios),
        100.0 * on_rate / off_rate,
        100.0 * cpu as f64 / 1e9 / drawing_secs,
        written as f64 / 1024.0 / drawing_secs,
    );
    print!("{report}");
    if let Some(path) = &args.report {
        std::fs::write(path, &report).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

//! The size of libtorch's thread team while a run trains on the CPU, fitted to the CPU it
//! actually gets. With a busy process beside it on a small machine, a full team is a trap:
//! at every barrier its threads wait, spinning, for one the kernel has descheduled, and two
//! threads can train at a quarter of one's speed. So, now and then, the trainer times a
//! window of batches with its team and one with another size (half, or back towards the
//! most when it had shrunk), and keeps the faster when it is clearly faster. Probing costs
//! a window at the other size every so often, and less often while nothing changes.
//!
//! Only a run whose thread count is automatic (`runtime.threads = 0`) adapts; a set count
//! is kept, so that a run repeats exactly for a given count. [`Fit`] decides from the
//! batches' own durations (pauses and evaluations are not in them) and is pure: the
//! trainer applies what it says.

/// A window: at least this many batches and [`WINDOW_SECS`] seconds of them.
const WINDOW_BATCHES: usize = 12;
const WINDOW_SECS: f64 = 0.2;
/// Batches before the first probe (the first steps are slower: allocation, caches).
const WARM_UP: u64 = 32;
/// Batches between probes, doubling up to [`MOST_INTERVAL`] while the team stays.
const INTERVAL: u64 = 256;
const MOST_INTERVAL: u64 = 16_384;
/// How much faster the other size must be to be kept.
const BETTER: f64 = 1.15;

/// What the trainer should do with its team after a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Team {
    /// Nothing.
    Keep,
    /// Train the next window with this many threads (a probe).
    Try(usize),
    /// The probe lost: back to this many.
    Back(usize),
    /// From now on this many: said in the Log with why.
    Chose { threads: usize, why: String },
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Probing again after this many batches in all.
    Waiting { until: u64 },
    /// Timing the team in use, before a probe.
    Baseline(Window),
    /// Timing `team`, against the baseline's images per second.
    Trial {
        team: usize,
        base: f64,
        window: Window,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Window {
    batches: usize,
    secs: f64,
    images: usize,
}

impl Window {
    fn add(&mut self, secs: f64, images: usize) -> Option<f64> {
        self.batches += 1;
        self.secs += secs;
        self.images += images;
        (self.batches >= WINDOW_BATCHES && self.secs >= WINDOW_SECS)
            .then(|| self.images as f64 / self.secs)
    }
}

/// The team's size, and when to look again.
#[derive(Debug, Clone)]
pub struct Fit {
    most: usize,
    now: usize,
    adaptive: bool,
    batches: u64,
    interval: u64,
    state: State,
    /// The next probe tries a smaller team (else a larger one, where there is room).
    down: bool,
}

impl Fit {
    /// A team of `now` threads that may grow to `most`; `adaptive` when the count was not
    /// set by the user.
    pub fn new(most: usize, now: usize, adaptive: bool) -> Fit {
        Fit {
            most: most.max(1),
            now: now.clamp(1, most.max(1)),
            adaptive,
            batches: 0,
            interval: INTERVAL,
            state: State::Waiting { until: WARM_UP },
            down: true,
        }
    }

    /// Threads in use now.
    #[cfg(test)]
    pub fn threads(&self) -> usize {
        self.now
    }

    /// The size to try against the one in use: half, or twice (up to the most), in the
    /// direction that last won, else the other way each time.
    fn other(&self) -> usize {
        let down = (self.down && self.now > 1) || self.now == self.most;
        if down {
            (self.now / 2).max(1)
        } else {
            (self.now * 2).min(self.most)
        }
    }

    /// A batch of `images` took `secs` (its own time: no pause, no evaluation in it).
    pub fn batch(&mut self, secs: f64, images: usize) -> Team {
        if !self.adaptive || self.most == 1 || !(secs.is_finite() && secs > 0.0) {
            return Team::Keep;
        }
        self.batches += 1;
        match &mut self.state {
            State::Waiting { until } => {
                if self.batches >= *until {
                    self.state = State::Baseline(Window::default());
                }
                Team::Keep
            }
            State::Baseline(w) => match w.add(secs, images) {
                None => Team::Keep,
                Some(base) => {
                    let team = self.other();
                    self.state = State::Trial {
                        team,
                        base,
                        window: Window::default(),
                    };
                    Team::Try(team)
                }
            },
            State::Trial { team, base, window } => match window.add(secs, images) {
                None => Team::Keep,
                Some(rate) => {
                    let (team, base) = (*team, *base);
                    self.decide(team, base, rate)
                }
            },
        }
    }

    /// The trial of `team` gave `rate` images/s against `base` with the team in use.
    fn decide(&mut self, team: usize, base: f64, rate: f64) -> Team {
        if rate >= base * BETTER {
            let from = self.now;
            self.down = team < from;
            self.now = team;
            self.interval = INTERVAL;
            self.state = State::Waiting {
                until: self.batches + self.interval,
            };
            let why = if team < from {
                format!(
                    "the CPU is busy: {} trains {:.1}× as fast as {from} now",
                    threads(team),
                    rate / base
                )
            } else {
                format!(
                    "the CPU is free again: {} train {:.1}× as fast as {from} now",
                    threads(team),
                    rate / base
                )
            };
            return Team::Chose {
                threads: team,
                why: format!("threads {from} → {team}: {why}"),
            };
        }
        self.down = !self.down;
        self.interval = (self.interval * 2).min(MOST_INTERVAL);
        self.state = State::Waiting {
            until: self.batches + self.interval,
        };
        Team::Back(self.now)
    }

    /// A pause or an evaluation came between batches: a window in progress no longer
    /// times one stretch of training. Back to the team in use (the size to set, when a
    /// probe was running).
    pub fn interrupted(&mut self) -> Option<usize> {
        let probing = matches!(self.state, State::Trial { .. });
        if matches!(self.state, State::Baseline(_) | State::Trial { .. }) {
            self.state = State::Waiting {
                until: self.batches + WARM_UP,
            };
        }
        probing.then_some(self.now)
    }
}

fn threads(n: usize) -> String {
    if n == 1 {
        "1 thread".into()
    } else {
        format!("{n} threads")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `n` batches of 32 images at `rate(team)` images/s; what the fit said.
    fn run(fit: &mut Fit, n: usize, rate: impl Fn(usize) -> f64) -> Vec<Team> {
        let mut said = Vec::new();
        let mut team = fit.threads();
        for _ in 0..n {
            let t = fit.batch(32.0 / rate(team), 32);
            match &t {
                Team::Try(k) | Team::Back(k) | Team::Chose { threads: k, .. } => team = *k,
                Team::Keep => {}
            }
            if t != Team::Keep {
                said.push(t);
            }
        }
        said
    }

    #[test]
    fn a_set_thread_count_is_kept() {
        let mut fit = Fit::new(2, 2, false);
        assert!(run(&mut fit, 5000, |t| if t == 1 { 5000.0 } else { 1000.0 }).is_empty());
        assert!(run(&mut Fit::new(1, 1, true), 5000, |_| 1000.0).is_empty());
    }

    #[test]
    fn on_a_quiet_machine_the_team_stays_and_probes_grow_rare() {
        let mut fit = Fit::new(2, 2, true);
        let said = run(&mut fit, 20_000, |t| if t == 2 { 9000.0 } else { 5000.0 });
        assert!(
            said.iter()
                .all(|t| matches!(t, Team::Try(1) | Team::Back(2))),
            "{said:?}"
        );
        assert_eq!(fit.threads(), 2);
        // Probes at 256, 512, 1024, … batches apart: a handful in 20,000 batches.
        let probes = said.iter().filter(|t| matches!(t, Team::Try(_))).count();
        assert!((3..=8).contains(&probes), "{probes} probes");
    }

    #[test]
    fn a_busy_machine_shrinks_the_team_and_a_free_one_grows_it_back() {
        let mut fit = Fit::new(4, 4, true);
        // Contended: fewer threads are faster.
        let busy = |t: usize| [0.0, 5000.0, 3000.0, 1500.0, 1200.0][t];
        let said = run(&mut fit, 3000, busy);
        assert_eq!(fit.threads(), 1, "{said:?}");
        let Some(Team::Chose { why, .. }) = said.iter().find(|t| matches!(t, Team::Chose { .. }))
        else {
            panic!("{said:?}")
        };
        assert!(
            why.starts_with("threads 4 → 2: the CPU is busy: 2 threads trains"),
            "{why}"
        );
        // Free again: more threads are faster, step by step back to the most.
        let free = |t: usize| [0.0, 3000.0, 5500.0, 8000.0, 10000.0][t];
        run(&mut fit, 6000, free);
        assert_eq!(fit.threads(), 4);
    }

    #[test]
    fn a_team_started_small_on_a_free_machine_grows_to_the_most() {
        let mut fit = Fit::new(2, 1, true);
        let said = run(&mut fit, 500, |t| [0.0, 5000.0, 9000.0][t]);
        assert_eq!(fit.threads(), 2, "{said:?}");
        assert!(matches!(
            &said[..],
            [Team::Try(2), Team::Chose { threads: 2, .. }, ..]
        ));
    }

    #[test]
    fn an_interruption_drops_the_window_and_restores_the_team() {
        let mut fit = Fit::new(2, 2, true);
        // A probe starts after the warm-up and a baseline window (12 batches here).
        let said = run(&mut fit, WARM_UP as usize + 20, |_| 1000.0);
        assert_eq!(said, vec![Team::Try(1)]);
        assert_eq!(fit.interrupted(), Some(2));
        assert_eq!(fit.interrupted(), None);
        assert_eq!(fit.threads(), 2);
    }
}

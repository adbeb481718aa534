//! When the process started, for the dashboard's "up in" figure. `main` is not the start:
//! before it the dynamic loader maps libtorch and its static initialisers register
//! thousands of operators (about 0.2 s on a small VM), so the process's age at `main`
//! is read from the kernel's record of its start.

use std::time::{Duration, Instant};

/// The process's start and `main`'s, as instants of this process's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    /// When the kernel started the process (fork or exec, to within a clock tick, 10 ms
    /// on most systems); `main` when the kernel's record cannot be read.
    pub process: Instant,
    /// When `main` began.
    pub main: Instant,
}

impl Startup {
    /// Call first thing in `main`.
    pub fn now() -> Startup {
        let main = Instant::now();
        let process = age().and_then(|age| main.checked_sub(age)).unwrap_or(main);
        Startup { process, main }
    }

    /// Time from the process's start to `main`.
    pub fn before_main(&self) -> Duration {
        self.main.saturating_duration_since(self.process)
    }
}

/// The process's age: the boot-time clock now, less the start time in `/proc/self/stat`
/// (field 22, clock ticks since boot). `None` off Linux or when either cannot be read.
fn age() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let ticks = start_ticks(&stat)?;
    // SAFETY: sysconf with a valid name has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if per_sec <= 0 {
        return None;
    }
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a timespec we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) } != 0 {
        return None;
    }
    let now = Duration::new(u64::try_from(now.tv_sec).ok()?, now.tv_nsec as u32);
    let started = Duration::from_secs_f64(ticks as f64 / per_sec as f64);
    now.checked_sub(started)
}

/// Field 22 of a `/proc/PID/stat` line. The command name (field 2) is in parentheses and
/// may itself hold spaces and parentheses, so fields are counted after the last `)`.
fn start_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // `rest` begins with field 3 (the state).
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_even_with_odd_command_names() {
        let fields: Vec<String> = (3..=52).map(|i| (i * 10).to_string()).collect();
        let line = format!("4242 (a) b (c) {}\n", fields.join(" "));
        assert_eq!(start_ticks(&line), Some(220));
        assert_eq!(start_ticks("4242 (short) S 1 2"), None);
        assert_eq!(start_ticks("garbage"), None);
    }

    #[test]
    fn the_process_starts_no_later_than_main() {
        let s = Startup::now();
        assert!(s.process <= s.main);
        assert_eq!(s.before_main(), s.main - s.process);
    }
}

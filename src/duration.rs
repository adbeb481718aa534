//! Durations as text: one split of whole seconds into hours, minutes and seconds, in the
//! three forms the program prints. [`short`] for the headless lines (`3m07s`), [`clock`]
//! for the dashboard's clock, log stamps and run time (`00:03:12`), [`eta`] for its
//! estimate of the time left (`3:12`). Also [`TimeBudget`], a run's wall-time budget as
//! the config writes it (`3m`, `90s`, `1h30m`, empty for none).

use std::time::Duration;

/// Whole seconds as (hours, minutes, seconds).
fn split(secs: u64) -> (u64, u64, u64) {
    (secs / 3600, secs / 60 % 60, secs % 60)
}

/// `1h02m`, `3m07s` or `42s` (rounded); `?` for nonsense.
pub fn short(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    match split(secs.round() as u64) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// `00:03:12` (whole seconds, cut).
pub fn clock(d: Duration) -> String {
    let (h, m, s) = split(d.as_secs());
    format!("{h:02}:{m:02}:{s:02}")
}

/// `3:12` under an hour, `1:02:03` above (rounded); `--:--` for nonsense.
pub fn eta(secs: f64) -> String {
    if !(0.0..=360_000.0).contains(&secs) {
        return "--:--".to_string();
    }
    match split(secs.round() as u64) {
        (0, m, s) => format!("{m}:{s:02}"),
        (h, m, s) => format!("{h}:{m:02}:{s:02}"),
    }
}

/// A run's wall-time budget: `None` when the epoch count rules. Written `3m`, `90s`,
/// `1h30m` (units h, m, s; a bare number is seconds); the empty text means no budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeBudget(pub Option<Duration>);

impl TimeBudget {
    pub const OFF: TimeBudget = TimeBudget(None);

    pub fn secs(self) -> Option<f64> {
        self.0.map(|d| d.as_secs_f64())
    }
}

impl std::fmt::Display for TimeBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(d) = self.0 else {
            return Ok(());
        };
        let (h, m, s) = split(d.as_secs());
        let mut out = String::new();
        for (v, unit) in [(h, "h"), (m, "m"), (s, "s")] {
            if v > 0 {
                out.push_str(&format!("{v}{unit}"));
            }
        }
        f.write_str(if out.is_empty() { "0s" } else { &out })
    }
}

impl std::str::FromStr for TimeBudget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(TimeBudget::OFF);
        }
        let bad = || "not a duration: write e.g. 3m, 90s or 1h30m (empty: no budget)".to_string();
        let mut secs: u64 = 0;
        let mut number = String::new();
        // Units in order (h, then m, then s), each once: "1h1h" or "30m1h" is a typo.
        let mut last_scale = u64::MAX;
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let scale = match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return Err(bad()),
            };
            if scale >= last_scale {
                return Err(bad());
            }
            last_scale = scale;
            let v: u64 = number.parse().map_err(|_| bad())?;
            secs = v
                .checked_mul(scale)
                .and_then(|v| secs.checked_add(v))
                .ok_or_else(bad)?;
            number.clear();
        }
        if !number.is_empty() {
            if last_scale == 1 {
                return Err(bad());
            }
            let v: u64 = number.parse().map_err(|_| bad())?;
            secs = secs.checked_add(v).ok_or_else(bad)?;
        }
        Ok(TimeBudget(Some(Duration::from_secs(secs))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(short(42.4), "42s");
        assert_eq!(short(187.0), "3m07s");
        assert_eq!(short(3720.0), "1h02m");
        assert_eq!(short(f64::NAN), "?");
    }

    #[test]
    fn formats() {
        assert_eq!(clock(Duration::from_secs(192)), "00:03:12");
        assert_eq!(clock(Duration::from_secs(3 * 3600 + 5)), "03:00:05");
        assert_eq!(eta(83.4), "1:23");
        assert_eq!(eta(3723.0), "1:02:03");
        assert_eq!(eta(f64::NAN), "--:--");
    }

    #[test]
    fn budgets_read_and_write() {
        let b = |t: &str| t.parse::<TimeBudget>();
        assert_eq!(b(""), Ok(TimeBudget::OFF));
        assert_eq!(b("3m").unwrap().secs(), Some(180.0));
        assert_eq!(b("90s").unwrap().secs(), Some(90.0));
        assert_eq!(b("1h30m").unwrap().secs(), Some(5400.0));
        assert_eq!(b("45").unwrap().secs(), Some(45.0));
        assert_eq!(b("90s").unwrap().to_string(), "1m30s");
        assert_eq!(b("3m").unwrap().to_string(), "3m");
        assert_eq!(TimeBudget::OFF.to_string(), "");
        assert!(b("3 min").is_err() && b("m").is_err() && b("-3m").is_err());
        // Each unit once, largest first.
        assert!(b("1h1h").is_err() && b("30m1h").is_err() && b("10s5").is_err());
    }
}

//! Durations as text: one split of whole seconds into hours, minutes and seconds, in the
//! three forms the program prints. [`short`] for the headless lines (`3m07s`), [`clock`]
//! for the dashboard's clock, log stamps and run time (`00:03:12`), [`eta`] for its
//! estimate of the time left (`3:12`).

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
}

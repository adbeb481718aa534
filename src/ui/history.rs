//! Bounded chart histories. A run produces ~1 875 loss points per epoch; the charts are at
//! most a few hundred Braille dots wide, so a [`Series`] keeps at most `cap` points by
//! averaging neighbours pairwise whenever it fills up (and averaging later arrivals in
//! buckets of the same size), so memory and render cost stay constant however long the run.

use std::borrow::Cow;

/// A bounded, downsampled `(x, y)` series that a [`ratatui::widgets::Dataset`] can borrow.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    points: Vec<(f64, f64)>,
    cap: usize,
    /// Raw points averaged into each stored point.
    stride: usize,
    /// Sum of x, sum of y and count of raw points not yet stored.
    pending: (f64, f64, usize),
}

impl Series {
    /// A series that never holds more than `cap` points (at least 2).
    pub fn new(cap: usize) -> Self {
        Series {
            points: Vec::new(),
            cap: cap.max(2),
            stride: 1,
            pending: (0.0, 0.0, 0),
        }
    }

    /// Add one raw point; non-finite values are ignored.
    pub fn push(&mut self, x: f64, y: f64) {
        if !x.is_finite() || !y.is_finite() {
            return;
        }
        let (sx, sy, n) = &mut self.pending;
        *sx += x;
        *sy += y;
        *n += 1;
        if *n < self.stride {
            return;
        }
        let count = *n as f64;
        self.points.push((*sx / count, *sy / count));
        self.pending = (0.0, 0.0, 0);
        if self.points.len() >= self.cap {
            self.halve();
        }
    }

    fn halve(&mut self) {
        self.points = average_runs(&self.points, 2);
        self.stride = self.stride.saturating_mul(2);
    }

    /// The stored points, oldest first.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// At most `max` points for drawing a line: consecutive points averaged in equal runs, so
/// a line wider in points than the chart is in dots costs no more than what can be seen.
/// Short enough series are borrowed as they are.
pub fn thin(points: &[(f64, f64)], max: usize) -> Cow<'_, [(f64, f64)]> {
    let max = max.max(2);
    if points.len() <= max {
        return Cow::Borrowed(points);
    }
    Cow::Owned(average_runs(points, points.len().div_ceil(max)))
}

/// Each run of `run` consecutive points (the last may be shorter) replaced by its mean.
fn average_runs(points: &[(f64, f64)], run: usize) -> Vec<(f64, f64)> {
    points
        .chunks(run.max(1))
        .map(|c| {
            let n = c.len() as f64;
            let x = c.iter().map(|p| p.0).sum::<f64>() / n;
            let y = c.iter().map(|p| p.1).sum::<f64>() / n;
            (x, y)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_bounds_a_line_and_keeps_its_shape() {
        let line: Vec<(f64, f64)> = (0..2000).map(|i| (i as f64, 2.0 * i as f64)).collect();
        assert!(matches!(thin(&line, 4000), Cow::Borrowed(_)));
        let t = thin(&line, 180);
        assert!(t.len() <= 180 && t.len() >= 90, "{}", t.len());
        // Averages of a straight line stay on it, in order, spanning nearly all of it.
        assert!(t.iter().all(|&(x, y)| (y - 2.0 * x).abs() < 1e-9));
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(t[0].0 < 12.0 && t[t.len() - 1].0 > 1988.0);
    }

    #[test]
    fn stays_bounded_after_100k_points() {
        let mut s = Series::new(2048);
        for i in 0..100_000 {
            s.push(i as f64 / 1875.0, 2.3 / (1.0 + i as f64 / 1000.0));
        }
        assert!(s.len() <= 2048, "{}", s.len());
        assert!(s.len() >= 1024, "{}", s.len());
        // Downsampling keeps the shape: x increasing, y decreasing, span preserved.
        let p = s.points();
        assert!(p.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1));
        assert!(p[0].0 < 0.1 && p[p.len() - 1].0 > 50.0);
    }

    #[test]
    fn ignores_non_finite_values() {
        let mut s = Series::new(8);
        s.push(0.0, f64::NAN);
        s.push(f64::INFINITY, 1.0);
        s.push(1.0, 1.0);
        assert_eq!(s.points(), &[(1.0, 1.0)]);
    }
}

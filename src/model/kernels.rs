//! How a network's layers compute, where there are equal ways whose speed depends on the
//! CPU: the order of the dense layers' products ([`Dense`], see [`super::dense`]) and the
//! activations' memory layout ([`Layout`], see [`super::layout`]). Which is faster was
//! decided by a rule tuned on one CPU (the tutorial's products turned for Zen 5's AVX-512
//! MKL, the fast network channels-last: [`Kernels::rule`]); on another CPU the other may
//! win. So `auto` (the default of
//! `model.dense` and `model.layout`) times the candidates at start-up: a few training
//! steps of each, on a batch of random images of the run's batch size, in alternating
//! rounds, and keeps the fastest (about 0.1 s for the tutorial, about a second
//! for the fast network). A run records what it chose in its config, so a resumed run
//! computes as it began; naming a value in the config forces it (and repeats a run's
//! arithmetic on another machine).

use std::fmt;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::{build_in, ModelKind};

/// The dense layers' product (`model.dense`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dense {
    /// Timed at start-up.
    #[default]
    Auto,
    /// `(W · xsᵀ + b)ᵀ` ([`super::dense::dense`]).
    Turned,
    /// libtorch's `linear`: `xs · Wᵀ + b`.
    Linear,
}

/// The activations' memory layout (`model.layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Timed at start-up.
    #[default]
    Auto,
    /// NHWC strides ([`super::layout::channels_last`]).
    ChannelsLast,
    /// Plain NCHW.
    Contiguous,
}

impl fmt::Display for Dense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dense::Auto => "auto",
            Dense::Turned => "turned",
            Dense::Linear => "linear",
        })
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Auto => "auto",
            Layout::ChannelsLast => "channels_last",
            Layout::Contiguous => "contiguous",
        })
    }
}

/// How a network computes: its dense products, its activations' layout and the kind of
/// its arithmetic (see [`super::precision`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    pub dense: Dense,
    pub layout: Layout,
    pub compute: Kind,
}

impl Kernels {
    /// The rule that held before any timing: the tutorial's products turned and its
    /// activations plain; the fast network's activations channels-last (BatchNorm and
    /// max-pool) and its head libtorch's `linear`.
    pub fn rule(kind: ModelKind, compute: Kind) -> Kernels {
        match kind {
            ModelKind::Tutorial => Kernels {
                dense: Dense::Turned,
                layout: Layout::Contiguous,
                compute,
            },
            ModelKind::Fast => Kernels {
                dense: Dense::Linear,
                layout: Layout::ChannelsLast,
                compute,
            },
        }
    }

    /// `asked`'s values, each `auto` replaced by the rule's.
    pub fn or_rule(asked: (Dense, Layout), kind: ModelKind, compute: Kind) -> Kernels {
        let rule = Kernels::rule(kind, compute);
        Kernels {
            dense: if asked.0 == Dense::Auto {
                rule.dense
            } else {
                asked.0
            },
            layout: if asked.1 == Layout::Auto {
                rule.layout
            } else {
                asked.1
            },
            compute,
        }
    }

    /// In words, for the Log: `dense turned, layout contiguous`.
    pub fn text(&self) -> String {
        format!("dense {}, layout {}", self.dense, self.layout)
    }
}

/// Every way `asked` leaves open for `kind`, the rule's first: an `auto` value is each of
/// its choices, a named one only itself. The fast network's one dense layer (its 10-way
/// head) is too small to time: it keeps the rule's unless named.
pub fn candidates(asked: (Dense, Layout), kind: ModelKind, compute: Kind) -> Vec<Kernels> {
    let rule = Kernels::or_rule(asked, kind, compute);
    let denses = match (asked.0, kind) {
        (Dense::Auto, ModelKind::Tutorial) => vec![rule.dense, other_dense(rule.dense)],
        _ => vec![rule.dense],
    };
    let layouts = match asked.1 {
        Layout::Auto => vec![rule.layout, other_layout(rule.layout)],
        _ => vec![rule.layout],
    };
    let mut out = Vec::new();
    for &layout in &layouts {
        for &dense in &denses {
            out.push(Kernels {
                dense,
                layout,
                compute,
            });
        }
    }
    out
}

fn other_dense(d: Dense) -> Dense {
    if d == Dense::Turned {
        Dense::Linear
    } else {
        Dense::Turned
    }
}

fn other_layout(l: Layout) -> Layout {
    if l == Layout::ChannelsLast {
        Layout::Contiguous
    } else {
        Layout::ChannelsLast
    }
}

/// One candidate and the median time of its timed steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timed {
    pub kernels: Kernels,
    pub seconds: f64,
}

/// Timed rounds after one untimed step of each candidate.
pub const ROUNDS: usize = 4;

/// Time a training step (forward, loss, backward) of `kind` with each of `candidates` on
/// `device`: a batch of `batch` random images, one untimed step each, then [`ROUNDS`]
/// rounds of one step each in turn, so that a slow spell of the machine falls on all of
/// them alike. The median of each candidate's rounds, in the candidates' order. Draws
/// from libtorch's generator: a run seeds it afterwards.
pub fn time(kind: ModelKind, candidates: &[Kernels], batch: usize, device: Device) -> Vec<Timed> {
    let nets: Vec<(nn::VarStore, Box<dyn super::Network + Send>)> = candidates
        .iter()
        .map(|k| {
            let vs = nn::VarStore::new(device);
            let net = build_in(kind, &vs.root(), 0.2, *k);
            (vs, net)
        })
        .collect();
    let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let xs = Tensor::rand([batch, 1, 28, 28], (Kind::Float, device));
    let ys = Tensor::randint(10, [batch], (Kind::Int64, device));
    let step = |(vs, net): &(nn::VarStore, Box<dyn super::Network + Send>)| {
        let loss = net.forward_t(&xs, true).cross_entropy_for_logits(&ys);
        loss.backward();
        for mut v in vs.trainable_variables() {
            v.zero_grad();
        }
    };
    nets.iter().for_each(step);
    let mut times = vec![Vec::with_capacity(ROUNDS); nets.len()];
    for _ in 0..ROUNDS {
        for (net, t) in nets.iter().zip(&mut times) {
            let start = Instant::now();
            step(net);
            t.push(start.elapsed().as_secs_f64());
        }
    }
    candidates
        .iter()
        .zip(times)
        .map(|(&kernels, mut t)| {
            t.sort_by(f64::total_cmp);
            Timed {
                kernels,
                seconds: t[t.len() / 2],
            }
        })
        .collect()
}

/// The fastest of `timed` (the first of equals: the rule's), and the Log's line that says
/// what was timed: `kernels: dense linear, layout contiguous (6.1 ms a step; dense
/// turned, layout contiguous 7.0 ms; …), timed at start-up (model.dense, model.layout)`.
pub fn fastest(timed: &[Timed]) -> Option<(Kernels, String)> {
    let best = timed.iter().fold(None::<&Timed>, |b, t| match b {
        Some(b) if b.seconds <= t.seconds => Some(b),
        _ => Some(t),
    })?;
    let ms = |t: &Timed| format!("{:.1} ms", t.seconds * 1e3);
    let others: Vec<String> = timed
        .iter()
        .filter(|t| t.kernels != best.kernels)
        .map(|t| format!("{} {}", t.kernels.text(), ms(t)))
        .collect();
    let line = format!(
        "kernels: {} ({} a step; {}), the fastest of those timed at start-up \
         (model.dense, model.layout name one)",
        best.kernels.text(),
        ms(best),
        others.join("; ")
    );
    Some((best.kernels, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_opens_each_choice_and_a_named_value_only_itself() {
        let tut = |d, l| candidates((d, l), ModelKind::Tutorial, Kind::Float);
        let all = tut(Dense::Auto, Layout::Auto);
        assert_eq!(all.len(), 4);
        // The rule's first.
        assert_eq!(all[0], Kernels::rule(ModelKind::Tutorial, Kind::Float));
        let pairs: Vec<(Dense, Layout)> = all.iter().map(|k| (k.dense, k.layout)).collect();
        for d in [Dense::Turned, Dense::Linear] {
            for l in [Layout::ChannelsLast, Layout::Contiguous] {
                assert!(pairs.contains(&(d, l)), "{d} {l}");
            }
        }
        assert_eq!(tut(Dense::Linear, Layout::Auto).len(), 2);
        let one = tut(Dense::Linear, Layout::ChannelsLast);
        assert_eq!(
            one.iter().map(|k| (k.dense, k.layout)).collect::<Vec<_>>(),
            [(Dense::Linear, Layout::ChannelsLast)]
        );
        // The fast network: only the layout is timed unless the dense order is named.
        let fast = candidates((Dense::Auto, Layout::Auto), ModelKind::Fast, Kind::Float);
        assert_eq!(fast.len(), 2);
        assert_eq!(fast[0].layout, Layout::ChannelsLast);
        assert!(fast.iter().all(|k| k.dense == Dense::Linear));
    }

    #[test]
    fn the_fastest_wins_and_the_line_names_every_candidate() {
        let k = candidates(
            (Dense::Auto, Layout::Auto),
            ModelKind::Tutorial,
            Kind::Float,
        );
        let timed: Vec<Timed> = k
            .iter()
            .zip([0.009, 0.007, 0.008, 0.007])
            .map(|(&kernels, seconds)| Timed { kernels, seconds })
            .collect();
        let (best, line) = fastest(&timed).expect("a choice");
        // Of the two equal, the first.
        assert_eq!(best, k[1]);
        assert!(line.starts_with(&format!("kernels: {} (7.0 ms a step; ", k[1].text())));
        for t in [&k[0], &k[2], &k[3]] {
            assert!(line.contains(&t.text()), "{line}");
        }
        assert_eq!(fastest(&[]), None);
    }

    #[test]
    fn every_candidate_trains_and_timing_gives_each_a_time() {
        let k = candidates(
            (Dense::Auto, Layout::Auto),
            ModelKind::Tutorial,
            Kind::Float,
        );
        let timed = time(ModelKind::Tutorial, &k, 4, Device::Cpu);
        assert_eq!(timed.len(), 4);
        assert!(timed
            .iter()
            .all(|t| t.seconds > 0.0 && t.seconds.is_finite()));
        assert_eq!(
            timed.iter().map(|t| t.kernels).collect::<Vec<_>>(),
            k,
            "in the candidates' order"
        );
    }
}

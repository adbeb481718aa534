//! The training loss: cross-entropy of the logits, with optional label smoothing (the
//! target puts `1 - ε` on the true class and spreads `ε` evenly over all classes).

use tch::{Reduction, Tensor};

/// Mean cross-entropy of `logits` (`[N, K]`) against labels `ys` (`[N]`), with label
/// smoothing `smoothing` (0 = plain cross-entropy, computed exactly as the tutorial's).
pub fn cross_entropy(logits: &Tensor, ys: &Tensor, smoothing: f64) -> Tensor {
    if smoothing == 0.0 {
        return logits.cross_entropy_for_logits(ys);
    }
    logits.cross_entropy_loss::<Tensor>(ys, None, Reduction::Mean, -100, smoothing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn smoothing_matches_its_formula() {
        tch::manual_seed(4);
        let logits = Tensor::randn([6, 10], (Kind::Float, Device::Cpu));
        let ys = Tensor::from_slice(&[0i64, 3, 9, 2, 2, 7]);
        let eps = 0.1;
        // (1 - ε)·(-log p[y]) + ε·mean_k(-log p[k]), averaged over the batch.
        let logp = logits.log_softmax(-1, Kind::Float);
        let nll = -logp.gather(1, &ys.unsqueeze(1), false).squeeze_dim(1);
        let uniform = -logp.mean_dim(1, false, Kind::Float);
        let want: Tensor = (nll * (1.0 - eps) + uniform * eps).mean(Kind::Float);
        let got = cross_entropy(&logits, &ys, eps);
        assert!(got.allclose(&want, 1e-6, 1e-6, false));
        // Without smoothing: the plain loss, bit for bit.
        assert!(cross_entropy(&logits, &ys, 0.0).equal(&logits.cross_entropy_for_logits(&ys)));
    }
}

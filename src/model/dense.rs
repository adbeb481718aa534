//! A linear layer's product turned round for MKL: `xs · Wᵀ + b` computed as
//! `(W · xsᵀ + b)ᵀ`.
//!
//! The values are the same product, the result a transposed view. At the tutorial's
//! shapes (a batch of 32 through `fc1`'s [512, 512] weights) MKL's AVX-512 kernels run
//! this order and its two backward products faster than libtorch's `linear`
//! (`addmm(b, xs, Wᵀ)`; see [`crate::mkl`], and the README's speed section for the
//! figures); on other CPUs `linear` may win, so a run times both
//! ([`super::kernels`]). The weights keep their layout, so checkpoints and `model.json`
//! are unchanged.

use tch::nn;
use tch::Tensor;

use super::kernels::Dense;

/// `layer` applied to `xs` in the order `order` says (`auto` is the turned one).
pub fn dense_by(order: Dense, xs: &Tensor, layer: &nn::Linear) -> Tensor {
    match order {
        Dense::Linear => {
            let kind = xs.kind();
            let bias = layer.bs.as_ref().map(|b| b.to_kind(kind));
            xs.linear(&layer.ws.to_kind(kind), bias)
        }
        Dense::Turned | Dense::Auto => dense(xs, layer),
    }
}

/// `layer` applied to `xs` ([N, in] to [N, out]), the product turned round (see the
/// module header), in the kind of `xs` (the weights cast to it).
pub fn dense(xs: &Tensor, layer: &nn::Linear) -> Tensor {
    let ws = layer.ws.to_kind(xs.kind());
    let turned = match &layer.bs {
        Some(b) => b.to_kind(xs.kind()).unsqueeze(1).addmm(&ws, &xs.tr()),
        None => ws.mm(&xs.tr()),
    };
    turned.tr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::Module;
    use tch::{Device, Kind};

    /// Forward values and every gradient agree with libtorch's `linear`.
    #[test]
    fn dense_equals_linear_forward_and_backward() {
        tch::manual_seed(3);
        for bias in [true, false] {
            let vs = nn::VarStore::new(Device::Cpu);
            let cfg = nn::LinearConfig {
                bias,
                ..Default::default()
            };
            let layer = nn::linear(vs.root() / "fc", 48, 20, cfg);
            let xs = Tensor::randn([7, 48], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            let probe = Tensor::randn([7, 20], (Kind::Float, Device::Cpu));

            let ours = dense(&xs, &layer);
            let theirs = layer.forward(&xs);
            assert_eq!(ours.size(), [7, 20]);
            assert!(ours.allclose(&theirs, 1e-5, 1e-5, false), "bias {bias}");
            assert!(dense_by(Dense::Linear, &xs, &layer).equal(&theirs));

            let grads = |ys: &Tensor| {
                let mut vars = vec![xs.shallow_clone(), layer.ws.shallow_clone()];
                vars.extend(layer.bs.iter().map(Tensor::shallow_clone));
                Tensor::run_backward(&[(ys * &probe).sum(Kind::Float)], &vars, false, false)
            };
            for (a, b) in grads(&ours).iter().zip(grads(&theirs).iter()) {
                assert!(a.allclose(b, 1e-5, 1e-5, false), "bias {bias}");
            }
        }
    }
}

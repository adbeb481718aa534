//! Adam's whole update in one pass over the flat buffers, on the CPU: read a gradient,
//! its two moments and its weight once, write three of them once. libtorch's tensor-op
//! chain makes eleven passes over the same 1.4 MB (the tutorial network) and dispatches
//! eleven kernels; this loop, compiled for AVX-512 or AVX2 when the processor has them,
//! takes a third to a half of the time (its square roots and divisions bound it, and
//! AVX-512 does twice as many at once). tch does not bind libtorch's own `_fused_adam_`. Large buffers are split
//! between libtorch's own threads ([`team`]), which otherwise wait while the update runs.
//!
//! The arithmetic is the tensor chain's, operation for operation, in f32: `lerp` as
//! libtorch's vectorised kernel computes it (one fused multiply-add), then
//! `v·β2 + (g·g)·(1-β2)`, `√v / √bc2 + ε`, `(m / denom)·step`.

use tch::{Device, Kind, Tensor};

use crate::team;

/// Buffers of at least this many values are split across libtorch's intra-op threads
/// ([`team`]); below it, waking the second thread costs more than it saves.
const SPLIT_FROM: usize = 1 << 15;

/// Adam's constants for one step, as f32 (libtorch converts its scalars the same way).
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    /// 1 - β1, the weight of `lerp(m, g, ·)`.
    pub one_minus_beta1: f32,
    pub beta2: f32,
    pub one_minus_beta2: f32,
    /// √(1 - β2ᵗ).
    pub sqrt_bc2: f32,
    pub eps: f32,
    /// lr / (1 - β1ᵗ).
    pub step_size: f32,
}

/// Whether [`adam`] can run on these buffers: contiguous f32 on the CPU, same length.
pub fn applies(buffers: &[&Tensor]) -> bool {
    let n = buffers.first().map(|t| t.numel());
    buffers.iter().all(|t| {
        t.device() == Device::Cpu
            && t.kind() == Kind::Float
            && t.is_contiguous()
            && Some(t.numel()) == n
    })
}

/// One Adam step over whole flat buffers: `p` weights, `g` gradients, `m`/`v` moments.
/// Callers check [`applies`] first; panics otherwise (a programming error, not a user's).
pub fn adam(p: &mut Tensor, g: &Tensor, m: &mut Tensor, v: &mut Tensor, c: AdamStep) {
    assert!(
        applies(&[p, g, m, v]),
        "fused Adam needs contiguous CPU f32 buffers"
    );
    let n = p.numel();
    if n == 0 {
        // An empty buffer's data pointer may be null, which no slice may hold.
        return;
    }
    let threads = team::threads_for(n, SPLIT_FROM);
    let (p, g, m, v) = (
        p.data_ptr() as usize,
        g.data_ptr() as usize,
        m.data_ptr() as usize,
        v.data_ptr() as usize,
    );
    team::split(threads, &|part, parts| {
        let r = team::piece(n, part, parts, 16);
        let len = r.len();
        if len == 0 {
            return;
        }
        // SAFETY: each tensor is a contiguous CPU f32 buffer of n elements (checked
        // above), the four are distinct allocations owned by the optimiser (weights,
        // gradients, two moments), nothing else touches them during the step, and the
        // parts' ranges are disjoint pieces of 0..n.
        let (p, g, m, v) = unsafe {
            let at = |base: usize| (base as *mut f32).add(r.start);
            (
                std::slice::from_raw_parts_mut(at(p), len),
                std::slice::from_raw_parts(at(g) as *const f32, len),
                std::slice::from_raw_parts_mut(at(m), len),
                std::slice::from_raw_parts_mut(at(v), len),
            )
        };
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F (just checked), and with it AVX2 and FMA.
            unsafe { adam_avx512(p, g, m, v, c) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the processor has AVX2 and FMA (just checked).
            unsafe { adam_avx2(p, g, m, v, c) };
            return;
        }
        adam_slices(p, g, m, v, c);
    });
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn adam_avx2(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamStep) {
    adam_slices(p, g, m, v, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn adam_avx512(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamStep) {
    adam_slices(p, g, m, v, c)
}

#[inline(always)]
fn adam_slices(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamStep) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = c.one_minus_beta1.mul_add(g - *m, *m);
        *v = *v * c.beta2 + g * g * c.one_minus_beta2;
        let denom = v.sqrt() / c.sqrt_bc2 + c.eps;
        *p -= *m / denom * c.step_size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contiguous_cpu_floats_of_one_length_apply() {
        let a = Tensor::zeros([6], (Kind::Float, Device::Cpu));
        assert!(applies(&[&a, &a.zeros_like()]));
        assert!(!applies(&[
            &a,
            &Tensor::zeros([5], (Kind::Float, Device::Cpu))
        ]));
        assert!(!applies(&[&a, &a.to_kind(Kind::Double)]));
        let strided = Tensor::zeros([12], (Kind::Float, Device::Cpu)).slice(0, 0, 12, 2);
        assert!(!applies(&[&strided]));
    }

    #[test]
    fn a_buffer_split_across_threads_gets_the_same_update_as_one_loop() {
        // Split when libtorch runs more than one thread (its default: one per core).
        let n = 3 * SPLIT_FROM + 5;
        let o = (Kind::Float, Device::Cpu);
        let (p, g, m) = (
            Tensor::randn([n as i64], o),
            Tensor::randn([n as i64], o),
            Tensor::randn([n as i64], o),
        );
        let v = Tensor::rand([n as i64], o);
        let c = AdamStep {
            one_minus_beta1: 0.1,
            beta2: 0.999,
            one_minus_beta2: 0.001,
            sqrt_bc2: 0.05,
            eps: 1e-7,
            step_size: 1e-3,
        };
        let (mut p1, mut m1, mut v1) = (p.copy(), m.copy(), v.copy());
        adam(&mut p1, &g, &mut m1, &mut v1, c);
        let values = |t: &Tensor| Vec::<f32>::try_from(t).unwrap();
        let (mut p2, g2, mut m2, mut v2) = (values(&p), values(&g), values(&m), values(&v));
        adam_slices(&mut p2, &g2, &mut m2, &mut v2, c);
        assert_eq!(values(&p1), p2, "weights");
        assert_eq!(values(&m1), m2, "first moments");
        assert_eq!(values(&v1), v2, "second moments");
        assert_ne!(p2, values(&p), "the step moved the weights");
    }
}

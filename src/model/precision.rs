//! The arithmetic a network computes in: f32, or bfloat16 where the hardware has it.
//!
//! With `bf16`, the networks cast their input and each layer's weights to bfloat16 as
//! they run, so the convolutions (and the tutorial's dense layers) compute in it, with
//! f32 accumulation inside oneDNN's kernels; the logits come back in f32 for the loss.
//! The weights themselves, their gradients, the optimiser's state, the weight averages
//! and BatchNorm's running statistics stay f32, so checkpoints do not change.
//!
//! bfloat16 pays only where the hardware computes it: a CPU with AVX512-BF16 runs
//! oneDNN's bf16 kernels, which train the fast network faster than f32 (the README's
//! fast-model section gives the figure). Elsewhere oneDNN would emulate it, slower than
//! f32, so a run asking for `bf16` there computes in f32 and says so.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

/// The arithmetic of the network's forward and backward passes (`model.precision`). The
/// weights, the optimiser and the averages stay f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    /// bfloat16 activations and weights in the layers, where the hardware computes it.
    Bf16,
}

/// The tensor kind `asked` comes to on `device`, and a line for the Log when that is
/// not what was asked.
pub fn resolve(asked: Precision, device: Device) -> (Kind, Option<String>) {
    resolve_with(asked, native_bf16(device))
}

/// [`resolve`] on hardware that has native bfloat16 or not (only a CPU may lack it).
fn resolve_with(asked: Precision, native: bool) -> (Kind, Option<String>) {
    match asked {
        Precision::F32 => (Kind::Float, None),
        Precision::Bf16 if native => (Kind::BFloat16, None),
        Precision::Bf16 => (
            Kind::Float,
            Some(
                "precision bf16 asked, but this CPU has no native bfloat16 (AVX512-BF16): \
                 computing in f32"
                    .to_string(),
            ),
        ),
    }
}

/// Whether `device` computes bfloat16 natively. CUDA: taken as yes (Ampere and later
/// GPUs do; older ones emulate it; never measured here). CPU: AVX512-BF16.
pub fn native_bf16(device: Device) -> bool {
    match device {
        Device::Cpu => cpu_bf16(),
        _ => true,
    }
}

#[cfg(target_arch = "x86_64")]
fn cpu_bf16() -> bool {
    // (CPUs with AMX have AVX512-BF16 too.)
    std::arch::is_x86_feature_detected!("avx512bf16")
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_bf16() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_only_where_native_and_the_fallback_is_said() {
        assert_eq!(resolve_with(Precision::F32, true), (Kind::Float, None));
        assert_eq!(resolve_with(Precision::Bf16, true), (Kind::BFloat16, None));
        let (kind, note) = resolve_with(Precision::Bf16, false);
        assert_eq!(kind, Kind::Float);
        let note = note.expect("the fallback is said");
        assert!(note.contains("this CPU") && note.contains("f32"), "{note}");
        // f32 is never a fallback, whatever the hardware.
        assert_eq!(resolve(Precision::F32, Device::Cpu), (Kind::Float, None));
    }
}

//! What one image costs a network in floating-point operations, counted from the layer
//! shapes that `model.json` describes (the description a PyTorch user rebuilds the network
//! from), so that the benchmark can say which fraction of the machine's matrix-multiply
//! ceiling a training epoch reaches.
//!
//! Only the convolutions and dense layers are counted: their multiply-accumulates are
//! the arithmetic that runs at matrix-multiply speed. Biases, BatchNorm, ReLU, pooling,
//! dropout, the loss and the optimiser are a few operations per value and are left out.

use serde_json::Value;

use super::ModelKind;

/// Fashion-MNIST's input: one grey channel of 28×28 pixels.
const INPUT_CHANNELS: u64 = 1;
const INPUT_SIDE: u64 = 28;

/// Multiply-accumulates of one image through a network's conv and dense layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// The whole forward pass.
    pub forward_macs: u64,
    /// The first conv or dense layer alone: its input is the image, which needs no
    /// gradient, so backward skips that layer's input gradient.
    pub first_macs: u64,
}

impl Cost {
    /// Floating-point operations of one image's forward pass (evaluation): two per
    /// multiply-accumulate.
    pub fn forward_flops(&self) -> u64 {
        2 * self.forward_macs
    }

    /// Floating-point operations of one image's training step: the forward pass, the
    /// weights' gradients (as many multiply-accumulates again) and the inputs' gradients
    /// (as many again, but for the first layer's) — about three forward passes.
    pub fn train_flops(&self) -> u64 {
        2 * (3 * self.forward_macs - self.first_macs)
    }
}

/// The cost of one image through `kind`.
pub fn cost(kind: ModelKind) -> Cost {
    // The descriptions are built in code and a test walks each of them.
    cost_of_layers(&super::layers(kind, 0.0))
        .unwrap_or_else(|e| panic!("the {kind} network's layer description: {e}"))
}

/// The cost of one image through the layers of a `model.json` description (its
/// `layers` array), walking the activation's shape from the 28×28 input. An unknown
/// layer type or a dense layer whose input does not match what reaches it is an error,
/// so that nothing is silently left uncounted.
pub fn cost_of_layers(layers: &Value) -> anyhow::Result<Cost> {
    let layers = layers
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the layers are not an array"))?;
    let (mut channels, mut side) = (INPUT_CHANNELS, INPUT_SIDE);
    let mut macs = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let field = |name: &str| {
            layer[name]
                .as_u64()
                .ok_or_else(|| anyhow::anyhow!("layer {i}: no `{name}`"))
        };
        let kind = layer["type"].as_str().unwrap_or_default();
        match kind {
            "Conv2d" | "Conv2d+BatchNorm2d" => {
                let (cin, cout) = (field("in_channels")?, field("out_channels")?);
                let (k, stride, pad) = (field("kernel_size")?, field("stride")?, field("padding")?);
                if cin != channels {
                    return Err(anyhow::anyhow!(
                        "layer {i}: {cin} input channels, but {channels} reach it"
                    ));
                }
                side = out_side(side + 2 * pad, k, stride).ok_or_else(|| {
                    anyhow::anyhow!("layer {i}: a {k}×{k} kernel on {side} pixels")
                })?;
                macs.push(side * side * cout * cin * k * k);
                channels = cout;
            }
            "MaxPool2d" => {
                let (k, stride) = (field("kernel_size")?, field("stride")?);
                side = out_side(side, k, stride)
                    .ok_or_else(|| anyhow::anyhow!("layer {i}: a {k}×{k} pool on {side} pixels"))?;
            }
            "AdaptiveMaxPool2d" => side = field("output_size")?,
            "Linear" => {
                let (din, dout) = (field("in_features")?, field("out_features")?);
                if din != channels * side * side {
                    return Err(anyhow::anyhow!(
                        "layer {i}: {din} input features, but {channels}×{side}×{side} reach it"
                    ));
                }
                macs.push(din * dout);
                (channels, side) = (dout, 1);
            }
            "Flatten" | "Dropout" => {}
            other => return Err(anyhow::anyhow!("layer {i}: unknown type `{other}`")),
        }
    }
    Ok(Cost {
        forward_macs: macs.iter().sum(),
        first_macs: macs.first().copied().unwrap_or(0),
    })
}

/// Positions of a `k`-wide window moved by `stride` over `side` pixels (unpadded).
fn out_side(side: u64, k: u64, stride: u64) -> Option<u64> {
    (stride > 0 && side >= k).then(|| (side - k) / stride + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fast;

    #[test]
    fn the_tutorials_cost_by_hand_from_its_layer_shapes() {
        // Outputs × output channels × (input channels × 3 × 3) for each conv, 28 → 13 →
        // 6 → 2 pixels (one input channel for conv1); in × out for each dense layer.
        let conv1 = 13 * 13 * 32 * 9;
        let conv2 = 6 * 6 * 64 * (32 * 9);
        let conv3 = 2 * 2 * 128 * (64 * 9);
        let fc1 = 512 * 512;
        let fc2 = 512 * 10;
        let c = cost(ModelKind::Tutorial);
        assert_eq!(c.forward_macs, conv1 + conv2 + conv3 + fc1 + fc2);
        assert_eq!(c.forward_macs, 1_274_400);
        assert_eq!(c.first_macs, conv1);
        assert_eq!(c.forward_flops(), 2_548_800);
        assert_eq!(c.train_flops(), 2 * (3 * 1_274_400 - 48_672));
        // The "0.24 GFLOP" for a training step at batch 32.
        assert_eq!(32 * c.train_flops(), 241_569_792);
    }

    #[test]
    fn the_fast_networks_cost_agrees_with_its_own_count() {
        let c = cost(ModelKind::Fast);
        assert_eq!(c.forward_macs, fast::macs(fast::FAST_SPEC));
        // The stem: 14 × 14 outputs of 32 channels from one.
        assert_eq!(c.first_macs, 14 * 14 * 32 * 9);
    }

    #[test]
    fn a_description_that_does_not_add_up_is_refused() {
        let mut layers = crate::model::layers(ModelKind::Tutorial, 0.2);
        layers[5]["in_features"] = 256.into();
        let e = cost_of_layers(&layers).unwrap_err().to_string();
        assert!(
            e.contains("256 input features, but 128×2×2 reach it"),
            "{e}"
        );
        let odd = serde_json::json!([{"type": "LSTM"}]);
        assert!(cost_of_layers(&odd)
            .unwrap_err()
            .to_string()
            .contains("unknown type `LSTM`"));
    }
}

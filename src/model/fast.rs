//! The `fast` network: a small BatchNorm CNN in the style of the CIFAR-10 speed runs
//! (airbench), sized for two CPU cores. A cheap 3×3 stride-2 stem (28 → 14 pixels, so no
//! full-resolution activations are stored), then 3×3 convs at 14×14, 7×7 and 3×3 with a
//! max-pool before each lower resolution, BatchNorm + ReLU after every conv, a global
//! max-pool and one linear layer: 390,890 parameters, 9.9 M multiply-adds per image.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use super::dense::dense_by;
use super::dropout::Dropout;
use super::kernels::{Kernels, Layout};
use super::{layout, ModelKind, Network};

/// The shape of a [`FastCnn`]: the stem's channels and stride, then its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastSpec {
    pub stem: i64,
    pub stem_stride: i64,
    pub blocks: &'static [Block],
}

/// `convs` 3×3 convs of `width` channels, after a 2×2 max-pool when `pool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub width: i64,
    pub convs: usize,
    pub pool: bool,
}

pub const fn block(width: i64, convs: usize, pool: bool) -> Block {
    Block { width, convs, pool }
}

/// The network `--model fast` builds.
pub const FAST_SPEC: FastSpec = FastSpec {
    stem: 32,
    stem_stride: 2,
    blocks: &[
        block(64, 1, false),
        block(128, 1, true),
        block(256, 1, true),
    ],
};

/// Names of the conv layers, in order, as the feature-map pane shows them.
const CONV_NAMES: [&str; 8] = [
    "conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "conv7", "conv8",
];

/// A 3×3 "same" conv without bias, followed by BatchNorm and ReLU.
#[derive(Debug)]
struct ConvBn {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    stride: i64,
}

impl ConvBn {
    fn new(vs: &nn::Path, cin: i64, cout: i64, stride: i64) -> ConvBn {
        let cfg = nn::ConvConfig {
            padding: 1,
            stride,
            bias: false,
            ws_init: nn::Init::Kaiming {
                dist: nn::init::NormalOrUniform::Uniform,
                fan: nn::init::FanInOut::FanIn,
                non_linearity: nn::init::NonLinearity::ReLU,
            },
            ..Default::default()
        };
        ConvBn {
            conv: nn::conv2d(vs / "conv", cin, cout, 3, cfg),
            bn: nn::batch_norm2d(vs / "bn", cout, Default::default()),
            stride,
        }
    }

    /// In the kind of `xs` (see [`super::precision`]); BatchNorm's parameters and
    /// statistics stay f32.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let ws = self.conv.ws.to_kind(xs.kind());
        let s = self.stride;
        xs.conv2d(&ws, None::<Tensor>, [s, s], [1, 1], [1, 1], 1)
            .apply_t(&self.bn, train)
            .relu()
    }
}

/// A stem and pooled blocks of [`ConvBn`]; see the module header.
#[derive(Debug)]
pub struct FastCnn {
    /// Every conv in order; `pool_before[i]`: a 2×2 max-pool precedes conv `i`.
    convs: Vec<ConvBn>,
    pool_before: Vec<bool>,
    head: nn::Linear,
    dropout: f64,
    /// How the layers compute (see [`super::kernels`]).
    kernels: Kernels,
}

impl FastCnn {
    pub fn new(vs: &nn::Path, dropout: f64) -> FastCnn {
        FastCnn::with_spec(vs, FAST_SPEC, dropout)
    }

    /// A network of another shape (for experiments with the recipe).
    pub fn with_spec(vs: &nn::Path, spec: FastSpec, dropout: f64) -> FastCnn {
        let mut convs = vec![ConvBn::new(&(vs / "conv1"), 1, spec.stem, spec.stem_stride)];
        let mut pool_before = vec![false];
        let mut cin = spec.stem;
        for b in spec.blocks {
            for k in 0..b.convs.max(1) {
                let name = CONV_NAMES.get(convs.len()).copied().unwrap_or("conv_extra");
                convs.push(ConvBn::new(&(vs / name), cin, b.width, 1));
                pool_before.push(k == 0 && b.pool);
                cin = b.width;
            }
        }
        let head = nn::linear(vs / "fc", cin, 10, Default::default());
        FastCnn {
            convs,
            pool_before,
            head,
            dropout,
            kernels: Kernels::rule(ModelKind::Fast, Kind::Float),
        }
    }

    /// The same network computing as `kernels` says: its convs in f32 or bfloat16, its
    /// activations in either layout, its head's product turned or not.
    pub fn computing_with(self, kernels: Kernels) -> FastCnn {
        FastCnn { kernels, ..self }
    }

    /// Logits from the last conv's output: global max-pool, dropout, linear (in f32).
    fn classify(&self, features: &Tensor, train: bool) -> Tensor {
        let dropped = features
            .amax([2, 3], false)
            .to_kind(Kind::Float)
            .apply_t(&Dropout(self.dropout), train);
        dense_by(self.kernels.dense, &dropped, &self.head)
    }

    /// By the rule the activations are channels-last throughout (see [`layout`]): on two
    /// Zen 5 cores that made a training step ~20% faster (BatchNorm and max-pool above
    /// all); a run times both layouts ([`super::kernels`]).
    fn run(&self, xs: &Tensor, train: bool, mut keep: impl FnMut(usize, &Tensor)) -> Tensor {
        let xs = match self.kernels.layout {
            Layout::Contiguous => xs.shallow_clone(),
            Layout::ChannelsLast | Layout::Auto => layout::channels_last(xs),
        };
        let mut x = xs.to_kind(self.kernels.compute);
        for (i, (conv, &pool)) in self.convs.iter().zip(&self.pool_before).enumerate() {
            if pool {
                x = x.max_pool2d_default(2);
            }
            x = conv.forward_t(&x, train);
            keep(i, &x);
        }
        self.classify(&x, train)
    }
}

impl ModuleT for FastCnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.run(xs, train, |_, _| {})
    }
}

impl Network for FastCnn {
    fn forward_with_activations(&self, xs: &Tensor) -> (Tensor, Vec<(&'static str, Tensor)>) {
        let mut acts = Vec::with_capacity(self.convs.len());
        let logits = self.run(xs, false, |i, a| {
            let name = CONV_NAMES.get(i).copied().unwrap_or("conv");
            acts.push((name, a.to_kind(Kind::Float)));
        });
        (logits, acts)
    }
}

/// Multiply-accumulates of one forward pass of one image through `spec` (convs and the
/// head; BatchNorm, ReLU and pooling are negligible beside them).
pub fn macs(spec: FastSpec) -> u64 {
    let mut side: u64 = 28 / spec.stem_stride.max(1) as u64;
    let mut total = side * side * spec.stem as u64 * 9;
    let mut cin = spec.stem as u64;
    for b in spec.blocks {
        if b.pool {
            side /= 2;
        }
        for _ in 0..b.convs.max(1) {
            total += side * side * cin * b.width as u64 * 9;
            cin = b.width as u64;
        }
    }
    total + cin * 10
}

/// The layers of a network of shape `spec` as `model.json` describes them: each conv is
/// `NAME.conv` (3×3, padding 1, no bias) then `NAME.bn` (BatchNorm2d, eps 1e-5, in
/// evaluation mode its running statistics) then ReLU.
pub fn layers(spec: FastSpec, dropout: f64) -> serde_json::Value {
    let conv = |name: &str, cin: i64, cout: i64, stride: i64| {
        serde_json::json!({"name": name, "type": "Conv2d+BatchNorm2d", "in_channels": cin,
            "out_channels": cout, "kernel_size": 3, "stride": stride, "padding": 1,
            "bias": false, "batch_norm": format!("{name}.bn"), "then": "relu"})
    };
    let mut out = vec![conv("conv1", 1, spec.stem, spec.stem_stride)];
    let (mut cin, mut convs) = (spec.stem, 1);
    for b in spec.blocks {
        for k in 0..b.convs.max(1) {
            if k == 0 && b.pool {
                out.push(serde_json::json!({"type": "MaxPool2d", "kernel_size": 2, "stride": 2}));
            }
            let name = CONV_NAMES.get(convs).copied().unwrap_or("conv_extra");
            out.push(conv(name, cin, b.width, 1));
            (cin, convs) = (b.width, convs + 1);
        }
    }
    out.push(
        serde_json::json!({"type": "AdaptiveMaxPool2d", "output_size": 1,
        "note": "global max over each channel, then flatten"}),
    );
    out.push(serde_json::json!({"type": "Dropout", "p": dropout, "note": "training only"}));
    out.push(
        serde_json::json!({"name": "fc", "type": "Linear", "in_features": cin,
        "out_features": 10}),
    );
    serde_json::Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device, Kind};

    fn params(vs: &VarStore) -> i64 {
        vs.trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    #[test]
    fn parameter_count_and_cost() {
        let vs = VarStore::new(Device::Cpu);
        let _m = FastCnn::new(&vs.root(), 0.0);
        // Convs (no bias) + BatchNorm scale and shift + the linear head.
        let convs = 9 * (32 + 32 * 64 + 64 * 128 + 128 * 256);
        let bn = 2 * (32 + 64 + 128 + 256);
        assert_eq!(params(&vs), convs + bn + 256 * 10 + 10);
        assert_eq!(params(&vs), 390_890);
        let expected = 14 * 14 * 32 * 9
            + 14 * 14 * 32 * 64 * 9
            + 7 * 7 * 64 * 128 * 9
            + 3 * 3 * 128 * 256 * 9
            + 256 * 10;
        assert_eq!(macs(FAST_SPEC), expected);
    }

    #[test]
    fn shapes_and_activations() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let m = FastCnn::new(&vs.root(), 0.0);
        let xs = Tensor::rand([3, 1, 28, 28], (Kind::Float, Device::Cpu));
        assert_eq!(m.forward_t(&xs, true).size(), [3, 10]);
        let (logits, acts) = m.forward_with_activations(&xs);
        assert_eq!(logits.size(), [3, 10]);
        let shapes: Vec<_> = acts.iter().map(|(n, t)| (*n, t.size())).collect();
        assert_eq!(
            shapes,
            [
                ("conv1", vec![3, 32, 14, 14]),
                ("conv2", vec![3, 64, 14, 14]),
                ("conv3", vec![3, 128, 7, 7]),
                ("conv4", vec![3, 256, 3, 3]),
            ]
        );
        // Activations follow a ReLU.
        assert!(acts.iter().all(|(_, a)| a.min().double_value(&[]) >= 0.0));
        // ... and stay channels-last from the input on.
        assert!(acts.iter().all(|(_, a)| super::layout::is_channels_last(a)));
    }

    #[test]
    fn batchnorm_uses_batch_statistics_in_training_and_running_ones_in_evaluation() {
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let m = FastCnn::new(&vs.root(), 0.0);
        let xs = Tensor::rand([8, 1, 28, 28], (Kind::Float, Device::Cpu));
        let mean_before = vs.variables()["conv2.bn.running_mean"].copy();
        let train = m.forward_t(&xs, true);
        let mean_after = vs.variables()["conv2.bn.running_mean"].copy();
        // A training pass moves the running statistics; an evaluation pass does not.
        assert!(!mean_before.equal(&mean_after));
        let eval_a = m.forward_t(&xs, false);
        let eval_b = m.forward_t(&xs, false);
        assert!(eval_a.equal(&eval_b));
        assert!(vs.variables()["conv2.bn.running_mean"].equal(&mean_after));
        // Batch statistics and running ones differ after a single step of momentum 0.1.
        assert!(!train.allclose(&eval_a, 1e-4, 1e-4, false));
        // In training mode an image's output depends on the rest of its batch.
        let alone = m.forward_t(&xs.narrow(0, 0, 2), true);
        assert!(!alone.allclose(&train.narrow(0, 0, 2), 1e-4, 1e-4, false));
    }
}

//! The Keras tutorial's network, reproduced exactly (layers, initialisation, dropout).

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use super::dense::dense_by;
use super::dropout::Dropout;
use super::kernels::{Kernels, Layout};
use super::{layout, ModelKind, Network};

/// Keras's default initialiser: Glorot (Xavier) uniform, bound √(6 / (fan_in + fan_out)).
fn glorot(fan_in: i64, fan_out: i64) -> nn::Init {
    let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
    nn::Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// The reference tutorial's network: three 3×3 stride-2 unpadded conv layers (32, 64,
/// 128 channels, ReLU), flatten (128×2×2 = 512), dropout, dense 512 ReLU, dropout,
/// dense 10. 360,458 parameters. Initialised like Keras (Glorot uniform, zero biases).
#[derive(Debug)]
pub struct TutorialCnn {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    conv3: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
    dropout: f64,
    /// How the layers compute (see [`super::kernels`]).
    kernels: Kernels,
}

impl TutorialCnn {
    pub fn new(vs: &nn::Path, dropout: f64) -> TutorialCnn {
        let conv = |name: &str, cin: i64, cout: i64| {
            let cfg = nn::ConvConfig {
                stride: 2,
                padding: 0,
                ws_init: glorot(cin * 9, cout * 9),
                bs_init: nn::Init::Const(0.0),
                ..Default::default()
            };
            nn::conv2d(vs / name, cin, cout, 3, cfg)
        };
        let linear = |name: &str, din: i64, dout: i64| {
            let cfg = nn::LinearConfig {
                ws_init: glorot(din, dout),
                bs_init: Some(nn::Init::Const(0.0)),
                bias: true,
            };
            nn::linear(vs / name, din, dout, cfg)
        };
        TutorialCnn {
            conv1: conv("conv1", 1, 32),
            conv2: conv("conv2", 32, 64),
            conv3: conv("conv3", 64, 128),
            fc1: linear("fc1", 512, 512),
            fc2: linear("fc2", 512, 10),
            dropout,
            kernels: Kernels::rule(ModelKind::Tutorial, Kind::Float),
        }
    }

    /// The same network computing as `kernels` says: in f32 (the tutorial's) or
    /// bfloat16, its products turned or not, its activations in either layout.
    pub fn computing_with(self, kernels: Kernels) -> TutorialCnn {
        TutorialCnn { kernels, ..self }
    }

    /// The three convs, each followed by ReLU, in the network's kind and layout.
    fn features(&self, xs: &Tensor) -> [Tensor; 3] {
        let xs = match self.kernels.layout {
            Layout::ChannelsLast => layout::channels_last(xs),
            Layout::Contiguous | Layout::Auto => xs.shallow_clone(),
        };
        let a1 = conv(&xs.to_kind(self.kernels.compute), &self.conv1).relu();
        let a2 = conv(&a1, &self.conv2).relu();
        let a3 = conv(&a2, &self.conv3).relu();
        [a1, a2, a3]
    }

    fn head(&self, features: &Tensor, train: bool) -> Tensor {
        let dropped = features
            .flatten(1, -1)
            .apply_t(&Dropout(self.dropout), train);
        let d = self.kernels.dense;
        let hidden = dense_by(d, &dropped, &self.fc1).relu();
        dense_by(d, &hidden.apply_t(&Dropout(self.dropout), train), &self.fc2).to_kind(Kind::Float)
    }
}

/// `layer` (3×3, stride 2, no padding) on `xs`, its weights cast to the kind of `xs`.
fn conv(xs: &Tensor, layer: &nn::Conv2D) -> Tensor {
    let kind = xs.kind();
    let bias = layer.bs.as_ref().map(|b| b.to_kind(kind));
    xs.conv2d(&layer.ws.to_kind(kind), bias, [2, 2], [0, 0], [1, 1], 1)
}

impl ModuleT for TutorialCnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let [_, _, a3] = self.features(xs);
        self.head(&a3, train)
    }
}

impl Network for TutorialCnn {
    fn forward_with_activations(&self, xs: &Tensor) -> (Tensor, Vec<(&'static str, Tensor)>) {
        let [a1, a2, a3] = self.features(xs);
        let logits = self.head(&a3, false);
        let f32 = |a: Tensor| a.to_kind(Kind::Float);
        (
            logits,
            vec![("conv1", f32(a1)), ("conv2", f32(a2)), ("conv3", f32(a3))],
        )
    }
}
/// The layers as `model.json` describes them (PyTorch names and layouts).
pub fn layers(dropout: f64) -> serde_json::Value {
    let conv = |name: &str, cin: i64, cout: i64| {
        serde_json::json!({"name": name, "type": "Conv2d", "in_channels": cin,
            "out_channels": cout, "kernel_size": 3, "stride": 2, "padding": 0,
            "then": "relu"})
    };
    serde_json::json!([
        conv("conv1", 1, 32),
        conv("conv2", 32, 64),
        conv("conv3", 64, 128),
        {"type": "Flatten", "note": "[N, 128, 2, 2] to [N, 512], channel-major as in PyTorch"},
        {"type": "Dropout", "p": dropout, "note": "training only"},
        {"name": "fc1", "type": "Linear", "in_features": 512, "out_features": 512, "then": "relu"},
        {"type": "Dropout", "p": dropout, "note": "training only"},
        {"name": "fc2", "type": "Linear", "in_features": 512, "out_features": 10},
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::Module;
    use tch::Device;

    /// In f32 the convs are libtorch's own, bit for bit (the tutorial's arithmetic).
    #[test]
    fn f32_convs_are_exactly_libtorchs() {
        tch::manual_seed(2);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = TutorialCnn::new(&vs.root(), 0.2);
        let xs = Tensor::rand([5, 1, 28, 28], (Kind::Float, Device::Cpu));
        let [a1, a2, a3] = net.features(&xs);
        assert!(a1.equal(&net.conv1.forward(&xs).relu()));
        assert!(a2.equal(&net.conv2.forward(&a1).relu()));
        assert!(a3.equal(&net.conv3.forward(&a2).relu()));
    }
}

//! The networks. Each is a struct implementing `ModuleT`, plus a method that also
//! returns the conv layers' activations for the feature-map pane.

use std::fmt;
use std::str::FromStr;

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// The networks `--model` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// The Keras tutorial's CNN, reproduced exactly.
    Seed,
}

impl ModelKind {
    pub const ALL: [ModelKind; 1] = [ModelKind::Seed];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Seed => "seed",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = ModelKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown model: allowed {}", names.join(", "))
            })
    }
}

/// A network with inspectable conv activations.
pub trait Network: ModuleT {
    /// Logits and each conv layer's post-ReLU activations `(name, [N, C, H, W])`, in
    /// evaluation mode.
    fn forward_with_activations(&self, xs: &Tensor) -> (Tensor, Vec<(&'static str, Tensor)>);
}

/// The dataset's own class names, indexed by label.
pub const DATASET_CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// What `model.json` says of a saved model: enough for a PyTorch or Candle user to
/// rebuild the network and load `model.safetensors` without reading this code. `vs`
/// holds the model's variables (their names and shapes are listed as they are saved).
pub fn describe(kind: ModelKind, vs: &nn::VarStore, dropout: f64) -> serde_json::Value {
    let mut tensors: Vec<(String, Vec<i64>)> = vs
        .variables()
        .into_iter()
        .map(|(name, t)| (name, t.size()))
        .collect();
    tensors.sort();
    let tensors: serde_json::Map<String, serde_json::Value> = tensors
        .into_iter()
        .map(|(name, shape)| {
            (
                name,
                serde_json::json!({"shape": shape, "dtype": "float32"}),
            )
        })
        .collect();
    let layers = match kind {
        ModelKind::Seed => {
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
    };
    serde_json::json!({
        "format": "fashion-tui model description",
        "format_version": 1,
        "architecture": kind.name(),
        "weights": "model.safetensors",
        "tensor_layout": "PyTorch: Conv2d weight [out, in, kh, kw], Linear weight [out, in]",
        "input": {
            "shape": [-1, 1, 28, 28],
            "layout": "NCHW",
            "dtype": "float32",
            "scaling": "x = pixel / 255.0 (no mean or std normalisation)",
            "pixels": "8-bit grayscale, object light on a black background, as in Fashion-MNIST",
        },
        "output": {"shape": [-1, 10], "kind": "logits (softmax gives probabilities)"},
        "layers": layers,
        "tensors": tensors,
        "classes": DATASET_CLASS_NAMES,
    })
}

/// Build `kind` under `vs`'s root.
pub fn build(kind: ModelKind, vs: &nn::Path, dropout: f64) -> Box<dyn Network + Send> {
    match kind {
        ModelKind::Seed => Box::new(SeedCnn::new(vs, dropout)),
    }
}

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
pub struct SeedCnn {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    conv3: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
    dropout: f64,
}

impl SeedCnn {
    pub fn new(vs: &nn::Path, dropout: f64) -> SeedCnn {
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
        SeedCnn {
            conv1: conv("conv1", 1, 32),
            conv2: conv("conv2", 32, 64),
            conv3: conv("conv3", 64, 128),
            fc1: linear("fc1", 512, 512),
            fc2: linear("fc2", 512, 10),
            dropout,
        }
    }

    fn head(&self, features: &Tensor, train: bool) -> Tensor {
        features
            .flatten(1, -1)
            .dropout(self.dropout, train)
            .apply(&self.fc1)
            .relu()
            .dropout(self.dropout, train)
            .apply(&self.fc2)
    }
}

impl ModuleT for SeedCnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let features = xs
            .apply(&self.conv1)
            .relu()
            .apply(&self.conv2)
            .relu()
            .apply(&self.conv3)
            .relu();
        self.head(&features, train)
    }
}

impl Network for SeedCnn {
    fn forward_with_activations(&self, xs: &Tensor) -> (Tensor, Vec<(&'static str, Tensor)>) {
        let a1 = xs.apply(&self.conv1).relu();
        let a2 = a1.apply(&self.conv2).relu();
        let a3 = a2.apply(&self.conv3).relu();
        let logits = self.head(&a3, false);
        (logits, vec![("conv1", a1), ("conv2", a2), ("conv3", a3)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn seed_model_has_the_tutorials_parameter_count() {
        let vs = nn::VarStore::new(Device::Cpu);
        let _m = build(ModelKind::Seed, &vs.root(), 0.2);
        let n: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        assert_eq!(n, 360_458);
    }

    #[test]
    fn output_and_activation_shapes() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = build(ModelKind::Seed, &vs.root(), 0.2);
        let xs = Tensor::rand([5, 1, 28, 28], (Kind::Float, Device::Cpu));
        assert_eq!(m.forward_t(&xs, true).size(), [5, 10]);
        let (logits, acts) = m.forward_with_activations(&xs);
        assert_eq!(logits.size(), [5, 10]);
        let shapes: Vec<_> = acts.iter().map(|(n, t)| (*n, t.size())).collect();
        assert_eq!(
            shapes,
            [
                ("conv1", vec![5, 32, 13, 13]),
                ("conv2", vec![5, 64, 6, 6]),
                ("conv3", vec![5, 128, 2, 2])
            ]
        );
        // Evaluation mode is deterministic (dropout off).
        let again = m.forward_t(&xs, false);
        assert!(again.allclose(&logits, 1e-6, 1e-6, false));
    }

    #[test]
    fn glorot_bounds_weights_and_zeroes_biases() {
        let vs = nn::VarStore::new(Device::Cpu);
        let _m = build(ModelKind::Seed, &vs.root(), 0.2);
        let vars = vs.variables();
        let bound = (6.0f64 / (512.0 + 512.0)).sqrt();
        let w = &vars["fc1.weight"];
        assert!(w.abs().max().double_value(&[]) <= bound);
        assert_eq!(
            vars["conv2.bias"].abs().sum(Kind::Float).double_value(&[]),
            0.0
        );
    }

    #[test]
    fn the_description_lists_every_saved_tensor() {
        let vs = nn::VarStore::new(Device::Cpu);
        let _m = build(ModelKind::Seed, &vs.root(), 0.2);
        let d = describe(ModelKind::Seed, &vs, 0.2);
        assert_eq!(d["architecture"], "seed");
        assert_eq!(
            d["tensors"]["conv1.weight"]["shape"],
            serde_json::json!([32, 1, 3, 3])
        );
        assert_eq!(d["tensors"]["fc2.bias"]["shape"], serde_json::json!([10]));
        assert_eq!(
            d["tensors"].as_object().unwrap().len(),
            vs.variables().len()
        );
        assert_eq!(d["classes"][9], "Ankle boot");
    }

    #[test]
    fn model_names_parse() {
        assert_eq!("seed".parse(), Ok(ModelKind::Seed));
        assert!("vgg"
            .parse::<ModelKind>()
            .unwrap_err()
            .contains("allowed seed"));
    }
}

//! The networks. Each is a struct implementing `ModuleT`, plus a method that also
//! returns the conv layers' activations for the feature-map pane: the Keras tutorial's
//! network in [`tutorial`], the faster, more accurate one in [`fast`]; what an image costs
//! each of them in [`cost`]; activation layouts in [`layout`]; linear layers in
//! [`dense`]; the arithmetic (f32 or bfloat16) in [`precision`]; which of equal ways to
//! compute is fastest on this CPU in [`kernels`].

pub mod cost;
pub mod dense;
pub mod dropout;
pub mod fast;
pub mod kernels;
pub mod layout;
pub mod precision;
pub mod tutorial;

use std::fmt;
use std::str::FromStr;

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

pub use kernels::Kernels;

pub use fast::FastCnn;
pub use tutorial::TutorialCnn;

/// The networks `--model` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// The Keras tutorial's CNN, reproduced exactly.
    Tutorial,
    /// A small BatchNorm network with a speed-run recipe (see [`fast`]).
    Fast,
}

impl ModelKind {
    pub const ALL: [ModelKind; 2] = [ModelKind::Tutorial, ModelKind::Fast];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Tutorial => "tutorial",
            ModelKind::Fast => "fast",
        }
    }

    /// Earlier names still read from files and flags (written back under the new name).
    fn alias(s: &str) -> Option<ModelKind> {
        match s {
            "seed" => Some(ModelKind::Tutorial),
            _ => None,
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
            .or_else(|| ModelKind::alias(s))
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
        "layers": layers(kind, dropout),
        "tensors": tensors,
        "classes": DATASET_CLASS_NAMES,
    })
}

/// The layers of `kind` as `model.json` describes them (PyTorch names and layouts).
pub fn layers(kind: ModelKind, dropout: f64) -> serde_json::Value {
    match kind {
        ModelKind::Tutorial => tutorial::layers(dropout),
        ModelKind::Fast => fast::layers(fast::FAST_SPEC, dropout),
    }
}

/// Build `kind` under `vs`'s root, computing in f32 with the rule's kernels.
pub fn build(kind: ModelKind, vs: &nn::Path, dropout: f64) -> Box<dyn Network + Send> {
    build_in(kind, vs, dropout, Kernels::rule(kind, Kind::Float))
}

/// Build `kind` under `vs`'s root, computing as `kernels` says (see [`kernels`] and
/// [`precision`]).
pub fn build_in(
    kind: ModelKind,
    vs: &nn::Path,
    dropout: f64,
    kernels: Kernels,
) -> Box<dyn Network + Send> {
    match kind {
        ModelKind::Tutorial => Box::new(TutorialCnn::new(vs, dropout).computing_with(kernels)),
        ModelKind::Fast => Box::new(FastCnn::new(vs, dropout).computing_with(kernels)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn tutorial_model_has_the_tutorials_parameter_count() {
        let vs = nn::VarStore::new(Device::Cpu);
        let _m = build(ModelKind::Tutorial, &vs.root(), 0.2);
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
        let m = build(ModelKind::Tutorial, &vs.root(), 0.2);
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
        let _m = build(ModelKind::Tutorial, &vs.root(), 0.2);
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
        let _m = build(ModelKind::Tutorial, &vs.root(), 0.2);
        let d = describe(ModelKind::Tutorial, &vs, 0.2);
        assert_eq!(d["architecture"], "tutorial");
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
        // The fast network's description names every conv it builds, BatchNorm included.
        let vs = nn::VarStore::new(Device::Cpu);
        let _m = build(ModelKind::Fast, &vs.root(), 0.0);
        let d = describe(ModelKind::Fast, &vs, 0.0);
        let layers = d["layers"].as_array().unwrap();
        for layer in layers.iter().filter(|l| l["type"] == "Conv2d+BatchNorm2d") {
            let name = layer["name"].as_str().unwrap();
            assert!(
                d["tensors"][format!("{name}.conv.weight")].is_object(),
                "{name}"
            );
            assert!(
                d["tensors"][format!("{name}.bn.running_mean")].is_object(),
                "{name}"
            );
        }
        assert_eq!(layers.last().unwrap()["in_features"], 256);
    }

    #[test]
    fn model_names_parse() {
        assert_eq!("tutorial".parse(), Ok(ModelKind::Tutorial));
        assert_eq!("fast".parse(), Ok(ModelKind::Fast));
        // The tutorial's earlier name still reads, and is written back as `tutorial`.
        assert_eq!("seed".parse(), Ok(ModelKind::Tutorial));
        assert_eq!(ModelKind::Tutorial.to_string(), "tutorial");
        assert!("vgg"
            .parse::<ModelKind>()
            .unwrap_err()
            .contains("allowed tutorial, fast"));
    }

    /// Each network built to compute in bfloat16 gives f32 logits and activations close
    /// to the f32 network's with the same weights, and f32 gradients for its f32 weights.
    #[test]
    fn bfloat16_networks_match_f32_ones_and_keep_f32_weights() {
        for kind in ModelKind::ALL {
            tch::manual_seed(11);
            let reference = nn::VarStore::new(Device::Cpu);
            let f32_net = build(kind, &reference.root(), 0.0);
            let mut vs = nn::VarStore::new(Device::Cpu);
            let bf16_net = build_in(kind, &vs.root(), 0.0, Kernels::rule(kind, Kind::BFloat16));
            vs.copy(&reference).unwrap();
            let xs = Tensor::rand([8, 1, 28, 28], (Kind::Float, Device::Cpu));

            let (want, want_acts) = f32_net.forward_with_activations(&xs);
            let (got, got_acts) = bf16_net.forward_with_activations(&xs);
            assert_eq!(got.kind(), Kind::Float, "{kind}");
            let scale = want.abs().max().double_value(&[]);
            let error = (&got - &want).abs().max().double_value(&[]);
            // bfloat16 keeps ~3 significant digits; a few layers compound it.
            assert!(error <= 0.05 * scale, "{kind}: {error} against {scale}");
            assert!(error > 0.0, "{kind}: the bf16 network computed in f32");
            for ((name, a), (_, b)) in got_acts.iter().zip(&want_acts) {
                assert_eq!(a.kind(), Kind::Float, "{kind} {name}");
                assert_eq!(a.size(), b.size(), "{kind} {name}");
            }

            let loss = bf16_net.forward_t(&xs, true).sum(Kind::Float);
            loss.backward();
            for (name, v) in vs.variables() {
                if v.requires_grad() {
                    assert_eq!(v.kind(), Kind::Float, "{kind} {name}");
                    assert_eq!(v.grad().kind(), Kind::Float, "{kind} {name}");
                    assert!(v.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
                }
            }
        }
    }
}

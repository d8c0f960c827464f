//! The emotion networks, declared once as a list of named layers.
//!
//! Each layer's name is its variable prefix in the weight files (`block1_conv1.weight`), its row
//! in `areya summary`, and its feature-map file in `areya features`. Networks output logits; the
//! softmax lives in the loss (log-softmax + NLL, i.e. categorical cross-entropy — never the
//! notebook's binary cross-entropy on a softmax) and in inference.

mod areya_cnn;
mod inference;
mod seed_cnn;
mod vgg16;

pub use inference::InferenceNet;

pub use vgg16::init_vgg16_from_file;

use crate::error::{MlError, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// Which network to build, with its shape hyper-parameters (saved in `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Architecture {
    /// VGG-style: blocks of (conv3×3 → BN → ReLU) × `convs_per_block`, max-pool 2/2, dropout;
    /// global average pool; dropout; linear head.
    AreyaCnn {
        widths: Vec<i64>,
        convs_per_block: usize,
        dropout: f64,
        head_dropout: f64,
        /// Standardize each image (zero mean, unit deviation) before the first convolution, so
        /// that a face's brightness and contrast (a dim room, a washed-out camera) do not
        /// change what the network sees. Absent in older runs: off.
        #[serde(default)]
        standardize: bool,
    },
    /// The notebook's network (3×1 / 1×3 conv pairs of 64/128/256/512, dense 512-256-N) with its
    /// stride-1 pooling corrected to stride 2: stride 1 barely shrank the 48×48 maps, so the
    /// flatten fed 512·45·45 ≈ 1 M features into a 512-unit dense layer — 606 M parameters.
    SeedCnn,
    /// VGG-16's 13 conv layers (64…512, five max-pools) for 1-channel 48×48 input, then a
    /// 256-unit dense layer and the head. Can start from a weights file (`--init`).
    Vgg16,
}

impl Architecture {
    pub fn areya_cnn_default() -> Self {
        Architecture::AreyaCnn {
            widths: vec![32, 64, 128, 256],
            convs_per_block: 2,
            dropout: 0.25,
            head_dropout: 0.5,
            standardize: false,
        }
    }

    /// Parses a `--arch` value.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "areya-cnn" => Ok(Self::areya_cnn_default()),
            "seed-cnn" => Ok(Architecture::SeedCnn),
            "vgg16" => Ok(Architecture::Vgg16),
            other => Err(MlError::config(
                "architecture",
                format!("unknown architecture '{other}' (areya-cnn, seed-cnn, vgg16)"),
            )),
        }
    }

    /// Whether the network standardizes each image at its input.
    pub fn standardizes(&self) -> bool {
        matches!(
            self,
            Architecture::AreyaCnn {
                standardize: true,
                ..
            }
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            Architecture::AreyaCnn { .. } => "areya-cnn",
            Architecture::SeedCnn => "seed-cnn",
            Architecture::Vgg16 => "vgg16",
        }
    }

    /// Checks values that would build a broken network.
    pub fn validate(&self, image_size: u32) -> Result<()> {
        let pools = match self {
            Architecture::AreyaCnn {
                widths,
                convs_per_block,
                dropout,
                head_dropout,
                ..
            } => {
                if widths.is_empty() || widths.iter().any(|&w| w < 1) {
                    return Err(MlError::config(
                        "architecture.widths",
                        "needs at least one block, each width ≥ 1",
                    ));
                }
                if *convs_per_block == 0 {
                    return Err(MlError::config(
                        "architecture.convs_per_block",
                        "must be ≥ 1",
                    ));
                }
                for (f, p) in [("dropout", dropout), ("head_dropout", head_dropout)] {
                    if !(0.0..1.0).contains(p) {
                        return Err(MlError::config(
                            format!("architecture.{f}"),
                            "must be in [0, 1)",
                        ));
                    }
                }
                widths.len() as u32
            }
            Architecture::SeedCnn => 4,
            Architecture::Vgg16 => 5,
        };
        if image_size >> pools == 0 {
            return Err(MlError::config(
                "data.image_size",
                format!(
                    "{image_size} px is too small for {} ({pools} halvings need ≥ {} px)",
                    self.name(),
                    1 << pools
                ),
            ));
        }
        Ok(())
    }
}

/// What a layer does.
#[derive(Debug)]
pub enum LayerKind {
    /// Per-image standardization: `(x − mean) / max(std, STANDARDIZE_MIN_STD)` over each
    /// image's pixels. No parameters.
    Standardize,
    Conv(nn::Conv2D),
    BatchNorm(nn::BatchNorm),
    Relu,
    MaxPool {
        kernel: i64,
        stride: i64,
    },
    Dropout(f64),
    GlobalAvgPool,
    Flatten,
    Linear(nn::Linear),
}

impl LayerKind {
    /// Keras-like type name for summaries.
    pub fn type_name(&self) -> &'static str {
        match self {
            LayerKind::Standardize => "Standardization",
            LayerKind::Conv(_) => "Conv2D",
            LayerKind::BatchNorm(_) => "BatchNormalization",
            LayerKind::Relu => "ReLU",
            LayerKind::MaxPool { .. } => "MaxPooling2D",
            LayerKind::Dropout(_) => "Dropout",
            LayerKind::GlobalAvgPool => "GlobalAveragePooling2D",
            LayerKind::Flatten => "Flatten",
            LayerKind::Linear(_) => "Dense",
        }
    }
}

/// One named layer.
#[derive(Debug)]
pub struct Layer {
    pub name: String,
    pub kind: LayerKind,
}

/// A network: layers applied in order.
#[derive(Debug)]
pub struct Network {
    pub layers: Vec<Layer>,
    pub image_size: i64,
    pub num_classes: i64,
}

/// One row of a model summary.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSummary {
    pub name: String,
    pub kind: &'static str,
    pub output_shape: Vec<i64>,
    pub params: i64,
    pub trainable: i64,
}

impl Network {
    /// Builds `arch` for `image_size`×`image_size` grayscale input and `num_classes` outputs,
    /// creating its variables under `root`.
    pub fn build(
        root: &nn::Path,
        arch: &Architecture,
        image_size: u32,
        num_classes: usize,
    ) -> Result<Network> {
        arch.validate(image_size)?;
        let mut b = Builder::new(root, image_size as i64);
        match arch {
            Architecture::AreyaCnn {
                widths,
                convs_per_block,
                dropout,
                head_dropout,
                standardize,
            } => areya_cnn::build(
                &mut b,
                widths,
                *convs_per_block,
                *dropout,
                *head_dropout,
                *standardize,
                num_classes as i64,
            ),
            Architecture::SeedCnn => seed_cnn::build(&mut b, num_classes as i64),
            Architecture::Vgg16 => vgg16::build(&mut b, num_classes as i64),
        }
        Ok(Network {
            layers: b.layers,
            image_size: image_size as i64,
            num_classes: num_classes as i64,
        })
    }

    /// # Shapes
    /// `x`: `[B, 1, S, S]` float in [0, 1] → logits `[B, K]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_visit(x, train, |_, _| {})
    }

    /// Like [`Network::forward_t`], calling `visit(layer, output)` after every layer.
    ///
    /// # Shapes
    /// `x`: `[B, 1, S, S]` → logits `[B, K]`; each visited output is that layer's activation.
    pub fn forward_visit(
        &self,
        x: &Tensor,
        train: bool,
        mut visit: impl FnMut(&Layer, &Tensor),
    ) -> Tensor {
        let mut h = x.shallow_clone();
        for layer in &self.layers {
            h = match &layer.kind {
                LayerKind::Standardize => standardize(&h),
                LayerKind::Conv(c) => c.forward(&h),
                LayerKind::BatchNorm(bn) => bn.forward_t(&h, train),
                LayerKind::Relu => h.relu(),
                LayerKind::MaxPool { kernel, stride } => max_pool(&h, *kernel, *stride),
                LayerKind::Dropout(p) => h.dropout(*p, train),
                LayerKind::GlobalAvgPool => h.mean_dim(&[-1i64, -2][..], false, tch::Kind::Float),
                LayerKind::Flatten => h.flatten(1, -1),
                LayerKind::Linear(l) => l.forward(&h),
            };
            visit(layer, &h);
        }
        h
    }

    /// Output shape and parameter counts per layer (batch size 1), from the variables in `vs`.
    pub fn summary(&self, vs: &nn::VarStore) -> Vec<LayerSummary> {
        let vars = vs.variables();
        let mut rows = Vec::new();
        let x = Tensor::zeros(
            [1, 1, self.image_size, self.image_size],
            (tch::Kind::Float, vs.device()),
        );
        tch::no_grad(|| {
            let _ = self.forward_visit(&x, false, |layer, out| {
                let prefix = format!("{}.", layer.name);
                let (mut params, mut trainable) = (0, 0);
                for (name, t) in &vars {
                    // BatchNorm's running mean/variance count as non-trainable, as in Keras.
                    if name.starts_with(&prefix) {
                        params += t.numel() as i64;
                        if t.requires_grad() {
                            trainable += t.numel() as i64;
                        }
                    }
                }
                rows.push(LayerSummary {
                    name: layer.name.clone(),
                    kind: layer.kind.type_name(),
                    output_shape: out.size(),
                    params,
                    trainable,
                });
            });
        });
        rows
    }
}

fn bn_config() -> nn::BatchNormConfig {
    nn::BatchNormConfig {
        eps: inference::BN_EPS,
        ..Default::default()
    }
}

/// Builds a layer list while tracking the activation shape `[C, H, W]` or `[F]`.
pub(crate) struct Builder<'a> {
    root: &'a nn::Path<'a>,
    layers: Vec<Layer>,
    shape: Vec<i64>,
}

impl<'a> Builder<'a> {
    fn new(root: &'a nn::Path<'a>, image_size: i64) -> Self {
        Builder {
            root,
            layers: Vec::new(),
            shape: vec![1, image_size, image_size],
        }
    }
    fn push(&mut self, name: &str, kind: LayerKind) {
        self.layers.push(Layer {
            name: name.to_string(),
            kind,
        });
    }
    /// Convolution with "same" padding for odd kernels.
    pub(crate) fn conv(&mut self, name: &str, out: i64, k: [i64; 2], bias: bool) {
        let cfg = nn::ConvConfigND::<[i64; 2]> {
            padding: [k[0] / 2, k[1] / 2],
            bias,
            ..Default::default()
        };
        let conv = nn::conv(self.root / name, self.shape[0], out, k, cfg);
        self.shape[0] = out;
        self.push(name, LayerKind::Conv(conv));
    }
    pub(crate) fn bn(&mut self, name: &str) {
        let bn = nn::batch_norm2d(self.root / name, self.shape[0], bn_config());
        self.push(name, LayerKind::BatchNorm(bn));
    }
    pub(crate) fn bn1d(&mut self, name: &str) {
        let bn = nn::batch_norm1d(self.root / name, self.shape[0], bn_config());
        self.push(name, LayerKind::BatchNorm(bn));
    }
    pub(crate) fn standardize(&mut self, name: &str) {
        self.push(name, LayerKind::Standardize);
    }
    pub(crate) fn relu(&mut self, name: &str) {
        self.push(name, LayerKind::Relu);
    }
    pub(crate) fn pool(&mut self, name: &str) {
        self.shape[1] /= 2;
        self.shape[2] /= 2;
        self.push(
            name,
            LayerKind::MaxPool {
                kernel: 2,
                stride: 2,
            },
        );
    }
    pub(crate) fn dropout(&mut self, name: &str, p: f64) {
        if p > 0.0 {
            self.push(name, LayerKind::Dropout(p));
        }
    }
    pub(crate) fn global_avg_pool(&mut self, name: &str) {
        self.shape = vec![self.shape[0]];
        self.push(name, LayerKind::GlobalAvgPool);
    }
    pub(crate) fn flatten(&mut self, name: &str) {
        self.shape = vec![self.shape.iter().product()];
        self.push(name, LayerKind::Flatten);
    }
    pub(crate) fn linear(&mut self, name: &str, out: i64) {
        let lin = nn::linear(self.root / name, self.shape[0], out, Default::default());
        self.shape = vec![out];
        self.push(name, LayerKind::Linear(lin));
    }
}

/// Square max-pooling without padding, as every network here uses it (layered and inference
/// form alike).
///
/// # Shapes
/// `h`: `[B, C, H, W]` → `[B, C, H / stride, W / stride]` (for kernel = stride).
pub(crate) fn max_pool(h: &Tensor, kernel: i64, stride: i64) -> Tensor {
    h.max_pool2d([kernel, kernel], [stride, stride], [0, 0], [1, 1], false)
}

/// The smallest deviation [`standardize`] divides by (about 2.5 of 255 gray levels): a flat
/// image stays flat instead of having its noise blown up.
pub const STANDARDIZE_MIN_STD: f64 = 0.01;

/// Each image to zero mean and unit standard deviation over its pixels (computed in float32
/// whatever the input's type), the deviation floored at [`STANDARDIZE_MIN_STD`].
///
/// # Shapes
/// `h`: `[B, C, H, W]` → `[B, C, H, W]`.
pub(crate) fn standardize(h: &Tensor) -> Tensor {
    let x = h.to_kind(tch::Kind::Float);
    let (std, mean) = x.std_mean_correction(&[1i64, 2, 3][..], 0, true);
    ((x - mean) / std.clamp_min(STANDARDIZE_MIN_STD)).to_kind(h.kind())
}

/// Total, trainable and non-trainable parameter counts of a summary.
pub fn param_totals(rows: &[LayerSummary]) -> (i64, i64, i64) {
    let total: i64 = rows.iter().map(|r| r.params).sum();
    let trainable: i64 = rows.iter().map(|r| r.trainable).sum();
    (total, trainable, total - trainable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(arch: &Architecture, k: usize) -> (nn::VarStore, Network) {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = Network::build(&vs.root(), arch, 48, k).unwrap();
        (vs, net)
    }

    #[test]
    fn every_architecture_maps_a_batch_to_logits() {
        for arch in [
            Architecture::areya_cnn_default(),
            Architecture::SeedCnn,
            Architecture::Vgg16,
        ] {
            let (_vs, net) = build(&arch, 4);
            let x = Tensor::rand([3, 1, 48, 48], (tch::Kind::Float, tch::Device::Cpu));
            assert_eq!(net.forward_t(&x, true).size(), [3, 4], "{}", arch.name());
            assert_eq!(net.forward_t(&x, false).size(), [3, 4], "{}", arch.name());
        }
    }

    #[test]
    fn parameter_counts_are_sane() {
        let cases = [
            // areya-cnn: a little over a million parameters.
            (Architecture::areya_cnn_default(), 1_000_000, 1_300_000),
            // seed-cnn with stride-2 pooling: ~4 M, not the notebook's 606 M.
            (Architecture::SeedCnn, 3_500_000, 4_500_000),
            // VGG-16 convs (14.7 M) + 512·256 dense + head.
            (Architecture::Vgg16, 14_800_000, 14_900_000),
        ];
        for (arch, lo, hi) in cases {
            let (vs, net) = build(&arch, 4);
            let (total, trainable, frozen) = param_totals(&net.summary(&vs));
            assert!((lo..hi).contains(&total), "{}: {total}", arch.name());
            assert_eq!(trainable + frozen, total);
            // Only BatchNorm's running statistics are non-trainable.
            let bn_stats: i64 = vs
                .variables()
                .iter()
                .filter(|(n, _)| n.contains("running_"))
                .map(|(_, t)| t.numel() as i64)
                .sum();
            assert_eq!(frozen, bn_stats, "{}", arch.name());
        }
    }

    #[test]
    fn layer_names_are_unique_and_prefix_every_variable() {
        let (vs, net) = build(&Architecture::areya_cnn_default(), 4);
        let mut names: Vec<&str> = net.layers.iter().map(|l| l.name.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        for var in vs.variables().keys() {
            let layer = var.split('.').next().unwrap();
            assert!(names.contains(&layer), "{var}");
        }
        assert!(vs.variables().contains_key("block1_conv1.weight"));
        assert!(vs.variables().contains_key("head.weight"));
    }

    #[test]
    fn summary_shapes_follow_the_pools() {
        let (vs, net) = build(&Architecture::areya_cnn_default(), 4);
        let rows = net.summary(&vs);
        let pool = rows.iter().find(|r| r.name == "block1_pool").unwrap();
        assert_eq!(pool.output_shape, [1, 32, 24, 24]);
        assert_eq!(rows.last().unwrap().output_shape, [1, 4]);
    }

    #[test]
    fn standardization_ignores_brightness_and_contrast_in_both_forms() {
        let arch = |standardize| Architecture::AreyaCnn {
            widths: vec![8, 16],
            convs_per_block: 1,
            dropout: 0.1,
            head_dropout: 0.1,
            standardize,
        };
        let (std_arch, plain) = (arch(true), arch(false));
        tch::manual_seed(5);
        let x = Tensor::rand([2, 1, 48, 48], (tch::Kind::Float, tch::Device::Cpu));
        // The same faces in a dim room at a third of the contrast, and washed out.
        let dim = &x * 0.35 + 0.04;
        let bright = &x * 0.6 + 0.39;
        let (vs, net) = build(&std_arch, 4);
        let rows = net.summary(&vs);
        assert_eq!((rows[0].name.as_str(), rows[0].params), ("input_std", 0));
        let fast = InferenceNet::from_network(&net);
        for (name, logits) in [
            (
                "layered",
                Box::new(|t: &Tensor| tch::no_grad(|| net.forward_t(t, false)))
                    as Box<dyn Fn(&Tensor) -> Tensor>,
            ),
            ("inference", Box::new(|t: &Tensor| fast.forward(t))),
        ] {
            let want = logits(&x);
            for other in [&dim, &bright] {
                let diff = (logits(other) - &want).abs().max().double_value(&[]);
                assert!(diff < 1e-4, "{name}: logits moved by {diff}");
            }
            // A flat image (no contrast at all) gives finite logits, not NaN.
            let flat = Tensor::full([1, 1, 48, 48], 0.5, (tch::Kind::Float, tch::Device::Cpu));
            assert!(
                bool::try_from(logits(&flat).isfinite().all()).unwrap(),
                "{name}"
            );
        }
        // Without it the same change moves the logits (the test can tell the difference).
        let (_vs, net) = build(&plain, 4);
        let moved = tch::no_grad(|| net.forward_t(&dim, false) - net.forward_t(&x, false))
            .abs()
            .max()
            .double_value(&[]);
        assert!(moved > 1e-3, "{moved}");
    }

    #[test]
    fn bad_architectures_are_rejected() {
        // Each a valid small network with one thing wrong.
        let cnn = |widths: Vec<i64>, convs_per_block, dropout| Architecture::AreyaCnn {
            widths,
            convs_per_block,
            dropout,
            head_dropout: 0.1,
            standardize: false,
        };
        assert!(cnn(vec![8], 1, 0.1).validate(48).is_ok());
        let cases = [
            (cnn(vec![], 2, 0.1), 48, "no blocks"),
            (cnn(vec![8], 0, 0.1), 48, "no convolutions in a block"),
            (cnn(vec![8], 1, 1.0), 48, "dropout of everything"),
            (
                Architecture::Vgg16,
                16,
                "an image too small for five poolings",
            ),
        ];
        for (arch, size, why) in cases {
            assert!(arch.validate(size).is_err(), "{why}: {arch:?}");
        }
        assert!(Architecture::parse("resnet").is_err());
    }
}

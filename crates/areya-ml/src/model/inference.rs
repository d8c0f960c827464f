//! The inference form of a trained network: each BatchNorm folded into the convolution before
//! it, dropout left out, ReLU applied in place, activations and convolution weights in
//! channels-last (NHWC) layout, optionally in bfloat16 (an input standardization stays in
//! float32). Same logits as
//! `Network::forward_t(x, false)` up to rounding; what the live pipeline runs for every face.
//! Channels-last lets oneDNN run its direct convolutions without reordering every layer's
//! input and output: on this project's CPU it takes a batch-1 face of the default network
//! from 5.4 to 4.3 ms in float32 and from 2.9 to 2.4 ms in bfloat16
//! (`examples/inference_bench.rs`).
//!
//! Folding relies on how `Builder` makes layers: convolutions have stride 1, dilation 1, one
//! group and "same" padding (kernel / 2), and BatchNorm uses [`BN_EPS`]. The equivalence test
//! below builds every architecture with random statistics and compares both forms.

use super::{LayerKind, Network};
use crate::amp::channels_last;
use tch::{Kind, Tensor};

/// BatchNorm's epsilon as `Builder` configures it.
pub(crate) const BN_EPS: f64 = 1e-5;

#[derive(Debug)]
enum Op {
    /// Per-image standardization (`super::standardize`), in float32.
    Standardize,
    Conv {
        w: Tensor,
        b: Option<Tensor>,
        padding: [i64; 2],
    },
    /// A BatchNorm with no convolution before it: `x · scale + shift` per channel.
    Affine {
        scale: Tensor,
        shift: Tensor,
    },
    Relu,
    MaxPool {
        kernel: i64,
        stride: i64,
    },
    GlobalAvgPool,
    Flatten,
    Linear {
        w: Tensor,
        b: Option<Tensor>,
    },
}

/// A trained network prepared for inference (its weights copied and folded; later changes to
/// the training variables do not reach it).
#[derive(Debug)]
pub struct InferenceNet {
    ops: Vec<Op>,
    /// What the weights are stored as (float unless [`InferenceNet::with_kind`]).
    kind: Kind,
}

/// BatchNorm in eval mode as (scale, shift) per channel.
fn bn_affine(bn: &tch::nn::BatchNorm) -> (Tensor, Tensor) {
    let inv_std = (&bn.running_var + BN_EPS).rsqrt();
    let scale = match &bn.ws {
        Some(g) => g * &inv_std,
        None => inv_std,
    };
    let shift = match &bn.bs {
        Some(b) => b - &bn.running_mean * &scale,
        None => -(&bn.running_mean * &scale),
    };
    (scale, shift)
}

impl InferenceNet {
    /// Folds `net` (whose variables hold trained weights) into its inference form.
    pub fn from_network(net: &Network) -> InferenceNet {
        tch::no_grad(|| {
            let mut ops = Vec::with_capacity(net.layers.len());
            let mut layers = net.layers.iter().peekable();
            while let Some(layer) = layers.next() {
                let op = match &layer.kind {
                    LayerKind::Standardize => Op::Standardize,
                    LayerKind::Conv(c) => {
                        let size = c.ws.size();
                        let padding = [size[2] / 2, size[3] / 2];
                        match layers.peek().map(|l| &l.kind) {
                            Some(LayerKind::BatchNorm(bn)) => {
                                layers.next();
                                let (scale, shift) = bn_affine(bn);
                                let w = &c.ws * scale.view([-1, 1, 1, 1]);
                                let b = match &c.bs {
                                    Some(b) => b * &scale + shift,
                                    None => shift,
                                };
                                Op::Conv {
                                    w: channels_last(&w),
                                    b: Some(b),
                                    padding,
                                }
                            }
                            _ => Op::Conv {
                                w: channels_last(&c.ws.detach()),
                                b: c.bs.as_ref().map(|b| b.detach().copy()),
                                padding,
                            },
                        }
                    }
                    LayerKind::BatchNorm(bn) => {
                        let (scale, shift) = bn_affine(bn);
                        Op::Affine { scale, shift }
                    }
                    LayerKind::Relu => Op::Relu,
                    LayerKind::MaxPool { kernel, stride } => Op::MaxPool {
                        kernel: *kernel,
                        stride: *stride,
                    },
                    LayerKind::Dropout(_) => continue,
                    LayerKind::GlobalAvgPool => Op::GlobalAvgPool,
                    LayerKind::Flatten => Op::Flatten,
                    LayerKind::Linear(l) => Op::Linear {
                        w: l.ws.detach().copy(),
                        b: l.bs.as_ref().map(|b| b.detach().copy()),
                    },
                };
                ops.push(op);
            }
            InferenceNet {
                ops,
                kind: Kind::Float,
            }
        })
    }

    /// The same network with its weights stored as `kind` (e.g. bfloat16); `forward` then
    /// converts its input to `kind` and its logits back to float. Call it on the float32 form
    /// ([`InferenceNet::from_network`]): rounding is not undone by converting back.
    pub fn with_kind(&self, kind: Kind) -> InferenceNet {
        let k = |t: &Tensor| t.to_kind(kind);
        let ops = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Standardize => Op::Standardize,
                Op::Conv { w, b, padding } => Op::Conv {
                    w: channels_last(&k(w)),
                    b: b.as_ref().map(k),
                    padding: *padding,
                },
                Op::Affine { scale, shift } => Op::Affine {
                    scale: k(scale),
                    shift: k(shift),
                },
                Op::Relu => Op::Relu,
                Op::MaxPool { kernel, stride } => Op::MaxPool {
                    kernel: *kernel,
                    stride: *stride,
                },
                Op::GlobalAvgPool => Op::GlobalAvgPool,
                Op::Flatten => Op::Flatten,
                Op::Linear { w, b } => Op::Linear {
                    w: k(w),
                    b: b.as_ref().map(k),
                },
            })
            .collect();
        InferenceNet { ops, kind }
    }

    /// The float32 layers as plain numbers for [`areya_onnx::encode`], weights in PyTorch's
    /// layouts (`[out, in, kh, kw]`, `[out, in]`). Call it on the float32 form.
    pub fn export_layers(&self) -> Result<Vec<areya_onnx::Layer>, tch::TchError> {
        let v = |t: &Tensor| -> Result<Vec<f32>, tch::TchError> {
            Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().flatten(0, -1))
        };
        let dims = |t: &Tensor| -> Vec<usize> { t.size().iter().map(|&d| d as usize).collect() };
        let bias = |b: &Option<Tensor>, n: usize| -> Result<Vec<f32>, tch::TchError> {
            match b {
                Some(b) => v(b),
                None => Ok(vec![0.0; n]),
            }
        };
        tch::no_grad(|| {
            self.ops
                .iter()
                .map(|op| {
                    Ok(match op {
                        Op::Standardize => areya_onnx::Layer::Standardize {
                            min_std: super::STANDARDIZE_MIN_STD as f32,
                        },
                        Op::Conv { w, b, .. } => {
                            let d = dims(w);
                            areya_onnx::Layer::Conv {
                                weight: v(w)?,
                                shape: [d[0], d[1], d[2], d[3]],
                                bias: bias(b, d[0])?,
                            }
                        }
                        Op::Affine { scale, shift } => areya_onnx::Layer::Affine {
                            scale: v(scale)?,
                            shift: v(shift)?,
                        },
                        Op::Relu => areya_onnx::Layer::Relu,
                        Op::MaxPool { kernel, stride } => areya_onnx::Layer::MaxPool {
                            kernel: *kernel as usize,
                            stride: *stride as usize,
                        },
                        Op::GlobalAvgPool => areya_onnx::Layer::GlobalAvgPool,
                        Op::Flatten => areya_onnx::Layer::Flatten,
                        Op::Linear { w, b } => {
                            let d = dims(w);
                            areya_onnx::Layer::Linear {
                                weight: v(w)?,
                                inputs: d[1],
                                outputs: d[0],
                                bias: bias(b, d[0])?,
                            }
                        }
                    })
                })
                .collect()
        })
    }

    /// Logits, without gradients.
    ///
    /// # Shapes
    /// `x`: `[B, 1, S, S]` float in [0, 1] → logits `[B, K]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| {
            // A leading standardization runs on the float input, before the conversion to
            // the weights' type (a bfloat16 mean of 2,304 pixels would lose the detail).
            let (x, ops) = match self.ops.split_first() {
                Some((Op::Standardize, rest)) => (super::standardize(x), rest),
                _ => (x.shallow_clone(), &self.ops[..]),
            };
            let mut h = channels_last(&x.to_kind(self.kind));
            // In-place ReLU only on activations this function made, never on the caller's `x`.
            let mut owned = false;
            for op in ops {
                h = match op {
                    Op::Standardize => super::standardize(&h),
                    Op::Conv { w, b, padding } => {
                        h.conv2d(w, b.as_ref(), [1, 1], *padding, [1, 1], 1)
                    }
                    Op::Affine { scale, shift } => {
                        let mut shape = vec![1, -1];
                        shape.resize(h.dim(), 1);
                        &h * scale.view(shape.as_slice()) + shift.view(shape.as_slice())
                    }
                    Op::Relu if owned => {
                        let _ = h.relu_();
                        h
                    }
                    Op::Relu => h.relu(),
                    Op::MaxPool { kernel, stride } => super::max_pool(&h, *kernel, *stride),
                    Op::GlobalAvgPool => h.mean_dim(&[-1i64, -2][..], false, self.kind),
                    Op::Flatten => h.flatten(1, -1),
                    Op::Linear { w, b } => h.linear(w, b.as_ref()),
                };
                owned = true;
            }
            h.to_kind(Kind::Float)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Architecture;
    use super::*;
    use tch::nn;

    #[test]
    fn folded_form_gives_the_same_logits_on_every_architecture() {
        tch::manual_seed(3);
        let mut standardized = Architecture::areya_cnn_default();
        if let Architecture::AreyaCnn { standardize, .. } = &mut standardized {
            *standardize = true;
        }
        for arch in [
            Architecture::areya_cnn_default(),
            standardized,
            Architecture::SeedCnn,
            Architecture::Vgg16,
        ] {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let net = Network::build(&vs.root(), &arch, 48, 4).unwrap();
            // Trained-looking BatchNorm statistics and affine parameters (not the 0/1 of a
            // fresh layer, which would make folding trivially right).
            tch::no_grad(|| {
                for (name, mut t) in vs.variables() {
                    let r = Tensor::rand_like(&t);
                    if name.ends_with("running_var") {
                        t.copy_(&(r * 2.0 + 0.2));
                    } else if name.ends_with("running_mean") || name.contains("_bn") {
                        t.copy_(&(r - 0.5));
                    }
                }
            });
            let x = Tensor::rand([3, 1, 48, 48], (Kind::Float, tch::Device::Cpu));
            let want = tch::no_grad(|| net.forward_t(&x, false));
            let x_before = x.copy();
            let folded = InferenceNet::from_network(&net);
            let got = folded.forward(&x);
            assert_eq!(got.size(), [3, 4], "{}", arch.name());
            let scale = want.abs().max().double_value(&[]).max(1e-3);
            let diff = (&got - &want).abs().max().double_value(&[]);
            assert!(
                diff / scale < 1e-4,
                "{}: max diff {diff} at scale {scale}",
                arch.name()
            );
            assert!(x.equal(&x_before), "{}: the input was changed", arch.name());
            // bfloat16 keeps 8 bits of mantissa: close, float logits out, input untouched.
            let half = folded.with_kind(Kind::BFloat16).forward(&x);
            assert_eq!(half.kind(), Kind::Float);
            let diff = (&half - &want).abs().max().double_value(&[]);
            assert!(
                diff / scale < 5e-2,
                "{} bf16: max diff {diff} at scale {scale}",
                arch.name()
            );
            assert!(
                x.equal(&x_before),
                "{}: bf16 changed the input",
                arch.name()
            );
        }
    }
}

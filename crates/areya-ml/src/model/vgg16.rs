//! `vgg16`: VGG-16's convolutional base for 1-channel input, a small dense head, and loading of
//! pretrained conv weights from a safetensors file or a PyTorch state dict (`--init`).

use super::Builder;
use crate::error::{MlError, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::{nn, Tensor};

/// (block, convs, width) of VGG-16.
const BLOCKS: [(usize, usize, i64); 5] = [
    (1, 2, 64),
    (2, 2, 128),
    (3, 3, 256),
    (4, 3, 512),
    (5, 3, 512),
];
/// Indices of the conv layers in torchvision's `vgg16().features`.
const TORCHVISION_CONV_INDEX: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

pub(super) fn build(b: &mut Builder, k: i64) {
    for (blk, convs, w) in BLOCKS {
        for j in 1..=convs {
            b.conv(&format!("block{blk}_conv{j}"), w, [3, 3], true);
            b.relu(&format!("block{blk}_relu{j}"));
        }
        b.pool(&format!("block{blk}_pool"));
    }
    b.flatten("flatten");
    b.linear("fc1", 256);
    b.relu("fc1_relu");
    b.dropout("fc1_drop", 0.5);
    b.linear("head", k);
}

/// The 13 conv layer names in order.
pub fn conv_names() -> Vec<String> {
    BLOCKS
        .iter()
        .flat_map(|&(blk, convs, _)| (1..=convs).map(move |j| format!("block{blk}_conv{j}")))
        .collect()
}

/// Copies VGG-16 conv weights from `file` into `vs`, then freezes them when `freeze_base`.
///
/// Accepts Areya's own names (`block1_conv1.weight`) or torchvision's (`features.0.weight`), in
/// safetensors (`.safetensors`) or PyTorch pickle (`.pt`, `.pth`, `.bin`) files. RGB first-layer
/// weights are summed over the colour channels for grayscale input.
pub fn init_vgg16_from_file(vs: &mut nn::VarStore, file: &Path, freeze_base: bool) -> Result<()> {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let loaded = match ext {
        "safetensors" => Tensor::read_safetensors(file),
        "pt" | "pth" | "bin" => Tensor::loadz_multi(file),
        _ => {
            return Err(MlError::data(
                file,
                "unknown weights format (expected .safetensors, .pt, .pth or .bin)",
            ))
        }
    }
    .map_err(|e| MlError::data(file, format!("cannot read weights: {e}")))?;
    let loaded: HashMap<String, Tensor> = loaded.into_iter().collect();
    let vars = vs.variables();
    for (i, name) in conv_names().iter().enumerate() {
        for part in ["weight", "bias"] {
            let ours = format!("{name}.{part}");
            let theirs = format!("features.{}.{part}", TORCHVISION_CONV_INDEX[i]);
            let src = loaded
                .get(&ours)
                .or_else(|| loaded.get(&theirs))
                .ok_or_else(|| {
                    MlError::data(
                        file,
                        format!("no weights for {ours} (looked for '{ours}' and '{theirs}')"),
                    )
                })?;
            let mut src = src.to_kind(tch::Kind::Float);
            let dst = &vars[&ours];
            if part == "weight" && i == 0 && src.size().get(1) == Some(&3) && dst.size()[1] == 1 {
                src = src.sum_dim_intlist(&[1i64][..], true, tch::Kind::Float);
            }
            if src.size() != dst.size() {
                return Err(MlError::data(
                    file,
                    format!(
                        "{ours}: shape {:?} in file, model needs {:?}",
                        src.size(),
                        dst.size()
                    ),
                ));
            }
            tch::no_grad(|| dst.shallow_clone().copy_(&src));
        }
    }
    if freeze_base {
        for (name, t) in vs.variables() {
            if name.starts_with("block") {
                let _ = t.set_requires_grad(false);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{param_totals, Architecture, Network};

    #[test]
    fn init_from_torchvision_names_with_rgb_first_layer_and_freeze() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vgg.safetensors");
        // A small "pretrained" file in torchvision layout, with an RGB first layer.
        let mut tensors = Vec::new();
        let mut in_c = 3;
        for (i, (_, convs, w)) in BLOCKS
            .iter()
            .flat_map(|&(b, c, w)| (0..c).map(move |_| (b, c, w)))
            .enumerate()
        {
            let _ = convs;
            let idx = TORCHVISION_CONV_INDEX[i];
            tensors.push((
                format!("features.{idx}.weight"),
                Tensor::full([w, in_c, 3, 3], 0.01, (tch::Kind::Float, tch::Device::Cpu)),
            ));
            tensors.push((
                format!("features.{idx}.bias"),
                Tensor::full([w], 0.5, (tch::Kind::Float, tch::Device::Cpu)),
            ));
            in_c = w;
        }
        Tensor::write_safetensors(&tensors, &file).unwrap();

        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let net = Network::build(&vs.root(), &Architecture::Vgg16, 48, 4).unwrap();
        init_vgg16_from_file(&mut vs, &file, true).unwrap();
        let v = vs.variables();
        // RGB summed to gray: 3 × 0.01.
        assert!((v["block1_conv1.weight"].double_value(&[0, 0, 0, 0]) - 0.03).abs() < 1e-6);
        assert!((v["block5_conv3.bias"].double_value(&[7]) - 0.5).abs() < 1e-6);
        let (total, trainable, frozen) = param_totals(&net.summary(&vs));
        assert_eq!(total, trainable + frozen);
        assert_eq!(trainable, 512 * 256 + 256 + 256 * 4 + 4);
    }

    #[test]
    fn init_reports_missing_and_misshapen_tensors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.safetensors");
        let t = Tensor::zeros([64, 1, 5, 5], (tch::Kind::Float, tch::Device::Cpu));
        Tensor::write_safetensors(&[("block1_conv1.weight", &t)], &file).unwrap();
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        Network::build(&vs.root(), &Architecture::Vgg16, 48, 4).unwrap();
        let err = init_vgg16_from_file(&mut vs, &file, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("block1_conv1.weight") && err.contains("shape"),
            "{err}"
        );

        let truncated = dir.path().join("trunc.safetensors");
        std::fs::write(&truncated, &std::fs::read(&file).unwrap()[..40]).unwrap();
        let err = init_vgg16_from_file(&mut vs, &truncated, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trunc.safetensors") && err.contains("cannot read"),
            "{err}"
        );

        let err = init_vgg16_from_file(&mut vs, &dir.path().join("w.h5"), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown weights format"), "{err}");
    }
}

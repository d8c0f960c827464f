//! `areya features`: the activations of every conv, activation and pooling layer for one image,
//! one viridis grid PNG per layer (the notebook's feature-map figures).

use super::default_model;
use anyhow::Context;
use areya_ml::dataset::decode_gray;
use areya_ml::model::LayerKind;
use areya_ml::plots::{self, FeatureMaps};
use areya_ml::Classifier;
use clap::Args;
use std::path::PathBuf;
use tch::{Kind, Tensor};

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A face-crop image.
    pub image: PathBuf,
    /// Folder for the PNGs (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Figure format.
    #[arg(long, value_enum, default_value = "png")]
    pub format: super::Format,
    /// At most this many channels per layer.
    #[arg(long, default_value_t = 64)]
    pub max_channels: usize,
}

pub fn run(a: FeaturesArgs) -> anyhow::Result<()> {
    let clf = Classifier::load(&default_model(a.model)?)?;
    let size = clf.image_size();
    let bytes =
        std::fs::read(&a.image).with_context(|| format!("cannot read {}", a.image.display()))?;
    let px =
        decode_gray(&bytes, size).map_err(|e| anyhow::anyhow!("{}: {e}", a.image.display()))?;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let x = Tensor::from_slice(&px)
        .view([1, 1, size as i64, size as i64])
        .to_kind(Kind::Float)
        / clf.config.preprocessing.scale;
    let mut outputs: Vec<(String, Tensor)> = Vec::new();
    tch::no_grad(|| {
        let _ = clf.net.forward_visit(&x, false, |layer, out| {
            let wanted = matches!(
                layer.kind,
                LayerKind::Conv(_) | LayerKind::Relu | LayerKind::MaxPool { .. }
            );
            if wanted && out.dim() == 4 {
                outputs.push((layer.name.clone(), out.shallow_clone()));
            }
        });
    });
    for (i, (name, t)) in outputs.iter().enumerate() {
        let (c, h, w) = (
            t.size()[1] as usize,
            t.size()[2] as usize,
            t.size()[3] as usize,
        );
        let shown = c.min(a.max_channels);
        let flat = Vec::<f32>::try_from(t.get(0).narrow(0, 0, shown as i64).flatten(0, -1))?;
        let maps: Vec<Vec<f32>> = flat.chunks(h * w).map(|m| m.to_vec()).collect();
        let title = format!("{name}: {shown} of {c} channels, {h}×{w}");
        let path = a.out.join(format!("{i:02}_{name}.{}", a.format.ext()));
        plots::save(
            &FeatureMaps {
                maps,
                height: h,
                width: w,
                title,
            },
            &path,
        )?;
    }
    println!(
        "Wrote {} feature-map images to {}",
        outputs.len(),
        a.out.display()
    );
    Ok(())
}

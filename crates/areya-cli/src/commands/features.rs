//! `areya features`: the activations of every conv, activation and pooling layer for one image,
//! one viridis grid PNG per layer (the notebook's feature-map figures).

use super::default_model;
use anyhow::Context;
use areya_ml::dataset::decode_gray;
use areya_ml::model::LayerKind;
use areya_ml::plots;
use areya_ml::Classifier;
use clap::Args;
use std::path::PathBuf;

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
    let outputs = clf.feature_maps(
        &px,
        |k| {
            matches!(
                k,
                LayerKind::Conv(_) | LayerKind::Relu | LayerKind::MaxPool { .. }
            )
        },
        a.max_channels,
    )?;
    for (i, (name, maps)) in outputs.iter().enumerate() {
        let path = a.out.join(format!("{i:02}_{name}.{}", a.format.ext()));
        plots::save(maps, &path)?;
    }
    println!(
        "Wrote {} feature-map images to {}",
        outputs.len(),
        a.out.display()
    );
    Ok(())
}

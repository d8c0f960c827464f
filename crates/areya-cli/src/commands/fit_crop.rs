//! `areya fit-crop`: measures how a model's training images frame a face relative to the face
//! detector's box and stores that crop in the run's config.json, so the vision pipeline cuts
//! live faces out of camera frames the way the model learnt them.

use super::default_model;
use anyhow::{bail, Context};
use areya_core::{FaceCrop, FaceDetectorKind};
use areya_ml::rundir::write_config;
use areya_ml::Classifier;
use areya_vision::crop::fit_crop;
use areya_vision::pipeline::Locator;
use areya_vision::pipeline::DEFAULT_MARGIN;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct FitCropArgs {
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Data root holding <split>/<class>/images: the images the model was trained on.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Images to measure, spread evenly over the split's classes.
    #[arg(long, default_value_t = 2000)]
    pub limit: usize,
    /// The face detector to measure against (`areya watch --detector`).
    #[arg(long, default_value = "blazeface")]
    pub detector: FaceDetectorKind,
}

pub fn run(a: FitCropArgs) -> anyhow::Result<()> {
    if a.limit < 20 {
        bail!("--limit: {} is too few; at least 20 images", a.limit);
    }
    let model = default_model(a.model)?;
    measure(&model, &a.data, &a.split, a.limit, a.detector)
}

/// Measures the crop of `model` on up to `limit` images of `data/split`, prints it and stores
/// it in the model's config.json. Also run by `areya train` at the end of a run.
pub fn measure(
    model: &Path,
    data: &Path,
    split: &str,
    limit: usize,
    detector: FaceDetectorKind,
) -> anyhow::Result<()> {
    let mut clf = Classifier::load(model)?;
    let dir = data.join(split);
    let listing = areya_ml::dataset::list_split(&dir, &clf.config.classes)?;
    let stride = (listing.files.len() / limit).max(1);
    let picked: Vec<&PathBuf> = listing
        .files
        .iter()
        .step_by(stride)
        .take(limit)
        .map(|(p, _)| p)
        .collect();
    let mut unreadable = 0usize;
    let images = picked.iter().filter_map(|p| match image::open(p) {
        Ok(img) => Some(img.to_luma8()),
        Err(_) => {
            unreadable += 1;
            None
        }
    });
    // Faces are shown at 128 px and more (`FIT_SIDES`): no need to tile for small ones.
    let mut locator = Locator::of_kind(detector, 80, None)?;
    let fit = fit_crop(images, &mut locator).with_context(|| format!("{}", dir.display()))?;
    let c = fit.crop;
    println!(
        "Face crop measured on {} images of {} (the {detector} detector found the face in {}, {:.1}%{}):",
        fit.images,
        dir.display(),
        fit.found,
        100.0 * fit.found as f64 / fit.images.max(1) as f64,
        if unreadable > 0 {
            format!("; {unreadable} unreadable skipped")
        } else {
            String::new()
        }
    );
    println!(
        "  a square {:.3} × the box's side (IQR {:.3}), centred {:+.3} / {:+.3} box sides right / down \
         of its centre (IQR {:.3} / {:.3})",
        c.scale, fit.iqr[0], c.dx, c.dy, fit.iqr[1], fit.iqr[2]
    );
    let pre = &clf.config.preprocessing;
    let before = match pre.face_crop {
        Some(old) => format!(
            "scale {:.3}, dx {:+.3}, dy {:+.3}, against {}",
            old.scale,
            old.dx,
            old.dy,
            pre.face_crop_detector
                .unwrap_or(FaceDetectorKind::SeetaFace)
        ),
        None => format!(
            "none: a {DEFAULT_MARGIN} margin, scale {:.3}",
            FaceCrop::margin(DEFAULT_MARGIN).scale
        ),
    };
    println!("  before: {before}");
    clf.config.preprocessing.face_crop = Some(c);
    clf.config.preprocessing.face_crop_detector = Some(detector);
    write_config(model, &clf.config)?;
    println!("Stored in {}", model.join("config.json").display());
    Ok(())
}

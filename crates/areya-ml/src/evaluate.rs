//! Honest evaluation: one ordered pass over a split in which each image's prediction is stored
//! beside its own label, so the report can never pair predictions with another order's labels
//! (the notebook scored a shuffled generator against unshuffled labels: 27% vs 63%).

use crate::augment;
use crate::dataset::{self, ImageSet, Skipped};
use crate::error::{MlError, Result};
use crate::metrics::{self, Calibration, Report};
use crate::rundir::Classifier;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// One image's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub path: PathBuf,
    pub truth: usize,
    pub predicted: usize,
    pub probs: Vec<f32>,
}

/// The result of [`evaluate_set`].
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Mean cross-entropy of the (temperature-scaled) probabilities.
    pub loss: f64,
    #[serde(flatten)]
    pub report: Report,
    pub calibration: Calibration,
    pub tta: bool,
    #[serde(skip)]
    pub predictions: Vec<Prediction>,
}

/// Softmax probabilities for images `idx` of `set`, with the horizontally flipped pass
/// averaged in when `tta`.
///
/// # Shapes
/// returns `[len(idx), K]`.
pub fn probabilities(clf: &Classifier, set: &ImageSet, idx: &[usize], tta: bool) -> Tensor {
    let (x, _) = augment::batch(set, idx, None);
    let t = clf.config.temperature;
    let mut p = (clf.logits(&x) / t).softmax(-1, Kind::Float);
    if tta {
        let flipped = x.flip([3]);
        p = (p + (clf.logits(&flipped) / t).softmax(-1, Kind::Float)) / 2.0;
    }
    p
}

/// Evaluates `clf` on every image of `set`, in order.
pub fn evaluate_set(
    clf: &Classifier,
    set: &ImageSet,
    tta: bool,
    batch_size: usize,
) -> Result<Evaluation> {
    let k = clf.config.classes.len();
    let mut predictions = Vec::with_capacity(set.len());
    let mut loss = 0.0;
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let p = probabilities(clf, set, chunk, tta);
        let flat = Vec::<f32>::try_from(p.flatten(0, -1))?;
        for (&i, probs) in chunk.iter().zip(flat.chunks(k)) {
            let truth = set.labels[i] as usize;
            let predicted = probs
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(j, _)| j)
                .unwrap_or(0);
            loss -= (probs[truth].max(1e-12) as f64).ln();
            predictions.push(Prediction {
                path: set.paths[i].clone(),
                truth,
                predicted,
                probs: probs.to_vec(),
            });
        }
    }
    let truth: Vec<usize> = predictions.iter().map(|p| p.truth).collect();
    let pred: Vec<usize> = predictions.iter().map(|p| p.predicted).collect();
    let names: Vec<String> = clf.class_names().iter().map(|s| s.to_string()).collect();
    let report = Report::from_confusion(&names, metrics::confusion(&truth, &pred, k));
    let conf: Vec<f64> = predictions
        .iter()
        .map(|p| p.probs[p.predicted] as f64)
        .collect();
    let correct: Vec<bool> = predictions.iter().map(|p| p.truth == p.predicted).collect();
    Ok(Evaluation {
        loss: loss / predictions.len().max(1) as f64,
        report,
        calibration: metrics::calibration(&conf, &correct, 15),
        tta,
        predictions,
    })
}

/// Loads `ROOT/<split>` with the model's classes (folder → name) and preprocessing.
pub fn load_split(
    clf: &Classifier,
    root: &Path,
    split: &str,
    strict: bool,
) -> Result<(ImageSet, Vec<Skipped>)> {
    let dir = root.join(split);
    if !dir.is_dir() {
        return Err(MlError::data(
            &dir,
            "not a folder (expected ROOT/<split>/<class>/images)",
        ));
    }
    let listing = dataset::list_split(&dir, &clf.config.classes)?;
    let loaded = dataset::load(&listing, clf.config.classes.len(), clf.image_size(), strict)?;
    Ok((loaded.set, loaded.skipped))
}

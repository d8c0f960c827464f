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
pub fn probabilities(clf: &Classifier, set: &ImageSet, idx: &[usize], tta: bool, t: f64) -> Tensor {
    let (x, _) = augment::batch(set, idx, None);
    let mut p = (clf.logits(&x) / t).softmax(-1, Kind::Float);
    if tta {
        let flipped = x.flip([3]);
        p = (p + (clf.logits(&flipped) / t).softmax(-1, Kind::Float)) / 2.0;
    }
    p
}

/// Evaluates `clf` on every image of `set`, in order, at the model's calibrated temperature.
pub fn evaluate_set(
    clf: &Classifier,
    set: &ImageSet,
    tta: bool,
    batch_size: usize,
) -> Result<Evaluation> {
    evaluate_at(clf, set, tta, batch_size, clf.config.temperature)
}

/// Like [`evaluate_set`] at softmax temperature `t` (1 = uncalibrated).
pub fn evaluate_at(
    clf: &Classifier,
    set: &ImageSet,
    tta: bool,
    batch_size: usize,
    t: f64,
) -> Result<Evaluation> {
    let k = clf.config.classes.len();
    let names: Vec<String> = clf.class_names().iter().map(|s| s.to_string()).collect();
    evaluate_with(&names, set, tta, batch_size, |chunk| {
        let p = probabilities(clf, set, chunk, tta, t);
        let flat = Vec::<f32>::try_from(p.flatten(0, -1))?;
        Ok(flat.chunks(k).map(<[f32]>::to_vec).collect())
    })
}

/// The evaluation of class probabilities that `probs` gives for each chunk of at most
/// `batch_size` image indices of `set`, in order (any runtime: libtorch above, an ONNX export
/// on tract in the CLI); `tta` is only recorded.
pub fn evaluate_with(
    names: &[String],
    set: &ImageSet,
    tta: bool,
    batch_size: usize,
    mut probs: impl FnMut(&[usize]) -> Result<Vec<Vec<f32>>>,
) -> Result<Evaluation> {
    let k = names.len();
    let mut predictions = Vec::with_capacity(set.len());
    let mut loss = 0.0;
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let p = probs(chunk)?;
        if p.len() != chunk.len() || p.iter().any(|q| q.len() != k) {
            return Err(MlError::config(
                "model",
                format!(
                    "gave {} answers for {} images, not {k} probabilities each",
                    p.len(),
                    chunk.len()
                ),
            ));
        }
        for (&i, probs) in chunk.iter().zip(&p) {
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
                probs: probs.clone(),
            });
        }
    }
    let truth: Vec<usize> = predictions.iter().map(|p| p.truth).collect();
    let pred: Vec<usize> = predictions.iter().map(|p| p.predicted).collect();
    let report = Report::from_confusion(names, metrics::confusion(&truth, &pred, k));
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

/// Raw logits of every image of `set`, in order.
///
/// # Shapes
/// returns `[N, K]`.
pub fn logits(clf: &Classifier, set: &ImageSet, batch_size: usize) -> Tensor {
    let idx: Vec<usize> = (0..set.len()).collect();
    let parts: Vec<Tensor> = idx
        .chunks(batch_size.max(1))
        .map(|c| clf.logits(&augment::batch(set, c, None).0))
        .collect();
    Tensor::cat(&parts, 0)
}

/// Mean negative log-likelihood of `labels` under softmax(`logits` / `t`).
pub fn nll(logits: &Tensor, labels: &Tensor, t: f64) -> f64 {
    -(logits / t)
        .log_softmax(-1, Kind::Float)
        .gather(1, &labels.unsqueeze(1), false)
        .mean(Kind::Float)
        .double_value(&[])
}

/// Temperature scaling (Guo et al., 2017): the `t` in [0.05, 20] minimising the NLL of
/// `labels`, by golden-section search on log t (the NLL is unimodal in t).
pub fn fit_temperature(logits: &Tensor, labels: &Tensor) -> f64 {
    let f = |lt: f64| nll(logits, labels, lt.exp());
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_fit_recovers_a_known_temperature() {
        // Labels drawn from softmax(z / 2): the best temperature for logits z is ≈ 2.
        let n = 4000;
        let z = Tensor::randn([n, 4], (Kind::Float, tch::Device::Cpu)) * 3.0;
        let probs = (&z / 2.0).softmax(-1, Kind::Float);
        tch::manual_seed(1);
        let labels = probs.multinomial(1, true).squeeze_dim(1);
        let t = fit_temperature(&z, &labels);
        assert!((t - 2.0).abs() < 0.25, "fitted {t}");
        assert!(nll(&z, &labels, t) <= nll(&z, &labels, 1.0));
    }
}

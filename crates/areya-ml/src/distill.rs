//! Knowledge distillation: trained runs (the teachers) give every train image a soft target,
//! and the student learns from those beside the hard labels.
//!
//! The soft targets are computed once, when a run starts or resumes: each teacher's softmax at
//! the distillation temperature, averaged over the image and its mirror image (when the run
//! flip-augments) and over the teachers (an ensemble teacher). The student then sees its usual augmented batch while the
//! target stays the teacher's view of the original image — "offline" distillation, chosen
//! because a teacher forward pass per batch would cost a wide teacher most of a student epoch
//! again on a CPU, while the augmentation here (a few degrees, a little zoom, a mirror) does
//! not change what a face shows. Each teacher's weights are fingerprinted when the run starts
//! and `--resume` refuses a teacher that changed since.

use crate::augment;
use crate::classes::ClassMap;
use crate::config::Precision;
use crate::dataset::{fnv1a, ImageSet, FNV_OFFSET};
use crate::error::{MlError, Result};
use crate::rundir::{Classifier, MODEL_FILE};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// How a run distils (saved in `config.json` with every other hyper-parameter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillConfig {
    /// Run directories of the teachers; their soft targets are averaged.
    pub teachers: Vec<PathBuf>,
    /// Weight of the distillation term; the hard-label loss gets `1 − alpha`.
    pub alpha: f64,
    /// Softmax temperature of teacher and student in the distillation term.
    pub temperature: f64,
    /// FNV-1a of each teacher's `model.safetensors`, recorded when the run starts.
    #[serde(default)]
    pub fingerprints: Vec<String>,
}

impl DistillConfig {
    /// Checks the values (the teachers themselves are checked by [`load_teachers`]).
    pub fn validate(&self) -> Result<()> {
        if self.teachers.is_empty() {
            return Err(MlError::config(
                "distill.teachers",
                "at least one teacher run is needed",
            ));
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(MlError::config("distill.alpha", "must be in (0, 1]"));
        }
        if !(self.temperature >= 0.5 && self.temperature <= 20.0) {
            return Err(MlError::config(
                "distill.temperature",
                "must be between 0.5 and 20",
            ));
        }
        Ok(())
    }

    /// On resume: every teacher still has the weights fingerprinted when the run started
    /// (`config` names the run's config.json for a record without one fingerprint a teacher).
    pub fn check_unchanged(&self, config: &Path) -> Result<()> {
        if self.fingerprints.len() != self.teachers.len() {
            return Err(MlError::run_dir(
                config,
                "distill: one fingerprint per teacher expected; start a new run",
            ));
        }
        for (teacher, was) in self.teachers.iter().zip(&self.fingerprints) {
            let now = fingerprint(teacher)?;
            if &now != was {
                return Err(MlError::run_dir(
                    teacher,
                    format!("this teacher's weights changed since the run started (fingerprint {was} → {now}); start a new run"),
                ));
            }
        }
        Ok(())
    }
}

/// FNV-1a of a teacher's weights file, as 16 hex digits.
pub fn fingerprint(run: &Path) -> Result<String> {
    let path = run.join(MODEL_FILE);
    let bytes = std::fs::read(&path).map_err(|e| MlError::io(&path, e))?;
    Ok(format!("{:016x}", fnv1a(FNV_OFFSET, &bytes)))
}

/// Loads every teacher and checks it can teach this run: same class names in the same order,
/// same input size.
pub fn load_teachers(
    cfg: &DistillConfig,
    classes: &ClassMap,
    image_size: u32,
) -> Result<Vec<Classifier>> {
    let want = classes.names();
    cfg.teachers
        .iter()
        .map(|dir| {
            let mut clf = Classifier::load(dir)?;
            // Training computes in float32 everywhere, so a run resumed on another machine
            // gets the same soft targets.
            clf.set_precision(Precision::Float32);
            if clf.class_names() != want {
                return Err(MlError::run_dir(
                    dir,
                    format!(
                        "teacher classes {:?} differ from this run's {:?}",
                        clf.class_names(),
                        want
                    ),
                ));
            }
            if clf.image_size() != image_size {
                return Err(MlError::run_dir(
                    dir,
                    format!(
                        "teacher input is {0}×{0}, this run's is {1}×{1}",
                        clf.image_size(),
                        image_size
                    ),
                ));
            }
            Ok(clf)
        })
        .collect()
}

/// The teachers' soft targets for every image of `set`, in order: softmax(logits / `t`)
/// averaged over the image and (with `mirror`, for runs that flip-augment, where a mirror
/// image shows the same class) its mirror image, then over the teachers.
///
/// # Shapes
/// returns `[N, K]`, rows summing to 1.
pub fn soft_targets(
    teachers: &[Classifier],
    set: &ImageSet,
    t: f64,
    mirror: bool,
    batch_size: usize,
) -> Tensor {
    let idx: Vec<usize> = (0..set.len()).collect();
    let parts: Vec<Tensor> = idx
        .chunks(batch_size.max(1))
        .map(|chunk| {
            let (x, _) = augment::batch(set, chunk, None);
            let views = if mirror {
                vec![x.flip([3]), x]
            } else {
                vec![x]
            };
            let per_teacher = views.len() as f64;
            let sum = teachers
                .iter()
                .flat_map(|clf| {
                    views
                        .iter()
                        .map(|v| (clf.logits(v) / t).softmax(-1, Kind::Float))
                })
                .fold(None::<Tensor>, |acc, p| {
                    Some(acc.map_or_else(|| p.shallow_clone(), |a| a + &p))
                });
            sum.map_or_else(
                || Tensor::zeros([chunk.len() as i64, 0], (Kind::Float, tch::Device::Cpu)),
                |s| s / (per_teacher * teachers.len() as f64),
            )
        })
        .collect();
    Tensor::cat(&parts, 0)
}

/// Share of `set` whose label is the soft targets' most probable class.
pub fn accuracy(soft: &Tensor, set: &ImageSet) -> f64 {
    let y = Tensor::from_slice(&set.labels).to_kind(Kind::Int64);
    soft.argmax(-1, false)
        .eq_tensor(&y)
        .to_kind(Kind::Float)
        .mean(Kind::Float)
        .double_value(&[])
}

/// The distillation term: t² · KL(teacher ‖ student at temperature `t`), averaged over the
/// batch (t² keeps its gradients on the scale of the hard-label loss, as Hinton et al.).
///
/// # Shapes
/// `logits`: `[B, K]`, `soft`: `[B, K]` → scalar.
pub fn kd_loss(logits: &Tensor, soft: &Tensor, t: f64) -> Tensor {
    let logq = (logits / t).log_softmax(-1, Kind::Float);
    let logp = soft.clamp_min(1e-12).log();
    (soft * (logp - logq))
        .sum_dim_intlist(-1, false, Kind::Float)
        .mean(Kind::Float)
        * (t * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kd_loss_is_zero_on_agreement_and_grows_with_disagreement() {
        let t = 2.0;
        let logits = Tensor::from_slice(&[2.0f32, 0.0, -1.0, 0.5]).view([1, 4]);
        let same = (&logits / t).softmax(-1, Kind::Float);
        assert!(kd_loss(&logits, &same, t).double_value(&[]).abs() < 1e-6);
        // KL(p‖q) by hand for a two-class case at t = 1: p = (0.8, 0.2), q = softmax(0, 0).
        let p = Tensor::from_slice(&[0.8f32, 0.2]).view([1, 2]);
        let z = Tensor::from_slice(&[0.0f32, 0.0]).view([1, 2]);
        let want = 0.8 * (0.8f64 / 0.5).ln() + 0.2 * (0.2f64 / 0.5).ln();
        assert!((kd_loss(&z, &p, 1.0).double_value(&[]) - want).abs() < 1e-6);
        // At t = 2 the same logits and targets are scaled by t² = 4 (targets given at t).
        let z2 = Tensor::from_slice(&[0.0f32, 0.0]).view([1, 2]);
        assert!((kd_loss(&z2, &p, 2.0).double_value(&[]) - 4.0 * want).abs() < 1e-5);
        // Further from the target, larger.
        let far = Tensor::from_slice(&[-3.0f32, 3.0]).view([1, 2]);
        assert!(kd_loss(&far, &p, 1.0).double_value(&[]) > want);
    }

    /// A change to the settings, named by the flag it stands for.
    type Mutation = Box<dyn Fn(&mut DistillConfig)>;

    #[test]
    fn bad_settings_name_their_flag() {
        let ok = DistillConfig {
            teachers: vec!["models/x".into()],
            alpha: 0.5,
            temperature: 2.0,
            fingerprints: vec![],
        };
        ok.validate().unwrap();
        let cases: Vec<(&str, Mutation)> = vec![
            ("distill.teachers", Box::new(|c| c.teachers.clear())),
            ("distill.alpha", Box::new(|c| c.alpha = 0.0)),
            ("distill.alpha", Box::new(|c| c.alpha = 1.5)),
            ("distill.alpha", Box::new(|c| c.alpha = f64::NAN)),
            ("distill.temperature", Box::new(|c| c.temperature = 0.0)),
            ("distill.temperature", Box::new(|c| c.temperature = 100.0)),
        ];
        for (flag, mutate) in cases {
            let mut c = ok.clone();
            mutate(&mut c);
            let err = c.validate().expect_err(flag).to_string();
            assert!(err.starts_with(flag), "{flag}: {err}");
        }
    }
}

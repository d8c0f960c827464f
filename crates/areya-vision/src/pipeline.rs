//! Frame → Observation: detect faces, keep the patient's (ROI, largest), crop with margin,
//! classify with the emotion model (batched across frames), and report probabilities with the
//! face box, detector score and quality — or a "no face" observation.

use crate::crop::{crop_face, sharpness};
use crate::detect::{DetectConfig, FaceDetector};
use crate::roi::{patient_face, Roi};
use crate::{GrayFrame, VisionError};
use areya_core::{Emotion, Observation, PatientId, Probabilities, Quality, SourceId};
use areya_ml::Classifier;

/// Where a frame came from.
#[derive(Debug, Clone)]
pub struct FrameMeta {
    pub source: SourceId,
    pub patient: PatientId,
    pub at_ms: i64,
    pub frame: u64,
    pub roi: Option<Roi>,
}

pub struct Pipeline {
    detector: FaceDetector,
    classifier: Classifier,
    /// Model class index of angry, happy, relaxed, sad.
    order: [usize; 4],
    /// Added around the face box on each side, as a share of its size.
    pub margin: f32,
}

impl Pipeline {
    /// Checks that the model's classes are Areya's four emotions.
    pub fn new(classifier: Classifier, detect: DetectConfig) -> Result<Self, VisionError> {
        let names = classifier.class_names();
        let mut order = [usize::MAX; 4];
        for (i, e) in Emotion::ALL.iter().enumerate() {
            order[i] = names.iter().position(|n| n.parse::<Emotion>().ok() == Some(*e)).ok_or_else(|| {
                VisionError::Model(format!("the model's classes ({}) are not Areya's four emotions (angry, happy, relaxed, sad)", names.join(", ")))
            })?;
        }
        if names.len() != 4 {
            return Err(VisionError::Model(format!(
                "the model has {} classes; Areya needs exactly angry, happy, relaxed, sad",
                names.len()
            )));
        }
        Ok(Pipeline {
            detector: FaceDetector::new(detect)?,
            classifier,
            order,
            margin: 0.2,
        })
    }

    /// Observations for a batch of frames (one classifier call for all faces found).
    pub fn observe(
        &mut self,
        frames: &[(GrayFrame, FrameMeta)],
    ) -> Result<Vec<Observation>, VisionError> {
        let size = self.classifier.image_size();
        let mut crops = Vec::new();
        let mut found = Vec::with_capacity(frames.len());
        for (frame, meta) in frames {
            let faces = self.detector.detect(frame);
            let face = patient_face(&faces, meta.roi.as_ref());
            if let Some(f) = &face {
                crops.push(crop_face(frame, f, self.margin, size));
            }
            found.push(face);
        }
        let pixels: Vec<u8> = crops.concat();
        let probs = self.classifier.predict(&pixels, crops.len())?;
        let mut probs = probs.into_iter();
        let mut crops = crops.into_iter();
        Ok(frames
            .iter()
            .zip(found)
            .map(|((_, meta), face)| {
                let (p, q) = match face {
                    Some(f) => {
                        let p = probs.next().unwrap_or_default();
                        let crop = crops.next().unwrap_or_default();
                        let [a, h, r, s] = self.order.map(|i| p.get(i).copied().unwrap_or(0.0));
                        (
                            Some(Probabilities {
                                angry: a,
                                happy: h,
                                relaxed: r,
                                sad: s,
                            }),
                            Some(Quality {
                                face_px: f.height,
                                sharpness: sharpness(&crop, size),
                            }),
                        )
                    }
                    None => (None, None),
                };
                Observation {
                    source: meta.source.clone(),
                    patient: meta.patient.clone(),
                    at_ms: meta.at_ms,
                    frame: meta.frame,
                    face,
                    probs: p,
                    quality: q,
                }
            })
            .collect())
    }
}

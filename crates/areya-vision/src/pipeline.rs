//! Frame → Observation: detect faces, keep the patient's (ROI, largest), crop it as the model's
//! training images were framed (its `config.json`'s `face_crop`, else a fixed margin), classify
//! with the emotion model (batched across frames), and report probabilities with the face box,
//! detector score and quality — or a "no face" observation.

use crate::crop::{crop_face, sharpness};
use crate::detect::{DetectConfig, FaceDetector};
use crate::roi::{patient_face, Roi};
use crate::{GrayFrame, VisionError};
use areya_core::{Emotion, FaceCrop, Observation, PatientId, Probabilities, Quality, SourceId};
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
    /// Where the crop goes around the detector's box.
    pub crop: FaceCrop,
}

/// The crop for models without a measured one (`areya fit-crop`): 10% of the box's side on
/// each side. On FER-2013 val faces through the pipeline, margins 0 and 0.1 were within half a
/// point of each other and of a measured crop, 0.2 lost 3–4 points, 0.3 about 9
/// (docs/benchmarks.md).
pub const DEFAULT_MARGIN: f64 = 0.1;

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
        let crop = match classifier.config.preprocessing.face_crop {
            Some(c) => FaceCrop::new(c.scale, c.dx, c.dy).map_err(|e| {
                VisionError::Model(format!("config.json: preprocessing.face_crop: {e}"))
            })?,
            None => FaceCrop::margin(DEFAULT_MARGIN),
        };
        Ok(Pipeline {
            detector: FaceDetector::new(detect)?,
            classifier,
            order,
            crop,
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
                crops.push(crop_face(frame, f, &self.crop, size));
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

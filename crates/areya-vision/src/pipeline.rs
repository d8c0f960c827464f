//! Frame → Observation: find the patient's face in the bed area ([`Locator`]: BlazeFace with
//! rotation search, alignment and a track per camera, or SeetaFace's upright-only cascade), cut
//! it out upright and framed as the model's training images were (its `config.json`'s
//! `face_crop`, measured against the same detector, else a fixed margin), classify it with the
//! emotion model (batched across frames), and report probabilities with the face box, detector
//! score and quality — or a "no face" observation.

use crate::bedside::{Face, FaceFinder, FinderConfig, Track};
use crate::blazeface::BlazeFace;
use crate::crop::{aligned_crop, crop_face, sharpness};
use crate::detect::{DetectConfig, FaceDetector};
use crate::model::EmotionModel;
use crate::roi::{patient_face, Roi};
use crate::{GrayFrame, VisionError};
use areya_core::{
    Emotion, FaceBox, FaceCrop, FaceDetectorKind, Observation, PatientId, Probabilities, Quality,
    SeenFace, SourceId,
};
use std::collections::HashMap;
use std::path::Path;

/// Where a frame came from.
#[derive(Debug, Clone)]
pub struct FrameMeta {
    pub source: SourceId,
    pub patient: PatientId,
    pub at_ms: i64,
    pub frame: u64,
    pub roi: Option<Roi>,
}

/// The face detector a pipeline runs.
// One per pipeline, never in a collection: the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Locator {
    /// BlazeFace with the bedside search and a track per source (the default).
    Bedside(FaceFinder),
    /// SeetaFace's frontal cascade: upright faces only; kept to compare against.
    Frontal(FaceDetector),
}

impl Locator {
    /// The bedside detector: the embedded BlazeFace model, or `model_file` instead.
    pub fn bedside(cfg: FinderConfig, model_file: Option<&Path>) -> Result<Self, VisionError> {
        let net = match model_file {
            Some(p) => BlazeFace::from_file(p)?,
            None => BlazeFace::embedded()?,
        };
        Ok(Locator::Bedside(FaceFinder::new(net, cfg)?))
    }

    pub fn frontal(cfg: DetectConfig) -> Result<Self, VisionError> {
        Ok(Locator::Frontal(FaceDetector::new(cfg)?))
    }

    /// `kind` with the smallest face `min_face` and otherwise default settings.
    pub fn of_kind(
        kind: FaceDetectorKind,
        min_face: u32,
        model_file: Option<&Path>,
    ) -> Result<Self, VisionError> {
        match kind {
            FaceDetectorKind::BlazeFace => Self::bedside(
                FinderConfig {
                    min_face,
                    ..FinderConfig::default()
                },
                model_file,
            ),
            FaceDetectorKind::SeetaFace => {
                if model_file.is_some() {
                    return Err(VisionError::config(
                        "detector_model",
                        "only the blazeface detector loads a model file",
                    ));
                }
                Self::frontal(DetectConfig {
                    min_face,
                    ..DetectConfig::default()
                })
            }
        }
    }

    pub fn kind(&self) -> FaceDetectorKind {
        match self {
            Locator::Bedside(_) => FaceDetectorKind::BlazeFace,
            Locator::Frontal(_) => FaceDetectorKind::SeetaFace,
        }
    }

    /// The upright box of the largest face in `frame`, searched afresh (no track): what
    /// `fit_crop` measures training images against.
    pub fn largest_upright(&mut self, frame: &GrayFrame) -> Result<Option<FaceBox>, VisionError> {
        Ok(match self {
            Locator::Bedside(f) => f
                .find(frame, None, &mut Track::default())?
                .map(|face| face.upright_box()),
            Locator::Frontal(d) => d.detect(frame).into_iter().max_by_key(|b| b.area()),
        })
    }
}

/// What the pipeline saw in one frame beyond its observation: for `watch --annotate` and the
/// bedside benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub observation: Observation,
    /// Eyes, nose, mouth and ears (BlazeFace only), frame pixels.
    pub landmarks: Option<[(f32, f32); 6]>,
    /// The face's in-plane rotation the crop was turned by (BlazeFace only; radians, as
    /// [`crate::bedside::Face::roll`]).
    pub roll: Option<f32>,
    /// The crop the model classified (`image_size`² gray pixels).
    pub crop: Option<Vec<u8>>,
}

pub struct Pipeline {
    locator: Locator,
    classifier: EmotionModel,
    /// Model class index of angry, happy, relaxed, sad.
    order: [usize; 4],
    /// Where the crop goes around the detector's box.
    pub crop: FaceCrop,
    /// Turn faces upright by their eyes before cropping (BlazeFace only; on by default).
    pub align: bool,
    /// The patient's face followed per camera.
    tracks: HashMap<SourceId, Track>,
}

/// The crop for models without a crop measured against the detector in use (`areya fit-crop`):
/// 10% of the box's side on each side. On FER-2013 val faces through the pipeline, margins 0 and
/// 0.1 were within half a point of each other and of a measured crop, 0.2 lost 3–4 points, 0.3
/// about 9 (docs/benchmarks.md).
pub const DEFAULT_MARGIN: f64 = 0.1;

impl Pipeline {
    /// Checks that the model's classes are Areya's four emotions.
    pub fn new(classifier: impl Into<EmotionModel>, locator: Locator) -> Result<Self, VisionError> {
        let classifier = classifier.into();
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
        let (measured, any_measured) = classifier.face_crop_for(locator.kind());
        let crop = match measured {
            Some(c) => FaceCrop::new(c.scale, c.dx, c.dy).map_err(|e| {
                VisionError::Model(format!("{}: {e}", classifier.face_crop_setting()))
            })?,
            None => {
                if any_measured {
                    tracing::warn!(
                        "the model's face crop was measured against another detector than {}; \
                         cropping with a {DEFAULT_MARGIN} margin (areya fit-crop measures it)",
                        locator.kind()
                    );
                }
                FaceCrop::margin(DEFAULT_MARGIN)
            }
        };
        Ok(Pipeline {
            locator,
            classifier,
            order,
            crop,
            align: true,
            tracks: HashMap::new(),
        })
    }

    pub fn detector(&self) -> FaceDetectorKind {
        self.locator.kind()
    }

    /// Views BlazeFace has looked at so far (0 for SeetaFace).
    pub fn detector_views(&self) -> u64 {
        match &self.locator {
            Locator::Bedside(f) => f.views(),
            Locator::Frontal(_) => 0,
        }
    }

    /// Observations for a batch of frames (one classifier call for all faces found).
    pub fn observe(
        &mut self,
        frames: &[(GrayFrame, FrameMeta)],
    ) -> Result<Vec<Observation>, VisionError> {
        Ok(self
            .observe_seen(frames)?
            .into_iter()
            .map(|s| s.observation)
            .collect())
    }

    /// As [`Pipeline::observe`], with the landmarks and crops.
    pub fn observe_seen(
        &mut self,
        frames: &[(GrayFrame, FrameMeta)],
    ) -> Result<Vec<Seen>, VisionError> {
        let size = self.classifier.image_size();
        let mut crops = Vec::new();
        let mut found: Vec<Option<(FaceBox, Option<Face>)>> = Vec::with_capacity(frames.len());
        for (frame, meta) in frames {
            let hit = match &mut self.locator {
                Locator::Bedside(finder) => {
                    let track = self.tracks.entry(meta.source.clone()).or_default();
                    let was_far = track.far();
                    let found = finder.find(frame, meta.roi.as_ref(), track)?;
                    if let (Some(f), false, true) = (&found, was_far, track.far()) {
                        // Once per camera: the operator may set its min_face so that the face
                        // is found from the first frame (docs/operations.md, Known limits).
                        tracing::info!(
                            "{}: the patient's face is {:.0} px, under min_face {}: this \
                             camera is searched for faces that small from now on",
                            meta.source,
                            f.side,
                            finder.config().min_face
                        );
                    }
                    found.map(|f| (f.bounding_box(), Some(f)))
                }
                Locator::Frontal(d) => {
                    patient_face(&d.detect(frame), meta.roi.as_ref()).map(|b| (b, None))
                }
            };
            if let Some((b, face)) = &hit {
                crops.push(match face {
                    Some(f) if self.align => aligned_crop(frame, f, &self.crop, size),
                    Some(f) => aligned_crop(frame, &Face { roll: 0.0, ..*f }, &self.crop, size),
                    None => crop_face(frame, b, &self.crop, size),
                });
            }
            found.push(hit);
        }
        let pixels: Vec<u8> = crops.concat();
        let probs = self.classifier.predict(&pixels, crops.len())?;
        let mut probs = probs.into_iter();
        let mut crops = crops.into_iter();
        frames
            .iter()
            .zip(found)
            .map(|((_, meta), hit)| {
                let mut seen = Seen {
                    observation: Observation {
                        source: meta.source.clone(),
                        patient: meta.patient.clone(),
                        at_ms: meta.at_ms,
                        frame: meta.frame,
                        face: None,
                    },
                    landmarks: None,
                    roll: None,
                    crop: None,
                };
                if let Some((b, face)) = hit {
                    let p = probs.next().unwrap_or_default();
                    let crop = crops.next().unwrap_or_default();
                    // Renormalised: a reduced-precision softmax may sum a little off 1.
                    let v = self.order.map(|i| p.get(i).copied().unwrap_or(0.0));
                    let sum: f32 = v.iter().sum();
                    let probs = Probabilities::from_array(v.map(|x| x / sum)).map_err(|e| {
                        VisionError::Model(format!("the model's output is not a distribution: {e}"))
                    })?;
                    seen.observation.face = Some(SeenFace {
                        bbox: b,
                        probs,
                        quality: Some(Quality {
                            face_px: face.map_or(b.height, |f| f.side.round().max(1.0) as u32),
                            sharpness: sharpness(&crop, size),
                        }),
                    });
                    seen.landmarks = face.map(|f| f.landmarks);
                    seen.roll = face.map(|f| f.roll);
                    seen.crop = Some(crop);
                }
                Ok(seen)
            })
            .collect()
    }
}

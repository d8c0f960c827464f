//! Areya's shared vocabulary: the emotions Areya reports, face boxes, identifiers and the
//! observations the vision pipeline hands to the monitor.
//!
//! This crate holds types only — no tensors, no I/O, no async runtime — so that every other
//! crate (the trainer, the vision pipeline, the monitor and the server) speaks the same words.

pub mod emotion;
pub mod face;
pub mod ingest;
pub mod observation;
pub mod rng;
pub mod setting;
pub mod time;
pub mod words;

pub use emotion::{Emotion, ParseEmotionError};
pub use face::{face_crop_for, FaceBox, FaceCrop, FaceDetectorKind, InvalidFaceCrop};
pub use ingest::{CheckedIngest, ErrorBody, IngestReport, IngestRequest, InvalidItem, ModelHealth};
pub use observation::{
    EmotionSums, InvalidId, InvalidObservation, InvalidProbabilities, Observation, ObservationWire,
    PatientId, Probabilities, Quality, RawProbabilities, SeenFace, SourceId, MAX_AT_MS,
    MAX_FACE_SCORE, MAX_FRAME_PX, MAX_SHARPNESS, MIN_AT_MS,
};
pub use setting::SettingError;
pub use words::{Arg, Words};

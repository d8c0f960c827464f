//! The emotion model as a standard ONNX graph, so it runs without libtorch: on the edge box
//! beside a camera (tract, pure Rust) or in any runtime a hospital already uses.
//!
//! [`encode`] writes a trained network's inference form ([`Layer`]s with their batch norms
//! already folded) as an opset-13 graph whose input is the face crop's gray pixels as they are
//! (0–255, `[N, 1, S, S]`) and whose output is the probability of each class: the division by
//! the run's pixel scale, the per-image standardization, the temperature and the softmax are
//! inside the graph. [`ModelInfo`] (classes, crop size, the measured face crop and its detector)
//! travels in the file's metadata. [`OnnxClassifier`] reads such a file back and runs it.

mod run;
mod write;

pub use run::OnnxClassifier;
pub use write::{encode, Layer};

use areya_core::{FaceCrop, FaceDetectorKind};
use serde::{Deserialize, Serialize};

/// The ONNX operator set the graph uses (every operator in it exists unchanged since 13).
pub const OPSET: i64 = 13;
/// The graph's input: gray pixels 0–255, `[N, 1, S, S]` float32.
pub const INPUT: &str = "pixels";
/// The graph's output: class probabilities, `[N, K]` float32, in [`ModelInfo::classes`] order.
pub const OUTPUT: &str = "probabilities";

/// What a program needs to know to feed the graph and read its answer; stored in the ONNX
/// file's metadata (one key per field, values in JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Class names in output order (Areya's: angry, happy, relaxed, sad).
    pub classes: Vec<String>,
    /// The crop's side in pixels (the input is `[N, 1, image_size, image_size]`).
    pub image_size: u32,
    /// Pixel values were divided by this in training (the graph does it).
    pub scale: f64,
    /// Logits are divided by this before the softmax (the graph does it).
    pub temperature: f64,
    /// How the training images frame a face around the detector's box (`areya fit-crop`).
    pub face_crop: Option<FaceCrop>,
    /// The detector `face_crop` was measured against.
    pub face_crop_detector: Option<FaceDetectorKind>,
    /// The network's architecture name (`areya-cnn`), for people reading the file.
    pub architecture: String,
}

impl ModelInfo {
    /// The measured crop for faces found by `detector`, if one was measured against it (the
    /// same rule as a run directory's `config.json`).
    pub fn face_crop_for(&self, detector: FaceDetectorKind) -> Option<FaceCrop> {
        areya_core::face_crop_for(self.face_crop, self.face_crop_detector, detector)
    }
}

/// A model file that cannot be read, written or run.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The file (or bytes named so) is not a model this crate can run.
    #[error("{name}: {msg}")]
    Model { name: String, msg: String },
    /// A network that cannot be written as the graph (a bug in the caller, named plainly).
    #[error("cannot write the ONNX graph: {0}")]
    Graph(String),
    /// Pixels that do not make whole crops.
    #[error("{0}")]
    Input(String),
}

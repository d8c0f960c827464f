//! The emotion model the pipeline classifies faces with: a run directory on libtorch (the
//! default build), or an exported ONNX file on tract (pure Rust: `areya export --onnx`, and the
//! only kind in a build without the `libtorch` feature — the edge agent's).

use crate::VisionError;
use areya_core::{FaceCrop, FaceDetectorKind};
pub use areya_onnx::OnnxClassifier;
use std::path::{Path, PathBuf};

/// Which library runs the emotion model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// A run directory's weights on libtorch (this build must have the `libtorch` feature).
    Libtorch,
    /// An exported ONNX file on tract.
    Tract,
}

impl Runtime {
    /// The runtime a model path gets when none is asked for: an `.onnx` file, or any path in a
    /// build without libtorch, runs on tract; a run directory on libtorch.
    pub fn for_path(path: &Path) -> Runtime {
        if cfg!(feature = "libtorch") && !path.is_file() {
            Runtime::Libtorch
        } else {
            Runtime::Tract
        }
    }
}

impl std::str::FromStr for Runtime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "libtorch" => Ok(Runtime::Libtorch),
            "tract" => Ok(Runtime::Tract),
            other => Err(format!("unknown runtime '{other}' (libtorch, tract)")),
        }
    }
}

/// The exported model inside a run directory (`areya export --model DIR --onnx DIR/model.onnx`).
pub const ONNX_FILE: &str = "model.onnx";

/// A loaded emotion model.
pub enum EmotionModel {
    #[cfg(feature = "libtorch")]
    Libtorch(Box<areya_ml::Classifier>),
    Tract(Box<OnnxClassifier>),
}

impl std::fmt::Debug for EmotionModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            #[cfg(feature = "libtorch")]
            EmotionModel::Libtorch(c) => write!(f, "EmotionModel::Libtorch({})", c.dir.display()),
            EmotionModel::Tract(c) => write!(f, "EmotionModel::Tract({c:?})"),
        }
    }
}

#[cfg(feature = "libtorch")]
impl From<areya_ml::Classifier> for EmotionModel {
    fn from(c: areya_ml::Classifier) -> Self {
        EmotionModel::Libtorch(Box::new(c))
    }
}

impl From<OnnxClassifier> for EmotionModel {
    fn from(c: OnnxClassifier) -> Self {
        EmotionModel::Tract(Box::new(c))
    }
}

impl EmotionModel {
    /// Loads `path` (a run directory, or an exported `.onnx` file) on `runtime` (by default
    /// [`Runtime::for_path`]). On tract a run directory means its [`ONNX_FILE`].
    pub fn load(path: &Path, runtime: Option<Runtime>) -> Result<Self, VisionError> {
        match runtime.unwrap_or_else(|| Runtime::for_path(path)) {
            Runtime::Libtorch => Self::load_libtorch(path),
            Runtime::Tract => {
                let file: PathBuf = if path.is_dir() {
                    let f = path.join(ONNX_FILE);
                    if !f.is_file() {
                        return Err(VisionError::Model(format!(
                            "{}: no exported model in this run directory; make it with \
                             `areya export --model {} --onnx {}` (a build with libtorch)",
                            f.display(),
                            path.display(),
                            f.display()
                        )));
                    }
                    f
                } else {
                    path.to_path_buf()
                };
                Ok(OnnxClassifier::load(&file)?.into())
            }
        }
    }

    #[cfg(feature = "libtorch")]
    fn load_libtorch(path: &Path) -> Result<Self, VisionError> {
        if path.is_file() {
            return Err(VisionError::Model(format!(
                "{}: libtorch runs a run directory, not a file (an .onnx file runs on tract)",
                path.display()
            )));
        }
        Ok(areya_ml::Classifier::load(path)?.into())
    }

    #[cfg(not(feature = "libtorch"))]
    fn load_libtorch(path: &Path) -> Result<Self, VisionError> {
        Err(VisionError::Model(format!(
            "{}: this build runs models on tract only (no libtorch); give an exported .onnx \
             file or a run directory holding {ONNX_FILE}",
            path.display()
        )))
    }

    pub fn runtime(&self) -> Runtime {
        match self {
            #[cfg(feature = "libtorch")]
            EmotionModel::Libtorch(_) => Runtime::Libtorch,
            EmotionModel::Tract(_) => Runtime::Tract,
        }
    }

    pub fn class_names(&self) -> Vec<String> {
        let names = match self {
            #[cfg(feature = "libtorch")]
            EmotionModel::Libtorch(c) => c.class_names(),
            EmotionModel::Tract(c) => c.class_names(),
        };
        names.into_iter().map(str::to_string).collect()
    }

    pub fn image_size(&self) -> u32 {
        match self {
            #[cfg(feature = "libtorch")]
            EmotionModel::Libtorch(c) => c.image_size(),
            EmotionModel::Tract(c) => c.image_size(),
        }
    }

    /// The crop measured for `detector`, and whether a crop was measured at all (against
    /// another detector, if none for this one).
    pub fn face_crop_for(&self, detector: FaceDetectorKind) -> (Option<FaceCrop>, bool) {
        match self {
            #[cfg(feature = "libtorch")]
            EmotionModel::Libtorch(c) => {
                let pre = &c.config.preprocessing;
                (pre.face_crop_for(detector), pre.face_crop.is_some())
            }
            EmotionModel::Tract(c) => (
                c.info().face_crop_for(detector),
                c.info().face_crop.is_some(),
            ),
        }
    }

    /// Where the measured face crop is stored, for error messages.
    pub fn face_crop_setting(&self) -> &'static str {
        match self {
            #[cfg(feature = "libtorch")]
            EmotionModel::Libtorch(_) => "config.json: preprocessing.face_crop",
            EmotionModel::Tract(_) => "the ONNX model's metadata: face_crop",
        }
    }

    /// Class probabilities for `n` crops of `image_size`² gray pixels laid out one after another.
    pub fn predict(&self, pixels: &[u8], n: usize) -> Result<Vec<Vec<f32>>, VisionError> {
        Ok(match self {
            #[cfg(feature = "libtorch")]
            EmotionModel::Libtorch(c) => c.predict(pixels, n)?,
            EmotionModel::Tract(c) => c.predict(pixels, n)?,
        })
    }
}

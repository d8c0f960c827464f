//! The error type of `areya-vision`; each variant names the source or setting at fault.

#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// A setting whose value cannot be used.
    #[error(transparent)]
    Config(#[from] areya_core::SettingError),
    #[error("{source_name}: {msg}")]
    Source { source_name: String, msg: String },
    /// A live source has sent nothing for `seconds` and is being reconnected.
    #[error("{source_name}: offline for {seconds} s, reconnecting")]
    Offline { source_name: String, seconds: u64 },
    #[error("bad frame: {0}")]
    Frame(String),
    #[error("model: {0}")]
    Model(String),
    #[cfg(feature = "libtorch")]
    #[error(transparent)]
    Ml(#[from] areya_ml::MlError),
    #[error(transparent)]
    Onnx(#[from] areya_onnx::OnnxError),
}

impl VisionError {
    pub fn config(field: impl Into<String>, msg: impl Into<String>) -> Self {
        VisionError::Config(areya_core::SettingError::new(field, msg))
    }
    pub fn source(name: impl Into<String>, msg: impl Into<String>) -> Self {
        VisionError::Source {
            source_name: name.into(),
            msg: msg.into(),
        }
    }
}

//! The one error type of `areya-ml`: every variant names the file or setting at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// A data file or folder is missing, empty, unreadable or not an image.
    #[error("{path}: {msg}")]
    Data { path: PathBuf, msg: String },
    /// A setting (flag or config field) has a value that cannot be used.
    #[error("{field}: {msg}")]
    Config { field: String, msg: String },
    /// A run directory or one of its files cannot be used.
    #[error("{path}: {msg}")]
    RunDir { path: PathBuf, msg: String },
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An error inside libtorch not tied to a file.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl MlError {
    pub fn data(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        MlError::Data {
            path: path.into(),
            msg: msg.into(),
        }
    }
    pub fn config(field: impl Into<String>, msg: impl Into<String>) -> Self {
        MlError::Config {
            field: field.into(),
            msg: msg.into(),
        }
    }
    pub fn run_dir(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        MlError::RunDir {
            path: path.into(),
            msg: msg.into(),
        }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MlError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = MlError> = std::result::Result<T, E>;

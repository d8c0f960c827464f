//! The one error type of `areya-ml`: every variant names the file or setting at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// A data file or folder is missing, empty, unreadable or not an image.
    #[error("{path}: {msg}")]
    Data { path: PathBuf, msg: String },
    /// A setting (flag or config field) has a value that cannot be used.
    #[error(transparent)]
    Config(#[from] areya_core::SettingError),
    /// A run directory or one of its files cannot be used.
    #[error("{path}: {msg}")]
    RunDir { path: PathBuf, msg: String },
    /// An I/O error on a named path. The message includes the cause's; it is not also chained
    /// as a source, so that a report of the whole chain (`{:#}`) says it once.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// An error inside libtorch not tied to a file (its message included, not chained).
    #[error("libtorch: {0}")]
    Torch(tch::TchError),
}

impl From<tch::TchError> for MlError {
    fn from(e: tch::TchError) -> Self {
        MlError::Torch(e)
    }
}

impl MlError {
    pub fn data(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        MlError::Data {
            path: path.into(),
            msg: msg.into(),
        }
    }
    pub fn config(field: impl Into<String>, msg: impl Into<String>) -> Self {
        MlError::Config(areya_core::SettingError::new(field, msg))
    }
    pub fn run_dir(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        MlError::RunDir {
            path: path.into(),
            msg: msg.into(),
        }
    }
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        MlError::Io {
            path: path.into(),
            cause,
        }
    }
}

pub type Result<T, E = MlError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// `areya` prints an error with its chain of sources (`{:#}`): a variant whose message
    /// already includes its cause must not chain it too, or the cause is printed twice.
    #[test]
    fn no_cause_is_said_twice() {
        let errors = [
            MlError::io(
                "/x/y.onnx",
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ),
            MlError::from(tch::TchError::FileFormat("bad header".into())),
        ];
        for e in errors {
            if let Some(cause) = e.source() {
                assert!(
                    !e.to_string().contains(&cause.to_string()),
                    "{e} also chains {cause}"
                );
            }
        }
    }
}

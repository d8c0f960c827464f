//! A setting whose value cannot be used, as the libraries report it: named by the setting
//! (`optimizer.lr`, `min_face`), never by the flag or file that filled it, which only the caller
//! knows (the CLI names the flag, a run's `config.json` its field).

/// A setting (a flag, a config file's field) whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {msg}")]
pub struct SettingError {
    /// The setting's name in the library's configuration (`optimizer.lr`).
    pub field: String,
    /// What is wrong with its value.
    pub msg: String,
}

impl SettingError {
    pub fn new(field: impl Into<String>, msg: impl Into<String>) -> Self {
        SettingError {
            field: field.into(),
            msg: msg.into(),
        }
    }
}

//! Which class folders are used and what each is called: `--classes angry,happy,neutral=relaxed,sad`.

use crate::error::{MlError, Result};
use serde::{Deserialize, Serialize};

/// One class: the folder its images come from and the name Areya gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassSpec {
    pub folder: String,
    pub name: String,
}

/// The selected classes, in class-index order (sorted by name, like Keras' `flow_from_directory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassMap(Vec<ClassSpec>);

/// Areya's four classes: FER-2013's neutral is shown as "relaxed".
pub const DEFAULT_CLASSES: &str = "angry,happy,neutral=relaxed,sad";

impl ClassMap {
    /// Parses `folder[=name],…`. The special value `all` means every folder found (see
    /// [`ClassMap::all_folders`]) and is resolved by the caller.
    pub fn parse(spec: &str) -> Result<Self> {
        let mut out = Vec::new();
        for part in spec.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(MlError::config(
                    "--classes",
                    format!("empty class in '{spec}'"),
                ));
            }
            let (folder, name) = match part.split_once('=') {
                Some((f, n)) => (f.trim(), n.trim()),
                None => (part, part),
            };
            for (what, s) in [("folder", folder), ("name", name)] {
                if s.is_empty()
                    || !s
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
                {
                    return Err(MlError::config(
                        "--classes",
                        format!("bad class {what} '{s}' in '{part}' (letters, digits, '_' and '-' only)"),
                    ));
                }
            }
            out.push(ClassSpec {
                folder: folder.to_string(),
                name: name.to_string(),
            });
        }
        Self::new(out)
    }

    /// Every folder as a class of the same name.
    pub fn all_folders(folders: &[String]) -> Result<Self> {
        Self::new(
            folders
                .iter()
                .map(|f| ClassSpec {
                    folder: f.clone(),
                    name: f.clone(),
                })
                .collect(),
        )
    }

    fn new(mut specs: Vec<ClassSpec>) -> Result<Self> {
        if specs.len() < 2 {
            return Err(MlError::config(
                "--classes",
                "at least two classes are needed",
            ));
        }
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        for w in specs.windows(2) {
            if w[0].name == w[1].name {
                return Err(MlError::config(
                    "--classes",
                    format!("class name '{}' given twice", w[0].name),
                ));
            }
        }
        let mut folders: Vec<&str> = specs.iter().map(|s| s.folder.as_str()).collect();
        folders.sort();
        for w in folders.windows(2) {
            if w[0] == w[1] {
                return Err(MlError::config(
                    "--classes",
                    format!("folder '{}' given twice", w[0]),
                ));
            }
        }
        Ok(ClassMap(specs))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn specs(&self) -> &[ClassSpec] {
        &self.0
    }
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|s| s.name.as_str()).collect()
    }
    /// The class index of a folder, if it is selected.
    pub fn index_of_folder(&self, folder: &str) -> Option<usize> {
        self.0.iter().position(|s| s.folder == folder)
    }
    /// The class index of a class name.
    pub fn index_of_name(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|s| s.name == name)
    }
}

impl std::fmt::Display for ClassMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| {
                if s.folder == s.name {
                    s.name.clone()
                } else {
                    format!("{}={}", s.folder, s.name)
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_maps_neutral_to_relaxed_in_name_order() {
        let m = ClassMap::parse(DEFAULT_CLASSES).unwrap();
        assert_eq!(m.names(), ["angry", "happy", "relaxed", "sad"]);
        assert_eq!(m.index_of_folder("neutral"), Some(2));
        assert_eq!(m.index_of_folder("fear"), None);
        assert_eq!(m.to_string(), DEFAULT_CLASSES);
    }

    #[test]
    fn order_is_by_name_not_by_argument() {
        let m = ClassMap::parse("sad,angry,zz=calm").unwrap();
        assert_eq!(m.names(), ["angry", "calm", "sad"]);
        assert_eq!(m.specs()[1].folder, "zz");
    }

    #[test]
    fn rejects_bad_specs() {
        let cases = [
            "",
            "angry",
            "angry,",
            "angry,angry",
            "a=x,b=x",
            "a=x,a=y",
            "an gry,sad",
            "a=,b",
            "../x,sad",
        ];
        for c in cases {
            let err = ClassMap::parse(c).expect_err(c);
            assert!(err.to_string().starts_with("--classes:"), "{c}: {err}");
        }
    }
}

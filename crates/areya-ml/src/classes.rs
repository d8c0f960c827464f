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
        Self::new(parse_parts(spec, "data.classes")?)
    }

    /// Parses `--auxiliary-classes folder[=name],…`: extra classes trained as outputs of their
    /// own but never predicted (see [`ClassMap::with_auxiliary`]). One is enough; empty = none.
    pub fn parse_auxiliary(spec: &str) -> Result<Vec<ClassSpec>> {
        if spec.trim().is_empty() {
            return Ok(Vec::new());
        }
        parse_parts(spec, "data.auxiliary")
    }

    /// These classes, then `auxiliary` (by name): the outputs a network trained with auxiliary
    /// classes has. The first `self.len()` indices are unchanged, so labels and logits of the
    /// predicted classes mean the same in both maps. Refuses a folder or name used twice.
    pub fn with_auxiliary(&self, auxiliary: &[ClassSpec]) -> Result<ClassMap> {
        let mut aux = auxiliary.to_vec();
        aux.sort_by(|a, b| a.name.cmp(&b.name));
        let mut all = self.0.clone();
        for (i, a) in aux.iter().enumerate() {
            let clash = |s: &ClassSpec| s.folder == a.folder || s.name == a.name;
            let msg = if self.0.iter().any(clash) {
                "is already a class (auxiliary classes must be other folders)"
            } else if aux[..i].iter().any(clash) {
                "is given twice"
            } else {
                all.push(a.clone());
                continue;
            };
            let shown = if a.folder == a.name {
                a.folder.clone()
            } else {
                format!("{}={}", a.folder, a.name)
            };
            return Err(MlError::config(
                "data.auxiliary",
                format!("'{shown}' {msg}"),
            ));
        }
        Ok(ClassMap(all))
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
                "data.classes",
                "at least two classes are needed",
            ));
        }
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        for w in specs.windows(2) {
            if w[0].name == w[1].name {
                return Err(MlError::config(
                    "data.classes",
                    format!("class name '{}' given twice", w[0].name),
                ));
            }
        }
        let mut folders: Vec<&str> = specs.iter().map(|s| s.folder.as_str()).collect();
        folders.sort();
        for w in folders.windows(2) {
            if w[0] == w[1] {
                return Err(MlError::config(
                    "data.classes",
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

/// `folder[=name],…` → specs in argument order; `flag` names the setting in errors.
fn parse_parts(spec: &str, flag: &str) -> Result<Vec<ClassSpec>> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(MlError::config(flag, format!("empty class in '{spec}'")));
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
                    flag,
                    format!(
                        "bad class {what} '{s}' in '{part}' (letters, digits, '_' and '-' only)"
                    ),
                ));
            }
        }
        out.push(ClassSpec {
            folder: folder.to_string(),
            name: name.to_string(),
        });
    }
    Ok(out)
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
    fn auxiliary_classes_come_after_the_predicted_ones() {
        let m = ClassMap::parse(DEFAULT_CLASSES).unwrap();
        let aux = ClassMap::parse_auxiliary("surprise,fear,disgust=disgusted").unwrap();
        let all = m.with_auxiliary(&aux).unwrap();
        assert_eq!(
            all.names(),
            [
                "angry",
                "happy",
                "relaxed",
                "sad",
                "disgusted",
                "fear",
                "surprise"
            ]
        );
        assert_eq!(all.index_of_folder("neutral"), Some(2));
        assert_eq!(all.index_of_folder("disgust"), Some(4));
        assert_eq!(m.with_auxiliary(&[]).unwrap(), m);
        assert!(ClassMap::parse_auxiliary("").unwrap().is_empty());
        assert_eq!(ClassMap::parse_auxiliary("fear").unwrap().len(), 1);
        for (aux, why) in [
            ("sad", "already a class"),
            ("neutral", "already a class"),
            ("x=relaxed", "already a class"),
            ("fear,fear", "given twice"),
            ("fe ar", "bad class folder"),
            ("fear,", "empty class"),
        ] {
            let err = ClassMap::parse_auxiliary(aux)
                .and_then(|a| m.with_auxiliary(&a))
                .expect_err(aux)
                .to_string();
            assert!(err.starts_with("data.auxiliary:"), "{aux}: {err}");
            assert!(err.contains(why), "{aux}: {err}");
        }
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
            assert!(err.to_string().starts_with("data.classes:"), "{c}: {err}");
        }
    }
}

//! What the vision pipeline reports for one sampled frame, and the identifiers it carries.

use crate::{Emotion, FaceBox};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An identifier checked once at the edge: 1–64 characters of letters, digits, `-`, `_`, `.`.
macro_rules! id_type {
    ($name:ident, $what:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                let ok = !s.is_empty()
                    && s.len() <= 64
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if ok {
                    Ok($name(s.to_string()))
                } else {
                    Err(InvalidId {
                        what: $what,
                        value: s.chars().take(80).collect(),
                    })
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                $name::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(PatientId, "patient id");
id_type!(SourceId, "source id");

/// An identifier that is empty, too long or has characters outside `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{value}' (1–64 of letters, digits, '-', '_', '.')")]
pub struct InvalidId {
    pub what: &'static str,
    pub value: String,
}

/// Class probabilities for Areya's four emotions.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Probabilities {
    pub angry: f32,
    pub happy: f32,
    pub relaxed: f32,
    pub sad: f32,
}

/// Probabilities that are not a distribution over the four emotions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("probabilities must each be in [0, 1] and sum to 1 (got {0:?})")]
pub struct InvalidProbabilities(pub [f32; 4]);

impl Probabilities {
    /// Checks that each value is in [0, 1] and they sum to 1 (±0.01).
    pub fn new(
        angry: f32,
        happy: f32,
        relaxed: f32,
        sad: f32,
    ) -> Result<Self, InvalidProbabilities> {
        let v = [angry, happy, relaxed, sad];
        let sum: f32 = v.iter().sum();
        if v.iter().any(|x| !(0.0..=1.0).contains(x)) || (sum - 1.0).abs() > 0.01 {
            return Err(InvalidProbabilities(v));
        }
        Ok(Probabilities {
            angry,
            happy,
            relaxed,
            sad,
        })
    }
    pub fn get(&self, e: Emotion) -> f32 {
        match e {
            Emotion::Angry => self.angry,
            Emotion::Happy => self.happy,
            Emotion::Relaxed => self.relaxed,
            Emotion::Sad => self.sad,
        }
    }
    /// P(angry) + P(sad).
    pub fn negative(&self) -> f32 {
        self.angry + self.sad
    }
    /// The most probable emotion.
    pub fn top(&self) -> Emotion {
        Emotion::ALL
            .into_iter()
            .max_by(|a, b| self.get(*a).total_cmp(&self.get(*b)))
            .unwrap_or(Emotion::Relaxed)
    }
}

/// Image quality of the face crop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Face box height in pixels.
    pub face_px: u32,
    /// Variance of the Laplacian of the crop (higher is sharper).
    pub sharpness: f32,
}

/// One sampled frame of one bed's camera: a face (or none) and, with a face, the emotions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub source: SourceId,
    pub patient: PatientId,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub frame: u64,
    pub face: Option<FaceBox>,
    pub probs: Option<Probabilities>,
    pub quality: Option<Quality>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_at_the_edge() {
        for ok in ["bed-12", "p.0042", "A_b"] {
            assert_eq!(PatientId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "has space", "x/y", &"a".repeat(65), "ü"] {
            assert!(PatientId::parse(bad).is_err(), "{bad:?}");
        }
        let err: Result<PatientId, _> = serde_json::from_str("\"a b\"");
        assert!(err.unwrap_err().to_string().contains("invalid patient id"));
    }

    #[test]
    fn probabilities_are_a_distribution() {
        let p = Probabilities::new(0.1, 0.2, 0.3, 0.4).unwrap();
        assert!((p.negative() - 0.5).abs() < 1e-6);
        assert_eq!(p.top(), Emotion::Sad);
        assert!(Probabilities::new(0.5, 0.5, 0.5, 0.5).is_err());
        assert!(Probabilities::new(-0.1, 0.5, 0.3, 0.3).is_err());
        assert!(Probabilities::new(f32::NAN, 0.5, 0.3, 0.2).is_err());
    }
}

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

/// Largest frame side any camera Areya supports sends, in pixels (8K is 7680).
pub const MAX_FRAME_PX: u32 = 16_384;
/// Largest sharpness (variance of the Laplacian) an 8-bit crop can have: the Laplacian of
/// 8-bit values lies within ±1020, so its variance stays under 1020², with room to spare.
pub const MAX_SHARPNESS: f32 = 1.0e7;
/// Largest detector score accepted (detectors report log-odds or probabilities).
pub const MAX_FACE_SCORE: f64 = 1.0e6;
/// The earliest and latest times an observation may carry at all (2000-01-01 and
/// 2200-01-01 UTC); a server also refuses times far from its own clock.
pub const MIN_AT_MS: i64 = 946_684_800_000;
pub const MAX_AT_MS: i64 = 7_258_118_400_000;

/// An observation with a value no camera produces, naming the field
/// (`face.width`, `quality.sharpness`, …) and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidObservation {
    pub field: &'static str,
    pub problem: String,
}

fn bad(field: &'static str, problem: String) -> InvalidObservation {
    InvalidObservation { field, problem }
}

impl Observation {
    /// Checks every value: a time between 2000 and 2200, a frame number that fits a signed
    /// 64-bit column, a face box inside the largest frame with a finite score, probabilities
    /// that are a distribution and come with the face, and a finite, non-negative quality.
    /// What passes can be stored and read back by every store.
    pub fn check(&self) -> Result<(), InvalidObservation> {
        if !(MIN_AT_MS..=MAX_AT_MS).contains(&self.at_ms) {
            return Err(bad(
                "at_ms",
                format!(
                    "{} is not a time between 2000 and 2200 (milliseconds since 1970, UTC)",
                    self.at_ms
                ),
            ));
        }
        self.check_values()
    }

    /// [`Observation::check`] without the time (which the caller judges against its clock).
    pub fn check_values(&self) -> Result<(), InvalidObservation> {
        if self.frame > i64::MAX as u64 {
            return Err(bad(
                "frame",
                format!("{} is larger than {}", self.frame, i64::MAX),
            ));
        }
        if self.face.is_some() != self.probs.is_some() {
            return Err(bad(
                "probs",
                "face and probs come together (both or neither)".into(),
            ));
        }
        if let Some(f) = &self.face {
            let side = MAX_FRAME_PX as i32;
            for (field, v) in [("face.x", f.x), ("face.y", f.y)] {
                if !(-side..=side).contains(&v) {
                    return Err(bad(field, format!("{v} is not in [-{side}, {side}]")));
                }
            }
            for (field, v) in [("face.width", f.width), ("face.height", f.height)] {
                if !(1..=MAX_FRAME_PX).contains(&v) {
                    return Err(bad(field, format!("{v} is not in [1, {MAX_FRAME_PX}]")));
                }
            }
            if !(f.score.is_finite() && f.score.abs() <= MAX_FACE_SCORE) {
                return Err(bad(
                    "face.score",
                    format!("{} is not a finite number in ±{MAX_FACE_SCORE:e}", f.score),
                ));
            }
        }
        if let Some(p) = &self.probs {
            Probabilities::new(p.angry, p.happy, p.relaxed, p.sad)
                .map_err(|e| bad("probs", e.to_string()))?;
        }
        if let Some(q) = &self.quality {
            if q.face_px > MAX_FRAME_PX {
                return Err(bad(
                    "quality.face_px",
                    format!("{} is not in [0, {MAX_FRAME_PX}]", q.face_px),
                ));
            }
            if !(q.sharpness.is_finite() && (0.0..=MAX_SHARPNESS).contains(&q.sharpness)) {
                return Err(bad(
                    "quality.sharpness",
                    format!(
                        "{} is not a finite number in [0, {MAX_SHARPNESS:e}]",
                        q.sharpness
                    ),
                ));
            }
        }
        Ok(())
    }
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

    fn good() -> Observation {
        Observation {
            source: SourceId::parse("cam-1").unwrap(),
            patient: PatientId::parse("p-1").unwrap(),
            at_ms: 1_796_000_000_000,
            frame: 7,
            face: Some(FaceBox {
                x: 10,
                y: 20,
                width: 80,
                height: 90,
                score: 3.5,
            }),
            probs: Some(Probabilities::new(0.1, 0.2, 0.3, 0.4).unwrap()),
            quality: Some(Quality {
                face_px: 90,
                sharpness: 120.0,
            }),
        }
    }

    #[test]
    fn observations_out_of_range_name_the_field() {
        assert_eq!(good().check(), Ok(()));
        type Edit = fn(&mut Observation);
        let cases: [(Edit, &str); 14] = [
            (|o| o.at_ms = 0, "at_ms"),
            (|o| o.at_ms = i64::MAX, "at_ms"),
            (|o| o.at_ms = -5, "at_ms"),
            (|o| o.frame = u64::MAX, "frame"),
            (|o| o.probs = None, "probs"),
            (|o| o.face.as_mut().unwrap().width = 0, "face.width"),
            (|o| o.face.as_mut().unwrap().height = 1 << 20, "face.height"),
            (|o| o.face.as_mut().unwrap().x = i32::MIN, "face.x"),
            (
                |o| o.face.as_mut().unwrap().score = f64::INFINITY,
                "face.score",
            ),
            (|o| o.probs.as_mut().unwrap().sad = 2.0, "probs"),
            (
                |o| o.quality.as_mut().unwrap().sharpness = f32::INFINITY,
                "quality.sharpness",
            ),
            (
                |o| o.quality.as_mut().unwrap().sharpness = f32::NAN,
                "quality.sharpness",
            ),
            (
                |o| o.quality.as_mut().unwrap().sharpness = -1.0,
                "quality.sharpness",
            ),
            (
                |o| o.quality.as_mut().unwrap().face_px = u32::MAX,
                "quality.face_px",
            ),
        ];
        for (i, (edit, field)) in cases.into_iter().enumerate() {
            let mut o = good();
            edit(&mut o);
            let err = o.check().expect_err(&format!("case {i} ({field}) passed"));
            assert_eq!(err.field, field, "case {i}: {err}");
        }
    }

    #[test]
    fn the_extreme_accepted_values_survive_json() {
        // What passes the check must read back the same (a stored observation is replayed
        // after every restart).
        let mut o = good();
        o.at_ms = MAX_AT_MS;
        o.frame = i64::MAX as u64;
        let f = o.face.as_mut().unwrap();
        (f.x, f.y, f.width, f.height) =
            (-(MAX_FRAME_PX as i32), MAX_FRAME_PX as i32, MAX_FRAME_PX, 1);
        f.score = -MAX_FACE_SCORE;
        o.quality = Some(Quality {
            face_px: MAX_FRAME_PX,
            sharpness: MAX_SHARPNESS,
        });
        o.probs = Some(Probabilities::new(f32::MIN_POSITIVE, 0.0, 1.0, 0.0).unwrap());
        o.check().unwrap();
        let back: Observation = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
        back.check().unwrap();
        // 1e39 does not fit an f32: serde makes it infinite, which the check refuses.
        let text = serde_json::to_string(&good())
            .unwrap()
            .replace("\"sharpness\":120.0", "\"sharpness\":1e39");
        let parsed: Observation = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.check().unwrap_err().field, "quality.sharpness");
    }
}

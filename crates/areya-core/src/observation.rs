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
        // Documented as the string it reads and writes, with its pattern.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some("^[A-Za-z0-9._-]{1,64}$"))
                    .description(Some(concat!(
                        "A ",
                        $what,
                        ": 1–64 letters, digits, '-', '_', '.'"
                    )))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
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

/// Class probabilities for Areya's four emotions, indexed by [`Emotion`]: each in [0, 1],
/// summing to 1 (±0.01). Only the checks build one, deserialisation included; it reads and
/// writes as `{"angry": …, "happy": …, "relaxed": …, "sad": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawProbabilities", into = "RawProbabilities")]
pub struct Probabilities([f32; 4]);

// Documented as the four numbers it reads and writes.
impl utoipa::PartialSchema for Probabilities {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <RawProbabilities as utoipa::PartialSchema>::schema()
    }
}
impl utoipa::ToSchema for Probabilities {}

/// The four numbers as a client sends them, before they are checked into [`Probabilities`]:
/// each in [0, 1], summing to 1 (±0.01).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RawProbabilities {
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
        Self::from_array([angry, happy, relaxed, sad])
    }
    /// The same check on values in [`Emotion::ALL`] order.
    pub fn from_array(v: [f32; 4]) -> Result<Self, InvalidProbabilities> {
        let sum: f32 = v.iter().sum();
        if v.iter().any(|x| !(0.0..=1.0).contains(x)) || (sum - 1.0).abs() > 0.01 {
            return Err(InvalidProbabilities(v));
        }
        Ok(Probabilities(v))
    }
    pub fn get(&self, e: Emotion) -> f32 {
        self.0[e.index()]
    }
    /// The values in [`Emotion::ALL`] order.
    pub fn to_array(&self) -> [f32; 4] {
        self.0
    }
    /// The probability of a negative emotion ([`Emotion::is_negative`]).
    pub fn negative(&self) -> f32 {
        Emotion::NEGATIVE.iter().map(|e| self.get(*e)).sum()
    }
    /// The most probable emotion.
    pub fn top(&self) -> Emotion {
        top_of(|e| self.get(e) as f64)
    }
}

impl std::ops::Index<Emotion> for Probabilities {
    type Output = f32;
    fn index(&self, e: Emotion) -> &f32 {
        &self.0[e.index()]
    }
}

impl TryFrom<RawProbabilities> for Probabilities {
    type Error = InvalidProbabilities;
    fn try_from(r: RawProbabilities) -> Result<Self, InvalidProbabilities> {
        Probabilities::new(r.angry, r.happy, r.relaxed, r.sad)
    }
}

impl From<Probabilities> for RawProbabilities {
    fn from(p: Probabilities) -> Self {
        let [angry, happy, relaxed, sad] = p.0;
        RawProbabilities {
            angry,
            happy,
            relaxed,
            sad,
        }
    }
}

fn top_of(value: impl Fn(Emotion) -> f64) -> Emotion {
    Emotion::ALL
        .into_iter()
        .max_by(|a, b| value(*a).total_cmp(&value(*b)))
        .unwrap_or(Emotion::Relaxed)
}

/// Per-emotion sums of probabilities over many faces (a window, a horizon), indexed by
/// [`Emotion`]; reads and writes as four numbers in [`Emotion::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Vec<f64>)]
pub struct EmotionSums([f64; 4]);

impl EmotionSums {
    /// Sums in [`Emotion::ALL`] order (as a store keeps them).
    pub fn from_array(v: [f64; 4]) -> Self {
        EmotionSums(v)
    }
    pub fn get(&self, e: Emotion) -> f64 {
        self.0[e.index()]
    }
    /// Adds one face's probabilities.
    pub fn add(&mut self, p: &Probabilities) {
        for e in Emotion::ALL {
            self.0[e.index()] += p.get(e) as f64;
        }
    }
    /// Adds another set of sums.
    pub fn merge(&mut self, other: &EmotionSums) {
        for e in Emotion::ALL {
            self.0[e.index()] += other.get(e);
        }
    }
    /// The summed probability of the negative emotions.
    pub fn negative(&self) -> f64 {
        Emotion::NEGATIVE.iter().map(|e| self.get(*e)).sum()
    }
    /// The emotion with the largest sum.
    pub fn top(&self) -> Emotion {
        top_of(|e| self.get(e))
    }
    /// The mean over `faces` faces (`None` for none), renormalised against rounding.
    pub fn mean(&self, faces: u64) -> Option<Probabilities> {
        let total: f64 = self.0.iter().sum();
        if faces == 0 || !total.is_finite() || total <= 0.0 {
            return None;
        }
        let n = faces as f64;
        Probabilities::from_array(self.0.map(|x| (x / n) as f32))
            .or_else(|_| Probabilities::from_array(self.0.map(|x| (x / total) as f32)))
            .ok()
    }
}

/// Image quality of the face crop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quality {
    /// Face box height in pixels.
    pub face_px: u32,
    /// Variance of the Laplacian of the crop (higher is sharper).
    pub sharpness: f32,
}

/// A face seen in a frame and what it showed: the box never comes without the emotions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeenFace {
    pub bbox: FaceBox,
    pub probs: Probabilities,
    pub quality: Option<Quality>,
}

impl SeenFace {
    /// A face and its emotions, with no quality measured.
    pub fn new(bbox: FaceBox, probs: Probabilities) -> Self {
        SeenFace {
            bbox,
            probs,
            quality: None,
        }
    }
}

/// One sampled frame of one bed's camera: a face (or none) and, with a face, the emotions.
/// Reads and writes as [`ObservationWire`]; reading checks its values
/// ([`Observation::check_values`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ObservationWire", into = "ObservationWire")]
pub struct Observation {
    pub source: SourceId,
    pub patient: PatientId,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub frame: u64,
    /// `None` when no face was seen in the frame.
    pub face: Option<SeenFace>,
}

/// An observation as JSON carries it (`face`, `probs` and `quality` side by side), before it
/// is checked: the form an ingest request holds, so that a refusal can name the item and field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Observation)]
pub struct ObservationWire {
    pub source: SourceId,
    pub patient: PatientId,
    pub at_ms: i64,
    pub frame: u64,
    pub face: Option<FaceBox>,
    pub probs: Option<RawProbabilities>,
    pub quality: Option<Quality>,
}

impl From<Observation> for ObservationWire {
    fn from(o: Observation) -> Self {
        ObservationWire {
            source: o.source,
            patient: o.patient,
            at_ms: o.at_ms,
            frame: o.frame,
            face: o.face.map(|f| f.bbox),
            probs: o.face.map(|f| f.probs.into()),
            quality: o.face.and_then(|f| f.quality),
        }
    }
}

impl TryFrom<ObservationWire> for Observation {
    type Error = InvalidObservation;
    /// Every check of [`Observation::check_values`] (the time is the reader's to judge: a
    /// store replays what it holds, a server compares with its clock), plus: the face and its
    /// probabilities come together, and a quality only with a face.
    fn try_from(w: ObservationWire) -> Result<Self, InvalidObservation> {
        let face = match (w.face, w.probs) {
            (Some(bbox), Some(p)) => Some(SeenFace {
                bbox,
                probs: Probabilities::try_from(p).map_err(|e| bad("probs", e.to_string()))?,
                quality: w.quality,
            }),
            (None, None) if w.quality.is_some() => {
                return Err(bad("quality", "a quality comes only with a face".into()))
            }
            (None, None) => None,
            _ => {
                return Err(bad(
                    "probs",
                    "face and probs come together (both or neither)".into(),
                ))
            }
        };
        let o = Observation {
            source: w.source,
            patient: w.patient,
            at_ms: w.at_ms,
            frame: w.frame,
            face,
        };
        o.check_values()?;
        Ok(o)
    }
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

/// A time between 2000 and 2200 ([`MIN_AT_MS`], [`MAX_AT_MS`]), named `at_ms` otherwise.
pub fn check_time(at_ms: i64) -> Result<(), InvalidObservation> {
    if !(MIN_AT_MS..=MAX_AT_MS).contains(&at_ms) {
        return Err(bad(
            "at_ms",
            format!("{at_ms} is not a time between 2000 and 2200 (milliseconds since 1970, UTC)"),
        ));
    }
    Ok(())
}

impl Observation {
    /// The emotions seen, if a face was.
    pub fn probs(&self) -> Option<&Probabilities> {
        self.face.as_ref().map(|f| &f.probs)
    }

    /// Checks every value: a time between 2000 and 2200, a frame number that fits a signed
    /// 64-bit column, a face box inside the largest frame with a finite score, and a finite,
    /// non-negative quality (the probabilities were checked when they were built).
    /// What passes can be stored and read back by every store.
    pub fn check(&self) -> Result<(), InvalidObservation> {
        check_time(self.at_ms)?;
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
        let Some(seen) = &self.face else {
            return Ok(());
        };
        let f = &seen.bbox;
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
        if let Some(q) = &seen.quality {
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

    #[test]
    fn probabilities_are_checked_when_read() {
        let ok: Probabilities =
            serde_json::from_str(r#"{"angry":0.1,"happy":0.2,"relaxed":0.3,"sad":0.4}"#).unwrap();
        assert_eq!(ok[Emotion::Relaxed], 0.3);
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"angry":0.1,"happy":0.2,"relaxed":0.3,"sad":0.4}"#
        );
        let bad = serde_json::from_str::<Probabilities>(
            r#"{"angry":0.9,"happy":0.9,"relaxed":0.0,"sad":0.0}"#,
        );
        assert!(bad.unwrap_err().to_string().contains("sum to 1"));
    }

    #[test]
    fn sums_give_the_mean_the_negative_share_and_the_top_emotion() {
        let mut s = EmotionSums::default();
        assert_eq!(s.mean(0), None);
        s.add(&Probabilities::new(0.1, 0.2, 0.3, 0.4).unwrap());
        s.add(&Probabilities::new(0.6, 0.1, 0.2, 0.1).unwrap());
        assert!((s.negative() - 1.2).abs() < 1e-6);
        assert_eq!(s.top(), Emotion::Angry);
        let m = s.mean(2).unwrap();
        assert!((m.negative() - 0.6).abs() < 1e-6);
        let mut t = EmotionSums::default();
        t.merge(&s);
        t.merge(&s);
        assert!((t.get(Emotion::Sad) - 1.0).abs() < 1e-6);
        assert_eq!(
            serde_json::to_string(&EmotionSums::from_array([1.0, 2.0, 0.5, 0.0])).unwrap(),
            "[1.0,2.0,0.5,0.0]"
        );
    }

    fn good() -> Observation {
        Observation {
            source: SourceId::parse("cam-1").unwrap(),
            patient: PatientId::parse("p-1").unwrap(),
            at_ms: 1_796_000_000_000,
            frame: 7,
            face: Some(SeenFace {
                bbox: FaceBox {
                    x: 10,
                    y: 20,
                    width: 80,
                    height: 90,
                    score: 3.5,
                },
                probs: Probabilities::new(0.1, 0.2, 0.3, 0.4).unwrap(),
                quality: Some(Quality {
                    face_px: 90,
                    sharpness: 120.0,
                }),
            }),
        }
    }

    #[test]
    fn observations_out_of_range_name_the_field() {
        assert_eq!(good().check(), Ok(()));
        type Edit = fn(&mut ObservationWire);
        let cases: [(Edit, &str); 16] = [
            (|o| o.at_ms = 0, "at_ms"),
            (|o| o.at_ms = i64::MAX, "at_ms"),
            (|o| o.at_ms = -5, "at_ms"),
            (|o| o.frame = u64::MAX, "frame"),
            (|o| o.probs = None, "probs"),
            (|o| o.face = None, "probs"),
            (
                |o| {
                    o.face = None;
                    o.probs = None
                },
                "quality",
            ),
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
            let mut o = ObservationWire::from(good());
            edit(&mut o);
            let err = Observation::try_from(o)
                .and_then(|o| o.check())
                .expect_err(&format!("case {i} ({field}) passed"));
            assert_eq!(err.field, field, "case {i}: {err}");
        }
        let none = ObservationWire {
            face: None,
            probs: None,
            quality: None,
            ..ObservationWire::from(good())
        };
        assert_eq!(Observation::try_from(none).unwrap().face, None);
    }

    #[test]
    fn the_extreme_accepted_values_survive_json() {
        // What passes the check must read back the same (a stored observation is replayed
        // after every restart).
        let mut o = good();
        o.at_ms = MAX_AT_MS;
        o.frame = i64::MAX as u64;
        let seen = o.face.as_mut().unwrap();
        let f = &mut seen.bbox;
        (f.x, f.y, f.width, f.height) =
            (-(MAX_FRAME_PX as i32), MAX_FRAME_PX as i32, MAX_FRAME_PX, 1);
        f.score = -MAX_FACE_SCORE;
        seen.quality = Some(Quality {
            face_px: MAX_FRAME_PX,
            sharpness: MAX_SHARPNESS,
        });
        seen.probs = Probabilities::new(f32::MIN_POSITIVE, 0.0, 1.0, 0.0).unwrap();
        o.check().unwrap();
        let back: Observation = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
        // 1e39 does not fit an f32: serde makes it infinite, which the check refuses.
        let text = serde_json::to_string(&good())
            .unwrap()
            .replace("\"sharpness\":120.0", "\"sharpness\":1e39");
        let parsed: ObservationWire = serde_json::from_str(&text).unwrap();
        assert_eq!(
            Observation::try_from(parsed).unwrap_err().field,
            "quality.sharpness"
        );
        assert!(serde_json::from_str::<Observation>(&text).is_err());
    }
}

//! The four emotions Areya reports, and which of them count as negative.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// An emotion Areya reports. `Relaxed` is FER-2013's "neutral".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Angry,
    Happy,
    Relaxed,
    Sad,
}

impl Emotion {
    /// All emotions, in Areya's class order (alphabetical).
    pub const ALL: [Emotion; 4] = [
        Emotion::Angry,
        Emotion::Happy,
        Emotion::Relaxed,
        Emotion::Sad,
    ];

    /// The emotions that count as negative ([`Emotion::is_negative`]).
    pub const NEGATIVE: [Emotion; 2] = [Emotion::Angry, Emotion::Sad];

    /// The position in [`Emotion::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The lower-case name used in files, APIs and class folders.
    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Angry => "angry",
            Emotion::Happy => "happy",
            Emotion::Relaxed => "relaxed",
            Emotion::Sad => "sad",
        }
    }

    /// Angry and sad are the negative emotions whose sustained presence asks for attention.
    pub fn is_negative(self) -> bool {
        matches!(self, Emotion::Angry | Emotion::Sad)
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of Areya's emotions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown emotion '{0}' (expected angry, happy, relaxed or sad)")]
pub struct ParseEmotionError(pub String);

impl FromStr for Emotion {
    type Err = ParseEmotionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "angry" => Ok(Emotion::Angry),
            "happy" => Ok(Emotion::Happy),
            // FER-2013 calls it neutral; Areya shows it as relaxed.
            "relaxed" | "neutral" => Ok(Emotion::Relaxed),
            "sad" => Ok(Emotion::Sad),
            _ => Err(ParseEmotionError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_the_fer_alias() {
        let cases = [
            ("angry", Some(Emotion::Angry)),
            ("Happy", Some(Emotion::Happy)),
            ("neutral", Some(Emotion::Relaxed)),
            ("relaxed", Some(Emotion::Relaxed)),
            (" sad ", Some(Emotion::Sad)),
            ("fear", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Emotion>().ok(), want, "input {input:?}");
        }
    }

    #[test]
    fn only_angry_and_sad_are_negative() {
        let negative: Vec<_> = Emotion::ALL.iter().filter(|e| e.is_negative()).collect();
        assert_eq!(negative, [&Emotion::Angry, &Emotion::Sad]);
    }

    #[test]
    fn display_round_trips() {
        for e in Emotion::ALL {
            assert_eq!(e.to_string().parse::<Emotion>(), Ok(e));
        }
    }
}

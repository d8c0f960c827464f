//! The contract between an edge agent (`areya watch --server`) and the server's
//! `POST /api/ingest`: one request type both sides use, the report it answers with, and the
//! error body every API refusal carries.

use crate::{Observation, ObservationWire, PatientId};
use serde::{Deserialize, Serialize};

/// Longest model error an edge may report for one bed, in bytes.
pub const MAX_MODEL_ERROR: usize = 500;

/// A batch of observations and the edge's model health per bed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// Unchecked until [`IngestRequest::check`], so that a refusal names the item.
    #[serde(default)]
    pub observations: Vec<ObservationWire>,
    /// The edge's own state per bed: a failing model becomes a technical alert.
    #[serde(default)]
    pub health: Vec<ModelHealth>,
}

/// Whether the model works on one bed's frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelHealth {
    pub patient: PatientId,
    /// `Some(what failed)` while the model fails on this bed's frames; `None` once it works.
    pub model_error: Option<String>,
}

/// An ingest request with every value checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedIngest {
    pub observations: Vec<Observation>,
    pub health: Vec<ModelHealth>,
}

/// One item of a request out of range, named as the client wrote it (`observations[3].at_ms`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidItem {
    pub field: String,
    pub problem: String,
}

impl IngestRequest {
    pub fn new(observations: Vec<Observation>, health: Vec<ModelHealth>) -> Self {
        IngestRequest {
            observations: observations.into_iter().map(Into::into).collect(),
            health,
        }
    }

    /// Checks every observation ([`Observation::check`], the time included) and health report;
    /// the first one out of range is named.
    pub fn check(self) -> Result<CheckedIngest, InvalidItem> {
        for (i, h) in self.health.iter().enumerate() {
            if h.model_error
                .as_ref()
                .is_some_and(|e| e.len() > MAX_MODEL_ERROR)
            {
                return Err(InvalidItem {
                    field: format!("health[{i}].model_error"),
                    problem: format!("at most {MAX_MODEL_ERROR} characters"),
                });
            }
        }
        let observations = self
            .observations
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                // The time first: a client with a broken clock hears about its clock.
                crate::observation::check_time(w.at_ms)
                    .and_then(|()| Observation::try_from(w))
                    .map_err(|e| InvalidItem {
                        field: format!("observations[{i}].{}", e.field),
                        problem: e.problem,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(CheckedIngest {
            observations,
            health: self.health,
        })
    }
}

/// What an ingest request did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestReport {
    /// New observations processed.
    pub accepted: usize,
    /// Already stored (a retried delivery).
    pub duplicate: usize,
    /// Refused: the patient is paused or opted out (never stored).
    pub refused: usize,
}

/// The body of every refused API request: what is wrong and, when one field of the request is
/// at fault, its name, so a client can drop just that item of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The same sentence for a client to write in its reader's language, where the server has
    /// it as words (a rule file's fault, an alert that cannot be snoozed that long).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub said: Option<crate::Words>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FaceBox, Probabilities, SeenFace, SourceId};

    fn obs(frame: u64) -> Observation {
        Observation {
            source: SourceId::parse("cam").unwrap(),
            patient: PatientId::parse("p").unwrap(),
            at_ms: 1_796_000_000_000,
            frame,
            face: Some(SeenFace::new(
                FaceBox::square(1, 2, 30, 1.0),
                Probabilities::new(0.1, 0.2, 0.3, 0.4).unwrap(),
            )),
        }
    }

    #[test]
    fn a_request_round_trips_and_names_the_item_it_refuses() {
        let req = IngestRequest::new(vec![obs(1), obs(2)], vec![]);
        let text = serde_json::to_string(&req).unwrap();
        let back: IngestRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.clone().check().unwrap().observations,
            vec![obs(1), obs(2)]
        );
        let bad = text.replace("\"sad\":0.4}", "\"sad\":0.9}").replacen(
            "\"sad\":0.9}",
            "\"sad\":0.4}",
            1,
        );
        let err = serde_json::from_str::<IngestRequest>(&bad)
            .unwrap()
            .check()
            .unwrap_err();
        assert_eq!(err.field, "observations[1].probs", "{err}");
        let long = IngestRequest {
            health: vec![ModelHealth {
                patient: PatientId::parse("p").unwrap(),
                model_error: Some("x".repeat(MAX_MODEL_ERROR + 1)),
            }],
            ..back
        };
        assert_eq!(long.check().unwrap_err().field, "health[0].model_error");
        assert!(serde_json::from_str::<IngestRequest>(r#"{"observation":[]}"#).is_err());
    }
}

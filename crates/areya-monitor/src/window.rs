//! Folding observations into fixed, epoch-aligned windows (default 60 s) of face coverage,
//! mean class probabilities, negative share and confidence.

use crate::Millis;
use areya_core::{EmotionSums, Observation, PatientId, Probabilities};
use serde::{Deserialize, Serialize};

/// Aggregates of one patient's observations in `[start_ms, end_ms)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowAggregate {
    pub patient: PatientId,
    pub start_ms: Millis,
    pub end_ms: Millis,
    /// Sampled frames.
    pub frames: u32,
    /// Frames with a classified face.
    pub faces: u32,
    /// Sums over face frames of each emotion's probability.
    pub prob_sums: EmotionSums,
    /// Sum over face frames of the top class probability.
    pub confidence_sum: f64,
}

impl WindowAggregate {
    fn empty(patient: PatientId, start_ms: Millis, size: Millis) -> Self {
        WindowAggregate {
            patient,
            start_ms,
            end_ms: start_ms + size,
            frames: 0,
            faces: 0,
            prob_sums: EmotionSums::default(),
            confidence_sum: 0.0,
        }
    }

    /// A minute as replays and tests describe it: `faces` of `frames` seen, each showing
    /// `negative` as sad and the rest as relaxed, with `confidence_sum` over the faces.
    pub fn seen(
        patient: PatientId,
        (start_ms, end_ms): (Millis, Millis),
        (frames, faces): (u32, u32),
        negative: f64,
        confidence_sum: f64,
    ) -> Self {
        let n = faces as f64;
        WindowAggregate {
            patient,
            start_ms,
            end_ms,
            frames,
            faces,
            prob_sums: EmotionSums::from_array([0.0, 0.0, n * (1.0 - negative), n * negative]),
            confidence_sum,
        }
    }

    /// Share of frames with a face, in [0, 1].
    pub fn coverage(&self) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            self.faces as f64 / self.frames as f64
        }
    }

    /// Mean probabilities over face frames (`None` without faces).
    pub fn mean(&self) -> Option<Probabilities> {
        self.prob_sums.mean(self.faces as u64)
    }

    /// Mean probability of a negative emotion over face frames.
    pub fn negative(&self) -> Option<f64> {
        (self.faces > 0).then(|| self.prob_sums.negative() / self.faces as f64)
    }

    pub fn confidence(&self) -> Option<f64> {
        (self.faces > 0).then(|| self.confidence_sum / self.faces as f64)
    }

    fn add(&mut self, o: &Observation) {
        self.frames += 1;
        if let Some(p) = o.probs() {
            self.faces += 1;
            self.prob_sums.add(p);
            self.confidence_sum += p.get(p.top()) as f64;
        }
    }
}

/// Folds one patient's observations into windows of `size_ms`.
#[derive(Debug, Clone)]
pub struct Windower {
    size_ms: Millis,
    current: Option<WindowAggregate>,
    /// Observations dropped because they arrived after their window was closed.
    pub late: u64,
}

impl Windower {
    pub fn new(size_ms: Millis) -> Self {
        Windower {
            size_ms: size_ms.max(1),
            current: None,
            late: 0,
        }
    }

    fn start_of(&self, t: Millis) -> Millis {
        t.div_euclid(self.size_ms) * self.size_ms
    }

    /// Adds an observation; returns the windows it closed (oldest first).
    pub fn push(&mut self, o: &Observation) -> Vec<WindowAggregate> {
        let mut closed = Vec::new();
        let start = self.start_of(o.at_ms);
        match &mut self.current {
            Some(w) if o.at_ms < w.start_ms => {
                self.late += 1;
                return closed;
            }
            Some(w) if o.at_ms < w.end_ms => {
                w.add(o);
                return closed;
            }
            Some(_) => closed.extend(self.current.take()),
            None => {}
        }
        let mut w = WindowAggregate::empty(o.patient.clone(), start, self.size_ms);
        w.add(o);
        self.current = Some(w);
        closed
    }

    /// Closes the current window if `now` is past its end.
    pub fn tick(&mut self, now: Millis) -> Option<WindowAggregate> {
        if self.current.as_ref().is_some_and(|w| now >= w.end_ms) {
            self.current.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use areya_core::{FaceBox, SeenFace, SourceId};

    pub fn obs(at_ms: Millis, probs: Option<[f32; 4]>) -> Observation {
        Observation {
            source: SourceId::parse("cam-1").unwrap(),
            patient: PatientId::parse("p-1").unwrap(),
            at_ms,
            frame: at_ms as u64 / 1000,
            face: probs.map(|p| {
                SeenFace::new(
                    FaceBox::square(0, 0, 80, 5.0),
                    Probabilities::from_array(p).unwrap(),
                )
            }),
        }
    }

    #[test]
    fn windows_aggregate_and_close_on_the_boundary() {
        let mut w = Windower::new(60_000);
        assert!(w.push(&obs(120_000, Some([0.1, 0.1, 0.2, 0.6]))).is_empty());
        assert!(w.push(&obs(130_000, None)).is_empty());
        assert!(w.push(&obs(179_999, Some([0.3, 0.1, 0.2, 0.4]))).is_empty());
        let closed = w.push(&obs(180_000, None));
        assert_eq!(closed.len(), 1);
        let a = &closed[0];
        assert_eq!(
            (a.start_ms, a.end_ms, a.frames, a.faces),
            (120_000, 180_000, 3, 2)
        );
        assert!((a.coverage() - 2.0 / 3.0).abs() < 1e-9);
        assert!((a.negative().unwrap() - 0.7).abs() < 1e-6);
        assert!((a.confidence().unwrap() - 0.5).abs() < 1e-6);
        // Late observations are counted, not folded into the wrong window.
        assert!(w.push(&obs(100_000, None)).is_empty());
        assert_eq!(w.late, 1);
        assert!(w.tick(239_999).is_none());
        let last = w.tick(240_000).unwrap();
        assert_eq!((last.frames, last.faces, last.negative()), (1, 0, None));
    }
}

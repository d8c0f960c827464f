//! A patient's rolling state: recent windows over a horizon (default 15 min), a baseline of
//! the patient's usual negative share learned over the first hours, and the attention score
//! (0–100) with its trend and a reason a nurse can read.

use crate::window::WindowAggregate;
use crate::{Millis, HOUR, MINUTE};
use areya_core::{Emotion, EmotionSums, Words};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How the state is judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateConfig {
    /// How far back the score looks.
    pub horizon_ms: Millis,
    /// Below this face coverage over the horizon the state is "unknown", never "negative".
    pub min_coverage: f64,
    /// The baseline is learned over this long from the first observation.
    pub baseline_ms: Millis,
    /// The negative share assumed before a baseline is learned.
    pub prior_negative: f64,
    /// The status turns "elevated" when the negative share over the horizon reaches the
    /// baseline plus this, and "settled" again only below the baseline plus `settle_margin`:
    /// a steady patient's noise does not flip the card.
    pub elevated_margin: f64,
    pub settle_margin: f64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            horizon_ms: 15 * MINUTE,
            min_coverage: 0.3,
            baseline_ms: 4 * HOUR,
            prior_negative: 0.25,
            elevated_margin: 0.10,
            settle_margin: 0.05,
        }
    }
}

/// What the state says about the patient now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Too little face coverage to judge.
    Unknown,
    /// Negative share at or below the patient's usual.
    Settled,
    /// Negative share above the patient's usual.
    Elevated,
}

/// The assessment shown on the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assessment {
    pub at_ms: Millis,
    pub status: Status,
    /// 0 (nothing to see) … 100 (needs attention now).
    pub score: u8,
    /// Negative share over the horizon (face frames only).
    pub negative: Option<f64>,
    /// Negative share over the last 5 minutes minus that over the rest of the horizon.
    pub trend: Option<f64>,
    pub coverage: f64,
    pub baseline: f64,
    pub baseline_learned: bool,
    pub dominant: Option<Emotion>,
    pub reason: String,
    /// The reason as data (absent in records older than it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub said: Option<Said>,
}

/// What a reason says, as data: the text is English (for the API, the audit log and FHIR); a
/// dashboard writes the same in its user's language from these fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "says", rename_all = "snake_case")]
pub enum Said {
    /// "negative 68% for 12 min, mostly sad, usual 15%": a negative run, as its alert tells it.
    Run {
        negative: f64,
        minutes: u32,
        mostly: Emotion,
        usual: Option<f64>,
    },
    /// "negative 80% of the last 15 min (usual 12%), face visible 90%, mostly sad".
    Horizon {
        negative: f64,
        minutes: u32,
        usual: Option<f64>,
        face: f64,
        mostly: Emotion,
    },
    /// "face visible 20% of the last 15 min: not enough to judge".
    TooLittleFace { face: f64, minutes: u32 },
    /// "no face seen for 10 min".
    NoFaceFor { minutes: u32 },
    /// "emotion model failed: …": the edge's own words for what failed.
    ModelFailed { error: String },
}

impl Said {
    /// The English text.
    pub fn text(&self) -> String {
        self.words().to_string()
    }

    /// The sentence in words (the dashboard's catalogue keys), for a reader in any language.
    pub fn words(&self) -> Words {
        let p = Words::share;
        let emotion = |e: &Emotion| Words::new(e.as_str());
        match self {
            Said::Run {
                negative,
                minutes,
                mostly,
                usual,
            } => {
                let run = Words::new("negative {neg} for {min} min, mostly {emotion}")
                    .with("neg", p(*negative))
                    .with("min", *minutes)
                    .with("emotion", emotion(mostly));
                let usual = usual.map(|u| Words::new(", usual {pct}").with("pct", p(u)));
                Words::join([run].into_iter().chain(usual), "{a}{b}")
            }
            Said::Horizon {
                negative,
                minutes,
                usual,
                face,
                mostly,
            } => {
                let head = Words::new("negative {neg} of the last {min} min")
                    .with("neg", p(*negative))
                    .with("min", *minutes);
                let usual = usual.map(|u| Words::new(" (usual {pct})").with("pct", p(u)));
                let tail = Words::new(", face visible {face}, mostly {emotion}")
                    .with("face", p(*face))
                    .with("emotion", emotion(mostly));
                Words::join([head].into_iter().chain(usual).chain([tail]), "{a}{b}")
            }
            Said::TooLittleFace { face, minutes } => {
                Words::new("face visible {face} of the last {min} min: not enough to judge")
                    .with("face", p(*face))
                    .with("min", *minutes)
            }
            Said::NoFaceFor { minutes } => {
                Words::new("no face seen for {min} min").with("min", *minutes)
            }
            Said::ModelFailed { error } => {
                Words::new("emotion model failed: {error}").with("error", error)
            }
        }
    }
}

/// A patient's usual negative share, learned over the first `baseline_ms` of face, or being
/// learned: kept across restarts, so it is never learned again from whatever minutes happen
/// to follow a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    started_ms: Option<Millis>,
    negative_sum: f64,
    faces: u64,
    learned: Option<f64>,
}

impl Baseline {
    /// A usual negative share already known from a record of `faces` face frames that began at
    /// `started_ms` (a stay imported or seeded with its history), so that the live state judges
    /// against the same usual the record shows instead of learning another. `None` unless
    /// `share` is in [0, 1] and `faces` is at least one.
    pub fn known(share: f64, started_ms: Millis, faces: u64) -> Option<Baseline> {
        ((0.0..=1.0).contains(&share) && faces > 0).then_some(Baseline {
            started_ms: Some(started_ms),
            negative_sum: share * faces as f64,
            faces,
            learned: Some(share),
        })
    }
}

/// One patient's rolling state.
#[derive(Debug, Clone)]
pub struct PatientState {
    cfg: StateConfig,
    windows: VecDeque<WindowAggregate>,
    baseline: Baseline,
    /// The status with hysteresis (see [`StateConfig::elevated_margin`]).
    elevated: bool,
}

struct Totals {
    frames: u64,
    faces: u64,
    sums: EmotionSums,
}

fn totals<'a>(ws: impl Iterator<Item = &'a WindowAggregate>) -> Totals {
    let mut t = Totals {
        frames: 0,
        faces: 0,
        sums: EmotionSums::default(),
    };
    for w in ws {
        t.frames += w.frames as u64;
        t.faces += w.faces as u64;
        t.sums.merge(&w.prob_sums);
    }
    t
}

impl Totals {
    fn negative(&self) -> Option<f64> {
        (self.faces > 0).then(|| self.sums.negative() / self.faces as f64)
    }
    fn coverage(&self) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            self.faces as f64 / self.frames as f64
        }
    }
}

impl PatientState {
    pub fn new(cfg: StateConfig) -> Self {
        PatientState {
            cfg,
            windows: VecDeque::new(),
            baseline: Baseline::default(),
            elevated: false,
        }
    }

    /// What must survive a restart besides the stored windows: (baseline, elevated).
    pub fn carried(&self) -> (Baseline, bool) {
        (self.baseline.clone(), self.elevated)
    }

    /// Takes over what [`PatientState::carried`] gave before a restart.
    pub fn carry_over(&mut self, baseline: Baseline, elevated: bool) {
        self.baseline = baseline;
        self.elevated = elevated;
    }

    /// The patient's usual negative share: learned, or the prior until it is.
    pub fn baseline(&self) -> (f64, bool) {
        match self.baseline.learned {
            Some(b) => (b, true),
            None => (self.cfg.prior_negative, false),
        }
    }

    /// Adds a closed window, learning the baseline from it, and forgets windows older than
    /// the horizon.
    pub fn add(&mut self, w: WindowAggregate) {
        self.add_window(w, true);
    }

    /// Adds a closed window; with `learn` false (the patient is in a negative run) the
    /// baseline does not learn from it, so minutes of distress never become "usual".
    pub fn add_window(&mut self, w: WindowAggregate, learn: bool) {
        if learn {
            self.learn(&w);
        }
        let end = w.end_ms;
        self.keep(w);
        // The status follows the horizon with hysteresis, decided once per closed window.
        let all = totals(self.recent(end));
        if let Some(neg) = all
            .negative()
            .filter(|_| all.coverage() >= self.cfg.min_coverage)
        {
            let (b, _) = self.baseline();
            if !self.elevated && neg >= b + self.cfg.elevated_margin {
                self.elevated = true;
            } else if self.elevated && neg < b + self.cfg.settle_margin {
                self.elevated = false;
            }
        }
    }

    /// Puts back a window stored before a restart (already learned from and judged).
    pub fn restore_window(&mut self, w: WindowAggregate) {
        self.keep(w);
    }

    fn keep(&mut self, w: WindowAggregate) {
        let end = w.end_ms;
        self.windows.push_back(w);
        while self
            .windows
            .front()
            .is_some_and(|f| f.end_ms <= end - self.cfg.horizon_ms)
        {
            self.windows.pop_front();
        }
    }

    fn learn(&mut self, w: &WindowAggregate) {
        let b = &mut self.baseline;
        let started = *b.started_ms.get_or_insert(w.start_ms);
        if b.learned.is_none() {
            if w.end_ms <= started + self.cfg.baseline_ms {
                b.negative_sum += w.prob_sums.negative();
                b.faces += w.faces as u64;
            } else if b.faces > 0 {
                b.learned = Some(b.negative_sum / b.faces as f64);
            } else {
                // No face seen in the whole baseline period: keep learning from what comes.
                b.started_ms = Some(w.start_ms);
            }
        }
    }

    /// Windows inside the horizon ending at `now`.
    pub fn recent(&self, now: Millis) -> impl Iterator<Item = &WindowAggregate> {
        let from = now - self.cfg.horizon_ms;
        self.windows
            .iter()
            .filter(move |w| w.end_ms > from && w.start_ms < now)
    }

    /// The assessment at `now`.
    pub fn assess(&self, now: Millis) -> Assessment {
        let all = totals(self.recent(now));
        let last5 = totals(self.recent(now).filter(|w| w.end_ms > now - 5 * MINUTE));
        let before = totals(self.recent(now).filter(|w| w.end_ms <= now - 5 * MINUTE));
        let (baseline, learned) = self.baseline();
        let coverage = all.coverage();
        let minutes = self.cfg.horizon_ms / MINUTE;
        let negative = all.negative();
        let dominant = (all.faces > 0).then(|| all.sums.top());
        let trend = match (last5.negative(), before.negative()) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        };
        // (status, score, reason): "unknown" when the face was seen too little to judge.
        let minutes = u32::try_from(minutes).unwrap_or(u32::MAX);
        let (status, score, said) = match negative.filter(|_| coverage >= self.cfg.min_coverage) {
            None => (
                Status::Unknown,
                0,
                Said::TooLittleFace {
                    face: coverage,
                    minutes,
                },
            ),
            Some(neg) => {
                let excess = ((neg - baseline) / (1.0 - baseline).max(1e-6)).clamp(0.0, 1.0);
                let mostly = if all.sums.get(Emotion::Sad) >= all.sums.get(Emotion::Angry) {
                    Emotion::Sad
                } else {
                    Emotion::Angry
                };
                let mood = if neg >= 0.5 {
                    mostly
                } else {
                    dominant.unwrap_or(Emotion::Relaxed)
                };
                (
                    if self.elevated {
                        Status::Elevated
                    } else {
                        Status::Settled
                    },
                    (excess * 100.0).round() as u8,
                    Said::Horizon {
                        negative: neg,
                        minutes,
                        usual: learned.then_some(baseline),
                        face: coverage,
                        mostly: mood,
                    },
                )
            }
        };
        Assessment {
            at_ms: now,
            status,
            score,
            negative,
            trend,
            coverage,
            baseline,
            baseline_learned: learned,
            dominant,
            reason: said.text(),
            said: Some(said),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::Windower;
    use areya_core::{FaceBox, Observation, PatientId, Probabilities, SeenFace, SourceId};

    /// Feeds one observation per second from `from` for `secs` seconds.
    fn feed(
        state: &mut PatientState,
        win: &mut Windower,
        from: Millis,
        secs: i64,
        p: Option<[f32; 4]>,
    ) {
        for i in 0..secs {
            let o = Observation {
                source: SourceId::parse("c").unwrap(),
                patient: PatientId::parse("p").unwrap(),
                at_ms: from + i * 1000,
                frame: i as u64,
                face: p.map(|p| {
                    SeenFace::new(
                        FaceBox::square(0, 0, 60, 3.0),
                        Probabilities::from_array(p).unwrap(),
                    )
                }),
            };
            for w in win.push(&o) {
                state.add(w);
            }
        }
    }

    const SAD: Option<[f32; 4]> = Some([0.1, 0.05, 0.15, 0.7]);
    const CALM: Option<[f32; 4]> = Some([0.05, 0.2, 0.7, 0.05]);

    #[test]
    fn low_coverage_is_unknown_never_negative() {
        let mut s = PatientState::new(StateConfig::default());
        let mut w = Windower::new(MINUTE);
        // Ten minutes in which the face is seen 1 second in 10, and that second is sad.
        for m in 0..10 * 6 {
            feed(&mut s, &mut w, m * 10_000, 1, SAD);
            feed(&mut s, &mut w, m * 10_000 + 1000, 9, None);
        }
        let a = s.assess(10 * MINUTE);
        assert_eq!((a.status, a.score), (Status::Unknown, 0));
        assert!(a.reason.contains("not enough to judge"), "{}", a.reason);
    }

    #[test]
    fn sustained_sadness_scores_high_with_a_readable_reason() {
        let mut s = PatientState::new(StateConfig::default());
        let mut w = Windower::new(MINUTE);
        feed(&mut s, &mut w, 0, 15 * 60 + 1, SAD);
        let a = s.assess(15 * MINUTE);
        assert_eq!(a.status, Status::Elevated);
        assert!(a.score >= 70, "{a:?}");
        assert!(
            a.reason.starts_with("negative 80% of the last 15 min")
                && a.reason.contains("mostly sad"),
            "{}",
            a.reason
        );
        let mut calm = PatientState::new(StateConfig::default());
        let mut w = Windower::new(MINUTE);
        feed(&mut calm, &mut w, 0, 15 * 60 + 1, CALM);
        let a = calm.assess(15 * MINUTE);
        assert_eq!((a.status, a.score), (Status::Settled, 0));
        assert_eq!(a.dominant, Some(Emotion::Relaxed));
    }

    #[test]
    fn baseline_is_learned_and_scores_follow_change_from_it() {
        let cfg = StateConfig {
            baseline_ms: HOUR,
            ..Default::default()
        };
        let mut s = PatientState::new(cfg);
        let mut w = Windower::new(MINUTE);
        // A patient who is usually fairly negative (sad 80% of the time) for the first hour.
        feed(&mut s, &mut w, 0, 3600 + 61, SAD);
        let (b, learned) = s.baseline();
        assert!(learned && (b - 0.8).abs() < 1e-3, "{b}");
        // Staying the same is not a change: low score.
        assert!(s.assess(3600 * 1000 + 60_000).score < 5);
        // Trend: becomes calm, then the last 5 minutes sad again → positive trend.
        feed(&mut s, &mut w, 3661 * 1000, 600, CALM);
        feed(&mut s, &mut w, 4261 * 1000, 301, SAD);
        let a = s.assess(4561 * 1000);
        assert!(a.trend.unwrap() > 0.3, "{a:?}");
    }

    #[test]
    fn a_known_baseline_is_judged_against_and_not_learned_again() {
        assert!(Baseline::known(1.2, 0, 10).is_none(), "a share over 1");
        assert!(Baseline::known(f64::NAN, 0, 10).is_none(), "not a number");
        assert!(Baseline::known(0.12, 0, 0).is_none(), "no face behind it");
        let mut s = PatientState::new(StateConfig::default());
        s.carry_over(Baseline::known(0.12, 0, 1000).expect("valid"), false);
        assert_eq!(s.baseline(), (0.12, true));
        // Hours of distress from the first window on: still judged against 12%, above usual.
        let mut w = Windower::new(MINUTE);
        feed(&mut s, &mut w, 0, 5 * 3600, SAD);
        assert_eq!(s.baseline(), (0.12, true));
        let a = s.assess(5 * 3600 * 1000);
        assert_eq!(a.status, Status::Elevated, "{a:?}");
        assert!(
            a.baseline_learned && (a.baseline - 0.12).abs() < 1e-9,
            "{a:?}"
        );
    }
}

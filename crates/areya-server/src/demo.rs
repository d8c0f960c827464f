//! `areya demo`: a ward of 12 beds whose cameras follow a script, so the rules can be seen
//! working in a few minutes — one patient drifts to sad (alert, then escalation), one flickers
//! around the threshold (no alert: hysteresis), one is opted out (never processed), one has a
//! short angry burst (no alert: minimum duration), one camera goes offline (technical alert),
//! one patient leaves the bed (no face: "unknown", never "negative"), one is angry for minutes
//! (alert on the other nurse's beds), the rest are calm, and bed 12 is empty.
//!
//! The script says what each bed shows; a [`Readings`] turns that into a face box and class
//! probabilities: [`Simulated`] draws them around the script's mix (the page then says the
//! readings are simulated), and `areya demo --faces DIR` classifies real face images instead.
//! Demo time is shortened (10 s windows, 60 s minimum duration) and the page says so.

use crate::app::{App, Settings};
use crate::setup::{demo_patient, demo_source, DEMO_BEDS, DEMO_WARD};
use areya_core::Words;
use areya_core::{FaceBox, Observation, Probabilities, Quality, SeenFace};
use areya_monitor::engine::{Consent, EngineConfig};
use areya_monitor::state::StateConfig;
use areya_monitor::{MINUTE, SECOND};
use areya_store::AuditAction;
use std::sync::Arc;
use std::time::Duration;

/// Rules on the demo's time scale.
pub const DEMO_RULES: &str = r#"# Demo time scale: a real ward keeps the defaults (10 min minimum duration, …).
[ward]
enter = 0.6
exit = 0.45
min_duration_s = 60
clear_s = 30
min_coverage = 0.5
max_blind_s = 20
cannot_assess_after_s = 60
cooldown_s = 120
realarm_s = 300

[escalation]
charge_nurse_after_s = 120
failsafe_after_s = 300
max_snooze_s = 600
"#;

/// Server settings on the demo's time scale.
pub fn demo_settings(banner: String) -> Settings {
    Settings {
        engine: EngineConfig {
            window_ms: 10 * SECOND,
            state: StateConfig {
                horizon_ms: 3 * MINUTE,
                // Learned over the calm start of the script.
                baseline_ms: 100 * SECOND,
                ..StateConfig::default()
            },
            no_face_after_ms: 2 * MINUTE,
        },
        source_offline_after_ms: 30 * SECOND,
        banner: Some(banner),
        ..Settings::default()
    }
}

/// What a bed's camera shows at second `t` of the demo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scene {
    /// The camera sends nothing.
    Offline,
    /// Frames arrive but no face is in the bed area.
    NoFace,
    /// A face whose emotions are mixed as (angry, happy, relaxed, sad).
    Face([f32; 4]),
}

const CALM: [f32; 4] = [0.04, 0.30, 0.60, 0.06];
const SAD: [f32; 4] = [0.10, 0.03, 0.15, 0.72];
const ANGRY: [f32; 4] = [0.70, 0.04, 0.12, 0.14];

fn lerp(a: [f32; 4], b: [f32; 4], x: f32) -> [f32; 4] {
    let x = x.clamp(0.0, 1.0);
    [0, 1, 2, 3].map(|i| a[i] * (1.0 - x) + b[i] * x)
}

/// The script: bed `i` (0-based) at second `t`. Each story repeats every 15 minutes.
pub fn scene(i: usize, t: u64) -> Scene {
    let c = t % 900;
    match i {
        // Calm while the baseline is learned, drifts to sad over a minute, stays sad for
        // seven, recovers.
        0 => match c {
            0..120 => Scene::Face(CALM),
            120..180 => Scene::Face(lerp(CALM, SAD, (c - 120) as f32 / 60.0)),
            180..600 => Scene::Face(SAD),
            _ => Scene::Face(CALM),
        },
        // Flickers across the threshold every 20 s (above enter, then below exit): each run
        // is shorter than the minimum duration, so no alert — and no chatter.
        1 => {
            let hi = [0.24, 0.06, 0.26, 0.44];
            let lo = [0.10, 0.22, 0.42, 0.26];
            Scene::Face(if (t / 20).is_multiple_of(2) { hi } else { lo })
        }
        // Opted out: the camera still sends, the server refuses it.
        2 => Scene::Face(SAD),
        // A 30-second angry burst: shorter than the minimum duration.
        3 => Scene::Face(if (100..130).contains(&c) { ANGRY } else { CALM }),
        // The camera drops out for over three minutes.
        4 => {
            if (200..400).contains(&c) {
                Scene::Offline
            } else {
                Scene::Face(CALM)
            }
        }
        // Out of bed: no face, so "unknown".
        5 => {
            if (300..500).contains(&c) {
                Scene::NoFace
            } else {
                Scene::Face(CALM)
            }
        }
        // Angry for five minutes, on the other nurse's beds.
        6 => Scene::Face(if (200..500).contains(&c) { ANGRY } else { CALM }),
        _ if i + 1 >= DEMO_BEDS => Scene::Offline,
        _ => Scene::Face(lerp(
            CALM,
            [0.02, 0.62, 0.32, 0.04],
            ((i * 37 + t as usize / 60) % 7) as f32 / 7.0,
        )),
    }
}

/// Turns a bed's scene into what the vision pipeline would report.
pub trait Readings: Send + 'static {
    /// A face box, class probabilities and quality for bed `bed` showing `mix`, or `None`
    /// when no face was found.
    fn read(&mut self, bed: usize, mix: [f32; 4]) -> Option<SeenFace>;
}

/// Probabilities drawn around the script's mix (seeded, reproducible).
pub struct Simulated {
    state: u64,
}

impl Simulated {
    pub fn new(seed: u64) -> Self {
        Simulated {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }
    fn next(&mut self) -> f32 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }
}

impl Readings for Simulated {
    fn read(&mut self, _bed: usize, mix: [f32; 4]) -> Option<SeenFace> {
        let noisy = mix.map(|m| (m + (self.next() - 0.5) * 0.16).max(0.001));
        let sum: f32 = noisy.iter().sum();
        let bbox = FaceBox::square(
            260 + (self.next() * 20.0) as i32,
            140 + (self.next() * 20.0) as i32,
            120,
            4.0 + self.next() as f64,
        );
        let quality = Quality {
            face_px: 120,
            sharpness: 150.0 + self.next() * 50.0,
        };
        Some(SeenFace {
            bbox,
            probs: Probabilities::from_array(noisy.map(|v| v / sum)).ok()?,
            quality: Some(quality),
        })
    }
}

/// The observations of every bed at second `t` (frame number `t`).
pub fn observations(readings: &mut dyn Readings, t: u64, at_ms: i64) -> Vec<Observation> {
    let mut out = Vec::new();
    for i in 0..DEMO_BEDS {
        let Some(patient) = demo_patient(i) else {
            continue;
        };
        let face = match scene(i, t) {
            Scene::Offline => continue,
            Scene::NoFace => None,
            Scene::Face(mix) => readings.read(i, mix),
        };
        out.push(Observation {
            source: demo_source(i),
            patient,
            at_ms,
            frame: t,
            face,
        });
    }
    out
}

/// The demo's past week for Dr Lee's patients, so the doctor's view has stays to read: bed 1's
/// negative share rising over the last four days, bed 4 distressed one day, the others
/// settled. Per day: the face seen in the morning, afternoon and evening (70% of those hours),
/// and an hourly assessment against a learned usual of 12%. Each patient's state is saved with
/// that usual too, so that the server opened on `store` afterwards judges the live readings
/// against the same 12% the week shows (instead of learning another usual from the first live
/// minutes, and the ward's card and the doctor's page naming two). Seeded once, before the
/// server opens: a restarted demo keeps what it has.
pub async fn seed_history(
    store: &impl areya_store::Store,
    now: areya_monitor::Millis,
) -> Result<(), crate::error::AppError> {
    use areya_core::EmotionSums;
    use areya_monitor::engine::PatientSnapshot;
    use areya_monitor::state::{Assessment, Baseline, Status};
    use areya_monitor::window::WindowAggregate;
    use areya_monitor::HOUR;
    const DAY: i64 = 24 * HOUR;
    const USUAL: f64 = 0.12;
    // Faces in each seeded minute's 60 frames: seen 70% of those hours.
    const FACES: u32 = 42;
    let Some(first) = demo_patient(0) else {
        return Ok(());
    };
    if !store
        .windows(Some(&first), now - 8 * DAY, now - DAY)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    // Negative share per bed, six days ago first.
    let stories: [(usize, [f64; 6]); 5] = [
        (0, [0.12, 0.11, 0.13, 0.18, 0.26, 0.34]),
        (1, [0.20, 0.22, 0.19, 0.21, 0.20, 0.22]),
        (3, [0.10, 0.09, 0.11, 0.10, 0.31, 0.12]),
        (4, [0.08, 0.07, 0.09, 0.08, 0.07, 0.08]),
        (7, [0.15, 0.14, 0.16, 0.15, 0.13, 0.14]),
    ];
    let midnight = now - now.rem_euclid(DAY);
    let mut batch = areya_store::Batch::default();
    for (bed, negative) in stories {
        let Some(p) = demo_patient(bed) else {
            continue;
        };
        let week_start = midnight - 6 * DAY;
        for (k, n) in negative.into_iter().enumerate() {
            let day = midnight - (6 - k as i64) * DAY;
            for hour in [8, 9, 10, 14, 15, 16, 20, 21] {
                let at = day + hour * HOUR;
                for m in 0..60 {
                    let s = at + m * MINUTE;
                    let faces = f64::from(FACES);
                    let mix = [n * 0.3, (1.0 - n) * 0.3, (1.0 - n) * 0.7, n * 0.7];
                    batch.windows.push(WindowAggregate {
                        patient: p.clone(),
                        start_ms: s,
                        end_ms: s + MINUTE,
                        frames: 60,
                        faces: FACES,
                        prob_sums: EmotionSums::from_array(mix.map(|x| x * faces)),
                        confidence_sum: faces * 0.8,
                    });
                }
                let score = (((n - USUAL) / 0.3).clamp(0.0, 1.0) * 100.0).round() as u8;
                batch.assessments.push((
                    p.clone(),
                    Assessment {
                        said: None,
                        at_ms: at + HOUR,
                        status: if n >= 0.22 {
                            Status::Elevated
                        } else {
                            Status::Settled
                        },
                        score,
                        negative: Some(n),
                        trend: None,
                        coverage: 0.7,
                        baseline: USUAL,
                        baseline_learned: true,
                        dominant: None,
                        reason: "demo history".into(),
                    },
                ));
            }
        }
        let mine = || batch.windows.iter().filter(|w| w.patient == p);
        let faces_seen = mine().map(|w| u64::from(w.faces)).sum();
        let last_end = mine().map(|w| w.end_ms).max().unwrap_or(week_start);
        let baseline = Baseline::known(USUAL, week_start, faces_seen)
            .ok_or_else(|| crate::error::AppError::refused("the demo's usual is not a share"))?;
        batch.patients.push(PatientSnapshot {
            patient: p,
            at_ms: last_end,
            baseline,
            elevated: false,
            tracker: Default::default(),
            last_face_ms: Some(last_end),
            first_seen_ms: week_start,
        });
    }
    store.save(&batch).await?;
    Ok(())
}

/// Opts the demo's third patient out, as the script says (Dr Lee's week is seeded before the
/// server opens: [`seed_history`]).
pub async fn prepare(app: &Arc<App>) -> Result<(), crate::error::AppError> {
    if let Some(p) = demo_patient(2) {
        app.run(crate::command::Command::Consent {
            patient: p.clone(),
            consent: Consent::OptedOut,
        })
        .await?;
        app.audit(
            "demo",
            AuditAction::ChangeConsent,
            Words::new("patient {id}").with("id", p.as_str()),
            Words::new("opted out (demo script)"),
        )
        .await?;
    }
    Ok(())
}

/// Feeds the ward once a second until `stop` turns true, as an edge device of the demo ward.
/// The script's second 0 is `start` (ms since the epoch): a restarted demo passes the first
/// start again and goes on with the story where it was, instead of playing its calm first
/// minutes to patients who were distressed.
pub async fn run(
    app: Arc<App>,
    mut readings: Box<dyn Readings>,
    start: areya_monitor::Millis,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = interval.tick() => {}
        }
        let now = app.now();
        let t = ((now - start) / SECOND).max(0) as u64;
        // Readings may run a model: off the async workers.
        let Ok((r, obs)) = tokio::task::spawn_blocking(move || {
            let obs = observations(readings.as_mut(), t, now);
            (readings, obs)
        })
        .await
        else {
            tracing::warn!("demo readings failed; stopping the feed");
            return;
        };
        readings = r;
        if let Err(e) = app.ingest(DEMO_WARD, obs).await {
            tracing::warn!("demo ingest: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_tells_each_story() {
        let neg = |s: Scene| match s {
            Scene::Face(m) => Some(m[0] + m[3]),
            _ => None,
        };
        assert!(
            neg(scene(0, 100)).unwrap() < 0.2,
            "bed 1 is calm while the baseline is learned"
        );
        assert!(neg(scene(0, 200)).unwrap() > 0.8, "bed 1 drifts to sad");
        let flicker: Vec<f32> = (0..60)
            .step_by(10)
            .filter_map(|t| neg(scene(1, t)))
            .collect();
        assert!(flicker.iter().any(|&n| n >= 0.6) && flicker.iter().any(|&n| n < 0.45));
        assert_eq!(scene(4, 250), Scene::Offline);
        assert_eq!(scene(5, 350), Scene::NoFace);
        assert_eq!(scene(11, 0), Scene::Offline, "bed 12 is empty");
    }

    #[test]
    fn simulated_readings_are_distributions_near_the_mix() {
        let mut r = Simulated::new(7);
        for _ in 0..200 {
            let p = r.read(0, SAD).unwrap().probs;
            let sum: f32 = p.to_array().iter().sum();
            assert!((sum - 1.0).abs() < 1e-4);
            assert!(p.negative() > 0.6, "{p:?}");
        }
        let obs = observations(&mut Simulated::new(1), 0, 0);
        assert_eq!(obs.len(), DEMO_BEDS - 1, "every bed with a patient sends");
    }
}

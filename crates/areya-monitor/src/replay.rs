//! Replaying stored windows through a candidate rule set: the alarm burden a ward would have
//! had, per bed per day, and which alerts would appear or vanish against the current rules —
//! before the ward changes its rules.

use crate::alerts::{AlertBook, AlertEvent, AlertKind, ConditionInfo};
use crate::rules::{ConditionTracker, RuleError, RuleSet};
use crate::state::{PatientState, StateConfig};
use crate::window::WindowAggregate;
use crate::{Millis, HOUR};
use areya_core::PatientId;
use serde::Serialize;
use std::collections::BTreeMap;

/// One alert a rule set would have raised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayedAlert {
    pub patient: PatientId,
    pub raised_ms: Millis,
    /// `None`: still open at the end of the data.
    pub resolved_ms: Option<Millis>,
    /// While open, the patient went unseen for `cannot_assess_after_s`: the alert would have
    /// stopped escalating and said "cannot assess".
    pub cannot_assess: bool,
}

/// How to replay: as Areya does now (the default), or with one of its sight rules undone, to
/// show what that rule changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayAs {
    /// Count a run in clock time and bridge blind gaps shorter than the minimum duration.
    pub clock_time: bool,
    /// Learn the baseline from every window, negative runs included.
    pub learn_from_runs: bool,
}

impl ReplayedAlert {
    fn overlaps(&self, o: &ReplayedAlert) -> bool {
        let end = |a: &ReplayedAlert| a.resolved_ms.unwrap_or(Millis::MAX);
        self.patient == o.patient && self.raised_ms < end(o) && o.raised_ms < end(self)
    }
}

/// Alerts raised per (patient, UTC day number) and in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    pub alerts: Vec<ReplayedAlert>,
    pub per_bed_day: BTreeMap<(PatientId, i64), usize>,
}

/// Runs `windows` (any order) through `rules` as the live engine would.
pub fn replay(
    windows: &[WindowAggregate],
    rules: &RuleSet,
    state_cfg: StateConfig,
) -> Result<Replay, RuleError> {
    replay_as(windows, rules, state_cfg, ReplayAs::default())
}

/// [`replay`] with some of the sight rules undone (see [`ReplayAs`]).
pub fn replay_as(
    windows: &[WindowAggregate],
    rules: &RuleSet,
    state_cfg: StateConfig,
    how: ReplayAs,
) -> Result<Replay, RuleError> {
    let mut by_patient: BTreeMap<&PatientId, Vec<&WindowAggregate>> = BTreeMap::new();
    for w in windows {
        by_patient.entry(&w.patient).or_default().push(w);
    }
    let mut alerts: Vec<ReplayedAlert> = Vec::new();
    for (patient, mut ws) in by_patient {
        ws.sort_by_key(|w| w.start_ms);
        let mut rule = rules.rule_for(patient.as_str())?;
        rule.legacy_clock_time = how.clock_time;
        let blind_after = rule.cannot_assess_after_s as i64 * crate::SECOND;
        let mut state = PatientState::new(state_cfg);
        let mut tracker = ConditionTracker::default();
        let mut book = AlertBook::new(rules.escalation.clone());
        let mut open: Option<usize> = None;
        for w in ws {
            let last_seen = tracker.last_seen_ms();
            let folded = crate::engine::fold_window_as(
                &mut state,
                &mut tracker,
                &rule,
                w,
                how.learn_from_runs,
            );
            // Unseen (blind or missing windows) for long enough while an alert was open.
            if let (Some(i), Some(seen)) = (open, last_seen) {
                let unseen_until = if folded.is_some() {
                    w.start_ms
                } else {
                    w.end_ms
                };
                if unseen_until - seen >= blind_after {
                    alerts[i].cannot_assess = true;
                }
            }
            let Some(active) = folded else {
                continue;
            };
            let info = ConditionInfo {
                said: None,
                priority: rule.priority,
                reason: String::new(),
                score: 0,
                cooldown_s: rule.cooldown_s,
                realarm_s: rule.realarm_s,
            };
            for e in book.on_condition(
                patient,
                AlertKind::SustainedNegative,
                active,
                w.end_ms,
                &info,
            ) {
                match e {
                    AlertEvent::Raised { alert } => {
                        open = Some(alerts.len());
                        alerts.push(ReplayedAlert {
                            patient: alert.patient,
                            raised_ms: alert.raised_ms,
                            resolved_ms: None,
                            cannot_assess: false,
                        });
                    }
                    AlertEvent::Resolved { at_ms, .. } => {
                        if let Some(i) = open.take() {
                            alerts[i].resolved_ms = Some(at_ms);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let mut per_bed_day = BTreeMap::new();
    for a in &alerts {
        *per_bed_day
            .entry((a.patient.clone(), a.raised_ms.div_euclid(24 * HOUR)))
            .or_insert(0) += 1;
    }
    Ok(Replay {
        alerts,
        per_bed_day,
    })
}

/// Alerts of `candidate` that `current` did not have (appear) and the reverse (vanish),
/// matching alerts of the same patient whose times overlap.
pub fn diff<'a>(
    current: &'a Replay,
    candidate: &'a Replay,
) -> (Vec<&'a ReplayedAlert>, Vec<&'a ReplayedAlert>) {
    let appear = candidate
        .alerts
        .iter()
        .filter(|c| !current.alerts.iter().any(|o| o.overlaps(c)))
        .collect();
    let vanish = current
        .alerts
        .iter()
        .filter(|o| !candidate.alerts.iter().any(|c| c.overlaps(o)))
        .collect();
    (appear, vanish)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MINUTE;

    fn w(p: &str, minute: i64, negative: f64) -> WindowAggregate {
        WindowAggregate::seen(
            PatientId::parse(p).unwrap(),
            (minute * MINUTE, (minute + 1) * MINUTE),
            (30, 30),
            negative,
            20.0,
        )
    }

    #[test]
    fn replaying_as_before_shows_what_the_sight_rules_change() {
        // Seen (and sad) one minute in ten for two hours: the old clock-time rule bridged the
        // blind minutes into "sustained"; counting seen minutes does not.
        let mut ws = Vec::new();
        for m in 0..120 {
            let mut x = w("a", m, 0.9);
            if m % 10 != 0 {
                x.faces = 0;
                x.prob_sums = Default::default();
            }
            ws.push(x);
        }
        let rules = RuleSet::default();
        let now = replay(&ws, &rules, StateConfig::default()).unwrap();
        let before = replay_as(
            &ws,
            &rules,
            StateConfig::default(),
            ReplayAs {
                clock_time: true,
                ..ReplayAs::default()
            },
        )
        .unwrap();
        assert_eq!(now.alerts.len(), 0);
        assert!(!before.alerts.is_empty(), "{before:?}");
        // Sad in view for 12 minutes, out of view for 15, then calm: one alert, which would
        // have said "cannot assess".
        let ws: Vec<WindowAggregate> = (0..40)
            .map(|m| match m {
                0..12 => w("b", m, 0.9),
                12..27 => WindowAggregate {
                    faces: 0,
                    prob_sums: areya_core::EmotionSums::from_array([0.0; 4]),
                    ..w("b", m, 0.0)
                },
                _ => w("b", m, 0.1),
            })
            .collect();
        let r = replay(&ws, &rules, StateConfig::default()).unwrap();
        assert_eq!(r.alerts.len(), 1, "{r:?}");
        assert!(r.alerts[0].cannot_assess, "{r:?}");
    }

    #[test]
    fn a_stricter_rule_shows_which_alerts_would_vanish() {
        // Bed a: 12 sad minutes; bed b: 7 sad minutes.
        let mut ws: Vec<WindowAggregate> = (0..12)
            .map(|m| w("a", m, 0.8))
            .chain((0..7).map(|m| w("b", m, 0.8)))
            .collect();
        ws.extend((12..20).map(|m| w("a", m, 0.1)));
        ws.extend((7..20).map(|m| w("b", m, 0.1)));
        ws.reverse(); // order must not matter
        let current = replay(
            &ws,
            &RuleSet::from_toml("[ward]\nmin_duration_s = 300").unwrap(),
            StateConfig::default(),
        )
        .unwrap();
        let stricter = replay(
            &ws,
            &RuleSet::from_toml("[ward]\nmin_duration_s = 600").unwrap(),
            StateConfig::default(),
        )
        .unwrap();
        assert_eq!(current.alerts.len(), 2);
        assert_eq!(stricter.alerts.len(), 1);
        assert_eq!(
            current
                .alerts
                .iter()
                .find(|a| a.patient.as_str() == "a")
                .unwrap()
                .resolved_ms,
            // Calm from minute 12: resolved once below exit for the 5-minute clearing time.
            Some(17 * MINUTE)
        );
        let (appear, vanish) = diff(&current, &stricter);
        assert!(appear.is_empty());
        assert_eq!(vanish.len(), 1);
        assert_eq!(vanish[0].patient.as_str(), "b");
        assert_eq!(current.per_bed_day[&(PatientId::parse("a").unwrap(), 0)], 1);
    }
}

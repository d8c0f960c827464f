//! The ward engine: routes each observation to its patient's windower, state and condition
//! tracker, and drives the alert book. Consent is enforced first: observations of patients
//! who are paused or opted out are never processed (and so never stored).

use crate::alerts::{AlertBook, AlertEvent, AlertKind, ConditionInfo};
use crate::rules::{ConditionTracker, RuleError, RuleSet};
use crate::state::{Assessment, PatientState, Said, StateConfig};
use crate::window::{WindowAggregate, Windower};
use crate::{Millis, MINUTE, SECOND};
use areya_core::time::WardZone;
use areya_core::{Observation, PatientId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A patient's monitoring consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "consent", rename_all = "snake_case")]
pub enum Consent {
    Active,
    /// Spelled "paused", as `PUT /api/patients/{id}/consent` takes it (records written as
    /// "paused_until" by older versions still read).
    #[serde(rename = "paused", alias = "paused_until")]
    PausedUntil {
        until_ms: Millis,
    },
    OptedOut,
}

impl Consent {
    pub fn allows(&self, now: Millis) -> bool {
        match self {
            Consent::Active => true,
            Consent::PausedUntil { until_ms } => now >= *until_ms,
            Consent::OptedOut => false,
        }
    }
}

/// Engine settings beyond the rule file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    pub window_ms: Millis,
    pub state: StateConfig,
    /// Raise a "no face" technical alert after this long without a face.
    pub no_face_after_ms: Millis,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            window_ms: MINUTE,
            state: StateConfig::default(),
            no_face_after_ms: 30 * MINUTE,
        }
    }
}

/// What the engine produced; the caller stores and broadcasts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Output {
    Window {
        window: WindowAggregate,
    },
    Assessment {
        patient: PatientId,
        assessment: Assessment,
    },
    Alert {
        event: AlertEvent,
    },
    /// What a restart must take over for the patient (saved with the window).
    Patient {
        snapshot: PatientSnapshot,
    },
    /// An open alert changed in place (its time, reason, peak score) without an event: saved,
    /// so a restart shows it as it was, but not announced.
    AlertUpdated {
        id: u64,
    },
}

/// Everything about a patient that the stored windows alone do not give back after a
/// restart: the baseline (learned or being learned), the status with its hysteresis, the
/// alert condition's run, and when a face was last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientSnapshot {
    pub patient: PatientId,
    /// The end of the last window folded in.
    pub at_ms: Millis,
    pub baseline: crate::state::Baseline,
    pub elevated: bool,
    pub tracker: ConditionTracker,
    pub last_face_ms: Option<Millis>,
    pub first_seen_ms: Millis,
}

/// Folds one closed window into a patient's state and condition: the condition is judged
/// against the baseline as it was, and the baseline learns from the window only while no
/// negative run is under way (minutes of distress never become the patient's "usual").
/// Returns what the condition says (see [`ConditionTracker::on_window`]).
/// "negative 68% for 12 min, mostly sad, usual 15%": a negative run as its alert tells it.
pub fn run_reason(
    r: &crate::rules::RunSummary,
    now: Millis,
    (baseline, learned): (f64, bool),
) -> crate::state::Said {
    let minutes = ((now - r.since_ms) as f64 / MINUTE as f64).round().max(1.0);
    crate::state::Said::Run {
        negative: r.negative,
        minutes: minutes.min(f64::from(u32::MAX)) as u32,
        mostly: r.mostly,
        usual: learned.then_some(baseline),
    }
}

pub fn fold_window(
    state: &mut PatientState,
    tracker: &mut ConditionTracker,
    rule: &crate::rules::Rule,
    w: &WindowAggregate,
) -> Option<bool> {
    fold_window_as(state, tracker, rule, w, false)
}

/// [`fold_window`], or with `learn_from_runs` the way Areya once learned the baseline (from
/// every window): for `areya replay`'s comparison.
pub fn fold_window_as(
    state: &mut PatientState,
    tracker: &mut ConditionTracker,
    rule: &crate::rules::Rule,
    w: &WindowAggregate,
    learn_from_runs: bool,
) -> Option<bool> {
    let (baseline, learned) = state.baseline();
    let sustained = tracker.on_window(rule, learned.then_some(baseline), w);
    state.add_window(w.clone(), learn_from_runs || !tracker.in_run());
    sustained
}

struct Patient {
    consent: Consent,
    windower: Windower,
    state: PatientState,
    tracker: ConditionTracker,
    last_face_ms: Option<Millis>,
    first_seen_ms: Millis,
}

/// One ward's monitor.
pub struct Engine {
    cfg: EngineConfig,
    rules: RuleSet,
    /// The rules' clock, looked up once per rule change.
    zone: WardZone,
    patients: BTreeMap<PatientId, Patient>,
    consent: BTreeMap<PatientId, Consent>,
    pub alerts: AlertBook,
    /// Observations refused for lack of consent.
    pub refused: u64,
}

impl Engine {
    pub fn new(cfg: EngineConfig, rules: RuleSet) -> Self {
        let alerts = AlertBook::new(rules.escalation.clone());
        Engine {
            cfg,
            zone: rules.zone(),
            rules,
            patients: BTreeMap::new(),
            consent: BTreeMap::new(),
            alerts,
            refused: 0,
        }
    }

    /// Sets a patient's consent. Opting out forgets everything held about the patient.
    pub fn set_consent(&mut self, patient: &PatientId, consent: Consent) {
        self.consent.insert(patient.clone(), consent);
        if consent == Consent::OptedOut {
            self.patients.remove(patient);
        } else if let Some(p) = self.patients.get_mut(patient) {
            p.consent = consent;
        }
    }

    /// A consent change from the ward: set, and when monitoring stops (paused, opted out)
    /// the patient's open alerts end now.
    pub fn change_consent(
        &mut self,
        patient: &PatientId,
        consent: Consent,
        now: Millis,
    ) -> Vec<Output> {
        self.set_consent(patient, consent);
        if consent.allows(now) {
            return vec![];
        }
        let kinds: Vec<AlertKind> = self
            .alerts
            .open_alerts()
            .filter(|a| &a.patient == patient)
            .map(|a| a.kind)
            .collect();
        let info = ConditionInfo {
            said: None,
            priority: crate::rules::Priority::Info,
            reason: String::new(),
            score: 0,
            cooldown_s: 0,
            realarm_s: 0,
        };
        kinds
            .into_iter()
            .flat_map(|k| self.alerts.on_condition(patient, k, false, now, &info))
            .map(|event| Output::Alert { event })
            .collect()
    }

    pub fn consent(&self, patient: &PatientId) -> Consent {
        self.consent
            .get(patient)
            .copied()
            .unwrap_or(Consent::Active)
    }

    /// The rules in force.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Replaces the rules (checked by the caller with `RuleSet::from_toml`).
    pub fn set_rules(&mut self, rules: RuleSet) {
        self.alerts.escalation = rules.escalation.clone();
        self.zone = rules.zone();
        self.rules = rules;
    }

    /// Continues after a restart. `windows` (oldest first) are folded into each patient's state
    /// and condition tracker without raising anything; `alerts` are the stored alerts, of which
    /// the open ones are taken over. Observations of still-open windows are then re-ingested by
    /// the caller.
    /// `snapshots` (saved with each window) give back each patient's baseline, status and
    /// condition exactly; windows up to a patient's snapshot only refill the score's horizon.
    /// A patient without a snapshot (stored by an older version) is rebuilt from its windows.
    pub fn restore(
        &mut self,
        windows: &[WindowAggregate],
        snapshots: Vec<PatientSnapshot>,
        alerts: Vec<crate::alerts::Alert>,
        max_alert_id: u64,
    ) -> Result<(), RuleError> {
        let mut restored_to = BTreeMap::new();
        for snap in snapshots {
            let consent = self.consent(&snap.patient);
            if consent == Consent::OptedOut {
                continue;
            }
            let p = self.patient(&snap.patient, consent, snap.first_seen_ms);
            p.state.carry_over(snap.baseline, snap.elevated);
            p.tracker = snap.tracker;
            p.last_face_ms = snap.last_face_ms;
            p.first_seen_ms = snap.first_seen_ms;
            restored_to.insert(snap.patient, snap.at_ms);
        }
        for w in windows {
            let consent = self.consent(&w.patient);
            if consent == Consent::OptedOut {
                continue;
            }
            let rule = self.rules.rule_for(w.patient.as_str())?;
            let upto = restored_to.get(&w.patient).copied();
            let p = self.patient(&w.patient, consent, w.start_ms);
            if upto.is_some_and(|t| w.end_ms <= t) {
                p.state.restore_window(w.clone());
                continue;
            }
            if w.faces > 0 {
                p.last_face_ms = Some(w.end_ms);
            }
            fold_window(&mut p.state, &mut p.tracker, &rule, w);
        }
        let realarm = self.rules.ward.realarm_s;
        self.alerts.restore(alerts, max_alert_id, realarm);
        Ok(())
    }

    /// A monitored patient's record, created when first seen at `first_seen_ms`.
    fn patient(&mut self, id: &PatientId, consent: Consent, first_seen_ms: Millis) -> &mut Patient {
        let cfg = self.cfg;
        self.patients.entry(id.clone()).or_insert_with(|| Patient {
            consent,
            windower: Windower::new(cfg.window_ms),
            state: PatientState::new(cfg.state),
            tracker: ConditionTracker::default(),
            last_face_ms: None,
            first_seen_ms,
        })
    }

    /// The current assessment of a patient, if monitored.
    pub fn assess(&self, patient: &PatientId, now: Millis) -> Option<Assessment> {
        self.patients.get(patient).map(|p| p.state.assess(now))
    }

    /// Takes one observation at `now` (the receive time). Returns `None` when consent refuses it.
    pub fn ingest(
        &mut self,
        o: &Observation,
        now: Millis,
    ) -> Result<Option<Vec<Output>>, RuleError> {
        let consent = self.consent(&o.patient);
        if !consent.allows(now) {
            self.refused += 1;
            return Ok(None);
        }
        let p = self.patient(&o.patient, consent, o.at_ms);
        if o.face.is_some() {
            p.last_face_ms = Some(o.at_ms);
        }
        let closed = p.windower.push(o);
        let mut out = Vec::new();
        for w in closed {
            out.extend(self.close_window(w, now)?);
        }
        Ok(Some(out))
    }

    /// Time passes: closes due windows, stops escalating alerts of patients not seen for
    /// `cannot_assess_after_s`, escalates, re-alarms.
    pub fn tick(&mut self, now: Millis) -> Result<Vec<Output>, RuleError> {
        let due: Vec<WindowAggregate> = self
            .patients
            .values_mut()
            .filter_map(|p| p.windower.tick(now))
            .collect();
        let mut out = Vec::new();
        for w in due {
            out.extend(self.close_window(w, now)?);
        }
        let blind: Vec<(u64, PatientId)> = self
            .alerts
            .open_alerts()
            .filter(|a| a.kind == AlertKind::SustainedNegative && a.blind_since_ms.is_none())
            .map(|a| (a.id, a.patient.clone()))
            .collect();
        for (id, patient) in blind {
            let rule = self.rules.rule_for(patient.as_str())?;
            let Some(p) = self.patients.get(&patient) else {
                continue;
            };
            // Raised from a seen window, so there is one; a patient rebuilt from windows of an
            // older version may have none and counts from when it was first seen.
            let last = p.tracker.last_seen_ms().unwrap_or(p.first_seen_ms);
            if now - last >= rule.cannot_assess_after_s as i64 * SECOND {
                out.extend(
                    self.alerts
                        .cannot_assess(id, last, now)
                        .into_iter()
                        .map(|event| Output::Alert { event }),
                );
            }
        }
        out.extend(
            self.alerts
                .tick(now)
                .into_iter()
                .map(|event| Output::Alert { event }),
        );
        Ok(out)
    }

    fn close_window(&mut self, w: WindowAggregate, now: Millis) -> Result<Vec<Output>, RuleError> {
        let rule = self.rules.rule_for(w.patient.as_str())?;

        let no_face_after = self.cfg.no_face_after_ms;
        let Some(p) = self.patients.get_mut(&w.patient) else {
            return Ok(vec![]);
        };
        let sustained = fold_window(&mut p.state, &mut p.tracker, &rule, &w);
        let assessment = p.state.assess(w.end_ms);
        // An alert says what raised it: the run, not the last few minutes (written only when
        // the condition holds, the one case its text is used).
        let run = (sustained == Some(true))
            .then(|| p.tracker.run_summary())
            .flatten()
            .map(|r| run_reason(&r, w.end_ms, p.state.baseline()));
        let patient = w.patient.clone();
        let no_face = w.end_ms - p.last_face_ms.unwrap_or(p.first_seen_ms) >= no_face_after;
        let (baseline, elevated) = p.state.carried();
        let snapshot = PatientSnapshot {
            patient: patient.clone(),
            at_ms: w.end_ms,
            baseline,
            elevated,
            tracker: p.tracker.clone(),
            last_face_ms: p.last_face_ms,
            first_seen_ms: p.first_seen_ms,
        };
        let mut out = vec![
            Output::Window { window: w },
            Output::Assessment {
                patient: patient.clone(),
                assessment: assessment.clone(),
            },
            Output::Patient { snapshot },
        ];
        let said = run.or_else(|| assessment.said.clone());
        let info = ConditionInfo {
            priority: rule.priority_at(now, &self.zone),
            reason: said
                .as_ref()
                .map_or_else(|| assessment.reason.clone(), |s| s.text()),
            said,
            score: assessment.score,
            cooldown_s: rule.cooldown_s,
            realarm_s: rule.realarm_s,
        };
        if let Some(active) = sustained {
            out.extend(self.condition(&patient, AlertKind::SustainedNegative, active, now, &info));
        }
        let no_face_said = crate::state::Said::NoFaceFor {
            minutes: u32::try_from(no_face_after / MINUTE).unwrap_or(u32::MAX),
        };
        let tech = ConditionInfo {
            priority: crate::rules::Priority::Low,
            reason: no_face_said.text(),
            said: Some(no_face_said),
            ..info
        };
        out.extend(self.condition(&patient, AlertKind::NoFace, no_face, now, &tech));
        Ok(out)
    }

    /// A bed's camera went offline (or came back).
    pub fn source_offline(
        &mut self,
        patient: &PatientId,
        offline: bool,
        now: Millis,
    ) -> Vec<Output> {
        self.technical(
            patient,
            AlertKind::SourceOffline,
            offline,
            ("camera offline".into(), None),
            now,
        )
    }

    /// The emotion model failed on a bed's frames (or works again); `reason` says how.
    pub fn model_error(
        &mut self,
        patient: &PatientId,
        error: Option<&str>,
        now: Millis,
    ) -> Vec<Output> {
        let said = error.map(|e| Said::ModelFailed { error: e.into() });
        let reason = said.as_ref().map_or(String::new(), Said::text);
        let failing = error.is_some();
        self.technical(patient, AlertKind::ModelError, failing, (reason, said), now)
    }

    /// A technical condition: low priority, no cool-down, re-alarmed hourly.
    fn technical(
        &mut self,
        patient: &PatientId,
        kind: AlertKind,
        active: bool,
        (reason, said): (String, Option<Said>),
        now: Millis,
    ) -> Vec<Output> {
        let info = ConditionInfo {
            said,
            priority: crate::rules::Priority::Low,
            reason,
            score: 0,
            cooldown_s: 0,
            realarm_s: 3600,
        };
        self.condition(patient, kind, active, now, &info)
    }

    /// [`AlertBook::on_condition`] as outputs: its events, and an open alert it updated in
    /// place, so that what is saved is what is shown.
    fn condition(
        &mut self,
        patient: &PatientId,
        kind: AlertKind,
        active: bool,
        now: Millis,
        info: &ConditionInfo,
    ) -> Vec<Output> {
        let events = self.alerts.on_condition(patient, kind, active, now, info);
        let updated = (active && events.is_empty())
            .then(|| self.alerts.open_alert(patient, kind))
            .flatten()
            .map(|a| Output::AlertUpdated { id: a.id });
        events
            .into_iter()
            .map(|event| Output::Alert { event })
            .chain(updated)
            .collect()
    }
}

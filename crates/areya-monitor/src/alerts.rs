//! The alert lifecycle: one open alert per patient and condition, updated in place;
//! raised → delivered → acknowledged | snoozed (bounded) | resolved; escalation from the
//! assigned nurse to the charge nurse to the ward failsafe while nobody acknowledges; re-alarm
//! when an acknowledged condition persists; cool-down after resolution.

use crate::rules::{Escalation, Priority};
use crate::{Millis, SECOND};
use areya_core::PatientId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What an alert is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Sustained negative emotion (angry, sad).
    SustainedNegative,
    /// Technical: the bed's camera stream is offline.
    SourceOffline,
    /// Technical: no face seen for a long time.
    NoFace,
    /// Technical: the model failed.
    ModelError,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 4] = [
        AlertKind::SustainedNegative,
        AlertKind::SourceOffline,
        AlertKind::NoFace,
        AlertKind::ModelError,
    ];

    /// Its name for a person (a card's heading, a pager's first words), as words.
    pub fn label(self) -> areya_core::Words {
        areya_core::Words::new(match self {
            AlertKind::SustainedNegative => "Sustained negative emotion",
            AlertKind::SourceOffline => "Camera offline",
            AlertKind::NoFace => "No face seen",
            AlertKind::ModelError => "Model error",
        })
    }
}

/// Who is notified.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    AssignedNurse,
    ChargeNurse,
    WardFailsafe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Raised,
    Delivered,
    Acknowledged,
    Snoozed,
    Resolved,
}

/// An acknowledgement, with whether the alert was actionable (a per-ward KPI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ack {
    pub by: String,
    pub at_ms: Millis,
    pub actionable: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: u64,
    pub patient: PatientId,
    pub kind: AlertKind,
    pub priority: Priority,
    pub state: AlertState,
    pub raised_ms: Millis,
    pub updated_ms: Millis,
    /// When the current notification round started (raise, snooze end or re-alarm).
    pub round_ms: Millis,
    pub notified: Recipient,
    pub snoozed_until_ms: Option<Millis>,
    pub ack: Option<Ack>,
    pub reason: String,
    /// The reason as data, for a dashboard to write in its user's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub said: Option<crate::state::Said>,
    pub peak_score: u8,
    /// Set while the patient has not been seen long enough to judge: since when the face was
    /// last seen. The alert neither escalates nor re-alarms meanwhile, and resolves or
    /// alarms again when the face is back.
    #[serde(default)]
    pub blind_since_ms: Option<Millis>,
}

impl Alert {
    /// Escalated past the assigned nurse and still unacknowledged (the only red on the dashboard).
    pub fn escalated_unacknowledged(&self) -> bool {
        self.notified != Recipient::AssignedNurse
            && matches!(self.state, AlertState::Raised | AlertState::Delivered)
            && self.blind_since_ms.is_none()
    }
}

/// Something that happened to an alert, to store, show and send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AlertEvent {
    Raised {
        alert: Alert,
    },
    Notified {
        id: u64,
        to: Recipient,
        at_ms: Millis,
    },
    Delivered {
        id: u64,
        at_ms: Millis,
    },
    Acknowledged {
        id: u64,
        ack: Ack,
    },
    Snoozed {
        id: u64,
        until_ms: Millis,
    },
    Realarmed {
        id: u64,
        at_ms: Millis,
    },
    /// The patient has not been seen since `since_ms`: the alert stops escalating and the
    /// assigned nurse is told once.
    CannotAssess {
        id: u64,
        since_ms: Millis,
        at_ms: Millis,
    },
    Resolved {
        id: u64,
        at_ms: Millis,
    },
}

/// A request that cannot be carried out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertError {
    #[error("alert {0} does not exist or is already resolved")]
    NotOpen(u64),
    #[error("snooze: {0} s is longer than the allowed {1} s")]
    SnoozeTooLong(u64, u64),
    #[error("acknowledge: a reason is required when marking an alert not actionable")]
    ReasonRequired,
}

impl AlertError {
    /// The same sentence for a reader in any language.
    pub fn words(&self) -> areya_core::Words {
        use areya_core::Words;
        match self {
            AlertError::NotOpen(id) => {
                Words::new("alert {id} does not exist or is already resolved")
                    .with("id", id.to_string())
            }
            AlertError::SnoozeTooLong(s, max) => {
                Words::new("snooze: {value} s is longer than the allowed {max} s")
                    .with("value", *s)
                    .with("max", *max)
            }
            AlertError::ReasonRequired => {
                Words::new("acknowledge: a reason is required when marking an alert not actionable")
            }
        }
    }
}

/// Context of a condition update.
#[derive(Debug, Clone)]
pub struct ConditionInfo {
    pub priority: Priority,
    pub reason: String,
    /// The reason as data, where it is one of Areya's own (see [`crate::state::Said`]).
    pub said: Option<crate::state::Said>,
    pub score: u8,
    pub cooldown_s: u64,
    pub realarm_s: u64,
}

/// All alerts of a ward.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertBook {
    pub escalation: Escalation,
    next_id: u64,
    open: BTreeMap<(PatientId, AlertKind), Alert>,
    realarm_s: BTreeMap<u64, u64>,
    resolved_at: BTreeMap<(PatientId, AlertKind), Millis>,
}

impl AlertBook {
    pub fn new(escalation: Escalation) -> Self {
        AlertBook {
            escalation,
            next_id: 1,
            ..Default::default()
        }
    }

    /// Continues after a restart: takes over the stored alerts that are still open, re-alarming
    /// acknowledged ones every `realarm_s`, and numbers new alerts after `max_id`.
    pub fn restore(
        &mut self,
        stored: impl IntoIterator<Item = Alert>,
        max_id: u64,
        realarm_s: u64,
    ) {
        self.next_id = self.next_id.max(max_id + 1);
        for a in stored {
            if a.state != AlertState::Resolved {
                self.realarm_s.insert(a.id, realarm_s);
                self.open.insert((a.patient.clone(), a.kind), a);
            }
        }
    }

    pub fn open_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.open.values()
    }

    /// The open alert of `patient` for `kind`, if any.
    pub fn open_alert(&self, patient: &PatientId, kind: AlertKind) -> Option<&Alert> {
        self.open.get(&(patient.clone(), kind))
    }

    fn by_id(&mut self, id: u64) -> Result<&mut Alert, AlertError> {
        self.open
            .values_mut()
            .find(|a| a.id == id)
            .ok_or(AlertError::NotOpen(id))
    }

    /// The condition `kind` of `patient` holds (`active`) or not, at `now`.
    pub fn on_condition(
        &mut self,
        patient: &PatientId,
        kind: AlertKind,
        active: bool,
        now: Millis,
        info: &ConditionInfo,
    ) -> Vec<AlertEvent> {
        let key = (patient.clone(), kind);
        match (self.open.get_mut(&key), active) {
            (Some(a), true) => {
                // Updated in place: one open alert per patient and condition.
                a.updated_ms = now;
                a.reason = info.reason.clone();
                a.said = info.said.clone();
                a.peak_score = a.peak_score.max(info.score);
                // Seen again and it still holds: a new round, from the assigned nurse.
                if a.blind_since_ms.take().is_some() {
                    return realarm(a, now).to_vec();
                }
                vec![]
            }
            (Some(a), false) => {
                let id = a.id;
                self.open.remove(&key);
                self.realarm_s.remove(&id);
                self.resolved_at.insert(key, now);
                vec![AlertEvent::Resolved { id, at_ms: now }]
            }
            (None, true) => {
                if self
                    .resolved_at
                    .get(&key)
                    .is_some_and(|&t| now - t < info.cooldown_s as i64 * SECOND)
                {
                    return vec![];
                }
                let id = self.next_id.max(1);
                self.next_id = id + 1;
                let alert = Alert {
                    id,
                    patient: patient.clone(),
                    kind,
                    priority: info.priority,
                    state: AlertState::Raised,
                    raised_ms: now,
                    updated_ms: now,
                    round_ms: now,
                    notified: Recipient::AssignedNurse,
                    snoozed_until_ms: None,
                    ack: None,
                    reason: info.reason.clone(),
                    said: info.said.clone(),
                    peak_score: info.score,
                    blind_since_ms: None,
                };
                self.realarm_s.insert(id, info.realarm_s);
                self.open.insert(key, alert.clone());
                vec![
                    AlertEvent::Raised { alert },
                    AlertEvent::Notified {
                        id,
                        to: Recipient::AssignedNurse,
                        at_ms: now,
                    },
                ]
            }
            (None, false) => vec![],
        }
    }

    /// The patient of open alert `id` has not been seen since `since_ms`: it stops
    /// escalating and says so (once).
    pub fn cannot_assess(&mut self, id: u64, since_ms: Millis, now: Millis) -> Vec<AlertEvent> {
        let Ok(a) = self.by_id(id) else {
            return vec![];
        };
        if a.blind_since_ms.is_some() {
            return vec![];
        }
        a.blind_since_ms = Some(since_ms);
        a.updated_ms = now;
        vec![AlertEvent::CannotAssess {
            id,
            since_ms,
            at_ms: now,
        }]
    }

    /// Time passes: escalations, snooze ends and re-alarms due at `now` (none for an alert
    /// whose patient cannot be assessed).
    pub fn tick(&mut self, now: Millis) -> Vec<AlertEvent> {
        let esc = self.escalation.clone();
        let mut events = Vec::new();
        for a in self.open.values_mut() {
            if a.blind_since_ms.is_some() {
                continue;
            }
            match a.state {
                AlertState::Raised | AlertState::Delivered => {
                    let waited = now - a.round_ms;
                    let due = if waited >= esc.failsafe_after_s as i64 * SECOND {
                        Recipient::WardFailsafe
                    } else if waited >= esc.charge_nurse_after_s as i64 * SECOND {
                        Recipient::ChargeNurse
                    } else {
                        Recipient::AssignedNurse
                    };
                    if due > a.notified {
                        a.notified = due;
                        a.updated_ms = now;
                        events.push(AlertEvent::Notified {
                            id: a.id,
                            to: due,
                            at_ms: now,
                        });
                    }
                }
                AlertState::Snoozed => {
                    if a.snoozed_until_ms.is_some_and(|u| now >= u) {
                        events.extend(realarm(a, now));
                    }
                }
                AlertState::Acknowledged => {
                    let every = self.realarm_s.get(&a.id).copied().unwrap_or(3600) as i64 * SECOND;
                    if a.ack.as_ref().is_some_and(|k| now - k.at_ms >= every) {
                        events.extend(realarm(a, now));
                    }
                }
                AlertState::Resolved => {}
            }
        }
        events
    }

    /// The notification reached a device.
    pub fn delivered(&mut self, id: u64, now: Millis) -> Result<Vec<AlertEvent>, AlertError> {
        let a = self.by_id(id)?;
        if a.state == AlertState::Raised {
            a.state = AlertState::Delivered;
            a.updated_ms = now;
            return Ok(vec![AlertEvent::Delivered { id, at_ms: now }]);
        }
        Ok(vec![])
    }

    /// Acknowledges an alert; "not actionable" needs a reason. Stops escalation.
    pub fn acknowledge(
        &mut self,
        id: u64,
        by: &str,
        actionable: bool,
        reason: Option<String>,
        now: Millis,
    ) -> Result<Vec<AlertEvent>, AlertError> {
        let reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if !actionable && reason.is_none() {
            return Err(AlertError::ReasonRequired);
        }
        let a = self.by_id(id)?;
        let ack = Ack {
            by: by.to_string(),
            at_ms: now,
            actionable,
            reason,
        };
        a.state = AlertState::Acknowledged;
        a.ack = Some(ack.clone());
        a.snoozed_until_ms = None;
        a.updated_ms = now;
        Ok(vec![AlertEvent::Acknowledged { id, ack }])
    }

    /// Silences an alert for `seconds` (at most the configured maximum).
    pub fn snooze(
        &mut self,
        id: u64,
        seconds: u64,
        now: Millis,
    ) -> Result<Vec<AlertEvent>, AlertError> {
        let max = self.escalation.max_snooze_s;
        if seconds > max {
            return Err(AlertError::SnoozeTooLong(seconds, max));
        }
        let a = self.by_id(id)?;
        let until = now + seconds as i64 * SECOND;
        a.state = AlertState::Snoozed;
        a.snoozed_until_ms = Some(until);
        a.updated_ms = now;
        Ok(vec![AlertEvent::Snoozed {
            id,
            until_ms: until,
        }])
    }
}

/// A new notification round: back to the assigned nurse, escalation clock restarted.
fn realarm(a: &mut Alert, now: Millis) -> [AlertEvent; 2] {
    a.state = AlertState::Raised;
    a.round_ms = now;
    a.notified = Recipient::AssignedNurse;
    a.snoozed_until_ms = None;
    a.updated_ms = now;
    [
        AlertEvent::Realarmed {
            id: a.id,
            at_ms: now,
        },
        AlertEvent::Notified {
            id: a.id,
            to: Recipient::AssignedNurse,
            at_ms: now,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MINUTE;

    fn info() -> ConditionInfo {
        ConditionInfo {
            said: None,
            priority: Priority::Low,
            reason: "negative 80%".into(),
            score: 70,
            cooldown_s: 1800,
            realarm_s: 3600,
        }
    }

    fn p() -> PatientId {
        PatientId::parse("p-1").unwrap()
    }

    fn notified(events: &[AlertEvent]) -> Vec<Recipient> {
        events
            .iter()
            .filter_map(|e| {
                if let AlertEvent::Notified { to, .. } = e {
                    Some(*to)
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn one_open_alert_per_patient_and_condition_updated_in_place() {
        let mut b = AlertBook::new(Escalation::default());
        let ev = b.on_condition(&p(), AlertKind::SustainedNegative, true, 0, &info());
        assert!(matches!(ev[0], AlertEvent::Raised { .. }));
        for m in 1..10 {
            let mut i = info();
            i.score = 70 + m as u8;
            assert!(b
                .on_condition(&p(), AlertKind::SustainedNegative, true, m * MINUTE, &i)
                .is_empty());
        }
        assert_eq!(b.open_alerts().count(), 1);
        assert_eq!(b.open_alerts().next().unwrap().peak_score, 79);
        // Another condition of the same patient is its own alert.
        b.on_condition(&p(), AlertKind::SourceOffline, true, 0, &info());
        assert_eq!(b.open_alerts().count(), 2);
    }

    #[test]
    fn escalation_fires_on_time_and_stops_when_acknowledged() {
        let mut b = AlertBook::new(Escalation {
            charge_nurse_after_s: 300,
            failsafe_after_s: 900,
            max_snooze_s: 3600,
        });
        b.on_condition(&p(), AlertKind::SustainedNegative, true, 0, &info());
        let id = b.open_alerts().next().unwrap().id;
        b.delivered(id, 1000).unwrap();
        let mut sent = Vec::new();
        for s in (0..=1200).step_by(10) {
            let ev = b.tick(s * SECOND);
            for r in notified(&ev) {
                sent.push((s, r));
            }
        }
        assert_eq!(
            sent,
            [
                (300, Recipient::ChargeNurse),
                (900, Recipient::WardFailsafe)
            ]
        );
        assert!(b.open_alerts().next().unwrap().escalated_unacknowledged());

        let mut b = AlertBook::new(Escalation::default());
        b.on_condition(&p(), AlertKind::SustainedNegative, true, 0, &info());
        b.acknowledge(id, "nurse.ana", true, None, 200 * SECOND)
            .unwrap();
        let later: Vec<_> = (0..60).flat_map(|m| b.tick(m * MINUTE)).collect();
        assert!(
            notified(&later).is_empty(),
            "acknowledged alerts do not escalate: {later:?}"
        );
        assert!(!b.open_alerts().next().unwrap().escalated_unacknowledged());
    }

    #[test]
    fn acknowledged_and_persisting_realarms_after_the_interval() {
        let mut b = AlertBook::new(Escalation::default());
        b.on_condition(&p(), AlertKind::SustainedNegative, true, 0, &info());
        b.acknowledge(1, "nurse", true, None, 10 * MINUTE).unwrap();
        assert!(b.tick(69 * MINUTE).is_empty());
        let ev = b.tick(70 * MINUTE);
        assert!(matches!(ev[0], AlertEvent::Realarmed { id: 1, .. }));
        assert_eq!(b.open_alerts().next().unwrap().state, AlertState::Raised);
        // The new round escalates again from the assigned nurse.
        assert_eq!(notified(&b.tick(75 * MINUTE)), [Recipient::ChargeNurse]);
    }

    #[test]
    fn resolve_then_cooldown_then_new_alert() {
        let mut b = AlertBook::new(Escalation::default());
        b.on_condition(&p(), AlertKind::SustainedNegative, true, 0, &info());
        let ev = b.on_condition(
            &p(),
            AlertKind::SustainedNegative,
            false,
            10 * MINUTE,
            &info(),
        );
        assert_eq!(
            ev,
            [AlertEvent::Resolved {
                id: 1,
                at_ms: 10 * MINUTE
            }]
        );
        assert!(
            b.on_condition(
                &p(),
                AlertKind::SustainedNegative,
                true,
                20 * MINUTE,
                &info()
            )
            .is_empty(),
            "cool-down"
        );
        let ev = b.on_condition(
            &p(),
            AlertKind::SustainedNegative,
            true,
            40 * MINUTE,
            &info(),
        );
        assert!(matches!(&ev[0], AlertEvent::Raised { alert } if alert.id == 2));
    }

    #[test]
    fn snooze_is_bounded_and_not_actionable_needs_a_reason() {
        let mut b = AlertBook::new(Escalation::default());
        b.on_condition(&p(), AlertKind::SustainedNegative, true, 0, &info());
        assert_eq!(
            b.snooze(1, 7200, 0),
            Err(AlertError::SnoozeTooLong(7200, 3600))
        );
        b.snooze(1, 600, 0).unwrap();
        assert!(b.tick(9 * MINUTE).is_empty());
        assert!(matches!(
            b.tick(10 * MINUTE)[0],
            AlertEvent::Realarmed { .. }
        ));
        assert_eq!(
            b.acknowledge(1, "n", false, Some("  ".into()), 0),
            Err(AlertError::ReasonRequired)
        );
        let ev = b
            .acknowledge(1, "n", false, Some("patient watching a sad film".into()), 0)
            .unwrap();
        assert!(matches!(&ev[0], AlertEvent::Acknowledged { ack, .. } if !ack.actionable));
        assert_eq!(
            b.acknowledge(99, "n", true, None, 0),
            Err(AlertError::NotOpen(99))
        );
        // Each refusal's words say in English exactly what its message says.
        for e in [
            AlertError::SnoozeTooLong(7200, 3600),
            AlertError::ReasonRequired,
            AlertError::NotOpen(99),
        ] {
            assert_eq!(e.words().to_string(), e.to_string());
        }
    }
}

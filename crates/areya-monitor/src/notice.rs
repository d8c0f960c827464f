//! Notices for a patient's doctor: never alarms. They never escalate, make no sound on the
//! ward and wait in the doctor's inbox until acknowledged. Two come from the hours and days of
//! a stay — the negative share above the patient's usual in every hour of the last few
//! (`persisting`), and the daily negative share rising several days in a row (`rising`) — each
//! once until its condition clears; the third is the daily digest of all of a doctor's
//! patients. Pure: the caller passes windows, baselines, the last notice of a kind and the
//! clock; `replay_notices` runs the same decisions over stored windows.

use crate::rules::DoctorRules;
use crate::state::{PatientState, StateConfig};
use crate::stay::{DayAlerts, Stay};
use crate::window::WindowAggregate;
use crate::{Millis, HOUR, MINUTE};
use areya_core::time::WardZone;
use areya_core::{PatientId, Words};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The negative share above the patient's usual in every hour of the last few.
    Persisting,
    /// The daily negative share rising several days in a row.
    Rising,
    /// The daily digest of a doctor's patients.
    Digest,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Persisting => "persisting",
            NoticeKind::Rising => "rising",
            NoticeKind::Digest => "digest",
        }
    }

    /// Its name for a person (the dashboard's inbox heading, the audit log), as words.
    pub fn label(self) -> Words {
        Words::new(match self {
            NoticeKind::Persisting => "Above usual for hours",
            NoticeKind::Rising => "Rising over days",
            NoticeKind::Digest => "Daily digest",
        })
    }
}

/// Who acknowledged a notice, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NoticeAck {
    pub by: String,
    pub at_ms: Millis,
}

/// A notice in a doctor's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notice {
    /// Given by the store (0 before it is saved).
    pub id: u64,
    pub at_ms: Millis,
    /// The doctor's staff id.
    pub doctor: String,
    /// The patient it is about (`None` for a digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientId>,
    pub kind: NoticeKind,
    /// The bed the patient lay in when it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bed: Option<String>,
    /// In English (the audit log and the messaging gateway carry it).
    pub text: String,
    /// The same as data (absent in notices older than it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub said: Option<NoticeSaid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<NoticeAck>,
}

/// What a notice says, as data (its `text` is the English of this), so a page can write it
/// in its user's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "says", rename_all = "snake_case")]
pub enum NoticeSaid {
    /// "Negative share above usual for 4 h: 40% (usual 15%)."
    Persisting { hours: u32, mean: f64, usual: f64 },
    /// "Negative share rising for 3 days: 10% → 30% (usual 12%)."
    Rising {
        days: u32,
        from: f64,
        to: f64,
        usual: Option<f64>,
    },
    /// The daily digest.
    Digest {
        /// How many patients the doctor has.
        of: u32,
        look: Vec<DigestLine>,
        settled: Vec<String>,
        unwatched: Vec<String>,
        /// Alerts counted since the last digest (else over the last 24 h).
        since_last: bool,
    },
}

/// One patient a digest asks the doctor to look at, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DigestLine {
    pub label: String,
    pub concerns: Vec<Concern>,
}

/// Why a digest names a patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "concern", rename_all = "snake_case")]
pub enum Concern {
    Rising {
        days: u32,
        from: f64,
        to: f64,
    },
    Above {
        negative: f64,
        usual: f64,
    },
    Alerts {
        raised: u32,
        actionable: u32,
        not_actionable: u32,
        unanswered: u32,
    },
}

impl Concern {
    fn words(&self) -> Words {
        let p = Words::share;
        match self {
            Concern::Rising { days, from, to } => {
                Words::new("negative share rising for {n} days ({from} → {to})")
                    .with("n", *days)
                    .with("from", p(*from))
                    .with("to", p(*to))
            }
            Concern::Above { negative, usual } => {
                Words::new("negative share {neg} (usual {usual})")
                    .with("neg", p(*negative))
                    .with("usual", p(*usual))
            }
            Concern::Alerts {
                raised,
                actionable,
                not_actionable,
                unanswered,
            } => Words::new("{alerts} ({answers})")
                .with("alerts", crate::stay::alerts_words(*raised))
                .with(
                    "answers",
                    crate::stay::answers_words(
                        Words::new("{n} acknowledged as actionable"),
                        [*actionable, *not_actionable, *unanswered],
                    ),
                ),
        }
    }
}

impl NoticeSaid {
    /// The English text.
    pub fn text(&self) -> String {
        self.words().to_string()
    }

    /// The sentence in words (the dashboard's catalogue keys), for a reader in any language.
    pub fn words(&self) -> Words {
        let p = Words::share;
        match self {
            NoticeSaid::Persisting { hours, mean, usual } => {
                Words::new("Negative share above usual for {h} h: {mean} (usual {usual}).")
                    .with("h", *hours)
                    .with("mean", p(*mean))
                    .with("usual", p(*usual))
            }
            NoticeSaid::Rising {
                days,
                from,
                to,
                usual,
            } => {
                let head = Words::new("Negative share rising for {n} days: {from} → {to}")
                    .with("n", *days)
                    .with("from", p(*from))
                    .with("to", p(*to));
                let usual = usual.map(|u| Words::new(" (usual {pct})").with("pct", p(u)));
                Words::join(
                    [head].into_iter().chain(usual).chain([Words::new(".")]),
                    "{a}{b}",
                )
            }
            NoticeSaid::Digest {
                of,
                look,
                settled,
                unwatched,
                since_last,
            } => {
                if *of == 0 {
                    return Words::new("No patients name you as their doctor.");
                }
                let since = Words::new(if *since_last {
                    "the last digest"
                } else {
                    "24 h ago"
                });
                let lines: Vec<Words> = look
                    .iter()
                    .map(|l| {
                        Words::new("{label}: {concerns}")
                            .with("label", &l.label)
                            .with(
                                "concerns",
                                Words::join(l.concerns.iter().map(Concern::words), "{a}; {b}"),
                            )
                    })
                    .collect();
                let n = lines.len();
                let head = match n {
                    0 => Words::new(
                        "None of your {of} patients needs a look (alerts since {since}).",
                    ),
                    1 => Words::new(
                        "1 of your {of} patients needs a look (alerts since {since}): {lines}.",
                    ),
                    _ => Words::new(
                        "{n} of your {of} patients need a look (alerts since {since}): {lines}.",
                    ),
                }
                .with("n", n)
                .with("of", *of)
                .with("since", since)
                .with("lines", Words::join(lines, "{a} — {b}"));
                let settled = (!settled.is_empty() && n > 0)
                    .then(|| Words::new("Settled: {list}.").with("list", settled.join(", ")));
                let unwatched = (!unwatched.is_empty()).then(|| {
                    Words::new("Not monitored: {list}.").with("list", unwatched.join(", "))
                });
                Words::join(
                    [head].into_iter().chain(settled).chain(unwatched),
                    "{a} {b}",
                )
            }
        }
    }
}

impl Notice {
    /// What the notice says, for a reader in any language: the bed and patient it is about,
    /// then its sentence (a notice older than its data says its English).
    pub fn words(&self) -> Words {
        let Some(said) = &self.said else {
            return Words::new(self.text.as_str());
        };
        match (&self.bed, &self.patient) {
            (Some(bed), Some(p)) => Words::new("{bed} · {patient}: {text}")
                .with("bed", bed.as_str())
                .with("patient", p.as_str())
                .with("text", said.words()),
            _ => said.words(),
        }
    }
}

/// The negative share of each of the last `hours` hours before `now`, oldest first; `None` for
/// an hour with less than `min_face_ms` of face.
pub fn hourly(
    windows: &[WindowAggregate],
    now: Millis,
    hours: u32,
    min_face_ms: Millis,
) -> Vec<Option<f64>> {
    let hours = i64::from(hours);
    let mut sums = vec![(0.0f64, 0u64, 0.0f64); hours as usize];
    for w in windows {
        let back = now - w.start_ms;
        if back <= 0 || back > hours * HOUR {
            continue;
        }
        let i = (hours - 1 - (back - 1) / HOUR) as usize;
        sums[i].0 += w.prob_sums.negative();
        sums[i].1 += u64::from(w.faces);
        sums[i].2 += (w.end_ms - w.start_ms) as f64 * w.coverage();
    }
    sums.into_iter()
        .map(|(neg, faces, seen)| {
            (seen >= min_face_ms as f64 && faces > 0).then(|| neg / faces as f64)
        })
        .collect()
}

/// A persisting-negative notice's text if one is due now: the negative share at least
/// `persisting_margin` above the patient's usual (`baseline`, once learned) in each of the last
/// `persisting_hours` hours, and — after an earlier notice at `last` — an hour with face below
/// that since (the condition cleared and re-armed it).
pub fn persisting(
    windows: &[WindowAggregate],
    baseline: Option<f64>,
    last: Option<Millis>,
    rules: &DoctorRules,
    now: Millis,
) -> Option<NoticeSaid> {
    if rules.persisting_hours == 0 {
        return None;
    }
    let usual = baseline?;
    let threshold = usual + rules.persisting_margin;
    let min_face = i64::from(rules.min_face_minutes) * MINUTE;
    let hours = hourly(windows, now, rules.persisting_hours, min_face);
    if !hours.iter().all(|h| h.is_some_and(|n| n >= threshold)) {
        return None;
    }
    if let Some(t) = last {
        let since = ((now - t) / HOUR).clamp(0, 24 * 31) as u32;
        let rearmed = hourly(windows, now, since, min_face)
            .iter()
            .any(|h| h.is_some_and(|n| n < threshold));
        if !rearmed {
            return None;
        }
    }
    let mean = hours.iter().flatten().sum::<f64>() / hours.len() as f64;
    Some(NoticeSaid::Persisting {
        hours: rules.persisting_hours,
        mean,
        usual,
    })
}

/// A rising notice's text if one is due: in `completed` (the stay's finished days: a stay
/// up to the last millisecond of yesterday) the daily negative share rose `rising_days` days in a row, and no rising notice
/// came since that run began.
pub fn rising(completed: &Stay, last: Option<Millis>, rules: &DoctorRules) -> Option<NoticeSaid> {
    if rules.rising_days == 0 || completed.rising_days < rules.rising_days {
        return None;
    }
    let judged: Vec<_> = completed
        .days
        .iter()
        .filter(|d| d.negative.is_some())
        .collect();
    let r = completed.rising_days as usize;
    let (from, first_up, to) = (
        judged.get(judged.len().checked_sub(r + 1)?)?,
        judged.get(judged.len() - r)?,
        judged.last()?,
    );
    if last.is_some_and(|t| t >= first_up.start_ms) {
        return None;
    }
    // A run as long as the days looked at may have begun before them, and been told then.
    let from_first_day = completed.days.first().is_some_and(|d| d.negative.is_some());
    if last.is_some() && r + 1 == judged.len() && from_first_day {
        return None;
    }
    Some(NoticeSaid::Rising {
        days: r as u32,
        from: from.negative.unwrap_or_default(),
        to: to.negative.unwrap_or_default(),
        usual: to.baseline,
    })
}

/// Whether a doctor's digest is due: the ward clock is past `digest_hour` today and the last
/// digest (`last`) came before today's.
pub fn digest_due(rules: &DoctorRules, zone: &WardZone, last: Option<Millis>, now: Millis) -> bool {
    let (Some(hour), Some(today)) = (rules.digest_hour, zone.day_of(now)) else {
        return false;
    };
    let at = i64::from(hour) * 60;
    zone.minute_of_day(now) >= at
        && last.is_none_or(|t| t < today.start_ms || zone.minute_of_day(t) < at)
}

/// One patient as a digest sees them: a label (`bed-01 · p-1001`), their stay, and the alerts
/// raised since the previous digest.
pub struct DigestPatient {
    pub label: String,
    pub stay: Stay,
    pub alerts_since: DayAlerts,
}

/// What needs a doctor's look in one patient, if anything.
fn concerns(p: &DigestPatient) -> Vec<Concern> {
    let mut out = Vec::new();
    let judged: Vec<_> = p
        .stay
        .days
        .iter()
        .filter(|d| d.negative.is_some())
        .collect();
    if p.stay.rising_days >= 2 {
        let r = p.stay.rising_days as usize;
        if let (Some(from), Some(to)) = (
            judged.get(judged.len().saturating_sub(r + 1)),
            judged.last(),
        ) {
            out.push(Concern::Rising {
                days: r as u32,
                from: from.negative.unwrap_or_default(),
                to: to.negative.unwrap_or_default(),
            });
        }
    } else if let Some(d) = judged.last() {
        if let (Some(n), Some(b)) = (d.negative, d.baseline) {
            if n >= b + 0.05 {
                out.push(Concern::Above {
                    negative: n,
                    usual: b,
                });
            }
        }
    }
    let a = &p.alerts_since;
    if a.raised > 0 {
        out.push(Concern::Alerts {
            raised: a.raised,
            actionable: a.actionable,
            not_actionable: a.not_actionable,
            unanswered: a.unanswered,
        });
    }
    out
}

/// The digest for a doctor: who needs a look and why, who is settled, and who is not being
/// watched (paused or opted out: `unwatched`); alerts counted since the last digest when
/// `since_last`, else over the last 24 h.
pub fn digest(patients: &[DigestPatient], unwatched: &[String], since_last: bool) -> NoticeSaid {
    let mut look = Vec::new();
    let mut settled = Vec::new();
    for p in patients {
        let c = concerns(p);
        if c.is_empty() {
            settled.push(p.label.clone());
        } else {
            look.push(DigestLine {
                label: p.label.clone(),
                concerns: c,
            });
        }
    }
    NoticeSaid::Digest {
        of: (patients.len() + unwatched.len()) as u32,
        look,
        settled,
        unwatched: unwatched.to_vec(),
        since_last,
    }
}

/// A notice a rule set would have sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayedNotice {
    pub patient: PatientId,
    pub at_ms: Millis,
    pub kind: NoticeKind,
    pub text: String,
}

/// Runs stored `windows` through the doctor rules of `rules` hour by hour, as the server
/// checks them (at every whole hour; the baseline as the patient's state learned it by then):
/// the persisting and rising notices each patient's doctor would have had.
pub fn replay_notices(
    windows: &[WindowAggregate],
    rules: &DoctorRules,
    state_cfg: StateConfig,
    zone: &WardZone,
) -> Vec<ReplayedNotice> {
    let mut by_patient: BTreeMap<&PatientId, Vec<&WindowAggregate>> = BTreeMap::new();
    for w in windows {
        by_patient.entry(&w.patient).or_default().push(w);
    }
    let mut out = Vec::new();
    for (patient, mut ws) in by_patient {
        ws.sort_by_key(|w| w.start_ms);
        let (Some(first), Some(last)) = (ws.first(), ws.last()) else {
            continue;
        };
        let mut state = PatientState::new(state_cfg);
        let mut seen: Vec<WindowAggregate> = Vec::new();
        let mut next = 0;
        let (mut last_persisting, mut last_rising) = (None, None);
        let mut hour = (first.start_ms.div_euclid(HOUR) + 1) * HOUR;
        // Up to the first check of the day after the data, which judges its last day.
        let end = zone.day_of(last.end_ms).map_or(last.end_ms, |d| d.end_ms) + HOUR;
        while hour <= end {
            while next < ws.len() && ws[next].end_ms <= hour {
                state.add(ws[next].clone());
                seen.push(ws[next].clone());
                next += 1;
            }
            let (usual, learned) = state.baseline();
            let baseline = learned.then_some(usual);
            if let Some(said) = persisting(&seen, baseline, last_persisting, rules, hour) {
                last_persisting = Some(hour);
                out.push(ReplayedNotice {
                    patient: patient.clone(),
                    at_ms: hour,
                    kind: NoticeKind::Persisting,
                    text: said.text(),
                });
            }
            // Days are judged once finished: at the first check of a new day.
            if let Some(today) = zone.day_of(hour).filter(|d| hour - d.start_ms < HOUR) {
                let done = crate::stay::stay(&seen, &[], &[], zone, today.start_ms - 1, 15);
                if let Some(said) = rising(&done, last_rising, rules) {
                    last_rising = Some(hour);
                    out.push(ReplayedNotice {
                        patient: patient.clone(),
                        at_ms: hour,
                        kind: NoticeKind::Rising,
                        text: said.text(),
                    });
                }
            }
            hour += HOUR;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{Alert, AlertKind};
    use crate::stay::{alerts_between, stay};

    const DAY: Millis = 24 * HOUR;
    // 2026-11-30T00:00Z.
    const T0: Millis = 1_795_996_800_000;

    fn p(id: &str) -> PatientId {
        PatientId::parse(id).unwrap()
    }

    fn minutes(who: &str, at: Millis, mins: i64, negative: f64) -> Vec<WindowAggregate> {
        (0..mins)
            .map(|m| {
                let s = at + m * MINUTE;
                WindowAggregate::seen(p(who), (s, s + MINUTE), (60, 60), negative, 40.0)
            })
            .collect()
    }

    fn rules() -> DoctorRules {
        DoctorRules::default()
    }

    #[test]
    fn hours_without_enough_face_are_not_judged() {
        let mut w = minutes("p-1", T0, 60, 0.5);
        w.extend(minutes("p-1", T0 + HOUR, 5, 0.9));
        let h = hourly(&w, T0 + 2 * HOUR, 3, 10 * MINUTE);
        assert_eq!(h, [None, Some(0.5), None]);
    }

    #[test]
    fn a_persisting_notice_fires_once_and_again_only_after_the_condition_cleared() {
        let r = rules();
        let usual = Some(0.15);
        // Six hours at 40% (usual 15%, margin 10): due from the fourth hour on.
        let mut w = minutes("p-1", T0, 6 * 60, 0.40);
        assert_eq!(
            persisting(&w, usual, None, &r, T0 + 3 * HOUR),
            None,
            "3 h only"
        );
        let first = persisting(&w, usual, None, &r, T0 + 4 * HOUR).map(|s| s.text());
        assert_eq!(
            first.as_deref(),
            Some("Negative share above usual for 4 h: 40% (usual 15%).")
        );
        // Sent at 4 h: still true at 5 and 6 h, but not re-armed.
        let sent = Some(T0 + 4 * HOUR);
        assert_eq!(persisting(&w, usual, sent, &r, T0 + 6 * HOUR), None);
        // An hour back at usual re-arms it; four more hours above fire again.
        w.extend(minutes("p-1", T0 + 6 * HOUR, 60, 0.15));
        w.extend(minutes("p-1", T0 + 7 * HOUR, 4 * 60, 0.45));
        assert_eq!(
            persisting(&w, usual, sent, &r, T0 + 10 * HOUR),
            None,
            "3 h since"
        );
        assert!(persisting(&w, usual, sent, &r, T0 + 11 * HOUR).is_some());
        // Never while the baseline is still being learned, nor when switched off.
        assert_eq!(persisting(&w, None, None, &r, T0 + 4 * HOUR), None);
        let off = DoctorRules {
            persisting_hours: 0,
            ..rules()
        };
        assert_eq!(persisting(&w, usual, None, &off, T0 + 4 * HOUR), None);
        // A turned-away hour in the run breaks it (nothing is said about what was not seen).
        let mut gap = minutes("p-1", T0, 2 * 60, 0.40);
        gap.extend(minutes("p-1", T0 + 3 * HOUR, 60, 0.40));
        assert_eq!(persisting(&gap, usual, None, &r, T0 + 4 * HOUR), None);
    }

    #[test]
    fn a_rising_notice_comes_once_per_run_of_rising_days() {
        let r = rules();
        let mut w = Vec::new();
        for (d, n) in [(0, 0.10), (1, 0.15), (2, 0.22), (3, 0.30), (4, 0.41)] {
            w.extend(minutes("p-1", T0 + d * DAY + 8 * HOUR, 60, n));
        }
        // Judged at the start of day 5: four rises in a row (≥ 3).
        let done = stay(&w, &[], &[], &WardZone::utc(), T0 + 5 * DAY - 1, 6);
        assert_eq!(done.rising_days, 4);
        assert_eq!(
            rising(&done, None, &r).map(|s| s.text()).as_deref(),
            Some("Negative share rising for 4 days: 10% → 41%.")
        );
        // Already told during this run: nothing new.
        assert_eq!(rising(&done, Some(T0 + 4 * DAY), &r), None);
        // Told before the run began: a new run is news.
        assert!(rising(&done, Some(T0 - DAY), &r).is_some());
        // Days looked at that are all one run: it may have been told before them.
        let all_run = stay(&w, &[], &[], &WardZone::utc(), T0 + 5 * DAY - 1, 5);
        assert_eq!(all_run.rising_days, 4);
        assert_eq!(rising(&all_run, Some(T0 - 9 * DAY), &r), None);
        assert!(rising(&all_run, None, &r).is_some());
        let short = stay(&w, &[], &[], &WardZone::utc(), T0 + 3 * DAY - 1, 6);
        assert_eq!(rising(&short, None, &r), None, "two rises only");
    }

    #[test]
    fn the_digest_is_due_once_a_day_after_its_hour_on_the_wards_clock() {
        let r = rules(); // 07:00
        let berlin = WardZone::named("Europe/Berlin").unwrap();
        // 05:30 UTC is 06:30 in Berlin in winter: not yet; 06:00 UTC is 07:00.
        assert!(!digest_due(&r, &berlin, None, T0 + 5 * HOUR + 30 * MINUTE));
        assert!(digest_due(&r, &berlin, None, T0 + 6 * HOUR));
        assert!(!digest_due(
            &r,
            &berlin,
            Some(T0 + 6 * HOUR),
            T0 + 12 * HOUR
        ));
        assert!(digest_due(
            &r,
            &berlin,
            Some(T0 + 6 * HOUR),
            T0 + DAY + 6 * HOUR
        ));
        // Yesterday's digest sent late (after midnight UTC but before 07:00) does not count.
        assert!(digest_due(&r, &berlin, Some(T0 + HOUR), T0 + 6 * HOUR));
        let none = DoctorRules {
            digest_hour: None,
            ..rules()
        };
        assert!(!digest_due(&none, &berlin, None, T0 + 6 * HOUR));
    }

    #[test]
    fn a_scripted_week_makes_the_right_digest() {
        // Three patients over a week: p-1 rising for three days, p-2 settled, p-3 settled but
        // with two alerts overnight (one actionable, one unanswered).
        let zone = WardZone::utc();
        let now = T0 + 7 * DAY + 7 * HOUR;
        let mut w = Vec::new();
        for d in 0..7 {
            let n1 = [0.10, 0.10, 0.11, 0.10, 0.18, 0.25, 0.33][d as usize];
            w.extend(minutes("p-1", T0 + d * DAY + 9 * HOUR, 90, n1));
            w.extend(minutes("p-2", T0 + d * DAY + 9 * HOUR, 90, 0.12));
            w.extend(minutes("p-3", T0 + d * DAY + 9 * HOUR, 90, 0.12));
        }
        let alert = |id: u64, at: Millis, ack: Option<bool>| Alert {
            id,
            patient: p("p-3"),
            kind: AlertKind::SustainedNegative,
            priority: crate::rules::Priority::Medium,
            state: crate::alerts::AlertState::Resolved,
            raised_ms: at,
            updated_ms: at,
            round_ms: at,
            notified: crate::alerts::Recipient::AssignedNurse,
            snoozed_until_ms: None,
            ack: ack.map(|actionable| crate::alerts::Ack {
                by: "ana".into(),
                at_ms: at + 5 * MINUTE,
                actionable,
                reason: None,
            }),
            reason: String::new(),
            said: None,
            peak_score: 70,
            blind_since_ms: None,
        };
        let alerts = [
            alert(1, now - 30 * HOUR, Some(false)), // before the last digest: not counted
            alert(2, now - 5 * HOUR, Some(true)),
            alert(3, now - 2 * HOUR, None),
        ];
        let since = now - DAY;
        let patients: Vec<DigestPatient> = ["p-1", "p-2", "p-3"]
            .iter()
            .map(|id| {
                let mine: Vec<WindowAggregate> =
                    w.iter().filter(|x| x.patient == p(id)).cloned().collect();
                let theirs: Vec<Alert> = alerts
                    .iter()
                    .filter(|a| a.patient == p(id))
                    .cloned()
                    .collect();
                DigestPatient {
                    label: format!("bed · {id}"),
                    stay: stay(&mine, &[], &theirs, &zone, now, 7),
                    alerts_since: alerts_between(&theirs, since, now),
                }
            })
            .collect();
        assert_eq!(
            digest(&patients, &["bed · p-4".to_string()], true).text(),
            "2 of your 4 patients need a look (alerts since the last digest): \
             bed · p-1: negative share rising for 3 days (10% → 33%) — \
             bed · p-3: 2 alerts (1 acknowledged as actionable, 1 unanswered). Settled: bed · p-2. \
             Not monitored: bed · p-4."
        );
        assert_eq!(
            digest(&[], &[], false).text(),
            "No patients name you as their doctor."
        );
    }

    #[test]
    fn replay_tells_what_a_week_would_have_sent() {
        // Learned baseline 10% from a calm start, then a sad afternoon of five hours and a
        // calm evening, then four rising days.
        let mut w = minutes("p-1", T0, 8 * 60, 0.10);
        w.extend(minutes("p-1", T0 + 8 * HOUR, 5 * 60, 0.50));
        w.extend(minutes("p-1", T0 + 13 * HOUR, 2 * 60, 0.10));
        for (d, n) in [(1, 0.12), (2, 0.15), (3, 0.20), (4, 0.26)] {
            w.extend(minutes("p-1", T0 + d * DAY + 9 * HOUR, 60, n));
        }
        let cfg = StateConfig::default();
        let notices = replay_notices(&w, &rules(), cfg, &WardZone::utc());
        let kinds: Vec<(NoticeKind, Millis)> = notices.iter().map(|n| (n.kind, n.at_ms)).collect();
        assert_eq!(
            kinds,
            [
                (NoticeKind::Persisting, T0 + 12 * HOUR),
                (NoticeKind::Rising, T0 + 5 * DAY),
            ],
            "{notices:?}"
        );
    }
}

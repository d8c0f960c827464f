//! A patient's stay as their doctor reads it: for each day on the ward's clock, how long the
//! face was seen and in which emotions, how the negative share stood against the patient's own
//! baseline, the attention score, and the alerts with how they were answered; over the days,
//! whether the negative share is rising.
//!
//! Pure: the caller passes the stored windows, assessments and alerts of the span.

use crate::alerts::{Alert, AlertKind};
use crate::state::Assessment;
use crate::window::WindowAggregate;
use crate::Millis;
use areya_core::time::{LocalDay, WardZone};
use areya_core::{EmotionSums, Probabilities};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A day needs this much face time before its shares say anything (a few glimpses do not).
pub const MIN_SEEN_MS: Millis = 10 * crate::MINUTE;

/// A negative share this much above the patient's usual (in share points) counts as a rise.
const RISE: f64 = 0.05;

/// The alerts raised on a day and how they were answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DayAlerts {
    /// Sustained-negative-emotion alerts raised that day.
    pub raised: u32,
    /// Acknowledged as actionable.
    pub actionable: u32,
    /// Acknowledged as not actionable.
    pub not_actionable: u32,
    /// Never acknowledged (still open, or over by themselves).
    pub unanswered: u32,
    /// Median minutes from raise to acknowledgement (`None` without an acknowledgement).
    pub median_minutes_to_acknowledge: Option<f64>,
    /// Camera, face and model alerts.
    pub technical: u32,
}

/// One day of a stay, on the ward's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StayDay {
    /// `YYYY-MM-DD` in the ward's time zone.
    pub date: String,
    pub start_ms: Millis,
    /// The day's end, or now for today.
    pub end_ms: Millis,
    /// Time the camera watched (windows with frames).
    pub watched_ms: Millis,
    /// Time the face was seen (each window's length times its face coverage).
    pub seen_ms: Millis,
    /// The rest of the day so far: face turned away, out of bed, camera off or paused.
    pub not_seen_ms: Millis,
    /// Share of the seen time in each emotion (`None` below [`MIN_SEEN_MS`] of face).
    pub emotions: Option<Probabilities>,
    /// Angry + sad share of the seen time (`None` below [`MIN_SEEN_MS`] of face).
    pub negative: Option<f64>,
    /// The patient's usual negative share as learned by then (`None` while still learning).
    pub baseline: Option<f64>,
    /// Mean and highest attention score of the day's assessments.
    pub score_mean: Option<f64>,
    pub score_peak: Option<u8>,
    pub alerts: DayAlerts,
}

/// Which way the negative share goes over the days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Rising,
    Falling,
    Steady,
    /// Fewer than two days with enough face to compare.
    Unknown,
}

/// The stay's days, oldest first, and what they add up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stay {
    pub days: Vec<StayDay>,
    /// Least-squares change of the negative share per day over the days with enough face.
    pub negative_per_day: Option<f64>,
    pub direction: Direction,
    /// How many of the last days in a row the negative share rose over the day before.
    pub rising_days: u32,
    /// Days with enough face whose negative share stood at least 5 points above the baseline.
    pub days_above_baseline: u32,
    /// One line a doctor reads first (the English text of `parts`).
    pub summary: String,
    /// The same line as data, for a page to write in its user's language.
    pub parts: Vec<SummaryPart>,
}

/// The last `days` local days of a patient up to `now`.
pub fn stay(
    windows: &[WindowAggregate],
    assessments: &[Assessment],
    alerts: &[Alert],
    zone: &WardZone,
    now: Millis,
    days: usize,
) -> Stay {
    let days: Vec<StayDay> = zone
        .days_until(now, days)
        .into_iter()
        .map(|d| day(&d, windows, assessments, alerts, now))
        .collect();
    let judged: Vec<(f64, f64)> = days
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.negative.map(|n| (i as f64, n)))
        .collect();
    let negative_per_day = slope(&judged);
    // A trend, not one bad day: the fit and the first and last days agree.
    let change = match (judged.first(), judged.last()) {
        (Some(a), Some(b)) => b.1 - a.1,
        _ => 0.0,
    };
    let direction = match negative_per_day {
        None => Direction::Unknown,
        Some(s) if s >= 0.02 && change >= RISE => Direction::Rising,
        Some(s) if s <= -0.02 && change <= -RISE => Direction::Falling,
        Some(_) => Direction::Steady,
    };
    let rising_days = judged
        .windows(2)
        .rev()
        .take_while(|w| w[1].1 > w[0].1 + 0.01)
        .count() as u32;
    let days_above_baseline = days
        .iter()
        .filter(|d| matches!((d.negative, d.baseline), (Some(n), Some(b)) if n >= b + RISE))
        .count() as u32;
    let parts = summary(&days, direction, rising_days, days_above_baseline);
    let summary = parts
        .iter()
        .map(SummaryPart::text)
        .collect::<Vec<_>>()
        .join(" ");
    Stay {
        days,
        negative_per_day,
        direction,
        rising_days,
        days_above_baseline,
        summary,
        parts,
    }
}

/// The local days that overlap `[from, to)` and hold any of the data (at most 400, the
/// latest), each cut at `to`: for an export of a stored period.
pub fn days_in(
    windows: &[WindowAggregate],
    assessments: &[Assessment],
    alerts: &[Alert],
    zone: &WardZone,
    (from, to): (Millis, Millis),
) -> Vec<StayDay> {
    let first = windows
        .iter()
        .map(|w| w.start_ms)
        .chain(assessments.iter().map(|a| a.at_ms))
        .chain(alerts.iter().map(|a| a.raised_ms))
        .filter(|t| (from..to).contains(t))
        .min();
    let (Some(first), Some(last)) = (first, zone.day_of(to - 1)) else {
        return vec![];
    };
    let Some(first_day) = zone.day_of(first) else {
        return vec![];
    };
    // Days are 23–25 h long: count them by walking back from the last.
    let mut n = 1;
    let mut at = last.start_ms - 1;
    while at >= first_day.start_ms && n < 400 {
        n += 1;
        at = zone.day_of(at).map_or(i64::MIN, |d| d.start_ms - 1);
    }
    zone.days_until(to - 1, n)
        .iter()
        .map(|d| day(d, windows, assessments, alerts, to))
        .filter(|d| {
            d.seen_ms > 0
                || d.watched_ms > 0
                || d.score_peak.is_some()
                || d.alerts != DayAlerts::default()
        })
        .collect()
}

fn day(
    d: &LocalDay,
    windows: &[WindowAggregate],
    assessments: &[Assessment],
    alerts: &[Alert],
    now: Millis,
) -> StayDay {
    let end = d.end_ms.min(now).max(d.start_ms);
    let mut sums = EmotionSums::default();
    let (mut faces, mut watched, mut seen) = (0u64, 0i64, 0.0f64);
    for w in windows
        .iter()
        .filter(|w| w.start_ms >= d.start_ms && w.start_ms < end)
    {
        let len = (w.end_ms - w.start_ms).max(0);
        if w.frames > 0 {
            watched += len;
        }
        seen += len as f64 * w.coverage();
        faces += u64::from(w.faces);
        sums.merge(&w.prob_sums);
    }
    let seen_ms = seen.round() as Millis;
    let enough = seen_ms >= MIN_SEEN_MS;
    let emotions = enough.then(|| sums.mean(faces)).flatten();
    let in_day: Vec<&Assessment> = assessments
        .iter()
        .filter(|a| a.at_ms >= d.start_ms && a.at_ms < end)
        .collect();
    let scores: Vec<f64> = in_day.iter().map(|a| f64::from(a.score)).collect();
    StayDay {
        date: d.date.clone(),
        start_ms: d.start_ms,
        end_ms: end,
        watched_ms: watched,
        seen_ms,
        not_seen_ms: (end - d.start_ms - seen_ms).max(0),
        negative: emotions.map(|e| f64::from(e.negative())),
        emotions,
        baseline: in_day
            .iter()
            .rev()
            .find(|a| a.baseline_learned)
            .map(|a| a.baseline),
        score_mean: (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64),
        score_peak: in_day.iter().map(|a| a.score).max(),
        alerts: alerts_between(alerts, d.start_ms, end),
    }
}

/// The alerts of `alerts` raised in `[from, to)` and how they were answered.
pub fn alerts_between(alerts: &[Alert], from: Millis, to: Millis) -> DayAlerts {
    let mut out = DayAlerts::default();
    let mut waits = Vec::new();
    for a in alerts
        .iter()
        .filter(|a| a.raised_ms >= from && a.raised_ms < to)
    {
        if a.kind != AlertKind::SustainedNegative {
            out.technical += 1;
            continue;
        }
        out.raised += 1;
        match &a.ack {
            Some(k) => {
                if k.actionable {
                    out.actionable += 1;
                } else {
                    out.not_actionable += 1;
                }
                waits.push((k.at_ms - a.raised_ms).max(0) as f64 / 60_000.0);
            }
            None => out.unanswered += 1,
        }
    }
    waits.sort_by(f64::total_cmp);
    out.median_minutes_to_acknowledge = (!waits.is_empty()).then(|| waits[waits.len() / 2]);
    out
}

fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), p| {
        (a + (p.0 - mx) * (p.1 - my), b + (p.0 - mx) * (p.0 - mx))
    });
    (den > 0.0).then(|| num / den)
}

/// "1 alert", "3 alerts".
pub(crate) fn alerts_word(n: u32) -> String {
    alerts_words(n).to_string()
}

/// "1 alert", "3 alerts", in words.
pub(crate) fn alerts_words(n: u32) -> areya_core::Words {
    match n {
        1 => areya_core::Words::new("1 alert"),
        n => areya_core::Words::new("{n} alerts").with("n", n),
    }
}

/// How alerts were answered: "1 actionable, 2 unanswered" (the counts of actionable, not
/// actionable and unanswered; `actionable` says the first).
pub(crate) fn answers_words(actionable: areya_core::Words, counts: [u32; 3]) -> areya_core::Words {
    let said = [
        actionable,
        areya_core::Words::new("{n} not actionable"),
        areya_core::Words::new("{n} unanswered"),
    ];
    areya_core::Words::join(
        counts
            .iter()
            .zip(said)
            .filter(|(n, _)| **n > 0)
            .map(|(n, w)| w.with("n", *n)),
        "{a}, {b}",
    )
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// One part of a stay's summary line, as data (the line is its parts' English texts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum SummaryPart {
    /// No day with enough face.
    NotEnough,
    /// "Negative share rising for 3 days: 11% → 34%; usual 12%." (`days` only for a run of
    /// rises; else the trend over the stay.)
    Rising {
        days: Option<u32>,
        from: f64,
        to: f64,
        usual: Option<f64>,
    },
    Falling {
        from: f64,
        to: f64,
        usual: Option<f64>,
    },
    /// "Negative share 12% on 2026-12-05; usual 12%."
    Level {
        negative: f64,
        date: String,
        usual: Option<f64>,
    },
    /// "Above usual on 3 of 6 days."
    AboveOn { days: u32, of: u32 },
    /// "Highest 31% on 2026-12-04."
    Highest { negative: f64, date: String },
    /// "3 alerts: 1 actionable, 1 not actionable, 1 unanswered."
    Alerts {
        raised: u32,
        actionable: u32,
        not_actionable: u32,
        unanswered: u32,
    },
}

impl SummaryPart {
    /// The English text.
    pub fn text(&self) -> String {
        let usual = |u: &Option<f64>| u.map_or(String::new(), |b| format!("; usual {}", pct(b)));
        match self {
            SummaryPart::NotEnough => "Not enough face seen on any day to judge.".into(),
            SummaryPart::Rising {
                days: Some(d),
                from,
                to,
                usual: u,
            } => format!(
                "Negative share rising for {d} days: {} → {}{}.",
                pct(*from),
                pct(*to),
                usual(u)
            ),
            SummaryPart::Rising {
                days: None,
                from,
                to,
                usual: u,
            } => format!(
                "Negative share rising: {} → {}{}.",
                pct(*from),
                pct(*to),
                usual(u)
            ),
            SummaryPart::Falling { from, to, usual: u } => {
                format!(
                    "Negative share falling: {} → {}{}.",
                    pct(*from),
                    pct(*to),
                    usual(u)
                )
            }
            SummaryPart::Level {
                negative,
                date,
                usual: u,
            } => format!("Negative share {} on {date}{}.", pct(*negative), usual(u)),
            SummaryPart::AboveOn { days, of } => format!("Above usual on {days} of {of} days."),
            SummaryPart::Highest { negative, date } => {
                format!("Highest {} on {date}.", pct(*negative))
            }
            SummaryPart::Alerts {
                raised,
                actionable,
                not_actionable,
                unanswered,
            } => format!(
                "{}: {}.",
                alerts_word(*raised),
                answers_words(
                    areya_core::Words::new("{n} actionable"),
                    [*actionable, *not_actionable, *unanswered]
                )
            ),
        }
    }
}

fn summary(days: &[StayDay], direction: Direction, rising: u32, above: u32) -> Vec<SummaryPart> {
    let judged: Vec<&StayDay> = days.iter().filter(|d| d.negative.is_some()).collect();
    let (Some(first), Some(last)) = (judged.first(), judged.last()) else {
        return vec![SummaryPart::NotEnough];
    };
    let usual = last.baseline;
    let now = last.negative.unwrap_or_default();
    let mut s = vec![match direction {
        _ if rising >= 2 => SummaryPart::Rising {
            days: Some(rising),
            from: judged[judged.len() - 1 - rising as usize]
                .negative
                .unwrap_or_default(),
            to: now,
            usual,
        },
        Direction::Rising => SummaryPart::Rising {
            days: None,
            from: first.negative.unwrap_or_default(),
            to: now,
            usual,
        },
        Direction::Falling => SummaryPart::Falling {
            from: first.negative.unwrap_or_default(),
            to: now,
            usual,
        },
        Direction::Steady | Direction::Unknown => SummaryPart::Level {
            negative: now,
            date: last.date.clone(),
            usual,
        },
    }];
    if above > 0 {
        s.push(SummaryPart::AboveOn {
            days: above,
            of: judged.len() as u32,
        });
    }
    // A bad day that the line above does not show.
    if let Some(peak) = judged[..judged.len() - 1]
        .iter()
        .filter(|d| matches!((d.negative, d.baseline), (Some(n), Some(b)) if n >= b + 2.0 * RISE))
        .max_by(|a, b| {
            a.negative
                .partial_cmp(&b.negative)
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    {
        if rising < 2 && direction != Direction::Rising {
            s.push(SummaryPart::Highest {
                negative: peak.negative.unwrap_or_default(),
                date: peak.date.clone(),
            });
        }
    }
    let sum = |f: fn(&DayAlerts) -> u32| days.iter().map(|d| f(&d.alerts)).sum::<u32>();
    let raised = sum(|a| a.raised);
    if raised > 0 {
        s.push(SummaryPart::Alerts {
            raised,
            actionable: sum(|a| a.actionable),
            not_actionable: sum(|a| a.not_actionable),
            unanswered: sum(|a| a.unanswered),
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{Ack, AlertState, Recipient};
    use crate::rules::Priority;
    use crate::state::Status;
    use areya_core::PatientId;

    const DAY: Millis = 24 * crate::HOUR;
    // 2026-11-30T00:00Z.
    const T0: Millis = 1_795_996_800_000;

    fn p() -> PatientId {
        PatientId::parse("p-1").unwrap()
    }

    /// `hours` of minutes from `at`, each seen `coverage` of the time with `negative` sad.
    fn minutes(at: Millis, hours: i64, coverage: f64, negative: f64) -> Vec<WindowAggregate> {
        (0..hours * 60)
            .map(|m| {
                let s = at + m * crate::MINUTE;
                let faces = (60.0 * coverage).round() as u32;
                WindowAggregate::seen(p(), (s, s + crate::MINUTE), (60, faces), negative, 0.0)
            })
            .collect()
    }

    fn assessment(at_ms: Millis, score: u8, baseline: Option<f64>) -> Assessment {
        Assessment {
            at_ms,
            status: Status::Settled,
            score,
            negative: None,
            trend: None,
            coverage: 1.0,
            baseline: baseline.unwrap_or(0.0),
            baseline_learned: baseline.is_some(),
            dominant: None,
            reason: String::new(),
            said: None,
        }
    }

    fn alert(id: u64, raised_ms: Millis, kind: AlertKind, ack: Option<(Millis, bool)>) -> Alert {
        Alert {
            id,
            patient: p(),
            kind,
            priority: Priority::Medium,
            state: if ack.is_some() {
                AlertState::Acknowledged
            } else {
                AlertState::Resolved
            },
            raised_ms,
            updated_ms: raised_ms,
            round_ms: raised_ms,
            notified: Recipient::AssignedNurse,
            snoozed_until_ms: None,
            ack: ack.map(|(after, actionable)| Ack {
                by: "ana".into(),
                at_ms: raised_ms + after,
                actionable,
                reason: (!actionable).then(|| "visitor".into()),
            }),
            reason: String::new(),
            said: None,
            peak_score: 60,
            blind_since_ms: None,
        }
    }

    #[test]
    fn each_day_says_how_long_the_face_was_seen_and_how_it_looked() {
        // Day 1: 10 h watched, the face seen half of it, 20% negative. Day 2 (today, 12:00
        // now): 2 h seen fully at 40%.
        let mut w = minutes(T0 + 8 * crate::HOUR, 10, 0.5, 0.2);
        w.extend(minutes(T0 + DAY + 6 * crate::HOUR, 2, 1.0, 0.4));
        let a = [
            assessment(T0 + 9 * crate::HOUR, 20, None),
            assessment(T0 + 17 * crate::HOUR, 40, Some(0.15)),
            assessment(T0 + DAY + 7 * crate::HOUR, 70, Some(0.15)),
        ];
        let alerts = [
            alert(
                1,
                T0 + 10 * crate::HOUR,
                AlertKind::SustainedNegative,
                Some((4 * crate::MINUTE, true)),
            ),
            alert(
                2,
                T0 + 11 * crate::HOUR,
                AlertKind::SustainedNegative,
                Some((10 * crate::MINUTE, false)),
            ),
            alert(3, T0 + 12 * crate::HOUR, AlertKind::SustainedNegative, None),
            alert(4, T0 + 13 * crate::HOUR, AlertKind::SourceOffline, None),
        ];
        let now = T0 + DAY + 12 * crate::HOUR;
        let s = stay(&w, &a, &alerts, &WardZone::utc(), now, 2);
        assert_eq!(s.days.len(), 2);
        let (d1, d2) = (&s.days[0], &s.days[1]);
        assert_eq!(
            (d1.date.as_str(), d2.date.as_str()),
            ("2026-11-30", "2026-12-01")
        );
        assert_eq!(d1.watched_ms, 10 * crate::HOUR);
        assert_eq!(d1.seen_ms, 5 * crate::HOUR);
        assert_eq!(d1.not_seen_ms, 19 * crate::HOUR);
        assert_eq!(d2.end_ms, now, "today ends now");
        assert_eq!(d2.not_seen_ms, 10 * crate::HOUR);
        assert!((d1.negative.unwrap() - 0.2).abs() < 1e-6, "{d1:?}");
        let e = d1.emotions.unwrap();
        assert!((e.get(areya_core::Emotion::Relaxed) - 0.8).abs() < 1e-6);
        assert_eq!(
            d1.baseline,
            Some(0.15),
            "the last learned baseline of the day"
        );
        assert_eq!((d1.score_mean, d1.score_peak), (Some(30.0), Some(40)));
        assert_eq!(
            d1.alerts,
            DayAlerts {
                raised: 3,
                actionable: 1,
                not_actionable: 1,
                unanswered: 1,
                median_minutes_to_acknowledge: Some(10.0),
                technical: 1,
            }
        );
        assert_eq!(d2.alerts, DayAlerts::default());
        assert_eq!(s.direction, Direction::Rising);
        assert_eq!(s.days_above_baseline, 2);
        assert_eq!(
            s.summary,
            "Negative share rising: 20% → 40%; usual 15%. Above usual on 2 of 2 days. 3 alerts: 1 actionable, 1 not actionable, 1 unanswered."
        );
    }

    #[test]
    fn rising_days_count_the_latest_run_and_glimpses_do_not_judge() {
        // Five days; a glimpse (5 min) on day 2 is not judged; days 3–5 rise.
        let mut w = Vec::new();
        for (d, neg, hours) in [(0, 0.30, 3), (2, 0.10, 3), (3, 0.20, 3), (4, 0.35, 3)] {
            w.extend(minutes(T0 + d * DAY, hours, 1.0, neg));
        }
        w.extend(minutes(T0 + DAY, 1, 1.0, 0.9).into_iter().take(5));
        let s = stay(
            &w,
            &[],
            &[],
            &WardZone::utc(),
            T0 + 4 * DAY + 20 * crate::HOUR,
            5,
        );
        assert_eq!(s.days[1].negative, None, "5 minutes of face judge nothing");
        assert_eq!(s.days[1].seen_ms, 5 * crate::MINUTE);
        assert_eq!(s.rising_days, 2);
        assert!(
            s.summary
                .starts_with("Negative share rising for 2 days: 10% → 35%"),
            "{}",
            s.summary
        );
        // Nothing seen at all.
        let none = stay(&[], &[], &[], &WardZone::utc(), T0, 3);
        assert_eq!(none.direction, Direction::Unknown);
        assert_eq!(none.summary, "Not enough face seen on any day to judge.");
        assert!(none
            .days
            .iter()
            .all(|d| d.seen_ms == 0 && d.emotions.is_none()));
    }

    #[test]
    fn one_bad_day_is_not_a_trend_but_is_said() {
        let mut w = Vec::new();
        let mut a = Vec::new();
        for (d, n) in [
            (0, 0.10),
            (1, 0.09),
            (2, 0.11),
            (3, 0.10),
            (4, 0.31),
            (5, 0.12),
        ] {
            w.extend(minutes(T0 + d * DAY + 8 * crate::HOUR, 2, 1.0, n));
            a.push(assessment(T0 + d * DAY + 9 * crate::HOUR, 10, Some(0.12)));
        }
        let s = stay(
            &w,
            &a,
            &[],
            &WardZone::utc(),
            T0 + 5 * DAY + 12 * crate::HOUR,
            6,
        );
        assert_eq!(s.direction, Direction::Steady, "{:?}", s.negative_per_day);
        assert_eq!(
            s.summary,
            "Negative share 12% on 2026-12-05; usual 12%. Above usual on 1 of 6 days. Highest 31% on 2026-12-04."
        );
    }

    #[test]
    fn an_export_has_the_days_with_data_in_its_period() {
        let mut w = minutes(T0 + 2 * DAY, 1, 1.0, 0.5);
        w.extend(minutes(T0 + 5 * DAY + crate::HOUR, 1, 1.0, 0.2));
        let zone = WardZone::utc();
        let days = days_in(&w, &[], &[], &zone, (0, T0 + 5 * DAY + 90 * crate::MINUTE));
        let dates: Vec<&str> = days.iter().map(|d| d.date.as_str()).collect();
        assert_eq!(dates, ["2026-12-02", "2026-12-05"], "only days with data");
        assert_eq!(
            days[1].end_ms,
            T0 + 5 * DAY + 90 * crate::MINUTE,
            "cut at the end"
        );
        assert!(days_in(&w, &[], &[], &zone, (0, T0)).is_empty());
    }

    #[test]
    fn days_are_the_wards_days() {
        // 23:30–00:30 UTC is 00:30–01:30 in Berlin: one day there, two in UTC.
        let w = minutes(T0 - 30 * crate::MINUTE, 1, 1.0, 0.5);
        let berlin = WardZone::named("Europe/Berlin").unwrap();
        let s = stay(&w, &[], &[], &berlin, T0 + 12 * crate::HOUR, 2);
        assert_eq!(s.days[1].date, "2026-11-30");
        assert_eq!((s.days[0].seen_ms, s.days[1].seen_ms), (0, crate::HOUR));
        let s = stay(&w, &[], &[], &WardZone::utc(), T0 + 12 * crate::HOUR, 2);
        let half = 30 * crate::MINUTE;
        assert_eq!((s.days[0].seen_ms, s.days[1].seen_ms), (half, half));
    }
}

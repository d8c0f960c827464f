//! Alert rules from a TOML file (per ward, with per-patient overrides), and the condition
//! tracker that applies one rule to a patient's windows: enter threshold, lower exit threshold
//! (hysteresis), minimum duration, minimum coverage, relative to the patient's baseline, and a
//! clearing time before an active condition ends.

use crate::window::WindowAggregate;
use crate::{Millis, SECOND};
use areya_core::time::WardZone;
use areya_core::{Arg, Words};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Alert priority. Emotion alone never raises "high": there is no such value here.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Info,
    Low,
    Medium,
}

/// One rule for sustained negative emotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rule {
    /// Window negative share at which the condition starts…
    pub enter: f64,
    /// …and below which it ends (lower than `enter`: hysteresis).
    pub exit: f64,
    /// With a learned baseline, also require negative ≥ baseline + `enter_margin` to start…
    pub enter_margin: f64,
    /// …and end below baseline + `exit_margin`.
    pub exit_margin: f64,
    /// The condition must hold this long before an alert is raised.
    pub min_duration_s: u64,
    /// Once it has, it ends only after the negative share has stayed below the exit threshold
    /// this long: one noisy window (a few misread frames) must not resolve an alert that the
    /// next minutes would raise again. 0 ends it on the first window below exit.
    pub clear_s: u64,
    /// Windows with less face coverage are blind: they neither start nor end the condition,
    /// and only windows with at least this much face count towards `min_duration_s` (seen
    /// time, not clock time).
    pub min_coverage: f64,
    /// A blind gap (no window with enough face) longer than this ends a run that has not yet
    /// alerted: two seen minutes ten minutes apart are not "sustained".
    pub max_blind_s: u64,
    /// An open alert whose patient has not been seen (with enough face) for this long stops
    /// escalating and says "cannot assess"; it resolves or re-alarms when the face is back.
    pub cannot_assess_after_s: u64,
    /// After an alert resolves, no new one for this long.
    pub cooldown_s: u64,
    /// After acknowledgement, alarm again if the condition still holds this long after.
    pub realarm_s: u64,
    /// Local times ("22:00"–"06:00") when alerts are raised at info priority (no push).
    pub quiet_hours: Option<QuietHours>,
    pub priority: Priority,
    /// Counts a run's duration in clock time and bridges blind gaps shorter than the minimum
    /// duration, as Areya once did: only for `areya replay`'s comparison, never in a rule file.
    #[serde(skip)]
    pub legacy_clock_time: bool,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            enter: 0.6,
            exit: 0.45,
            enter_margin: 0.2,
            exit_margin: 0.1,
            min_duration_s: 600,
            clear_s: 300,
            min_coverage: 0.5,
            max_blind_s: 180,
            cannot_assess_after_s: 600,
            cooldown_s: 1800,
            realarm_s: 3600,
            quiet_hours: None,
            priority: Priority::Low,
            legacy_clock_time: false,
        }
    }
}

/// A daily local-time range, possibly across midnight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

fn minutes_of(field: &str, hhmm: &str) -> Result<i64, RuleError> {
    let bad = || {
        RuleError::at(
            field,
            Words::new("{field}: '{value}' is not a time like 22:00"),
        )
        .with("value", hhmm)
    };
    let (h, m) = hhmm.split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl QuietHours {
    /// Whether local minute-of-day `minute` is inside the range.
    pub fn contains(&self, minute: i64) -> bool {
        let (Ok(s), Ok(e)) = (
            minutes_of("start", &self.start),
            minutes_of("end", &self.end),
        ) else {
            return false;
        };
        if s <= e {
            (s..e).contains(&minute)
        } else {
            minute >= s || minute < e
        }
    }
}

/// The longest duration a rule may name, in seconds.
const WEEK_S: u64 = 7 * 24 * 3600;

/// A rule file that cannot be used; the words name the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub Words);

impl RuleError {
    /// `text`'s `{field}` is `field`.
    fn at(field: &str, text: Words) -> RuleError {
        RuleError(text.with("field", field))
    }

    /// Fills another slot.
    fn with(self, name: &str, value: impl Into<Arg>) -> RuleError {
        RuleError(self.0.with(name, value))
    }

    /// `{value}` is `v` as the file wrote it.
    fn value(self, v: impl std::fmt::Display) -> RuleError {
        self.with("value", v.to_string())
    }
}

impl Rule {
    pub fn validate(&self, at: &str) -> Result<(), RuleError> {
        let f = |name: &str| format!("{at}.{name}");
        for (name, v) in [
            ("enter", self.enter),
            ("exit", self.exit),
            ("min_coverage", self.min_coverage),
            ("enter_margin", self.enter_margin),
            ("exit_margin", self.exit_margin),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(RuleError::at(
                    &f(name),
                    Words::new("{field}: {value} is not in [0, 1]"),
                )
                .value(v));
            }
        }
        if self.exit >= self.enter {
            return Err(RuleError::at(
                &f("exit"),
                Words::new(
                    "{field}: must be lower than enter ({enter}) so the alert cannot chatter",
                ),
            )
            .with("enter", self.enter.to_string()));
        }
        if self.exit_margin > self.enter_margin {
            return Err(RuleError::at(
                &f("exit_margin"),
                Words::new("{field}: must not exceed enter_margin"),
            ));
        }
        for (name, v) in [
            ("min_duration_s", self.min_duration_s),
            ("clear_s", self.clear_s),
            ("cooldown_s", self.cooldown_s),
            ("realarm_s", self.realarm_s),
            ("max_blind_s", self.max_blind_s),
            ("cannot_assess_after_s", self.cannot_assess_after_s),
        ] {
            if v > WEEK_S {
                return Err(RuleError::at(
                    &f(name),
                    Words::new("{field}: {value} s is more than a week ({max} s)"),
                )
                .with("value", v)
                .with("max", WEEK_S));
            }
        }
        if self.cannot_assess_after_s < 60 {
            return Err(RuleError::at(&f("cannot_assess_after_s"), Words::new("{field}: {value} s; at least 60 (a minute without a face is no reason to stop escalating)"))
            .with("value", self.cannot_assess_after_s));
        }
        if self.min_duration_s == 0 {
            return Err(RuleError::at(
                &f("min_duration_s"),
                Words::new("{field}: must be > 0 (a single window must not alert)"),
            ));
        }
        if let Some(q) = &self.quiet_hours {
            minutes_of(&f("quiet_hours.start"), &q.start)?;
            minutes_of(&f("quiet_hours.end"), &q.end)?;
        }
        Ok(())
    }

    /// The priority of an alert raised at `now` (quiet hours, on the ward's clock, lower it to
    /// info).
    pub fn priority_at(&self, now: Millis, zone: &WardZone) -> Priority {
        let minute = zone.minute_of_day(now);
        match &self.quiet_hours {
            Some(q) if q.contains(minute) => Priority::Info,
            _ => self.priority,
        }
    }
}

/// Escalation: assigned nurse → charge nurse → ward failsafe, each after a timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Escalation {
    /// Seconds after raising until the charge nurse is notified (if unacknowledged).
    pub charge_nurse_after_s: u64,
    /// Seconds after raising until the ward failsafe is notified (if unacknowledged).
    pub failsafe_after_s: u64,
    /// Longest allowed snooze.
    pub max_snooze_s: u64,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            charge_nurse_after_s: 300,
            failsafe_after_s: 900,
            max_snooze_s: 3600,
        }
    }
}

impl Escalation {
    /// The charge nurse within a day, the failsafe after the charge nurse and within a day,
    /// and a snooze between a minute and 12 hours: outside these an alert would escalate at
    /// once, never, or be silenced for a shift and more.
    pub fn validate(&self) -> Result<(), RuleError> {
        const DAY_S: u64 = 24 * 3600;
        if self.charge_nurse_after_s > DAY_S {
            return Err(RuleError::at(
                "escalation.charge_nurse_after_s",
                Words::new("{field}: {value} s is more than a day ({max} s)"),
            )
            .with("value", self.charge_nurse_after_s)
            .with("max", DAY_S));
        }
        if !(self.charge_nurse_after_s..=DAY_S).contains(&self.failsafe_after_s) {
            return Err(RuleError::at("escalation.failsafe_after_s", Words::new("{field}: {value} s is not in [charge_nurse_after_s ({min} s), a day ({max} s)]"))
            .with("value", self.failsafe_after_s)
            .with("min", self.charge_nurse_after_s)
            .with("max", DAY_S));
        }
        if !(60..=12 * 3600).contains(&self.max_snooze_s) {
            return Err(RuleError::at(
                "escalation.max_snooze_s",
                Words::new("{field}: {value} s is not in [60, 43200] (a minute to 12 hours)"),
            )
            .with("value", self.max_snooze_s));
        }
        Ok(())
    }
}

/// What reaches a patient's doctor: notices, never alarms (they never escalate and make no
/// sound on the ward), from the hours and days of a stay rather than its minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DoctorRules {
    /// The hour (0–23, ward clock) of each doctor's daily digest; without it, no digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_hour: Option<u8>,
    /// A notice when the negative share stays at least this far (share points) above the
    /// patient's usual…
    pub persisting_margin: f64,
    /// …in each of the last this many hours (0: no such notice).
    pub persisting_hours: u32,
    /// Minutes of face an hour needs to count (an hour with less is not judged).
    pub min_face_minutes: u32,
    /// A notice when the daily negative share rose this many days in a row (0: none).
    pub rising_days: u32,
}

impl Default for DoctorRules {
    fn default() -> Self {
        DoctorRules {
            digest_hour: Some(7),
            persisting_margin: 0.10,
            persisting_hours: 4,
            min_face_minutes: 10,
            rising_days: 3,
        }
    }
}

impl DoctorRules {
    pub fn validate(&self) -> Result<(), RuleError> {
        let bad = |field: &str, text: Words, value: String| {
            Err(RuleError::at(&format!("doctor.{field}"), text).value(value))
        };
        if let Some(h) = self.digest_hour.filter(|h| *h > 23) {
            return bad(
                "digest_hour",
                Words::new("{field}: {value} is not an hour of the day (0–23)"),
                h.to_string(),
            );
        }
        if !(self.persisting_margin > 0.0 && self.persisting_margin < 1.0) {
            return bad(
                "persisting_margin",
                Words::new("{field}: {value} is not a share between 0 and 1"),
                self.persisting_margin.to_string(),
            );
        }
        if self.persisting_hours > 48 {
            return bad(
                "persisting_hours",
                Words::new("{field}: {value} is more than two days (48)"),
                self.persisting_hours.to_string(),
            );
        }
        if !(1..=60).contains(&self.min_face_minutes) {
            return bad(
                "min_face_minutes",
                Words::new("{field}: {value} is not in 1…60"),
                self.min_face_minutes.to_string(),
            );
        }
        if self.rising_days > 14 {
            return bad(
                "rising_days",
                Words::new("{field}: {value} is more than two weeks (14)"),
                self.rising_days.to_string(),
            );
        }
        Ok(())
    }
}

/// A ward's rule file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSet {
    /// The ward's IANA time zone (`Europe/Berlin`) for quiet hours: the ward's clock,
    /// daylight-saving changes included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Without `time_zone`: local time = UTC + this, all year (0 = UTC).
    pub utc_offset_minutes: i64,
    pub ward: Rule,
    pub escalation: Escalation,
    /// Notices and the daily digest for each patient's doctor.
    pub doctor: DoctorRules,
    /// Per-patient overrides: any field of `ward`.
    pub patients: BTreeMap<String, toml::Table>,
}

/// The TOML reader's words for a person editing the rules: "unknown field `min_duration`,
/// expected one of `enter`, …" becomes "'min_duration' is not a setting here (did you mean
/// 'min_duration_s'?); the settings are: enter, …"; a wrong type says what was found and what
/// was expected; other messages are quoted as the reader wrote them.
fn plain_toml_message(msg: &str) -> Words {
    let msg = msg.trim();
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            return Words::new("wrong type: {found} where {expected} was expected")
                .with("found", found)
                .with("expected", expected);
        }
    }
    if let Some(name) = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return Words::new("'{name}' is missing").with("name", name);
    }
    let Some((name, rest)) = msg
        .strip_prefix("unknown field `")
        .and_then(|r| r.split_once('`'))
    else {
        return Words::new("not readable as TOML: {detail}").with("detail", msg);
    };
    let known: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let near = known
        .iter()
        .filter(|k| k.starts_with(name) || strsim::levenshtein(k, name) <= 2)
        .min_by_key(|k| strsim::levenshtein(k, name));
    let hint = near.map_or(Arg::Text(String::new()), |k| {
        Words::new(" (did you mean '{near}'?)")
            .with("near", *k)
            .into()
    });
    let list = if known.is_empty() {
        Arg::Text(String::new())
    } else {
        Words::new("; the settings are: {list}")
            .with("list", known.join(", "))
            .into()
    };
    Words::new("'{name}' is not a setting here{hint}{list}")
        .with("name", name)
        .with("hint", hint)
        .with("list", list)
}

impl RuleSet {
    /// Parses and checks a rule file's text.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        let set: RuleSet = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .and_then(|r| text.get(..r.start))
                .map(|before| before.matches('\n').count() + 1);
            let at = line.map_or(Words::new("rules"), |l| {
                Words::new("rules, line {line}").with("line", l)
            });
            RuleError(
                Words::new("{at}: {problem}")
                    .with("at", at)
                    .with("problem", plain_toml_message(e.message())),
            )
        })?;
        set.ward.validate("ward")?;
        set.escalation.validate()?;
        set.doctor.validate()?;
        WardZone::fixed(set.utc_offset_minutes).map_err(|e| {
            RuleError::at("utc_offset_minutes", Words::new("{field}: {problem}"))
                .with("problem", e.0)
        })?;
        if let Some(name) = &set.time_zone {
            WardZone::named(name).map_err(|e| {
                RuleError::at("time_zone", Words::new("{field}: {problem}")).with("problem", e.0)
            })?;
            if set.utc_offset_minutes != 0 {
                return Err(RuleError::at(
                    "utc_offset_minutes",
                    Words::new("{field}: give time_zone or utc_offset_minutes, not both"),
                ));
            }
        }
        for id in set.patients.keys() {
            set.rule_for(id)?;
        }
        Ok(set)
    }

    /// The ward's clock: `time_zone`, else the fixed `utc_offset_minutes` (UTC when neither
    /// can be used; [`RuleSet::from_toml`] refuses such a file).
    pub fn zone(&self) -> WardZone {
        match &self.time_zone {
            Some(name) => WardZone::named(name).ok(),
            None => WardZone::fixed(self.utc_offset_minutes).ok(),
        }
        .unwrap_or_else(WardZone::utc)
    }

    /// The ward rule with the patient's overrides applied.
    pub fn rule_for(&self, patient: &str) -> Result<Rule, RuleError> {
        let Some(over) = self.patients.get(patient) else {
            return Ok(self.ward.clone());
        };
        let mut table =
            toml::Table::try_from(&self.ward).map_err(|e| RuleError(e.to_string().into()))?;
        for (k, v) in over {
            table.insert(k.clone(), v.clone());
        }
        let rule: Rule = table.try_into().map_err(|e: toml::de::Error| {
            RuleError::at(
                &format!("patients.{patient}"),
                Words::new("{field}: {problem}"),
            )
            .with("problem", plain_toml_message(e.message()))
        })?;
        rule.validate(&format!("patients.{patient}"))?;
        Ok(rule)
    }
}

/// Applies a rule to a patient's closed windows, one at a time. Only windows with enough
/// face count: a run's duration is the time it was *seen* (`seen_ms`), and a blind gap longer
/// than `max_blind_s` ends a run that has not alerted yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConditionTracker {
    /// Start of the current run of the condition.
    pub since_ms: Option<Millis>,
    /// How long the current run has been seen (windows with enough face).
    #[serde(default)]
    seen_ms: Millis,
    /// End of the last window with enough face.
    #[serde(default)]
    last_seen_ms: Option<Millis>,
    /// The run has been seen for the minimum duration (an alert may be open).
    #[serde(default)]
    active: bool,
    /// Start of the windows below exit inside an active run (ends it after `clear_s`).
    #[serde(default)]
    below_since_ms: Option<Millis>,
    /// Faces and their summed probabilities over the run's seen windows: what raised an alert.
    #[serde(default)]
    run_faces: u64,
    #[serde(default)]
    run_sums: areya_core::EmotionSums,
}

/// What a negative run looked like, for the alert it raises: "negative 68% for 12 min,
/// mostly sad".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSummary {
    pub since_ms: Millis,
    /// Negative share over the run's face frames.
    pub negative: f64,
    /// The larger of the negative emotions.
    pub mostly: areya_core::Emotion,
}

impl ConditionTracker {
    /// Folds in one window; returns whether the condition has now been seen for
    /// `min_duration`, or `None` when the window had too little face to say (callers leave
    /// alerts as they are).
    pub fn on_window(
        &mut self,
        rule: &Rule,
        baseline: Option<f64>,
        w: &WindowAggregate,
    ) -> Option<bool> {
        let min_dur = rule.min_duration_s as i64 * SECOND;
        let max_blind = rule.max_blind_s as i64 * SECOND;
        // Blind from the last seen window until `t` (windows that never came count too).
        let blind_until = |t: Millis, last: Option<Millis>| last.is_some_and(|l| t - l > max_blind);
        let legacy = rule.legacy_clock_time;
        match w.negative().filter(|_| w.coverage() >= rule.min_coverage) {
            None => {
                if legacy {
                    // Once: a blind gap as long as the minimum duration ended any run.
                    if self.last_seen_ms.is_some_and(|l| w.end_ms - l >= min_dur) {
                        self.end_run();
                    }
                } else if !self.active && blind_until(w.end_ms, self.last_seen_ms) {
                    self.end_run();
                }
                return None;
            }
            Some(neg) => {
                if !legacy && !self.active && blind_until(w.start_ms, self.last_seen_ms) {
                    self.end_run();
                }
                self.last_seen_ms = Some(w.end_ms);
                let (enter, exit) = match baseline {
                    Some(b) => (
                        (rule.enter).max(b + rule.enter_margin).min(1.0),
                        (rule.exit).max(b + rule.exit_margin).min(1.0),
                    ),
                    None => (rule.enter, rule.exit),
                };
                let exit = exit.min(enter - 0.05);
                if neg >= exit {
                    self.below_since_ms = None;
                }
                match self.since_ms {
                    None if neg >= enter => {
                        self.since_ms = Some(w.start_ms);
                        self.seen_ms = 0;
                    }
                    Some(_) if neg < exit => {
                        // A run that has not alerted ends at once (so flicker never adds up to
                        // an alert); an active one only after `clear_s` below exit.
                        let below = *self.below_since_ms.get_or_insert(w.start_ms);
                        let clear = rule.clear_s as i64 * SECOND;
                        if !self.active || w.end_ms - below >= clear {
                            self.end_run();
                        }
                    }
                    _ => {}
                }
                if self.since_ms.is_some() {
                    self.seen_ms += w.end_ms - w.start_ms;
                    self.run_faces += u64::from(w.faces);
                    self.run_sums.merge(&w.prob_sums);
                }
            }
        }
        self.active = if legacy {
            self.since_ms.is_some_and(|s| w.end_ms - s >= min_dur)
        } else {
            self.since_ms.is_some() && (self.active || self.seen_ms >= min_dur)
        };
        Some(self.active)
    }

    /// End of the last window with enough face (`None`: not seen yet).
    pub fn last_seen_ms(&self) -> Option<Millis> {
        self.last_seen_ms
    }

    /// A negative run is under way (started, alerting or not yet).
    pub fn in_run(&self) -> bool {
        self.since_ms.is_some()
    }

    /// The current run, once it has faces to describe.
    pub fn run_summary(&self) -> Option<RunSummary> {
        let since_ms = self.since_ms?;
        if self.run_faces == 0 {
            return None;
        }
        let sad = self.run_sums.get(areya_core::Emotion::Sad);
        let angry = self.run_sums.get(areya_core::Emotion::Angry);
        Some(RunSummary {
            since_ms,
            negative: self.run_sums.negative() / self.run_faces as f64,
            mostly: if sad >= angry {
                areya_core::Emotion::Sad
            } else {
                areya_core::Emotion::Angry
            },
        })
    }

    fn end_run(&mut self) {
        self.since_ms = None;
        self.seen_ms = 0;
        self.below_since_ms = None;
        self.active = false;
        self.run_faces = 0;
        self.run_sums = areya_core::EmotionSums::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MINUTE;
    use areya_core::PatientId;

    fn window(minute: i64, negative: f64, coverage: f64) -> WindowAggregate {
        let frames = 60;
        let faces = (coverage * frames as f64).round() as u32;
        WindowAggregate::seen(
            PatientId::parse("p").unwrap(),
            (minute * MINUTE, (minute + 1) * MINUTE),
            (frames, faces),
            negative,
            faces as f64 * 0.7,
        )
    }

    /// Runs a sequence of (negative, coverage) minutes; returns the minutes where sustained.
    fn run(rule: &Rule, seq: &[(f64, f64)]) -> Vec<i64> {
        let mut t = ConditionTracker::default();
        seq.iter()
            .enumerate()
            .filter(|(i, (n, c))| t.on_window(rule, None, &window(*i as i64, *n, *c)) == Some(true))
            .map(|(i, _)| i as i64)
            .collect()
    }

    #[test]
    fn table_of_rule_cases() {
        let rule = Rule {
            min_duration_s: 300,
            clear_s: 120,
            ..Rule::default()
        };
        let sad = (0.8, 0.9);
        let calm = (0.2, 0.9);
        let edge_hi = (0.62, 0.9);
        let edge_lo = (0.5, 0.9); // below enter, above exit
        let blind = (0.9, 0.1);
        // (what, one-minute windows' (negative share, face coverage), minutes where sustained)
        type Case = (&'static str, Vec<(f64, f64)>, Vec<i64>);
        let cases: Vec<Case> = vec![
            (
                "sustained sadness alerts after 5 minutes",
                vec![sad; 8],
                vec![4, 5, 6, 7],
            ),
            (
                "a short burst does not alert",
                [vec![sad; 3], vec![calm; 5]].concat(),
                vec![],
            ),
            (
                "flicker around the threshold stays on (hysteresis), no chatter",
                [
                    edge_hi, edge_lo, edge_hi, edge_lo, edge_hi, edge_lo, edge_hi,
                ]
                .to_vec(),
                vec![4, 5, 6],
            ),
            (
                "one window below exit does not end an active run (clearing time)",
                [vec![sad; 6], vec![calm; 1], vec![sad; 2]].concat(),
                vec![4, 5, 6, 7, 8],
            ),
            (
                "below exit for the clearing time ends it",
                [vec![sad; 6], vec![calm; 3], vec![sad; 2]].concat(),
                vec![4, 5, 6],
            ),
            (
                "before it has alerted, one window below exit ends the run",
                [vec![sad; 3], vec![calm; 1], vec![sad; 3]].concat(),
                vec![],
            ),
            (
                "a window back above exit restarts the clearing time",
                [
                    vec![sad; 5],
                    vec![calm; 1],
                    vec![sad; 1],
                    vec![calm; 1],
                    vec![sad; 1],
                ]
                .concat(),
                vec![4, 5, 6, 7, 8],
            ),
            (
                "low coverage is unknown: never starts",
                vec![blind; 10],
                vec![],
            ),
            (
                "a short blind gap neither starts nor ends, and does not count",
                [vec![sad; 3], vec![blind; 2], vec![sad; 2]].concat(),
                vec![6],
            ),
            (
                "seen time, not clock time: 4 seen minutes over 6 are not 5",
                [vec![sad; 3], vec![blind; 2], vec![sad; 1]].concat(),
                vec![],
            ),
            (
                "a blind gap longer than max_blind ends the run",
                [vec![sad; 3], vec![blind; 4], vec![sad; 3]].concat(),
                vec![],
            ),
            (
                "seen 1 min, hidden 9, seen 1: nothing",
                [vec![sad; 1], vec![blind; 9], vec![sad; 1]].concat(),
                vec![],
            ),
            (
                "an active run going blind stays active (the engine says cannot assess)",
                [vec![sad; 6], vec![blind; 8], vec![sad; 1]].concat(),
                vec![4, 5, 14],
            ),
        ];
        for (name, seq, want) in cases {
            assert_eq!(run(&rule, &seq), want, "{name}");
        }
        // Without a clearing time the first window below exit ends it.
        let at_once = Rule { clear_s: 0, ..rule };
        assert_eq!(
            run(
                &at_once,
                &[vec![sad; 6], vec![calm; 1], vec![sad; 2]].concat()
            ),
            vec![4, 5]
        );
    }

    #[test]
    fn baseline_raises_the_thresholds_for_a_usually_negative_patient() {
        let rule = Rule {
            min_duration_s: 120,
            ..Rule::default()
        };
        let mut t = ConditionTracker::default();
        // Usual negative 0.6: 0.7 is not enough (needs ≥ 0.8), 0.85 is.
        assert!(!(0..5)
            .map(|m| t.on_window(&rule, Some(0.6), &window(m, 0.7, 0.9)))
            .any(|x| x == Some(true)));
        assert!((5..8)
            .map(|m| t.on_window(&rule, Some(0.6), &window(m, 0.85, 0.9)))
            .any(|x| x == Some(true)));
    }

    #[test]
    fn the_rule_reference_in_the_operations_guide_is_the_defaults() {
        let guide = include_str!("../../../docs/operations.md");
        let block = guide
            .split("```toml\n")
            .find(|b| {
                b.lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('#'))
                    .is_some_and(|l| l.starts_with("[ward]"))
            })
            .and_then(|b| b.split("```").next())
            .expect("a [ward] toml block in docs/operations.md");
        // Indented inside a list item there; TOML does not mind.
        let set = RuleSet::from_toml(block).unwrap();
        assert_eq!(set.ward, Rule::default());
    }

    #[test]
    fn quiet_hours_follow_the_ward_clock_across_daylight_saving_changes() {
        let set = RuleSet::from_toml(
            r#"
            time_zone = "Europe/Berlin"
            [ward]
            priority = "medium"
            quiet_hours = { start = "22:00", end = "06:00" }
            "#,
        )
        .unwrap();
        let zone = set.zone();
        assert_eq!(zone.name(), "Europe/Berlin");
        let at = |s: &str| areya_core::time::parse_iso8601_utc(s).unwrap();
        for (utc, want, why) in [
            ("2026-03-28T21:30", Priority::Info, "22:30 CET: quiet"),
            (
                "2026-03-29T04:30",
                Priority::Medium,
                "06:30 CEST, the first summer morning",
            ),
            ("2026-07-01T20:30", Priority::Info, "22:30 CEST"),
            ("2026-07-01T19:30", Priority::Medium, "21:30 CEST"),
            (
                "2026-10-25T04:30",
                Priority::Info,
                "05:30 CET, the first winter morning",
            ),
            ("2026-10-25T05:30", Priority::Medium, "06:30 CET"),
        ] {
            assert_eq!(set.ward.priority_at(at(utc), &zone), want, "{utc}: {why}");
        }
        // A fixed offset cannot follow: in summer it is an hour off.
        let fixed = WardZone::fixed(60).unwrap();
        assert_eq!(
            set.ward.priority_at(at("2026-03-29T04:30"), &fixed),
            Priority::Info
        );
        for (text, want) in [
            (
                "time_zone = \"Europe/Berln\"",
                "time_zone: 'Europe/Berln' is not a time zone",
            ),
            (
                "time_zone = \"Europe/Berlin\"\nutc_offset_minutes = 60",
                "not both",
            ),
        ] {
            let err = RuleSet::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn doctor_notices_are_set_in_the_rule_file_and_checked() {
        let set = RuleSet::from_toml(
            "[doctor]\ndigest_hour = 8\npersisting_hours = 6\nrising_days = 0\n",
        )
        .unwrap();
        assert_eq!(set.doctor.digest_hour, Some(8));
        assert_eq!(set.doctor.persisting_hours, 6);
        assert_eq!(set.doctor.rising_days, 0);
        assert_eq!(RuleSet::default().doctor.digest_hour, Some(7));
        for (text, want) in [
            (
                "digest_hour = 24",
                "doctor.digest_hour: 24 is not an hour of the day (0–23)",
            ),
            (
                "persisting_margin = 1.5",
                "doctor.persisting_margin: 1.5 is not a share between 0 and 1",
            ),
            (
                "persisting_hours = 72",
                "doctor.persisting_hours: 72 is more than two days (48)",
            ),
            (
                "min_face_minutes = 0",
                "doctor.min_face_minutes: 0 is not in 1…60",
            ),
            (
                "rising_days = 30",
                "doctor.rising_days: 30 is more than two weeks (14)",
            ),
        ] {
            let err = RuleSet::from_toml(&format!("[doctor]\n{text}\n")).unwrap_err();
            assert_eq!(err.to_string(), want, "{text}");
        }
    }

    #[test]
    fn rule_files_parse_override_and_name_bad_fields() {
        let text = r#"
            utc_offset_minutes = 60
            [ward]
            enter = 0.65
            exit = 0.5
            quiet_hours = { start = "22:00", end = "06:00" }
            [escalation]
            charge_nurse_after_s = 120
            [patients.p-7]
            enter = 0.8
            priority = "medium"
            clear_s = 0
        "#;
        let set = RuleSet::from_toml(text).unwrap();
        assert_eq!(set.ward.enter, 0.65);
        assert_eq!(set.escalation.charge_nurse_after_s, 120);
        let p7 = set.rule_for("p-7").unwrap();
        assert_eq!(
            (p7.enter, p7.exit, p7.priority, p7.clear_s),
            (0.8, 0.5, Priority::Medium, 0)
        );
        assert_eq!(set.ward.clear_s, 300, "the default clearing time");
        assert_eq!(set.rule_for("other").unwrap(), set.ward);
        // 21:30 UTC is 22:30 local: quiet → info.
        let t = (21 * 60 + 30) * MINUTE;
        assert_eq!(set.ward.priority_at(t, &set.zone()), Priority::Info);
        assert_eq!(
            set.ward.priority_at(t - 3 * 60 * MINUTE, &set.zone()),
            Priority::Low
        );

        let bad = [
            ("[ward]\nenter = 0.4\nexit = 0.5", "ward.exit"),
            ("[ward]\nenter = 1.5", "ward.enter"),
            ("[ward]\npriority = \"high\"", "unknown variant `high`"),
            ("[ward]\nmin_duration_s = 0", "ward.min_duration_s"),
            (
                "[ward]\nclear_s = 9999999999999999",
                "ward.clear_s: 9999999999999999 s is more than a week",
            ),
            ("[patients.x]\ncooldown_s = 700000", "patients.x.cooldown_s"),
            (
                "[escalation]\nfailsafe_after_s = 9223372036854775807",
                "escalation.failsafe_after_s",
            ),
            (
                "[escalation]\ncharge_nurse_after_s = 600\nfailsafe_after_s = 60",
                "escalation.failsafe_after_s: 60 s is not in [charge_nurse_after_s (600 s)",
            ),
            ("[escalation]\nmax_snooze_s = 0", "escalation.max_snooze_s"),
            (
                "[escalation]\nmax_snooze_s = 604800",
                "escalation.max_snooze_s",
            ),
            (
                "utc_offset_minutes = 9223372036854775807",
                "utc_offset_minutes",
            ),
            (
                "[ward]\nentr = 0.5",
                "rules, line 2: 'entr' is not a setting here (did you mean 'enter'?); the settings are: enter, ",
            ),
            (
                "[ward]\nmin_duration = 60",
                "'min_duration' is not a setting here (did you mean 'min_duration_s'?)",
            ),
            (
                "[ward]\nquiet_hours = { start = \"25:00\", end = \"06:00\" }",
                "ward.quiet_hours.start",
            ),
            ("[patients.x]\nexit = 0.9", "patients.x.exit"),
            ("[patients.x]\nenter = \"high\"", "patients.x"),
            ("not toml", "rules, line 1: not readable as TOML: key with no value"),
            (
                "[ward]\nenter = \"high\"",
                "rules, line 2: wrong type: string \"high\" where f64 was expected",
            ),
        ];
        for (text, want) in bad {
            let err = RuleSet::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_bad_rule_file_is_said_in_words_any_language_can_fill() {
        let words = |text: &str| RuleSet::from_toml(text).unwrap_err().0;
        let w = words("[doctor]\ndigest_hour = 24");
        assert_eq!(w.text, "{field}: {value} is not an hour of the day (0–23)");
        assert_eq!(
            (w.vars.get("field"), w.vars.get("value")),
            (
                Some(&Arg::from("doctor.digest_hour")),
                Some(&Arg::from("24"))
            )
        );
        // The location and the problem are words in turn.
        let w = words("[ward]\nentr = 0.5");
        assert_eq!(w.text, "{at}: {problem}");
        let Some(Arg::Said(at)) = w.vars.get("at") else {
            panic!("{w:?}")
        };
        assert_eq!(
            (at.text.as_str(), at.vars.get("line")),
            ("rules, line {line}", Some(&Arg::Int(2)))
        );
        let Some(Arg::Said(problem)) = w.vars.get("problem") else {
            panic!("{w:?}")
        };
        assert_eq!(problem.text, "'{name}' is not a setting here{hint}{list}");
    }
}

//! The doctors' round: once an hour the engine's server asks, for every doctor and each of
//! their patients, whether a notice is due (negative share above usual for hours, rising over
//! days) and whether the doctor's daily digest is due, and puts what is due in the doctor's
//! inbox (audited). Notices never escalate and never sound on the ward; the decisions are
//! `areya_monitor::notice`'s.

use crate::app::App;
use crate::error::AppError;
use areya_core::Words;
use areya_monitor::directory::Role;
use areya_monitor::notice::{self, DigestPatient, Notice, NoticeKind};
use areya_monitor::{Millis, HOUR};
use areya_store::AuditAction;
use areya_store::Store;

const DAY: Millis = 24 * HOUR;
/// How many finished days a rising run is looked for in (`doctor.rising_days` is at most 14).
const RISING_DAYS: i64 = 15;

/// Runs the round now: returns the notices it put in inboxes. Finished days are judged in
/// the first round of each day. Only the server that runs the engine does it (a cluster
/// follower returns none), and each notice's own state is in the store, so a restart or a
/// second run in the same hour sends nothing twice.
pub async fn round(app: &App) -> Result<Vec<Notice>, AppError> {
    round_judging(app, false).await
}

/// [`round`], judging the finished days even when this day's first round already did (after
/// days of data were loaded into the store, say).
pub async fn round_judging(app: &App, days_again: bool) -> Result<Vec<Notice>, AppError> {
    if app.follower().is_some() {
        return Ok(vec![]);
    }
    let _one = app.doctors_round.lock().await;
    let now = app.now();
    let rules = app.rules().await?;
    let (zone, dr) = (rules.zone(), &rules.doctor);
    let dir = app.directory();
    let recent = app.store.notices(None, now - 32 * DAY).await?;
    let last = |doctor: &str, patient: Option<&areya_core::PatientId>, kind: NoticeKind| {
        recent
            .iter()
            .filter(|n| n.doctor == doctor && n.kind == kind && n.patient.as_ref() == patient)
            .map(|n| n.at_ms)
            .max()
    };
    use std::sync::atomic::Ordering::Relaxed;
    let judge_days = zone
        .day_of(now)
        .filter(|d| days_again || app.days_judged.load(Relaxed) != d.start_ms);
    let mut due = Vec::new();
    for doctor in dir.staff.iter().filter(|s| s.role == Role::Doctor) {
        let last_digest = last(&doctor.id, None, NoticeKind::Digest);
        let digest_due = notice::digest_due(dr, &zone, last_digest, now);
        let mut digest = Vec::new();
        let mut unwatched = Vec::new();
        for (_, bed, _) in dir.patients_of(&doctor.id) {
            let Some(p) = bed.patient.clone() else {
                continue;
            };
            // Nothing is judged of a patient who is not being watched; the digest says so.
            if !app.consent(&p).await?.allows(now) {
                unwatched.push(format!("{} · {p}", bed.id));
                continue;
            }
            // The hourly question (above usual for hours, re-armed by an hour back below since
            // the last such notice) needs only those hours; the week is read for the day's
            // digest and for judging the finished days.
            let since = last(&doctor.id, Some(&p), NoticeKind::Persisting);
            let week = now - 8 * DAY;
            let from = if digest_due || judge_days.is_some() {
                week
            } else {
                let hours = now - i64::from(dr.persisting_hours.max(1)) * HOUR;
                since.map_or(hours, |t| t.min(hours)).max(week)
            };
            let windows = app.store.windows(Some(&p), from, now + 1).await?;
            let baseline = app
                .assessment(&p)
                .await?
                .filter(|a| a.baseline_learned)
                .map(|a| a.baseline);
            let mut add = |kind: NoticeKind, said: notice::NoticeSaid| {
                let mut n = Notice {
                    id: 0,
                    at_ms: now,
                    doctor: doctor.id.clone(),
                    patient: Some(p.clone()),
                    kind,
                    bed: Some(bed.id.clone()),
                    text: String::new(),
                    said: Some(said),
                    ack: None,
                };
                n.text = n.words().to_string();
                due.push(n)
            };
            if let Some(said) = notice::persisting(&windows, baseline, since, dr, now) {
                add(NoticeKind::Persisting, said);
            }
            // Finished days are judged once a day: in the first round of each day.
            if let Some(today) = judge_days.as_ref() {
                let back = today.start_ms - RISING_DAYS * DAY;
                let older = app.store.windows(Some(&p), back, from).await?;
                let all: Vec<_> = older.into_iter().chain(windows.iter().cloned()).collect();
                let days = RISING_DAYS as usize;
                let done =
                    areya_monitor::stay::stay(&all, &[], &[], &zone, today.start_ms - 1, days);
                let since = last(&doctor.id, Some(&p), NoticeKind::Rising);
                if let Some(said) = notice::rising(&done, since, dr) {
                    add(NoticeKind::Rising, said);
                }
            }
            // The stay with its alerts and scores, only for the day's digest.
            if digest_due {
                let alerts = app.store.alerts(Some(&p)).await?;
                let assessments = app.store.assessments(&p, from, now + 1).await?;
                let stay =
                    areya_monitor::stay::stay(&windows, &assessments, &alerts, &zone, now, 7);
                let since = last_digest.unwrap_or(now - DAY);
                digest.push(DigestPatient {
                    label: format!("{} · {p}", bed.id),
                    stay,
                    alerts_since: areya_monitor::stay::alerts_between(&alerts, since, now),
                });
            }
        }
        if digest_due {
            let said = notice::digest(&digest, &unwatched, last_digest.is_some());
            due.push(Notice {
                id: 0,
                at_ms: now,
                doctor: doctor.id.clone(),
                patient: None,
                kind: NoticeKind::Digest,
                bed: None,
                text: said.text(),
                said: Some(said),
                ack: None,
            });
        }
    }
    let mut sent = Vec::with_capacity(due.len());
    for mut n in due {
        n.id = app.store.add_notice(&n).await?;
        if app.settings.webhook.is_some() {
            let message = crate::webhook::notice_message(&dir, &n);
            app.store.enqueue(&[message]).await?;
        }
        let kind = n.kind.label();
        let detail = match &n.patient {
            Some(p) => Words::new("{kind}, patient {patient}")
                .with("kind", kind)
                .with("patient", p.as_str()),
            None => kind,
        };
        app.audit(
            "areya",
            AuditAction::NotifyDoctor,
            Words::new("doctor {id}").with("id", &n.doctor),
            detail,
        )
        .await?;
        sent.push(n);
    }
    if let Some(d) = &judge_days {
        app.days_judged.store(d.start_ms, Relaxed);
    }
    if !sent.is_empty() {
        tracing::info!("doctors' round: {} notices", sent.len());
    }
    Ok(sent)
}

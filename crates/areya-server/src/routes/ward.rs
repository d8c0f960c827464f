//! What clinicians look at: the ward view ordered by attention, a patient's page (timeline of
//! windows, scores and alerts; every view audited), and the FHIR export (audited).

use crate::api::{
    AlertHistory, BedView, Camera, ConsentChange, ConsentSet, Kpi, PatientView, Person, ScorePoint,
    WardInfo, WardView, WindowView,
};
use crate::app::App;
use crate::auth::User;
use crate::command::Command;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::openapi::errors::{JsonBody, Malformed, NoSuchRecord, NotAllowed, NotLoggedIn};
use areya_core::ErrorBody;
use areya_core::PatientId;
use areya_core::{Arg, Words};
use areya_monitor::alerts::Alert;
use areya_monitor::directory::{Bed, Ward};
use areya_monitor::engine::Consent;
use areya_monitor::{Millis, HOUR, MINUTE};
use areya_store::AuditAction;
use areya_store::Store;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

fn find_ward<'a>(
    dir: &'a areya_monitor::directory::Directory,
    id: &str,
) -> Result<&'a Ward, ApiError> {
    dir.wards
        .iter()
        .find(|w| w.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("ward '{id}' does not exist")))
}

pub fn parse_patient(id: &str) -> Result<PatientId, ApiError> {
    PatientId::parse(id).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The patient's bed and ward, after checking the user may see the patient: through the ward,
/// or as the patient's doctor.
pub fn locate(
    app_dir: &areya_monitor::directory::Directory,
    user: &User,
    p: &PatientId,
) -> Result<(Ward, Bed), ApiError> {
    let (w, b) = app_dir
        .bed_of(p)
        .ok_or_else(|| ApiError::NotFound(format!("patient '{p}' is not in any bed")))?;
    if !app_dir.may_see_patient(&user.staff, w, b) {
        if user.staff.role == areya_monitor::directory::Role::Doctor {
            return Err(ApiError::Forbidden(format!(
                "patient '{p}' is not one of your patients"
            )));
        }
        user.require_ward(&w.id)?;
    }
    Ok((w.clone(), b.clone()))
}

/// Audits a look at a patient's records (`what`: which page, or nothing for the timeline);
/// an open page reloading on live updates is one row a while.
pub async fn audit_patient_view(
    app: &App,
    user: &User,
    p: &PatientId,
    what: Words,
) -> Result<(), ApiError> {
    app.audit_gated(
        &app.view_gate,
        &format!("patient {p} {}", user.token_hash),
        (
            user.id(),
            AuditAction::ViewPatient,
            Words::new("patient {id}").with("id", p.as_str()),
            what,
        ),
    )
    .await?;
    Ok(())
}

/// How much a bed's alert asks for attention: escalated and unacknowledged, a patient alert,
/// a technical one, none.
fn alert_rank(alert: Option<&Alert>) -> u32 {
    match alert {
        Some(a) if a.escalated_unacknowledged() => 3,
        Some(a) if a.kind == areya_monitor::alerts::AlertKind::SustainedNegative => 2,
        Some(_) => 1,
        None => 0,
    }
}

/// The ward's staff as views name them.
fn people(dir: &areya_monitor::directory::Directory, ward: &str) -> Vec<Person> {
    dir.staff
        .iter()
        .filter(|s| s.wards.iter().any(|w| w == ward))
        .map(|s| Person {
            id: s.id.clone(),
            name: s.name.clone(),
            role: s.role,
        })
        .collect()
}

pub fn person(dir: &areya_monitor::directory::Directory, id: Option<&String>) -> Option<Person> {
    let s = dir.staff(id?)?;
    Some(Person {
        id: s.id.clone(),
        name: s.name.clone(),
        role: s.role,
    })
}

#[utoipa::path(
    get, path = "/api/wards/{ward}", tag = "ward", operation_id = "ward",
    summary = "Ward view: beds ordered by attention, score, sparkline, camera health, open alerts (audited)", security(("session" = [])),
    params(("ward" = String, Path, description = "Ward id")),
    responses((status = 200, body = WardView), NotLoggedIn, NotAllowed, NoSuchRecord)
)]
pub async fn ward(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(ward_id): ApiPath<String>,
) -> Result<Json<WardView>, ApiError> {
    let dir = app.directory();
    let ward = find_ward(&dir, &ward_id)?;
    user.require_ward(&ward.id)?;
    // Who looked at which ward is audited; an open page refreshing is one row a while.
    app.audit_gated(
        &app.view_gate,
        &format!("ward {} {}", ward.id, user.token_hash),
        (
            user.id(),
            AuditAction::ViewWard,
            Words::new("ward {id}").with("id", &ward.id),
            Words::nothing(),
        ),
    )
    .await?;
    let now = app.now();
    let open = app.open_alerts().await?;
    let snap = app.ward_snapshot(&ward.beds).await?;
    let mut beds = Vec::new();
    for b in &ward.beds {
        let nurse = person(&dir, b.assigned_nurse.as_ref());
        let last_seen = snap.last_seen(&b.sources);
        let camera = Camera {
            sources: b.sources.clone(),
            last_seen_ms: last_seen,
            online: last_seen.is_some_and(|t| now - t < app.settings.source_offline_after_ms),
        };
        let Some(p) = &b.patient else {
            beds.push((
                0,
                BedView {
                    bed: b.id.clone(),
                    patient: None,
                    nurse,
                    camera,
                    consent: None,
                    assessment: None,
                    sparkline: vec![],
                    alerts: vec![],
                },
            ));
            continue;
        };
        let consent = snap.consent.get(p).copied().unwrap_or(Consent::Active);
        let assessment = if consent.allows(now) {
            snap.assessment.get(p).cloned()
        } else {
            None
        };
        let spark: Vec<ScorePoint> = if consent.allows(now) {
            app.store
                .assessments(p, now - HOUR, now + 1)
                .await?
                .iter()
                .map(|a| ScorePoint(a.at_ms, a.score))
                .collect()
        } else {
            vec![]
        };
        let alerts: Vec<&Alert> = open.iter().filter(|a| &a.patient == p).collect();
        let top = alerts
            .iter()
            .copied()
            .max_by_key(|a| (alert_rank(Some(a)), a.peak_score));
        let score = assessment.as_ref().map_or(0, |a| a.score);
        let alerts: Vec<Alert> = alerts.into_iter().cloned().collect();
        beds.push((
            alert_rank(top) * 1000 + u32::from(score) + 1,
            BedView {
                bed: b.id.clone(),
                patient: Some(p.clone()),
                nurse,
                camera,
                consent: Some(consent),
                assessment,
                sparkline: spark,
                alerts,
            },
        ));
    }
    beds.sort_by_key(|b| std::cmp::Reverse(b.0));
    let deliveries = match app.settings.webhook {
        Some(_) => Some(delivery_health(&app, &ward.id, now).await?),
        None => None,
    };
    Ok(Json(WardView {
        ward: WardInfo {
            id: ward.id.clone(),
            name: ward.name.clone(),
            time_zone: snap.time_zone,
        },
        now_ms: now,
        offline_after_ms: app.settings.source_offline_after_ms,
        horizon_ms: app.settings.engine.state.horizon_ms,
        // The people an alert names (who was notified, who acknowledged), by name.
        staff: people(&dir, &ward.id),
        beds: beds.into_iter().map(|b| b.1).collect(),
        deliveries,
    }))
}

/// The ward's messages of the last 24 h that failed: what every nurse on the ward must know,
/// since a page that did not go out leaves the dashboard as the only way alerts arrive.
async fn delivery_health(
    app: &App,
    ward: &str,
    now: Millis,
) -> Result<crate::api::DeliveryHealth, ApiError> {
    use areya_store::DeliveryState;
    let failing = app
        .store
        .failed_deliveries(ward, now - 24 * HOUR, 500)
        .await?;
    Ok(crate::api::DeliveryHealth {
        retrying: failing
            .iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .count() as u32,
        dead: failing
            .iter()
            .filter(|d| d.state == DeliveryState::Dead)
            .count() as u32,
        since_ms: failing.iter().map(|d| d.created_ms).min(),
        last_error: failing.first().and_then(|d| d.last_error.clone()),
        last_said: failing.first().and_then(|d| d.last_said.clone()),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Span {
    /// How many hours back (default 6, at most 72).
    pub hours: Option<i64>,
}

impl Span {
    fn from(&self, now: Millis) -> Result<Millis, ApiError> {
        let h = self.hours.unwrap_or(6);
        if !(1..=72).contains(&h) {
            return Err(ApiError::BadRequest(format!(
                "hours: {h} is outside 1..=72"
            )));
        }
        Ok(now - h * HOUR)
    }
}

#[utoipa::path(
    get, path = "/api/patients/{id}", tag = "ward", operation_id = "patient",
    summary = "Patient page: windows, scores, alerts with their history (audited)", security(("session" = [])),
    params(("id" = String, Path, description = "Patient id"), Span),
    responses((status = 200, body = PatientView), Malformed, NotLoggedIn, NotAllowed, NoSuchRecord)
)]
pub async fn patient(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(id): ApiPath<String>,
    ApiQuery(span): ApiQuery<Span>,
) -> Result<Json<PatientView>, ApiError> {
    let p = parse_patient(&id)?;
    let (ward, bed) = locate(&app.directory(), &user, &p)?;
    let now = app.now();
    let from = span.from(now)?;
    audit_patient_view(&app, &user, &p, Words::nothing()).await?;
    let consent = app.consent(&p).await?;
    let windows: Vec<WindowView> = app
        .store
        .windows(Some(&p), from, now + 1)
        .await?
        .iter()
        .map(|w| WindowView {
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            coverage: w.coverage(),
            negative: w.negative(),
            dominant: w.mean().map(|m| m.top()),
        })
        .collect();
    let scores: Vec<ScorePoint> = app
        .store
        .assessments(&p, from, now + 1)
        .await?
        .iter()
        .map(|a| ScorePoint(a.at_ms, a.score))
        .collect();
    let mut alerts = Vec::new();
    for a in app.store.alerts(Some(&p)).await? {
        if a.updated_ms < from && a.state == areya_monitor::alerts::AlertState::Resolved {
            continue;
        }
        let events = app.store.alert_events(a.id).await?;
        alerts.push(AlertHistory { alert: a, events });
    }
    let assessment = if consent.allows(now) {
        app.assessment(&p).await?
    } else {
        None
    };
    // Consent changes in the span, so the timeline can say a gap was a pause.
    let consent_changes: Vec<ConsentChange> = app
        .store
        .audit_of(
            "change consent",
            &format!("patient {p}"),
            from - 24 * HOUR,
            now + 1,
        )
        .await?
        .into_iter()
        .filter_map(|e| {
            let consent: Consent = serde_json::from_str(&e.detail).ok()?;
            Some(ConsentChange {
                at_ms: e.at_ms,
                consent,
            })
        })
        .collect();
    let dir = app.directory();
    let time_zone = app.time_zone().await?;
    Ok(Json(PatientView {
        patient: p,
        staff: people(&dir, &ward.id),
        nurse: person(&dir, bed.assigned_nurse.as_ref()),
        ward: WardInfo {
            id: ward.id,
            name: ward.name,
            time_zone,
        },
        bed: bed.id,
        consent,
        consent_changes,
        assessment,
        now_ms: now,
        from_ms: from,
        window_ms: app.settings.engine.window_ms,
        windows,
        scores,
        alerts,
    }))
}

#[utoipa::path(
    get, path = "/api/patients/{id}/fhir", tag = "ward", operation_id = "patientFhir",
    summary = "FHIR R4 Bundle of the patient's windows, scores and alerts (audited)", security(("session" = [])),
    params(("id" = String, Path, description = "Patient id"), Span, crate::routes::fhir::Format),
    responses((status = 200, description = "A FHIR R4 Bundle (collection)", content_type = "application/fhir+json", body = serde_json::Value), Malformed, NotLoggedIn, NotAllowed, NoSuchRecord, (status = 406, description = "Only JSON is offered", body = ErrorBody))
)]
pub async fn fhir(
    State(app): State<Arc<App>>,
    user: User,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(span): ApiQuery<Span>,
    ApiQuery(format): ApiQuery<crate::routes::fhir::Format>,
) -> Result<axum::response::Response, ApiError> {
    crate::routes::fhir::negotiate(format.format.as_deref(), &headers)?;
    let p = parse_patient(&id)?;
    let (_, bed) = locate(&app.directory(), &user, &p)?;
    let now = app.now();
    let from = span.from(now)?;
    app.audit(
        user.id(),
        AuditAction::ExportFhir,
        Words::new("patient {id}").with("id", p.as_str()),
        Words::new("from {from}").with("from", Arg::At { at_ms: from }),
    )
    .await?;
    // The days of the stay the span touches, each whole (from its local midnight).
    let zone = app.ward_zone().await?;
    let day_start = zone.day_of(from).map_or(from, |d| d.start_ms);
    let all_windows = app.store.windows(Some(&p), day_start, now + 1).await?;
    let all_scores = app.store.assessments(&p, day_start, now + 1).await?;
    let alerts = app.store.alerts(Some(&p)).await?;
    let days = areya_monitor::stay::days_in(
        &all_windows,
        &all_scores,
        &alerts,
        &zone,
        (day_start, now + 1),
    );
    let windows: Vec<_> = all_windows
        .into_iter()
        .filter(|w| w.start_ms >= from)
        .collect();
    let scores: Vec<_> = all_scores.into_iter().filter(|a| a.at_ms >= from).collect();
    Ok(crate::routes::fhir::fhir_json(areya_monitor::fhir::bundle(
        &p,
        &bed.patient_identifiers,
        &windows,
        &scores,
        &alerts,
        now,
        &days,
    )))
}

/// `PUT /api/patients/{id}/consent` (admin): active, paused for some minutes, or opted out.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    pub consent: String,
    /// With "paused": how long, in minutes (1 … 1440).
    pub minutes: Option<i64>,
}

#[utoipa::path(
    put, path = "/api/patients/{id}/consent", tag = "admin", operation_id = "setConsent",
    summary = "Set monitoring consent (admin; audited)", security(("session" = [])),
    params(("id" = String, Path, description = "Patient id")),
    request_body = ConsentBody,
    responses((status = 200, body = ConsentSet), Malformed, NotLoggedIn, NotAllowed, NoSuchRecord, JsonBody)
)]
pub async fn set_consent(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(id): ApiPath<String>,
    crate::error::ApiJson(body): crate::error::ApiJson<ConsentBody>,
) -> Result<Json<ConsentSet>, ApiError> {
    user.require_admin("changing consent")?;
    let p = parse_patient(&id)?;
    locate(&app.directory(), &user, &p)?;
    let c = match (body.consent.as_str(), body.minutes) {
        ("active", None) => Consent::Active,
        ("opted_out", None) => Consent::OptedOut,
        ("paused", Some(m)) if (1..=1440).contains(&m) => Consent::PausedUntil {
            until_ms: app.now() + m * MINUTE,
        },
        ("paused", _) => {
            return Err(ApiError::Unprocessable(
                "minutes: give 1 … 1440 with consent \"paused\"".into(),
            ))
        }
        ("active" | "opted_out", Some(_)) => {
            return Err(ApiError::Unprocessable(
                "minutes: only with consent \"paused\"".into(),
            ))
        }
        (other, _) => {
            return Err(ApiError::unprocessable(format!(
                "consent: '{other}' is not one of active, paused, opted_out"
            )))
        }
    };
    app.run(Command::Consent {
        patient: p.clone(),
        consent: c,
    })
    .await?;
    let detail = match c {
        Consent::Active => Words::new("monitored"),
        Consent::OptedOut => Words::new("opted out: not monitored"),
        Consent::PausedUntil { until_ms } => {
            Words::new("paused until {time}").with("time", Arg::At { at_ms: until_ms })
        }
    };
    app.audit(
        user.id(),
        AuditAction::ChangeConsent,
        Words::new("patient {id}").with("id", p.as_str()),
        detail,
    )
    .await?;
    Ok(Json(ConsentSet {
        patient: p,
        consent: c,
    }))
}

/// `GET /api/wards/{ward}/kpi?hours=N`: the ward's alarm burden and how much of it was
/// actionable (from acknowledgements), over the last N hours (default 24, at most 720).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    pub hours: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/wards/{ward}/kpi", tag = "ward", operation_id = "wardKpi",
    summary = "Alarm burden and actionable share of acknowledged alerts", security(("session" = [])),
    params(("ward" = String, Path, description = "Ward id"), KpiQuery),
    responses((status = 200, body = Kpi), Malformed, NotLoggedIn, NotAllowed, NoSuchRecord)
)]
pub async fn kpi(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(ward_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<KpiQuery>,
) -> Result<Json<Kpi>, ApiError> {
    let dir = app.directory();
    let ward = find_ward(&dir, &ward_id)?;
    user.require_ward(&ward.id)?;
    let hours = q.hours.unwrap_or(24);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::BadRequest(format!(
            "hours: {hours} is outside 1..=720"
        )));
    }
    let now = app.now();
    let from = now - hours * HOUR;
    let patients: std::collections::BTreeSet<_> = ward
        .beds
        .iter()
        .filter_map(|b| b.patient.as_ref())
        .collect();
    let alerts: Vec<Alert> = app
        .store
        .alerts(None)
        .await?
        .into_iter()
        .filter(|a| a.raised_ms >= from && patients.contains(&a.patient))
        .collect();
    Ok(Json(kpi_of(&alerts, hours)))
}

/// The KPI of a set of alerts: counts per kind, and for patient alerts the acknowledged,
/// actionable and not-actionable counts with reasons and the median time to acknowledge.
pub fn kpi_of(alerts: &[Alert], hours: i64) -> Kpi {
    use areya_monitor::alerts::AlertKind;
    let patient: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::SustainedNegative)
        .collect();
    let acked: Vec<&Alert> = patient
        .iter()
        .copied()
        .filter(|a| a.ack.is_some())
        .collect();
    let actionable = acked
        .iter()
        .filter(|a| a.ack.as_ref().is_some_and(|k| k.actionable))
        .count();
    let mut reasons: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for a in &acked {
        if let Some(k) = a.ack.as_ref().filter(|k| !k.actionable) {
            *reasons
                .entry(k.reason.clone().unwrap_or_default())
                .or_default() += 1;
        }
    }
    let mut waits: Vec<i64> = acked
        .iter()
        .filter_map(|a| a.ack.as_ref().map(|k| (k.at_ms - a.raised_ms).max(0)))
        .collect();
    waits.sort_unstable();
    let median_s = (!waits.is_empty()).then(|| waits[waits.len() / 2] as f64 / 1000.0);
    let technical = alerts.len() - patient.len();
    Kpi {
        hours,
        patient_alerts: patient.len(),
        technical_alerts: technical,
        acknowledged: acked.len(),
        actionable,
        not_actionable: acked.len() - actionable,
        actionable_share: (!acked.is_empty()).then(|| actionable as f64 / acked.len() as f64),
        not_actionable_reasons: reasons,
        median_seconds_to_acknowledge: median_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use areya_monitor::alerts::{Ack, AlertKind, AlertState, Recipient};
    use areya_monitor::rules::Priority;

    fn alert(id: u64, kind: AlertKind, ack: Option<(bool, i64, &str)>) -> Alert {
        Alert {
            id,
            patient: PatientId::parse("p1").unwrap(),
            kind,
            priority: Priority::Low,
            state: if ack.is_some() {
                AlertState::Acknowledged
            } else {
                AlertState::Raised
            },
            raised_ms: 1_000,
            updated_ms: 1_000,
            round_ms: 1_000,
            notified: Recipient::AssignedNurse,
            snoozed_until_ms: None,
            ack: ack.map(|(actionable, after_s, reason)| Ack {
                by: "ana".into(),
                at_ms: 1_000 + after_s * 1000,
                actionable,
                reason: (!reason.is_empty()).then(|| reason.to_string()),
            }),
            reason: String::new(),
            said: None,
            peak_score: 50,
            blind_since_ms: None,
        }
    }

    #[test]
    fn kpi_counts_actionable_share_reasons_and_time_to_acknowledge() {
        let alerts = [
            alert(1, AlertKind::SustainedNegative, Some((true, 60, ""))),
            alert(
                2,
                AlertKind::SustainedNegative,
                Some((false, 120, "watching TV")),
            ),
            alert(
                3,
                AlertKind::SustainedNegative,
                Some((false, 240, "watching TV")),
            ),
            alert(4, AlertKind::SustainedNegative, None),
            alert(5, AlertKind::SourceOffline, None),
        ];
        let k = kpi_of(&alerts, 24);
        assert_eq!(k.patient_alerts, 4);
        assert_eq!(k.technical_alerts, 1);
        assert_eq!(k.acknowledged, 3);
        assert_eq!(k.actionable, 1);
        assert_eq!(k.not_actionable, 2);
        assert!((k.actionable_share.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(k.not_actionable_reasons["watching TV"], 2);
        assert_eq!(k.median_seconds_to_acknowledge, Some(120.0));
        let none = kpi_of(&[], 24);
        assert!(none.actionable_share.is_none() && none.median_seconds_to_acknowledge.is_none());
    }
}

//! What a doctor reads: their patients across wards, each patient's stay day by day (the
//! share of time seen in each emotion, time not seen, the negative share against the patient's
//! own baseline, the alerts and how they were answered). Views are audited like the patient
//! page (once per login and patient a while).

use crate::api::{DoctorView, NoticeList, PatientStay, Person, WardInfo};
use crate::app::App;
use crate::auth::User;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::openapi::errors::{DoctorOnly, Malformed, NoSuchRecord, NotLoggedIn};
use crate::routes::ward::{locate, parse_patient, person};
use areya_core::time::WardZone;
use areya_core::ErrorBody;
use areya_core::Words;
use areya_monitor::alerts::AlertState;
use areya_monitor::directory::{Bed, CareRole, Directory, Role, Ward};
use areya_monitor::{Millis, HOUR};
use areya_store::AuditAction;
use areya_store::Store;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Days {
    /// How many days back, today included (default 7, at most 31).
    pub days: Option<u32>,
    /// Whose patients (admins only; a doctor always sees their own).
    pub doctor: Option<String>,
}

impl Days {
    fn get(&self) -> Result<u32, ApiError> {
        let d = self.days.unwrap_or(7);
        if !(1..=31).contains(&d) {
            return Err(ApiError::BadRequest(format!("days: {d} is outside 1..=31")));
        }
        Ok(d)
    }
}

/// One patient's stay over `days` local days up to now.
#[allow(clippy::too_many_arguments)]
async fn stay_of(
    app: &App,
    dir: &Directory,
    (ward, bed): (&Ward, &Bed),
    care: Option<CareRole>,
    zone: &WardZone,
    time_zone: Option<String>,
    now: Millis,
    days: u32,
) -> Result<PatientStay, ApiError> {
    let p = bed
        .patient
        .clone()
        .ok_or_else(|| ApiError::NotFound(format!("bed '{}' has no patient", bed.id)))?;
    // The first day starts at most 25 hours before its date's noon: read a day's margin.
    let from = now - (i64::from(days) + 1) * 24 * HOUR;
    let windows = app.store.windows(Some(&p), from, now + 1).await?;
    let assessments = app.store.assessments(&p, from, now + 1).await?;
    let mut alerts: Vec<_> = app
        .store
        .alerts(Some(&p))
        .await?
        .into_iter()
        .filter(|a| a.raised_ms >= from)
        .collect();
    let stay = areya_monitor::stay::stay(&windows, &assessments, &alerts, zone, now, days as usize);
    let first = stay.days.first().map_or(from, |d| d.start_ms);
    alerts.retain(|a| a.raised_ms >= first);
    let consent = app.consent(&p).await?;
    let assessment = if consent.allows(now) {
        app.assessment(&p).await?
    } else {
        None
    };
    Ok(PatientStay {
        identifiers: bed.patient_identifiers.clone(),
        ward: WardInfo {
            id: ward.id.clone(),
            name: ward.name.clone(),
            time_zone,
        },
        bed: bed.id.clone(),
        attending: person(dir, bed.attending.as_ref()),
        care_team: bed
            .care_team
            .iter()
            .filter_map(|d| person(dir, Some(d)))
            .collect(),
        nurse: person(dir, bed.assigned_nurse.as_ref()),
        care,
        consent,
        assessment,
        waiting_alerts: alerts
            .iter()
            .filter(|a| matches!(a.state, AlertState::Raised | AlertState::Delivered))
            .count() as u32,
        now_ms: now,
        stay,
        staff: staff_of(dir, &alerts),
        alerts,
        patient: p,
    })
}

/// Everyone who acknowledged one of `alerts`, once each.
fn staff_of(dir: &Directory, alerts: &[areya_monitor::alerts::Alert]) -> Vec<Person> {
    let ids: std::collections::BTreeSet<&String> = alerts
        .iter()
        .filter_map(|a| a.ack.as_ref().map(|k| &k.by))
        .collect();
    ids.into_iter()
        .filter_map(|id| person(dir, Some(id)))
        .collect()
}

/// Whose doctor's data a request may read: a doctor their own, an admin the doctor they name.
fn which_doctor(user: &User, named: Option<&str>) -> Result<String, ApiError> {
    match (user.staff.role, named) {
        (Role::Doctor, None) => Ok(user.id().to_string()),
        (Role::Doctor, Some(d)) if d == user.id() => Ok(d.to_string()),
        (Role::Doctor, Some(_)) => Err(ApiError::Forbidden(
            "doctor: a doctor sees their own patients only".into(),
        )),
        (Role::Admin, Some(d)) => Ok(d.to_string()),
        (Role::Admin, None) => Err(ApiError::BadRequest(
            "doctor: name the doctor whose patients to show".into(),
        )),
        (role, _) => Err(ApiError::Forbidden(format!(
            "the doctor's view needs the role doctor; you are {}",
            role.as_str()
        ))),
    }
}

/// The doctor named `id`, as views name them.
fn doctor_person(dir: &Directory, id: &str) -> Result<Person, ApiError> {
    let staff = dir
        .staff(id)
        .filter(|s| s.role == Role::Doctor)
        .ok_or_else(|| ApiError::NotFound(format!("doctor: '{id}' is not a doctor here")))?;
    Ok(Person {
        id: staff.id.clone(),
        name: staff.name.clone(),
        role: staff.role,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Inbox {
    /// How many days back (default 14, at most 31).
    pub days: Option<u32>,
    /// Whose inbox (admins only; a doctor always reads their own).
    pub doctor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/doctor/notices", tag = "doctor", operation_id = "doctorNotices",
    summary = "A doctor's notices and daily digests, newest first", security(("session" = [])),
    params(Inbox),
    responses((status = 200, body = NoticeList), Malformed, NotLoggedIn, DoctorOnly)
)]
pub async fn notices(
    State(app): State<Arc<App>>,
    user: User,
    ApiQuery(q): ApiQuery<Inbox>,
) -> Result<Json<NoticeList>, ApiError> {
    let days = q.days.unwrap_or(14);
    if !(1..=31).contains(&days) {
        return Err(ApiError::BadRequest(format!(
            "days: {days} is outside 1..=31"
        )));
    }
    let doctor = which_doctor(&user, q.doctor.as_deref())?;
    let person = doctor_person(&app.directory(), &doctor)?;
    let from = app.now() - i64::from(days) * 24 * HOUR;
    let notices = app.store.notices(Some(&doctor), from).await?;
    Ok(Json(NoticeList {
        doctor: person,
        waiting: notices.iter().filter(|n| n.ack.is_none()).count() as u32,
        notices,
    }))
}

#[utoipa::path(
    post, path = "/api/doctor/notices/{id}/ack", tag = "doctor", operation_id = "ackNotice",
    summary = "Acknowledge one of your notices (audited; a second time changes nothing)", security(("session" = [])),
    params(("id" = u64, Path, description = "Notice id")),
    responses((status = 200, body = areya_monitor::notice::Notice), Malformed, NotLoggedIn, (status = 403, description = "Not a doctor", body = ErrorBody), (status = 404, description = "Not one of your notices", body = ErrorBody))
)]
pub async fn ack_notice(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<areya_monitor::notice::Notice>, ApiError> {
    user.require(&[Role::Doctor], "acknowledging a notice")?;
    let ack = areya_monitor::notice::NoticeAck {
        by: user.id().to_string(),
        at_ms: app.now(),
    };
    let (n, now) = app
        .store
        .ack_notice(id, user.id(), &ack)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("notice {id} is not one of your notices")))?;
    if now {
        app.audit(
            user.id(),
            AuditAction::AcknowledgeNotice,
            Words::new("notice {id}").with("id", id.to_string()),
            Words::new(n.kind.as_str()),
        )
        .await?;
    }
    Ok(Json(n))
}

#[utoipa::path(
    get, path = "/api/doctor/patients", tag = "doctor", operation_id = "doctorPatients",
    summary = "A doctor's patients across wards, each with their stay day by day (audited)", security(("session" = [])),
    params(Days),
    responses((status = 200, body = DoctorView), Malformed, NotLoggedIn, DoctorOnly)
)]
pub async fn patients(
    State(app): State<Arc<App>>,
    user: User,
    ApiQuery(q): ApiQuery<Days>,
) -> Result<Json<DoctorView>, ApiError> {
    let days = q.get()?;
    let doctor = which_doctor(&user, q.doctor.as_deref())?;
    let dir = app.directory();
    let person = doctor_person(&dir, &doctor)?;
    app.audit_gated(
        &app.view_gate,
        &format!("doctor {doctor} {}", user.token_hash),
        (
            user.id(),
            AuditAction::ViewDoctorsPatients,
            Words::new("doctor {id}").with("id", &doctor),
            Words::nothing(),
        ),
    )
    .await?;
    let rules = app.rules().await?;
    let (zone, time_zone, now) = (rules.zone(), rules.time_zone, app.now());
    let mut out = Vec::new();
    for (w, b, care) in dir.patients_of(&doctor) {
        let tz = time_zone.clone();
        out.push(stay_of(&app, &dir, (w, b), Some(care), &zone, tz, now, days).await?);
    }
    Ok(Json(DoctorView {
        doctor: person,
        now_ms: now,
        days,
        patients: out,
    }))
}

#[utoipa::path(
    get, path = "/api/patients/{id}/stay", tag = "doctor", operation_id = "patientStay",
    summary = "A patient's stay day by day, for their doctor or ward (audited)", security(("session" = [])),
    params(("id" = String, Path, description = "Patient id"), Days),
    responses((status = 200, body = PatientStay), Malformed, NotLoggedIn, (status = 403, description = "Not this user's patient or ward", body = ErrorBody), NoSuchRecord)
)]
pub async fn stay(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<Days>,
) -> Result<Json<PatientStay>, ApiError> {
    let days = q.get()?;
    let p = parse_patient(&id)?;
    let dir = app.directory();
    let (ward, bed) = locate(&dir, &user, &p)?;
    super::ward::audit_patient_view(&app, &user, &p, Words::new("stay")).await?;
    let care = bed.care_role(user.id());
    let rules = app.rules().await?;
    let (zone, time_zone, now) = (rules.zone(), rules.time_zone, app.now());
    let s = stay_of(&app, &dir, (&ward, &bed), care, &zone, time_zone, now, days).await?;
    Ok(Json(s))
}

//! What a doctor reads: their patients across wards, each patient's stay day by day (the
//! share of time seen in each emotion, time not seen, the negative share against the patient's
//! own baseline, the alerts and how they were answered). Views are audited like the patient
//! page (once per login and patient a while).

use crate::api::{DoctorView, PatientStay, Person, WardInfo};
use crate::app::App;
use crate::auth::User;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::routes::ward::{locate, parse_patient, person};
use areya_core::time::WardZone;
use areya_core::ErrorBody;
use areya_monitor::alerts::AlertState;
use areya_monitor::directory::{Bed, CareRole, Directory, Role, Ward};
use areya_monitor::{Millis, HOUR};
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

#[utoipa::path(
    get, path = "/api/doctor/patients", tag = "doctor", operation_id = "doctorPatients",
    summary = "A doctor's patients across wards, each with their stay day by day (audited)", security(("session" = [])),
    params(Days),
    responses((status = 200, body = DoctorView), (status = 400, description = "A malformed value, named", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not a doctor (or an admin naming one)", body = ErrorBody), (status = 404, description = "No such doctor", body = ErrorBody))
)]
pub async fn patients(
    State(app): State<Arc<App>>,
    user: User,
    ApiQuery(q): ApiQuery<Days>,
) -> Result<Json<DoctorView>, ApiError> {
    let days = q.get()?;
    let doctor = match (user.staff.role, q.doctor.as_deref()) {
        (Role::Doctor, None) => user.id().to_string(),
        (Role::Doctor, Some(d)) if d == user.id() => d.to_string(),
        (Role::Doctor, Some(_)) => {
            return Err(ApiError::Forbidden(
                "doctor: a doctor sees their own patients only".into(),
            ))
        }
        (Role::Admin, Some(d)) => d.to_string(),
        (Role::Admin, None) => {
            return Err(ApiError::BadRequest(
                "doctor: name the doctor whose patients to show".into(),
            ))
        }
        (role, _) => {
            return Err(ApiError::Forbidden(format!(
                "the doctor's view needs the role doctor; you are {}",
                role.as_str()
            )))
        }
    };
    let dir = app.directory();
    let staff = dir
        .staff(&doctor)
        .filter(|s| s.role == Role::Doctor)
        .ok_or_else(|| ApiError::NotFound(format!("doctor: '{doctor}' is not a doctor here")))?;
    app.audit_gated(
        &app.view_gate,
        &format!("doctor {doctor} {}", user.token_hash),
        (
            user.id(),
            "view doctor's patients",
            &format!("doctor {doctor}"),
            "",
        ),
    )
    .await?;
    let (zone, time_zone, now) = (app.ward_zone().await?, app.time_zone().await?, app.now());
    let mut out = Vec::new();
    for (w, b, care) in dir.patients_of(&doctor) {
        let tz = time_zone.clone();
        out.push(stay_of(&app, &dir, (w, b), Some(care), &zone, tz, now, days).await?);
    }
    Ok(Json(DoctorView {
        doctor: Person {
            id: staff.id.clone(),
            name: staff.name.clone(),
            role: staff.role,
        },
        now_ms: now,
        days,
        patients: out,
    }))
}

#[utoipa::path(
    get, path = "/api/patients/{id}/stay", tag = "doctor", operation_id = "patientStay",
    summary = "A patient's stay day by day, for their doctor or ward (audited)", security(("session" = [])),
    params(("id" = String, Path, description = "Patient id"), Days),
    responses((status = 200, body = PatientStay), (status = 400, description = "A malformed value, named", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not this user's patient or ward", body = ErrorBody), (status = 404, description = "No such record", body = ErrorBody))
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
    app.audit_gated(
        &app.view_gate,
        &format!("patient {p} {}", user.token_hash),
        (user.id(), "view patient", &format!("patient {p}"), "stay"),
    )
    .await?;
    let care = bed.care_role(user.id());
    let (zone, time_zone, now) = (app.ward_zone().await?, app.time_zone().await?, app.now());
    let s = stay_of(&app, &dir, (&ward, &bed), care, &zone, time_zone, now, days).await?;
    Ok(Json(s))
}

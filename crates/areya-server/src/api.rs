//! The API's response bodies, one type each: what the handlers return and what `/openapi.json`
//! is generated from (`openapi.rs`), so the document cannot drift from what is sent.

use areya_core::{Emotion, PatientId, SourceId};
use areya_monitor::alerts::{Alert, AlertEvent};
use areya_monitor::directory::{CareRole, Directory, Identifier, Role};
use areya_monitor::engine::Consent;
use areya_monitor::state::Assessment;
use areya_monitor::Millis;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` while the store cannot write.
    pub status: String,
    pub role: crate::cluster::Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Who is logged in (`POST /api/login`).
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The wards they work on (every ward for an admin).
    pub wards: Vec<String>,
}

/// `POST /api/logout`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

/// A ward by id and name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WardRef {
    pub id: String,
    pub name: String,
}

/// `GET /api/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The dashboard's language for them, if the directory names one.
    pub lang: Option<String>,
    pub wards: Vec<WardRef>,
    /// A line the server shows on every page (e.g. "demo").
    pub banner: Option<String>,
}

/// A ward as a view names it, with its clock.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WardInfo {
    pub id: String,
    pub name: String,
    /// The ward's IANA time zone from the rules (`None`: the rules give a fixed offset).
    pub time_zone: Option<String>,
}

/// A member of staff as views name them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// A bed's camera.
#[derive(Debug, Serialize, ToSchema)]
pub struct Camera {
    pub sources: Vec<SourceId>,
    /// When any of its sources last sent a frame.
    pub last_seen_ms: Option<Millis>,
    /// Heard from within the server's `source_offline_after_s`.
    pub online: bool,
}

/// `[at_ms, score]`: a point of a score line.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScorePoint(pub Millis, pub u8);

impl utoipa::PartialSchema for ScorePoint {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::Integer))
            .min_items(Some(2))
            .max_items(Some(2))
            .description(Some("[at_ms, score 0–100]"))
            .into()
    }
}
impl ToSchema for ScorePoint {}

/// One bed of the ward view.
#[derive(Debug, Serialize, ToSchema)]
pub struct BedView {
    pub bed: String,
    /// `None`: an empty bed.
    pub patient: Option<PatientId>,
    pub nurse: Option<Person>,
    pub camera: Camera,
    /// `None` for an empty bed.
    pub consent: Option<Consent>,
    /// The newest assessment (`None` while there is none, or without consent).
    pub assessment: Option<Assessment>,
    /// The last hour's scores.
    pub sparkline: Vec<ScorePoint>,
    /// The patient's open alerts.
    pub alerts: Vec<Alert>,
}

/// `GET /api/wards/{ward}`: beds ordered by attention (escalated alerts, patient alerts,
/// technical alerts, then by score).
#[derive(Debug, Serialize, ToSchema)]
pub struct WardView {
    pub ward: WardInfo,
    pub now_ms: Millis,
    /// How long a camera may be silent before it is offline.
    pub offline_after_ms: Millis,
    /// How far back a bed's score, negative share and emotion reach (the score's horizon); an
    /// alert's figures are those of its own run, which can be shorter.
    pub horizon_ms: Millis,
    /// The ward's staff, so alerts can name people.
    pub staff: Vec<Person>,
    pub beds: Vec<BedView>,
    /// Messages to the messaging gateway about this ward that are not getting through (only
    /// with a gateway configured).
    pub deliveries: Option<DeliveryHealth>,
}

/// How the ward's messages to the gateway fare over the last 24 hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryHealth {
    /// Failed at least once and still being tried.
    pub retrying: u32,
    /// Given up on (dead letters).
    pub dead: u32,
    /// The oldest of those, and the last error.
    pub since_ms: Option<Millis>,
    pub last_error: Option<String>,
    /// The last error as words, for a reader in any language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_said: Option<areya_core::Words>,
}

/// `GET /api/admin/deliveries`: the messages to the gateway, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Whether a gateway is configured (`--webhook`).
    pub configured: bool,
    pub deliveries: Vec<areya_store::Delivery>,
}

/// `GET /api/wards/{ward}/kpi`: the ward's alarm burden.
#[derive(Debug, Serialize, ToSchema)]
pub struct Kpi {
    pub hours: i64,
    pub patient_alerts: usize,
    pub technical_alerts: usize,
    pub acknowledged: usize,
    pub actionable: usize,
    pub not_actionable: usize,
    /// Actionable share of the acknowledged patient alerts (`None`: none acknowledged).
    pub actionable_share: Option<f64>,
    /// Reasons given for "not actionable", with how often.
    pub not_actionable_reasons: BTreeMap<String, usize>,
    pub median_seconds_to_acknowledge: Option<f64>,
}

/// One window of a patient's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    pub start_ms: Millis,
    pub end_ms: Millis,
    /// Share of sampled frames with a face.
    pub coverage: f64,
    /// Mean negative probability over face frames (`None` without faces).
    pub negative: Option<f64>,
    pub dominant: Option<Emotion>,
}

/// An alert with everything that happened to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertHistory {
    pub alert: Alert,
    pub events: Vec<AlertEvent>,
}

/// A consent change, from the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentChange {
    pub at_ms: Millis,
    pub consent: Consent,
}

/// `GET /api/patients/{id}`: a patient's page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientView {
    pub patient: PatientId,
    pub ward: WardInfo,
    pub bed: String,
    pub nurse: Option<Person>,
    pub staff: Vec<Person>,
    pub consent: Consent,
    pub consent_changes: Vec<ConsentChange>,
    pub assessment: Option<Assessment>,
    pub now_ms: Millis,
    pub from_ms: Millis,
    pub window_ms: Millis,
    pub windows: Vec<WindowView>,
    pub scores: Vec<ScorePoint>,
    pub alerts: Vec<AlertHistory>,
}

/// `PUT /api/patients/{id}/consent`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentSet {
    pub patient: PatientId,
    pub consent: Consent,
}

/// An open alert with where it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertItem {
    pub alert: Alert,
    pub ward: String,
    pub bed: String,
}

/// `GET /api/alerts`: open alerts, escalated first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<AlertItem>,
}

/// `POST /api/alerts/delivered`: the alerts this report moved from raised to delivered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivered {
    pub ids: Vec<u64>,
}

/// An alert after an action (`None`: it closed meanwhile).
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertNow {
    pub alert: Option<Alert>,
}

/// A new version of a configuration document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub version: i64,
}

/// `GET /api/admin/directory` (password hashes are never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryView {
    pub version: i64,
    pub directory: Directory,
}

/// `PUT /api/admin/staff/{id}/password`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordSet {
    pub version: i64,
    /// Other sessions of that person, ended.
    pub sessions_ended: u64,
}

/// `PUT /api/admin/devices/{id}`: the token is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceRegistered {
    pub version: i64,
    pub device: String,
    pub token: String,
}

/// `PUT /api/admin/integrations/{id}`: the token is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationRegistered {
    pub version: i64,
    pub integration: String,
    pub token: String,
}

/// `GET /api/rules`: the current rule file (version 0 and empty: the defaults).
#[derive(Debug, Serialize, ToSchema)]
pub struct Rules {
    pub version: i64,
    pub toml: String,
}

/// `GET /api/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLog {
    pub entries: Vec<areya_store::AuditEntry>,
}

/// A patient's stay as their doctor reads it (`GET /api/patients/{id}/stay`, and each patient
/// of `GET /api/doctor/patients`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientStay {
    pub patient: PatientId,
    /// The hospital's identifiers (MRN, …).
    pub identifiers: Vec<Identifier>,
    pub ward: WardInfo,
    pub bed: String,
    pub attending: Option<Person>,
    pub care_team: Vec<Person>,
    pub nurse: Option<Person>,
    /// How the doctor asking stands to this patient (`None` for others who may see them).
    pub care: Option<CareRole>,
    pub consent: Consent,
    /// The attention score now (`None` while paused, opted out or never assessed).
    pub assessment: Option<Assessment>,
    /// Alerts raised and not yet acknowledged.
    pub waiting_alerts: u32,
    pub now_ms: Millis,
    pub stay: areya_monitor::stay::Stay,
    /// The span's alerts, newest first (how each was answered is in its `ack`).
    pub alerts: Vec<Alert>,
    /// The people who answered them, by name.
    pub staff: Vec<Person>,
}

/// `GET /api/doctor/patients`: a doctor's patients across wards.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorView {
    pub doctor: Person,
    pub now_ms: Millis,
    /// The days each stay covers (today included).
    pub days: u32,
    pub patients: Vec<PatientStay>,
}

/// `GET /api/doctor/notices`: a doctor's inbox, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeList {
    pub doctor: Person,
    /// Not yet acknowledged.
    pub waiting: u32,
    pub notices: Vec<areya_monitor::notice::Notice>,
}

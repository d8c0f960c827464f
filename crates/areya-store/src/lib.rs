//! Storage behind one small trait, [`Store`], with one implementation per file (SQLite, the
//! embedded default; PostgreSQL for several servers) and one conformance suite ([`conformance`]) that every
//! implementation must pass. Stored: window aggregates, scores, alerts and their events,
//! acknowledgements (inside the alert), rules, consent, and the append-only audit log —
//! never frames.

pub mod conformance;
mod pg_cluster;
mod postgres;
mod shared;
mod sqlite;

pub use pg_cluster::{ClusterEvent, PgCluster, PgEvents, MAX_PAYLOAD};
pub use postgres::{
    test_database as postgres_test_database, test_database_url as postgres_test_database_url,
    PgStore,
};
pub use sqlite::SqliteStore;

use areya_core::{Observation, PatientId, Words};
use areya_monitor::alerts::{Alert, AlertBook, AlertEvent};
use areya_monitor::engine::Consent;
use areya_monitor::engine::Output;
use areya_monitor::notice::{Notice, NoticeAck};
use areya_monitor::state::Assessment;
use areya_monitor::window::WindowAggregate;
use areya_monitor::Millis;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A storage failure, naming what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The message includes sqlx's; it is not also chained as a source, so that a report
    /// of the whole chain says it once.
    #[error("database {what}: {cause}")]
    Db {
        what: &'static str,
        cause: sqlx::Error,
    },
    /// As `Db`: the message includes the cause's, not also chained.
    #[error("database migration: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("stored {what} is not valid: {msg}")]
    Corrupt { what: &'static str, msg: String },
    #[error("{0}")]
    Refused(String),
    /// Someone else changed the record first (optimistic concurrency).
    #[error("conflict: {0}")]
    Conflict(String),
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

/// A record as the JSON text both back ends store.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> String {
    // Serialising these plain data types cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

/// A stored JSON record, read back (a row that does not parse is corrupt, naming `what`).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        what,
        msg: e.to_string(),
    })
}

/// Words as stored: JSON text.
pub(crate) fn words_json<T: Serialize>(w: Option<&T>) -> Option<String> {
    w.and_then(|w| serde_json::to_string(w).ok())
}

/// Stored words read back; words that do not read are left out (the English stays).
pub(crate) fn words_of<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// An `audit` row (`seq, at_ms, actor, action, target, detail, said`), the same on both back
/// ends.
pub(crate) fn audit_row<R>(r: &R) -> AuditEntry
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    AuditEntry {
        seq: r.get(0),
        at_ms: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        target: r.get(4),
        detail: r.get(5),
        said: words_of(r.get(6)),
    }
}

/// A stored patient id, checked again on the way out.
pub(crate) fn patient(what: &'static str, s: String) -> Result<PatientId, StoreError> {
    PatientId::parse(&s).map_err(|e| StoreError::Corrupt {
        what,
        msg: e.to_string(),
    })
}

/// A `windows` row, the same on both back ends.
pub(crate) fn window_row<R>(r: &R) -> Result<WindowAggregate, StoreError>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> f64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(WindowAggregate {
        patient: patient("window", r.get("patient"))?,
        start_ms: r.get("start_ms"),
        end_ms: r.get("end_ms"),
        frames: r.get::<i64, _>("frames") as u32,
        faces: r.get::<i64, _>("faces") as u32,
        prob_sums: areya_core::EmotionSums::from_array([
            r.get("sum_angry"),
            r.get("sum_happy"),
            r.get("sum_relaxed"),
            r.get("sum_sad"),
        ]),
        confidence_sum: r.get("confidence_sum"),
    })
}

pub(crate) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |cause| StoreError::Db { what, cause }
}

/// Everything one engine step produced, saved in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub windows: Vec<WindowAggregate>,
    pub assessments: Vec<(PatientId, Assessment)>,
    /// Current snapshots of alerts that changed.
    pub alerts: Vec<Alert>,
    pub events: Vec<AlertEvent>,
    /// The newest snapshot of each patient a window was closed for.
    pub patients: Vec<areya_monitor::engine::PatientSnapshot>,
    /// Messages for the gateway that the batch's events caused (queued with them).
    pub deliveries: Vec<NewDelivery>,
}

impl Batch {
    /// What to save for the engine's `outputs`: the windows, assessments and alert events, and
    /// the current snapshot of every alert an event touched that is still open in `book`
    /// (resolved alerts are marked resolved by the store from their event).
    pub fn from_outputs(outputs: &[Output], book: &AlertBook) -> Batch {
        let mut b = Batch::default();
        let mut touched = std::collections::BTreeSet::new();
        for o in outputs {
            match o {
                Output::Window { window } => b.windows.push(window.clone()),
                Output::Assessment {
                    patient,
                    assessment,
                } => b.assessments.push((patient.clone(), assessment.clone())),
                Output::Alert { event } => {
                    touched.insert(event_parts(event).0);
                    b.events.push(event.clone());
                }
                Output::AlertUpdated { id } => {
                    touched.insert(*id);
                }
                Output::Patient { snapshot } => {
                    b.patients.retain(|p| p.patient != snapshot.patient);
                    b.patients.push(snapshot.clone());
                }
            }
        }
        b.alerts = book
            .open_alerts()
            .filter(|a| touched.contains(&a.id))
            .cloned()
            .collect();
        // Raised and resolved within one step: its row still has to exist.
        for e in &b.events {
            if let AlertEvent::Raised { alert } = e {
                if !b.alerts.iter().any(|a| a.id == alert.id) {
                    b.alerts.push(alert.clone());
                }
            }
        }
        b
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
            && self.assessments.is_empty()
            && self.alerts.is_empty()
            && self.events.is_empty()
            && self.patients.is_empty()
            && self.deliveries.is_empty()
    }
}

/// A message for the messaging gateway, to be queued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// The message's id and idempotency key: the same message is queued once.
    pub key: String,
    pub created_ms: Millis,
    /// The ward it concerns, if any (whose nurses see a failure).
    pub ward: Option<String>,
    /// The JSON body, as posted.
    pub body: String,
}

/// How a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Every try failed: a dead letter.
    Dead,
}

impl DeliveryState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }
    pub(crate) fn parse(s: &str) -> DeliveryState {
        match s {
            "delivered" => DeliveryState::Delivered,
            "dead" => DeliveryState::Dead,
            _ => DeliveryState::Pending,
        }
    }
}

/// A queued message and how its delivery stands.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub key: String,
    pub created_ms: Millis,
    pub ward: Option<String>,
    pub body: String,
    /// Tries so far.
    pub attempts: u32,
    /// When the next try is due (pending only).
    pub next_ms: Millis,
    pub state: DeliveryState,
    /// The last failure in English…
    pub last_error: Option<String>,
    /// …and as words, for a reader in any language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_said: Option<Words>,
    /// When it was delivered or given up.
    pub done_ms: Option<Millis>,
}

/// What one try of a delivery came to.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered {
        at_ms: Millis,
    },
    Retry {
        attempts: u32,
        next_ms: Millis,
        error: Words,
    },
    Dead {
        attempts: u32,
        at_ms: Millis,
        error: Words,
    },
}

/// One audit-log entry: who did what to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Assigned by the store.
    pub seq: i64,
    pub at_ms: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    /// The target and detail as words, for a reader in any language (none on entries
    /// written before there were words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub said: Option<AuditWords>,
}

impl AuditEntry {
    /// An entry whose English `target` and `detail` are `target`'s and `detail`'s, kept as
    /// words too.
    pub fn new(
        at_ms: Millis,
        actor: &str,
        action: AuditAction,
        target: Words,
        detail: Words,
    ) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at_ms,
            actor: actor.to_string(),
            action: action.as_str().to_string(),
            target: target.to_string(),
            detail: detail.to_string(),
            said: Some(AuditWords { target, detail }),
        }
    }
}

macro_rules! audit_actions {
    ($($name:ident = $text:literal),* $(,)?) => {
        /// What an audit entry records: the `action` column's words (a dashboard translates
        /// them; scripts that read the log match them, so they do not change).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum AuditAction {
            $($name),*
        }

        impl AuditAction {
            pub const ALL: &[AuditAction] = &[$(AuditAction::$name),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$name => $text),*
                }
            }
        }
    };
}

audit_actions! {
    Login = "login",
    LoginFailed = "login failed",
    LoginRefused = "login refused",
    Logout = "logout",
    RequestRefused = "request refused",
    ViewWard = "view ward",
    ViewAlerts = "view alerts",
    ViewPatient = "view patient",
    ViewDoctorsPatients = "view doctor's patients",
    AcknowledgeAlert = "acknowledge alert",
    SnoozeAlert = "snooze alert",
    AcknowledgeNotice = "acknowledge notice",
    NotifyDoctor = "notify doctor",
    ChangeConsent = "change consent",
    ExportFhir = "export fhir",
    ChangeRules = "change rules",
    ChangeDirectory = "change directory",
    SetPassword = "set password",
    SetPasswordRefused = "set password refused",
    RegisterDevice = "register device",
    RegisterIntegration = "register integration",
    RevokeIntegration = "revoke integration",
    ReadAuditLog = "read audit log",
    CreateFirstAdmin = "create first admin",
    InstallDemoWard = "install demo ward",
}

/// An audit entry's target and detail as words; their English is the entry's `target` and
/// `detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditWords {
    pub target: Words,
    pub detail: Words,
}

/// Rows removed by a retention purge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub windows: u64,
    pub assessments: u64,
    pub alerts: u64,
    pub alert_events: u64,
    pub observations: u64,
}

/// Stored observation rows that can be replayed: each parses and passes
/// [`Observation::check_values`]; the others are logged and skipped.
pub(crate) fn replayable(rows: impl IntoIterator<Item = String>) -> Vec<Observation> {
    let mut skipped = 0usize;
    let out = rows
        .into_iter()
        .filter_map(|text| {
            let o = serde_json::from_str::<Observation>(&text)
                .map_err(|e| e.to_string())
                .and_then(|o| o.check_values().map(|()| o).map_err(|e| e.to_string()));
            match o {
                Ok(o) => Some(o),
                Err(e) => {
                    if skipped == 0 {
                        tracing::warn!("stored observation skipped in the replay: {e}");
                    }
                    skipped += 1;
                    None
                }
            }
        })
        .collect();
    if skipped > 1 {
        tracing::warn!("{skipped} stored observations in all were skipped in the replay");
    }
    out
}

/// Parses and validates a directory document before it is stored.
pub(crate) fn check_directory(doc: &str) -> Result<(), StoreError> {
    let d: areya_monitor::directory::Directory =
        serde_json::from_str(doc).map_err(|e| StoreError::Refused(format!("directory: {e}")))?;
    d.validate().map_err(|e| StoreError::Refused(e.to_string()))
}

pub(crate) fn directory_conflict(expected: Option<i64>, current: Option<i64>) -> StoreError {
    let v = |v: Option<i64>| v.map_or("none".to_string(), |v| v.to_string());
    StoreError::Conflict(format!(
        "the directory is at version {}, not {}: reload and apply the change again",
        v(current),
        v(expected)
    ))
}

/// The alert event's alert id, time and kind name.
pub fn event_parts(e: &AlertEvent) -> (u64, Millis, &'static str) {
    match e {
        AlertEvent::Raised { alert } => (alert.id, alert.raised_ms, "raised"),
        AlertEvent::Notified { id, at_ms, .. } => (*id, *at_ms, "notified"),
        AlertEvent::Delivered { id, at_ms } => (*id, *at_ms, "delivered"),
        AlertEvent::Acknowledged { id, ack } => (*id, ack.at_ms, "acknowledged"),
        AlertEvent::Snoozed { id, until_ms } => (*id, *until_ms, "snoozed"),
        AlertEvent::Realarmed { id, at_ms } => (*id, *at_ms, "realarmed"),
        AlertEvent::CannotAssess { id, at_ms, .. } => (*id, *at_ms, "cannot_assess"),
        AlertEvent::Resolved { id, at_ms } => (*id, *at_ms, "resolved"),
    }
}

/// Storage of the monitor's records.
pub trait Store: Send + Sync {
    /// Saves a batch atomically: all of it or none of it.
    fn save(&self, batch: &Batch) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Windows of one patient (or all) with `from ≤ start < to`, oldest first.
    fn windows(
        &self,
        patient: Option<&PatientId>,
        from: Millis,
        to: Millis,
    ) -> impl Future<Output = Result<Vec<WindowAggregate>, StoreError>> + Send;
    /// Assessments of one patient with `from ≤ at < to`, oldest first.
    fn assessments(
        &self,
        patient: &PatientId,
        from: Millis,
        to: Millis,
    ) -> impl Future<Output = Result<Vec<Assessment>, StoreError>> + Send;
    /// Alerts of one patient (or all), newest first.
    fn alerts(
        &self,
        patient: Option<&PatientId>,
    ) -> impl Future<Output = Result<Vec<Alert>, StoreError>> + Send;
    /// Events of one alert, in order.
    fn alert_events(
        &self,
        alert_id: u64,
    ) -> impl Future<Output = Result<Vec<AlertEvent>, StoreError>> + Send;
    /// Every patient's newest snapshot (to continue exactly after a restart).
    fn patient_states(
        &self,
    ) -> impl Future<Output = Result<Vec<areya_monitor::engine::PatientSnapshot>, StoreError>> + Send;
    /// The largest alert id stored (to continue numbering after a restart).
    fn max_alert_id(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Stores a new rule-file version; returns its number.
    fn save_rules(
        &self,
        at_ms: Millis,
        author: &str,
        toml: &str,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// The newest rule file (version, text).
    fn current_rules(
        &self,
    ) -> impl Future<Output = Result<Option<(i64, String)>, StoreError>> + Send;
    /// Records consent; opting out also deletes the patient's windows, assessments,
    /// observations and snapshot.
    fn set_consent(
        &self,
        patient: &PatientId,
        consent: Consent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn consents(
        &self,
    ) -> impl Future<Output = Result<Vec<(PatientId, Consent)>, StoreError>> + Send;
    /// Appends to the audit log; returns the entry's sequence number.
    fn audit(&self, entry: &AuditEntry) -> impl Future<Output = Result<i64, StoreError>> + Send;
    fn audit_log(
        &self,
        from: Millis,
        to: Millis,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
    /// The audit log's entries of one `action` on one `target` (a patient's consent changes),
    /// without reading the rest of the period.
    fn audit_of(
        &self,
        action: &str,
        target: &str,
        from: Millis,
        to: Millis,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
    /// Stores the observations not seen before, keyed by (source, time, frame), and says for
    /// each whether it was new: a retried delivery is harmless.
    fn insert_observations(
        &self,
        obs: &[Observation],
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;
    /// Observations with `at_ms >= from`, oldest first (to rebuild open windows after a restart).
    /// A stored row that cannot be read back or holds values out of range (written by an
    /// older version that did not check) is skipped with a warning, so it cannot keep the
    /// server from starting.
    fn observations_since(
        &self,
        from: Millis,
    ) -> impl Future<Output = Result<Vec<Observation>, StoreError>> + Send;
    /// The newest ward directory (version, JSON document).
    fn directory(&self) -> impl Future<Output = Result<Option<(i64, String)>, StoreError>> + Send;
    /// Stores a new directory version if `expected` is still the newest (`None`: there is none
    /// yet), else [`StoreError::Conflict`]. The document is validated first.
    fn save_directory(
        &self,
        expected: Option<i64>,
        at_ms: Millis,
        author: &str,
        json: &str,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Records a login session by the hash of its token.
    fn create_session(
        &self,
        token_hash: &str,
        staff: &str,
        expires_ms: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The staff id of a session that has not expired at `now`.
    fn session(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    fn delete_session(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends every session of `staff` but `keep` (a token hash); returns how many ended.
    fn delete_sessions_of(
        &self,
        staff: &str,
        keep: Option<&str>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Writes a heartbeat row: fails while the store cannot write (disk full, I/O errors,
    /// database down), which `/healthz` reports.
    fn check_writable(&self, at_ms: Millis) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Puts a notice in its doctor's inbox; returns its id.
    fn add_notice(&self, notice: &Notice) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The notices of one doctor (or everyone's) at or after `from`, newest first.
    fn notices(
        &self,
        doctor: Option<&str>,
        from: Millis,
    ) -> impl Future<Output = Result<Vec<Notice>, StoreError>> + Send;
    /// Acknowledges `doctor`'s notice `id` once: `None` when they have no such notice, else
    /// the notice as it now stands (an earlier acknowledgement stays) and whether this call
    /// acknowledged it.
    fn ack_notice(
        &self,
        id: u64,
        doctor: &str,
        ack: &NoticeAck,
    ) -> impl Future<Output = Result<Option<(Notice, bool)>, StoreError>> + Send;
    /// Queues messages for the gateway (a key already queued is left as it is).
    fn enqueue(&self, items: &[NewDelivery])
        -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Pending messages due at `now`, oldest first, at most `limit`.
    fn due_deliveries(
        &self,
        now: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;
    /// Records what a try of delivery `id` came to.
    fn finish_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// `ward`'s messages created at or after `from` that failed (given up, or failed at
    /// least once and still being tried), newest first, at most `limit`.
    fn failed_deliveries(
        &self,
        ward: &str,
        from: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;
    /// Messages created at or after `from`, newest first, at most `limit`.
    fn deliveries(
        &self,
        from: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;
    /// How often the store replaced its connections after an I/O failure.
    fn reopens(&self) -> u64 {
        0
    }
    /// Deletes records older than `cutoff` (resolved alerts only; the audit log is kept).
    fn purge_before(
        &self,
        cutoff: Millis,
    ) -> impl Future<Output = Result<Purged, StoreError>> + Send;
}

/// The store a server runs on, chosen by its database URL: SQLite (one server) or
/// PostgreSQL (one or several). One concrete type, so the server needs no type parameter.
pub enum Db {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Db {
    /// `postgres://…`/`postgresql://…` opens PostgreSQL; anything else SQLite.
    pub async fn open(url: &str) -> Result<Db, StoreError> {
        if is_postgres(url) {
            Ok(Db::Postgres(PgStore::open(url).await?))
        } else {
            Ok(Db::Sqlite(SqliteStore::open(url).await?))
        }
    }
}

impl From<SqliteStore> for Db {
    fn from(s: SqliteStore) -> Db {
        Db::Sqlite(s)
    }
}

impl From<PgStore> for Db {
    fn from(s: PgStore) -> Db {
        Db::Postgres(s)
    }
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

macro_rules! both {
    ($db:expr, $s:ident => $e:expr) => {
        match $db {
            Db::Sqlite($s) => $e,
            Db::Postgres($s) => $e,
        }
    };
}

impl Store for Db {
    async fn save(&self, batch: &Batch) -> Result<(), StoreError> {
        both!(self, s => s.save(batch).await)
    }
    async fn windows(
        &self,
        patient: Option<&PatientId>,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<WindowAggregate>, StoreError> {
        both!(self, s => s.windows(patient, from, to).await)
    }
    async fn assessments(
        &self,
        patient: &PatientId,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Assessment>, StoreError> {
        both!(self, s => s.assessments(patient, from, to).await)
    }
    async fn alerts(&self, patient: Option<&PatientId>) -> Result<Vec<Alert>, StoreError> {
        both!(self, s => s.alerts(patient).await)
    }
    async fn alert_events(&self, alert_id: u64) -> Result<Vec<AlertEvent>, StoreError> {
        both!(self, s => s.alert_events(alert_id).await)
    }
    async fn patient_states(
        &self,
    ) -> Result<Vec<areya_monitor::engine::PatientSnapshot>, StoreError> {
        both!(self, s => s.patient_states().await)
    }
    async fn max_alert_id(&self) -> Result<u64, StoreError> {
        both!(self, s => s.max_alert_id().await)
    }
    async fn save_rules(&self, at_ms: Millis, author: &str, toml: &str) -> Result<i64, StoreError> {
        both!(self, s => s.save_rules(at_ms, author, toml).await)
    }
    async fn current_rules(&self) -> Result<Option<(i64, String)>, StoreError> {
        both!(self, s => s.current_rules().await)
    }
    async fn set_consent(&self, patient: &PatientId, consent: Consent) -> Result<(), StoreError> {
        both!(self, s => s.set_consent(patient, consent).await)
    }
    async fn consents(&self) -> Result<Vec<(PatientId, Consent)>, StoreError> {
        both!(self, s => s.consents().await)
    }
    async fn audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        both!(self, s => s.audit(entry).await)
    }
    async fn audit_log(&self, from: Millis, to: Millis) -> Result<Vec<AuditEntry>, StoreError> {
        both!(self, s => s.audit_log(from, to).await)
    }
    async fn audit_of(
        &self,
        action: &str,
        target: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        both!(self, s => s.audit_of(action, target, from, to).await)
    }
    async fn insert_observations(&self, obs: &[Observation]) -> Result<Vec<bool>, StoreError> {
        both!(self, s => s.insert_observations(obs).await)
    }
    async fn observations_since(&self, from: Millis) -> Result<Vec<Observation>, StoreError> {
        both!(self, s => s.observations_since(from).await)
    }
    async fn directory(&self) -> Result<Option<(i64, String)>, StoreError> {
        both!(self, s => s.directory().await)
    }
    async fn save_directory(
        &self,
        expected: Option<i64>,
        at_ms: Millis,
        author: &str,
        json: &str,
    ) -> Result<i64, StoreError> {
        both!(self, s => s.save_directory(expected, at_ms, author, json).await)
    }
    async fn create_session(
        &self,
        token_hash: &str,
        staff: &str,
        expires_ms: Millis,
    ) -> Result<(), StoreError> {
        both!(self, s => s.create_session(token_hash, staff, expires_ms).await)
    }
    async fn session(&self, token_hash: &str, now: Millis) -> Result<Option<String>, StoreError> {
        both!(self, s => s.session(token_hash, now).await)
    }
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        both!(self, s => s.delete_session(token_hash).await)
    }
    async fn delete_sessions_of(&self, staff: &str, keep: Option<&str>) -> Result<u64, StoreError> {
        both!(self, s => s.delete_sessions_of(staff, keep).await)
    }
    async fn check_writable(&self, at_ms: Millis) -> Result<(), StoreError> {
        both!(self, s => s.check_writable(at_ms).await)
    }
    async fn enqueue(&self, items: &[NewDelivery]) -> Result<(), StoreError> {
        both!(self, s => s.enqueue(items).await)
    }
    async fn due_deliveries(&self, now: Millis, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        both!(self, s => s.due_deliveries(now, limit).await)
    }
    async fn finish_delivery(&self, id: i64, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        both!(self, s => s.finish_delivery(id, outcome).await)
    }
    async fn deliveries(&self, from: Millis, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        both!(self, s => s.deliveries(from, limit).await)
    }
    async fn failed_deliveries(
        &self,
        ward: &str,
        from: Millis,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        both!(self, s => s.failed_deliveries(ward, from, limit).await)
    }
    async fn add_notice(&self, notice: &Notice) -> Result<u64, StoreError> {
        both!(self, s => s.add_notice(notice).await)
    }
    async fn notices(&self, doctor: Option<&str>, from: Millis) -> Result<Vec<Notice>, StoreError> {
        both!(self, s => s.notices(doctor, from).await)
    }
    async fn ack_notice(
        &self,
        id: u64,
        doctor: &str,
        ack: &NoticeAck,
    ) -> Result<Option<(Notice, bool)>, StoreError> {
        both!(self, s => s.ack_notice(id, doctor, ack).await)
    }
    async fn purge_before(&self, cutoff: Millis) -> Result<Purged, StoreError> {
        both!(self, s => s.purge_before(cutoff).await)
    }
    fn reopens(&self) -> u64 {
        both!(self, s => s.reopens())
    }
}

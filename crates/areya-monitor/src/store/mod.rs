//! Storage behind one small trait, [`Store`], with one implementation per file (SQLite, the
//! embedded default; PostgreSQL next) and one conformance suite ([`conformance`]) that every
//! implementation must pass. Stored: window aggregates, scores, alerts and their events,
//! acknowledgements (inside the alert), rules, consent, and the append-only audit log —
//! never frames.

pub mod conformance;
mod sqlite;

pub use sqlite::SqliteStore;

use crate::alerts::{Alert, AlertEvent};
use crate::engine::Consent;
use crate::state::Assessment;
use crate::window::WindowAggregate;
use crate::Millis;
use areya_core::PatientId;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A storage failure, naming what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {what}: {source}")]
    Db {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored {what} is not valid: {msg}")]
    Corrupt { what: &'static str, msg: String },
    #[error("{0}")]
    Refused(String),
}

pub(crate) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Db { what, source }
}

/// Everything one engine step produced, saved in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub windows: Vec<WindowAggregate>,
    pub assessments: Vec<(PatientId, Assessment)>,
    /// Current snapshots of alerts that changed.
    pub alerts: Vec<Alert>,
    pub events: Vec<AlertEvent>,
}

/// One audit-log entry: who did what to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Assigned by the store.
    pub seq: i64,
    pub at_ms: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// Rows removed by a retention purge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub windows: u64,
    pub assessments: u64,
    pub alerts: u64,
    pub alert_events: u64,
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
    /// Records consent; opting out also deletes the patient's windows and assessments.
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
    /// Deletes records older than `cutoff` (resolved alerts only; the audit log is kept).
    fn purge_before(
        &self,
        cutoff: Millis,
    ) -> impl Future<Output = Result<Purged, StoreError>> + Send;
}

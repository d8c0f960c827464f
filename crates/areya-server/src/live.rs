//! What a dashboard hears live: one typed event per change, sent as a server-sent event whose
//! name is the kind (`score`, `alert`, …) and whose data is the payload as JSON. The same
//! events travel between the servers of a cluster.

use areya_core::PatientId;
use areya_monitor::alerts::{Alert, AlertEvent};
use areya_monitor::engine::Consent;
use areya_monitor::state::Assessment;
use serde::{Deserialize, Serialize};

/// A live change.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A patient's newest assessment (score, status, reason), and when the bed's camera was
    /// last heard from (so a card shows a camera back before the next full reload).
    Score {
        patient: PatientId,
        assessment: Assessment,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        camera_seen_ms: Option<areya_monitor::Millis>,
    },
    /// An alert changed: what happened, and the alert as it is now (`None` once resolved:
    /// the dashboard drops it by the event's id).
    Alert {
        event: Box<AlertEvent>,
        alert: Option<Box<Alert>>,
    },
    /// A patient's consent changed.
    Consent {
        patient: PatientId,
        consent: Consent,
    },
    /// The ward directory has a new version.
    Directory { version: i64 },
    /// This stream missed events (it fell behind, or one was too large to relay): reload.
    Resync {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        missed: Option<u64>,
    },
}

impl LiveEvent {
    /// The server-sent event's name.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::Score { .. } => "score",
            LiveEvent::Alert { .. } => "alert",
            LiveEvent::Consent { .. } => "consent",
            LiveEvent::Directory { .. } => "directory",
            LiveEvent::Resync { .. } => "resync",
        }
    }

    /// The payload, as the event's data.
    pub fn data(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => m.remove("data").unwrap_or_default(),
            _ => serde_json::Value::Null,
        }
    }

    /// The event named `name` with payload `data` (`None`: not one this version knows).
    pub fn from_parts(name: &str, data: serde_json::Value) -> Option<LiveEvent> {
        serde_json::from_value(serde_json::json!({ "event": name, "data": data })).ok()
    }
}

/// A live event and the ward it concerns (`None`: every ward's dashboards).
#[derive(Debug, Clone)]
pub struct Live {
    pub ward: Option<String>,
    pub event: LiveEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_wire_form_and_read_back() {
        let p = PatientId::parse("p-1").unwrap();
        let e = LiveEvent::Consent {
            patient: p,
            consent: Consent::OptedOut,
        };
        assert_eq!(e.name(), "consent");
        assert_eq!(
            e.data().to_string(),
            r#"{"consent":{"consent":"opted_out"},"patient":"p-1"}"#
        );
        let back = LiveEvent::from_parts("consent", e.data()).expect("known");
        assert_eq!(back.name(), "consent");
        assert_eq!(LiveEvent::Resync { missed: None }.data().to_string(), "{}");
        assert_eq!(
            LiveEvent::Resync { missed: Some(3) }.data().to_string(),
            r#"{"missed":3}"#
        );
        assert!(LiveEvent::from_parts("resync", serde_json::json!({})).is_some());
        assert!(LiveEvent::from_parts("bogus", serde_json::json!({})).is_none());
        assert!(LiveEvent::from_parts("directory", serde_json::json!({"v": 1})).is_none());
    }
}

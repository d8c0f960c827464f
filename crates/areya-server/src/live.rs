//! What a dashboard hears live: one typed event per change, sent as a server-sent event whose
//! name is the kind (`score`, `alert`, …) and whose data is the payload as JSON. The same
//! events travel between the servers of a cluster.

use areya_core::PatientId;
use areya_monitor::alerts::{Alert, AlertEvent};
use areya_monitor::engine::Consent;
use areya_monitor::state::Assessment;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

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

/// A live event as this server numbered it: `id` is `<epoch>-<seq>`, the server-sent event's
/// id, so a consumer that reconnects with `Last-Event-ID` gets what it missed. The payload is
/// serialised once, for every subscriber.
#[derive(Debug, Clone)]
pub struct Numbered {
    pub seq: u64,
    pub ward: Option<String>,
    pub name: &'static str,
    pub data: Arc<str>,
}

/// Events kept for replay: a consumer further behind than this is told to `resync`.
pub const REPLAY: usize = 4096;

/// Where a reconnecting consumer starts.
#[derive(Debug)]
pub enum Resume {
    /// Everything after its last event, still kept.
    Replay(Vec<Numbered>),
    /// Its last event is gone (too old, or from another server or an earlier run): reload.
    Resync,
}

/// This server's live events: numbered, kept for replay, broadcast to the subscribers.
pub struct LiveHub {
    /// Tells this run's ids from an earlier run's and from another server's.
    epoch: u64,
    tx: broadcast::Sender<Numbered>,
    ring: Mutex<(u64, VecDeque<Numbered>)>,
}

impl LiveHub {
    pub fn new(epoch: u64) -> LiveHub {
        let (tx, _) = broadcast::channel(1024);
        LiveHub {
            epoch,
            tx,
            ring: Mutex::new((0, VecDeque::new())),
        }
    }

    /// Numbers, keeps and broadcasts an event (nobody listening is fine).
    pub fn send(&self, live: Live) {
        let mut g = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        let n = Numbered {
            seq: g.0,
            ward: live.ward,
            name: live.event.name(),
            data: live.event.data().to_string().into(),
        };
        if g.1.len() == REPLAY {
            g.1.pop_front();
        }
        g.1.push_back(n.clone());
        // Sent under the lock, so subscribers see the ring's order.
        let _ = self.tx.send(n);
    }

    /// The id a consumer sees for `seq`.
    pub fn id(&self, seq: u64) -> String {
        format!("{:x}-{seq}", self.epoch)
    }

    /// A new subscriber, and (with the `Last-Event-ID` it sent) what it missed. Subscribed
    /// before the ring is read, so nothing falls between; live events up to the replay's last
    /// are to be skipped.
    pub fn subscribe(
        &self,
        last_event_id: Option<&str>,
    ) -> (broadcast::Receiver<Numbered>, Resume) {
        let g = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.tx.subscribe();
        let Some(last) = last_event_id else {
            return (rx, Resume::Replay(vec![]));
        };
        let seq = last
            .split_once('-')
            .filter(|(e, _)| u64::from_str_radix(e, 16).ok() == Some(self.epoch))
            .and_then(|(_, s)| s.parse::<u64>().ok());
        let oldest = g.1.front().map_or(g.0 + 1, |n| n.seq);
        match seq {
            // Caught up, or every later event is still kept.
            Some(s) if s <= g.0 && s + 1 >= oldest => (
                rx,
                Resume::Replay(g.1.iter().filter(|n| n.seq > s).cloned().collect()),
            ),
            _ => (rx, Resume::Resync),
        }
    }

    pub fn receiver_count(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory(v: i64) -> Live {
        Live {
            ward: None,
            event: LiveEvent::Directory { version: v },
        }
    }

    #[test]
    fn a_consumer_resumes_after_its_last_event_or_is_told_to_resync() {
        let hub = LiveHub::new(0xabc);
        for v in 1..=3 {
            hub.send(directory(v));
        }
        let id2 = hub.id(2);
        assert_eq!(id2, "abc-2");
        let (_, r) = hub.subscribe(Some(&id2));
        let Resume::Replay(missed) = r else {
            panic!("resync")
        };
        assert_eq!(missed.iter().map(|n| n.seq).collect::<Vec<_>>(), [3]);
        assert_eq!(&*missed[0].data, r#"{"version":3}"#);
        let (_, r) = hub.subscribe(Some(&hub.id(3)));
        assert!(matches!(r, Resume::Replay(v) if v.is_empty()), "caught up");
        // Another run's or another server's id, a garbled one, a future one: reload.
        for other in ["abd-2", "abc-x", "2", "abc-9"] {
            assert!(
                matches!(hub.subscribe(Some(other)).1, Resume::Resync),
                "{other}"
            );
        }
        // Further behind than what is kept.
        for v in 0..REPLAY as i64 {
            hub.send(directory(v));
        }
        assert!(matches!(hub.subscribe(Some(&id2)).1, Resume::Resync));
        let (_, r) = hub.subscribe(Some(&hub.id(REPLAY as u64)));
        let Resume::Replay(missed) = r else {
            panic!("resync")
        };
        assert_eq!(missed.len(), 3, "the last of the kept ones and after");
    }

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

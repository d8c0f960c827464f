//! Signed webhooks to the hospital's messaging gateway (pager, secure messaging, a phone app):
//! every notification and escalation step of an alert, what became of it, and every doctor's
//! notice go out as JSON, each once. They are queued in the store (the outbox) in the same
//! transaction as the alert event that caused them, so a crash loses none; a worker on the
//! engine's server posts them in order of creation with an HMAC-SHA256 signature and an
//! idempotency key, retries with doubling backoff, and after the last try puts a message in the
//! dead letters — counted in `/metrics`, listed on the admin page, and shown to the ward's
//! nurses, since a page that did not go out is something the charge nurse must know.
//!
//! Receiver's view: `POST` to the configured URL with `Content-Type: application/json`,
//! `Idempotency-Key: <the message's id>` (the same on every retry) and
//! `Areya-Signature: t=<ms since 1970>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared
//! secret>`. Any 2xx is delivered; anything else, or no answer within the timeout, is retried.

use crate::app::App;
use crate::words::{say, Lang};
use areya_core::Words;
use areya_monitor::alerts::{Alert, AlertEvent, AlertKind, Recipient};
use areya_monitor::directory::{Directory, Role};
use areya_monitor::notice::Notice;
use areya_monitor::{Millis, MINUTE, SECOND};
use areya_store::{DeliveryOutcome, NewDelivery, Store};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// Where and how webhooks go.
#[derive(Clone)]
pub struct WebhookSettings {
    /// `http://` or `https://`.
    pub url: String,
    /// The shared secret the receiver checks signatures with.
    pub secret: Vec<u8>,
    /// Tries before a message goes to the dead letters.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with every try, up to `max_retry_ms`.
    pub first_retry_ms: Millis,
    pub max_retry_ms: Millis,
    /// How long one post may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// A webhook URL or secret that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("'{0}' is not an http:// or https:// URL")]
    Url(String),
    #[error("{0} bytes is too short a secret to sign with (give at least 16)")]
    ShortSecret(usize),
    #[error("'{0}' needs HTTPS, which this build leaves out (build areya with --features tls)")]
    NoTls(String),
}

impl WebhookSettings {
    /// Checks a URL and a secret as an operator gives them.
    pub fn new(url: &str, secret: Vec<u8>) -> Result<WebhookSettings, WebhookError> {
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && url.len() <= 2000
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(WebhookError::Url(url.chars().take(200).collect()));
        }
        if secret.len() < 16 {
            return Err(WebhookError::ShortSecret(secret.len()));
        }
        if url.starts_with("https://") && !cfg!(feature = "tls") {
            return Err(WebhookError::NoTls(url.chars().take(200).collect()));
        }
        Ok(WebhookSettings {
            url: url.to_string(),
            secret,
            max_attempts: 8,
            first_retry_ms: 5 * SECOND,
            max_retry_ms: 10 * MINUTE,
            timeout: Duration::from_secs(10),
        })
    }

    /// When try number `attempts` (1 = the first) failed at `now`, the next try.
    pub fn retry_at(&self, attempts: u32, now: Millis) -> Millis {
        let wait = self
            .first_retry_ms
            .saturating_mul(1i64 << attempts.saturating_sub(1).min(30))
            .min(self.max_retry_ms);
        now + wait
    }
}

/// The `Areya-Signature` header of `body` signed at `t`.
pub fn signature(secret: &[u8], t: Millis, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// The people an alert notification is for, by role.
fn recipients(
    dir: &Directory,
    ward: &str,
    bed_nurse: Option<&str>,
    to: Recipient,
    text: &Words,
) -> Vec<Value> {
    let person = |id: &str| dir.staff(id).map(|s| person(s, text));
    match to {
        Recipient::AssignedNurse => bed_nurse.and_then(person).into_iter().collect(),
        Recipient::ChargeNurse | Recipient::WardFailsafe => dir
            .staff
            .iter()
            .filter(|s| s.wards.iter().any(|w| w == ward))
            .filter(|s| match to {
                Recipient::ChargeNurse => s.role == Role::ChargeNurse,
                _ => matches!(s.role, Role::Nurse | Role::ChargeNurse),
            })
            .filter_map(|s| person(&s.id))
            .collect(),
    }
}

/// A recipient: who, their language, and the message's text in it (a gateway sends each
/// person their own).
fn person(s: &areya_monitor::directory::Staff, text: &Words) -> Value {
    let lang = Lang::of(s.lang.as_deref());
    json!({ "id": s.id, "name": s.name, "role": s.role, "lang": lang.code(), "text": say(text, lang) })
}

/// What a person's pager or phone says of an alert, whole: what it is, where, and why
/// ("Sustained negative emotion — bed-01 · p-1001: negative 68% for 12 min, mostly sad").
fn pager_text(a: &Alert, bed: &str) -> Words {
    let reason = a
        .said
        .as_ref()
        .map_or_else(|| Words::new(a.reason.as_str()), |s| s.words());
    let text = match a.kind {
        // The kind says it all.
        AlertKind::SourceOffline => Words::new("{kind} — {bed} · {patient}"),
        _ => Words::new("{kind} — {bed} · {patient}: {reason}").with("reason", reason),
    };
    text.with("kind", a.kind.label())
        .with("bed", bed)
        .with("patient", a.patient.as_str())
}

/// The message for an alert event, if it is one that goes out (notifications and escalation
/// steps, cannot assess, acknowledged, resolved).
pub fn alert_message(
    dir: &Directory,
    event: &AlertEvent,
    alert: Option<&Alert>,
) -> Option<NewDelivery> {
    let (id, at_ms, kind) = areya_store::event_parts(event);
    let what = match event {
        AlertEvent::Notified { .. } => "alert.notified",
        AlertEvent::CannotAssess { .. } => "alert.cannot_assess",
        AlertEvent::Acknowledged { .. } => "alert.acknowledged",
        AlertEvent::Resolved { .. } => "alert.resolved",
        _ => return None,
    };
    let key = format!("alert-{id}-{kind}-{at_ms}");
    let mut body = json!({
        "id": key,
        "type": what,
        "at_ms": at_ms,
        "at": areya_core::time::iso8601_utc(at_ms),
        "alert_id": id,
    });
    let mut ward = None;
    if let Some(a) = alert {
        let place = dir.bed_of(&a.patient);
        ward = place.map(|(w, _)| w.id.clone());
        body["patient"] = json!(a.patient);
        body["kind"] = json!(a.kind);
        body["priority"] = json!(a.priority);
        body["text"] = json!(a.reason);
        if let Some((w, b)) = place {
            body["ward"] = json!(w.id);
            body["bed"] = json!(b.id);
            if let AlertEvent::Notified { to, .. } = event {
                let text = pager_text(a, &b.id);
                body["to"] = json!({
                    "role": to,
                    "staff": recipients(dir, &w.id, b.assigned_nurse.as_deref(), *to, &text),
                });
            }
        }
    }
    if let AlertEvent::Acknowledged { ack, .. } = event {
        body["acknowledged"] =
            json!({ "by": ack.by, "actionable": ack.actionable, "reason": ack.reason });
    }
    Some(NewDelivery {
        key,
        created_ms: at_ms,
        ward,
        body: body.to_string(),
    })
}

/// The message for a doctor's notice.
pub fn notice_message(dir: &Directory, n: &Notice) -> NewDelivery {
    let key = format!("notice-{}", n.id);
    let place = n.patient.as_ref().and_then(|p| dir.bed_of(p));
    let body = json!({
        "id": key,
        "type": format!("notice.{}", n.kind.as_str()),
        "at_ms": n.at_ms,
        "at": areya_core::time::iso8601_utc(n.at_ms),
        "patient": n.patient,
        "ward": place.map(|(w, _)| &w.id),
        "bed": place.map(|(_, b)| &b.id),
        "to": { "role": "doctor", "staff": dir.staff(&n.doctor).map(|s| person(s, &n.words())).into_iter().collect::<Vec<_>>() },
        "text": n.text,
    });
    NewDelivery {
        key,
        created_ms: n.at_ms,
        ward: place.map(|(w, _)| w.id.clone()),
        body: body.to_string(),
    }
}

/// One post: `Ok` for a 2xx, else what went wrong in a few words.
fn post(
    agent: &ureq::Agent,
    s: &WebhookSettings,
    key: &str,
    body: &str,
    t: Millis,
) -> Result<(), Words> {
    let r = agent
        .post(&s.url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", key)
        .header("Areya-Signature", &signature(&s.secret, t, body))
        .send(body);
    match r {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(Words::new("the gateway answered {status}")
            .with("status", resp.status().as_u16().to_string())),
        Err(e) => {
            tracing::warn!("webhook {key}: {e}");
            Err(failure(&e))
        }
    }
}

/// A failed post in words for whoever reads the Messages tab and the ward's warning, in their
/// language (the library's own words go to the server's log).
fn failure(e: &ureq::Error) -> Words {
    use std::io::ErrorKind as K;
    Words::new(match e {
        ureq::Error::Timeout(_) => "the gateway did not answer in time",
        ureq::Error::HostNotFound => "the gateway's host name was not found",
        ureq::Error::ConnectionFailed => "could not connect to the gateway",
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => "the gateway refused the connection",
            K::TimedOut | K::WouldBlock => "the gateway did not answer in time",
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                "the connection to the gateway broke off"
            }
            _ => "a network error on the way to the gateway",
        },
        e if is_tls(e) => "the secure connection (TLS) to the gateway failed",
        _ => "the gateway's answer could not be read",
    })
}

fn is_tls(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Tls(_) | ureq::Error::TlsRequired => true,
        #[cfg(feature = "tls")]
        ureq::Error::Rustls(_) | ureq::Error::Pem(_) => true,
        _ => false,
    }
}

/// Posts what is due, until `shutdown`. Only the server that runs the engine delivers.
pub async fn run_deliveries(app: Arc<App>, shutdown: impl std::future::Future<Output = ()>) {
    let Some(settings) = app.settings.webhook.clone() else {
        return;
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(settings.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut interval = tokio::time::interval(Duration::from_millis(200));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = interval.tick() => {}
        }
        if app.follower().is_some() {
            continue;
        }
        if let Err(e) = deliver_due(&app, &agent, &settings).await {
            tracing::warn!("webhook deliveries: {e}");
        }
    }
}

/// Posts every message due now, oldest first; returns how many were tried.
pub async fn deliver_due(
    app: &App,
    agent: &ureq::Agent,
    s: &WebhookSettings,
) -> Result<usize, crate::error::AppError> {
    let due = app.store.due_deliveries(app.now(), 50).await?;
    for d in &due {
        let (agent, settings, key, body, t) = (
            agent.clone(),
            s.clone(),
            d.key.clone(),
            d.body.clone(),
            app.now(),
        );
        let result = tokio::task::spawn_blocking(move || post(&agent, &settings, &key, &body, t))
            .await
            .unwrap_or_else(|e| {
                tracing::error!("webhook post: {e}");
                Err(Words::new("the post to the gateway stopped unexpectedly"))
            });
        let now = app.now();
        let attempts = d.attempts + 1;
        let outcome = match result {
            Ok(()) => {
                app.counters.webhook_delivered.inc();
                DeliveryOutcome::Delivered { at_ms: now }
            }
            Err(error) if attempts >= s.max_attempts => {
                app.counters.webhook_dead.inc();
                tracing::warn!("webhook {}: dead after {attempts} tries: {error}", d.key);
                DeliveryOutcome::Dead {
                    attempts,
                    at_ms: now,
                    error,
                }
            }
            Err(error) => {
                app.counters.webhook_retried.inc();
                DeliveryOutcome::Retry {
                    attempts,
                    next_ms: s.retry_at(attempts, now),
                    error,
                }
            }
        };
        app.store.finish_delivery(d.id, &outcome).await?;
    }
    Ok(due.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_time_and_body() {
        // As a receiver computes it (here with Python's hmac module):
        // hmac.new(b"Jefe", b'1796000000000.{"id":"a"}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature(b"Jefe", 1_796_000_000_000, r#"{"id":"a"}"#),
            "t=1796000000000,v1=ebb744d4b2d7957820a76fc68f7393c30e2da2214509fd0483a1e1a3c1577515"
        );
        // The time is part of what is signed: a body replayed under another time fails.
        let other = signature(b"Jefe", 1_796_000_000_001, r#"{"id":"a"}"#);
        assert_ne!(
            other.split(",v1=").nth(1),
            Some("ebb744d4b2d7957820a76fc68f7393c30e2da2214509fd0483a1e1a3c1577515")
        );
    }

    #[test]
    fn retries_double_up_to_the_limit_and_bad_settings_are_named() {
        let s = WebhookSettings::new("http://gw.example/areya", vec![7; 32]).unwrap();
        // HTTPS where the build has TLS; one clear line where it does not.
        let https = WebhookSettings::new("https://gw.example/areya", vec![7; 32]);
        if cfg!(feature = "tls") {
            assert!(https.is_ok());
        } else {
            assert_eq!(
                https.map(|_| ()).map_err(|e| e.to_string()),
                Err("'https://gw.example/areya' needs HTTPS, which this build leaves out (build areya with --features tls)".to_string())
            );
        }
        let waits: Vec<Millis> = (1..=9).map(|n| s.retry_at(n, 0)).collect();
        assert_eq!(
            waits,
            [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000]
        );
        assert_eq!(
            WebhookSettings::new("ftp://gw", vec![7; 32])
                .unwrap_err()
                .to_string(),
            "'ftp://gw' is not an http:// or https:// URL"
        );
        assert_eq!(
            WebhookSettings::new("http://gw", vec![7; 5])
                .unwrap_err()
                .to_string(),
            "5 bytes is too short a secret to sign with (give at least 16)"
        );
        assert!(
            !format!("{s:?}").contains("7, 7"),
            "the secret is never printed"
        );
    }

    /// A gateway that is not there, or says nothing in time, is said in words any language
    /// has (the library's own text goes to the log only).
    #[test]
    fn transport_failures_are_said_in_words() {
        let agent = |timeout_ms| -> ureq::Agent {
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_millis(timeout_ms)))
                .http_status_as_error(false)
                .build()
                .into()
        };
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let s = WebhookSettings::new(&format!("http://127.0.0.1:{port}/"), vec![7; 32]).unwrap();
        let refused = post(&agent(2000), &s, "k", "{}", 0).unwrap_err();
        assert_eq!(refused.text, "the gateway refused the connection");
        // Accepts, never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("addr").port();
        let s = WebhookSettings::new(&format!("http://127.0.0.1:{port}/"), vec![7; 32]).unwrap();
        let late = post(&agent(300), &s, "k", "{}", 0).unwrap_err();
        assert_eq!(late.text, "the gateway did not answer in time");
        drop(silent);
        assert_eq!(
            failure(&ureq::Error::HostNotFound).text,
            "the gateway's host name was not found"
        );
    }
}

//! Signed webhooks to a messaging gateway: a local receiver gets each message once with a
//! valid signature, through an outage; a message nobody takes becomes a dead letter that the
//! ward's nurses and the admin see.

use super::*;
use areya_server::webhook::WebhookSettings;
use hmac::{Hmac, Mac};
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Duration;

const SECRET: &[u8] = b"a shared secret of the gateway";

/// A gateway on loopback: answers 503 to the next `outage` posts (500 to all while `down`),
/// 200 otherwise, and keeps what it was sent.
#[derive(Clone, Default)]
struct Gateway {
    outage: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
    got: Arc<Mutex<Vec<Posted>>>,
}

/// One post the gateway took: (signature, idempotency key, body, status answered).
type Posted = (String, String, String, u16);

impl Gateway {
    async fn start(&self) -> String {
        let g = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let g = g.clone();
                async move {
                    let h = |k: &str| {
                        headers
                            .get(k)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let status = if g.down.load(Ordering::SeqCst) {
                        500
                    } else if g
                        .outage
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                    {
                        503
                    } else {
                        200
                    };
                    g.got.lock().unwrap().push((
                        h("areya-signature"),
                        h("idempotency-key"),
                        body,
                        status,
                    ));
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    }

    fn delivered(&self) -> Vec<(String, String, String)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.3 == 200)
            .map(|g| (g.0.clone(), g.1.clone(), g.2.clone()))
            .collect()
    }
}

/// Checks an `Areya-Signature` header against the body as a receiver would: the hex decoded,
/// then compared in constant time by the MAC itself.
fn signed(header: &str, body: &str) -> bool {
    let Some((t, v1)) = header.strip_prefix("t=").and_then(|r| r.split_once(",v1=")) else {
        return false;
    };
    let Some(sent) = (0..v1.len())
        .step_by(2)
        .map(|i| {
            v1.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&sent).is_ok()
}

/// Lets ward time pass a second at a time until `cond` holds (retries fall due).
async fn until(s: &Server, what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        s.advance(1000);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("waited for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_gets_each_message_once_signed_through_an_outage_and_dead_letters_show() {
    let gw = Gateway::default();
    let url = gw.start().await;
    let s = Server::start_with("sqlite::memory:", true, T0, |st| {
        let mut w = WebhookSettings::new(&url, SECRET.to_vec()).expect("settings");
        w.max_attempts = 3;
        w.first_retry_ms = 1000;
        w.max_retry_ms = 4000;
        st.webhook = Some(w);
    })
    .await;
    // Ana reads German: her page says so in German.
    s.edit_directory(|dir| {
        for st in dir.staff.iter_mut().filter(|st| st.id == "ana") {
            st.lang = Some("de".into());
        }
    })
    .await;
    // The gateway is down for the first two posts.
    gw.outage.store(2, Ordering::SeqCst);
    feed(&s, 0, 30, 0.1).await;
    feed(&s, 0, 100, 0.9).await;
    let id = s.open_alert_of(0).await;
    let key = |kind: &str| format!("alert-{id}-{kind}-");
    until(&s, "the nurse's page", || {
        gw.delivered()
            .iter()
            .any(|d| d.1.starts_with(&key("notified")))
    })
    .await;
    until(&s, "nothing left to send", || {
        let pending = futures_now(s.app.store.due_deliveries(i64::MAX, 1));
        pending.is_empty()
    })
    .await;
    let got = gw.delivered();
    // Every message once, signed, its key its id.
    let mut keys: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "each message delivered once: {keys:?}");
    for (sig, k, body) in &got {
        assert!(signed(sig, body), "a valid signature on {k}");
        let v: Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(v["id"], k.as_str());
    }
    let page = got
        .iter()
        .find(|g| g.1.starts_with(&key("notified")))
        .map(|g| serde_json::from_str::<Value>(&g.2).expect("JSON"))
        .expect("the page");
    assert_eq!(page["type"], "alert.notified");
    assert_eq!(
        (page["ward"].as_str(), page["bed"].as_str()),
        (Some("ward-4b"), Some("bed-01"))
    );
    assert_eq!(page["to"]["role"], "assigned_nurse");
    assert_eq!(page["to"]["staff"][0]["name"], "Nurse Ana Costa");
    assert_eq!(page["to"]["staff"][0]["lang"], "de");
    let (english, german) = (
        page["text"].as_str().unwrap_or_default(),
        page["to"]["staff"][0]["text"].as_str().unwrap_or_default(),
    );
    assert!(
        english.starts_with("negative ")
            && german.starts_with("Anhaltende negative Emotion — bed-01 · p-1001: negativ ")
            && german.contains("meist traurig"),
        "the page in English ({english}) and in Ana's German ({german})"
    );
    let tries = gw.got.lock().unwrap().len();
    assert!(
        tries >= n + 2,
        "the two refused posts were tried again ({tries} for {n})"
    );
    let all = s.app.store.deliveries(0, 1000).await.expect("outbox");
    assert!(all
        .iter()
        .all(|d| d.state == areya_store::DeliveryState::Delivered));

    // The gateway stays down: Ana's acknowledgement goes to the dead letters after 3 tries.
    gw.down.store(true, Ordering::SeqCst);
    let ana = s.login("ana").await;
    assert_eq!(s.ack(&ana, id, json!({ "actionable": true })).await.0, 200);
    until(&s, "a dead letter", || {
        futures_now(s.app.store.deliveries(0, 1000))
            .iter()
            .any(|d| {
                d.key.starts_with(&key("acknowledged"))
                    && d.state == areya_store::DeliveryState::Dead
            })
    })
    .await;
    let (_, view) = s.json("GET", "/api/wards/ward-4b", Some(&ana), None).await;
    assert!(
        view["deliveries"]["dead"].as_u64() >= Some(1),
        "{}",
        view["deliveries"]
    );
    assert_eq!(view["deliveries"]["last_error"], "the gateway answered 500");
    assert_eq!(
        view["deliveries"]["last_said"],
        json!({"text": "the gateway answered {status}", "vars": {"status": "500"}}),
        "the same, for a reader in any language"
    );
    let admin = s.login("admin").await;
    let list = s.get_ok("/api/admin/deliveries", &admin).await;
    assert_eq!(list["configured"], true);
    assert!(list["deliveries"]
        .as_array()
        .is_some_and(|d| d.iter().any(|d| d["state"] == "dead")));
    assert_eq!(
        s.json("GET", "/api/admin/deliveries", Some(&ana), None)
            .await
            .0,
        403
    );
    let (_, _, metrics) = s.req("GET", "/metrics", &[], None).await;
    assert!(
        metrics.contains("areya_webhook_dead_letters_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("areya_webhook_retries_total"), "{metrics}");
    s.stop().await;
}

/// Runs a store future to its end from a synchronous check.
fn futures_now<T>(f: impl std::future::Future<Output = Result<T, areya_store::StoreError>>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f)).expect("store")
}

//! The edge agent's link to the server (`areya watch --server URL --token T`): observations are
//! queued (bounded), posted in batches from a thread of their own so a slow or restarting
//! server never stalls the camera, retried with backoff until the server answers, and never
//! sent twice in a way that matters (the server keys them by source, time and frame).
//! Plain HTTP: put TLS in front with the hospital's reverse proxy. What happens to deliveries
//! (an outage, refusals) is logged with `tracing`; the totals come back from `finish`.

use areya_core::time::now_ms;
use areya_core::{ErrorBody, IngestReport, IngestRequest, ModelHealth, Observation};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The server URL or token cannot be used, or the sending thread cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error(
        "{0}: this build speaks plain HTTP; terminate TLS in a reverse proxy on the edge host"
    )]
    Https(String),
    #[error("{0}: expected http://HOST[:PORT]")]
    BadUrl(String),
    #[error("give the device token the server's admin issued (PUT /api/admin/devices/ID)")]
    NoToken,
    #[error("cannot start the sending thread: {0}")]
    Thread(std::io::Error),
}

/// Most observations in one request.
const BATCH: usize = 200;

#[derive(Default)]
struct Queue {
    /// (sequence number, observation), oldest first.
    items: VecDeque<(u64, Observation)>,
    next: u64,
    closed: bool,
    /// Dropped because the queue was full (the oldest go first).
    overflow: u64,
    /// Dropped before sending: a value out of range.
    invalid: u64,
    /// The newest model-health report not yet delivered: (patient, error), and its number.
    health: Option<(u64, areya_core::PatientId, Option<String>)>,
}

/// What the poster did, reported when it finishes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: u64,
    pub duplicates: u64,
    /// Refused by the server as invalid (4xx) and dropped.
    pub rejected: u64,
    /// Dropped because the queue was full during a long outage.
    pub overflow: u64,
    /// Still queued when the poster gave up at the end.
    pub undelivered: u64,
}

pub struct Poster {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    capacity: usize,
    thread: Option<std::thread::JoinHandle<Delivery>>,
}

impl Poster {
    /// Checks the URL and starts the sending thread. `give_up` bounds how long `finish` keeps
    /// retrying what is left once the source has ended.
    pub fn start(
        url: &str,
        token: &str,
        capacity: usize,
        give_up: Duration,
    ) -> Result<Poster, EdgeError> {
        let base = url.trim_end_matches('/');
        if base.starts_with("https://") {
            return Err(EdgeError::Https(url.to_string()));
        }
        if !base.starts_with("http://") || base.len() <= "http://".len() {
            return Err(EdgeError::BadUrl(url.to_string()));
        }
        if token.trim().is_empty() {
            return Err(EdgeError::NoToken);
        }
        let endpoint = format!("{base}/api/ingest");
        let auth = format!("Bearer {}", token.trim());
        let queue: Arc<(Mutex<Queue>, Condvar)> = Arc::default();
        let q = queue.clone();
        let thread = std::thread::Builder::new()
            .name("areya-post".into())
            .spawn(move || send_loop(&endpoint, &auth, &q, give_up))
            .map_err(EdgeError::Thread)?;
        Ok(Poster {
            queue,
            capacity: capacity.max(BATCH),
            thread: Some(thread),
        })
    }

    /// Queues one observation (never blocks; during a long outage the oldest are dropped).
    /// One with a value out of range is dropped here, as the server would refuse it.
    pub fn send(&self, o: Observation) {
        let (lock, cv) = &*self.queue;
        let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = o.check() {
            if q.invalid == 0 {
                tracing::warn!("observation of {} dropped: {e}", o.patient);
            }
            q.invalid += 1;
            return;
        }
        if q.items.len() >= self.capacity {
            q.items.pop_front();
            q.overflow += 1;
        }
        let seq = q.next;
        q.next += 1;
        q.items.push_back((seq, o));
        cv.notify_one();
    }

    /// Reports that the model fails (`Some(reason)`) or works again (`None`) on `patient`'s
    /// frames; the server keeps a technical alert open meanwhile. The newest report wins.
    pub fn health(&self, patient: areya_core::PatientId, error: Option<String>) {
        let (lock, cv) = &*self.queue;
        let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
        let n = q.next;
        q.next += 1;
        q.health = Some((n, patient, error));
        cv.notify_one();
    }

    /// No more observations: delivers what is queued (retrying up to the give-up time).
    pub fn finish(mut self) -> Delivery {
        {
            let (lock, cv) = &*self.queue;
            lock.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
            cv.notify_one();
        }
        let mut d = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let q = self.queue.0.lock().unwrap_or_else(|p| p.into_inner());
        d.overflow = q.overflow;
        d.rejected += q.invalid;
        d.undelivered = q.items.len() as u64;
        d
    }
}

enum Outcome {
    Stored {
        accepted: u64,
        duplicate: u64,
    },
    /// The server refused the batch as invalid: retrying cannot help.
    Rejected(String),
    /// The server refused one observation of the batch, naming it (`observations[3].at_ms`):
    /// that one is dropped and the rest sent again.
    RejectedOne {
        index: usize,
        field: String,
        why: String,
    },
    /// Unreachable, restarting or overloaded: retry.
    Retry(String),
}

fn post(
    agent: &ureq::Agent,
    endpoint: &str,
    auth: &str,
    batch: &[Observation],
    health: Option<&(u64, areya_core::PatientId, Option<String>)>,
) -> Outcome {
    let health = health
        .map(|(_, patient, e)| ModelHealth {
            patient: patient.clone(),
            model_error: e.clone(),
        })
        .into_iter()
        .collect();
    let body = match serde_json::to_string(&IngestRequest::new(batch.to_vec(), health)) {
        Ok(b) => b,
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    let resp = agent
        .post(endpoint)
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .send(body.as_str());
    let mut resp = match resp {
        Ok(r) => r,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    if status == 200 {
        return match serde_json::from_str::<IngestReport>(&text) {
            Ok(r) => Outcome::Stored {
                accepted: r.accepted as u64,
                duplicate: (r.duplicate + r.refused) as u64,
            },
            // Stored, but the answer is not what this version reads: nothing to count.
            Err(e) => {
                tracing::warn!("--server: unexpected answer to a delivery: {e}");
                Outcome::Stored {
                    accepted: 0,
                    duplicate: 0,
                }
            }
        };
    }
    let err: Option<ErrorBody> = serde_json::from_str(&text).ok();
    let why = err.as_ref().map_or(text.as_str(), |e| e.error.as_str());
    match status {
        // Wrong token: an operator must fix it; keep the observations meanwhile.
        401 => Outcome::Retry("the server refused the device token (401)".into()),
        408 | 429 | 500..=599 => Outcome::Retry(format!("server answered {status}")),
        422 => match err
            .as_ref()
            .and_then(|e| e.field.as_deref())
            .and_then(|f| refused_index(f).map(|i| (i, f)))
        {
            Some((index, field)) if index < batch.len() => Outcome::RejectedOne {
                index,
                field: field.to_string(),
                why: why.to_string(),
            },
            _ => Outcome::Rejected(format!("{status}: {why}")),
        },
        _ => Outcome::Rejected(format!("{status}: {why}")),
    }
}

/// The index of the observation a 422 names in its `field` (`observations[3].at_ms` → 3).
fn refused_index(field: &str) -> Option<usize> {
    let rest = field.strip_prefix("observations[")?;
    rest.split_once(']')?.0.parse().ok()
}

/// Sequence numbers of the batch to drop when the server refused observation `index` for
/// `field`: that one, and when it was refused for its time and that time is in the past by
/// this host's clock (`now_ms`; too old to be scored), every one as old or older in the batch,
/// as each would be refused in turn.
fn to_drop(batch: &[(u64, Observation)], index: usize, field: &str, now_ms: i64) -> Vec<u64> {
    let Some((seq, refused)) = batch.get(index) else {
        return vec![];
    };
    if field.ends_with(".at_ms") && refused.at_ms < now_ms - 60_000 {
        batch
            .iter()
            .filter(|(_, o)| o.at_ms <= refused.at_ms)
            .map(|(s, _)| *s)
            .collect()
    } else {
        vec![*seq]
    }
}

fn send_loop(
    endpoint: &str,
    auth: &str,
    queue: &(Mutex<Queue>, Condvar),
    give_up: Duration,
) -> Delivery {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let (lock, cv) = queue;
    let mut d = Delivery::default();
    let mut backoff = Duration::from_millis(250);
    let mut outage: Option<Instant> = None;
    let mut closed_at: Option<Instant> = None;
    loop {
        let (last, batch, health) = {
            let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
            while q.items.is_empty() && q.health.is_none() && !q.closed {
                q = cv.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.items.is_empty() && q.health.is_none() {
                return d;
            }
            if q.closed && closed_at.is_none() {
                closed_at = Some(Instant::now());
            }
            let numbered: Vec<_> = q.items.iter().take(BATCH).cloned().collect();
            let last = numbered.last().map(|b| b.0);
            (last, numbered, q.health.clone())
        };
        let numbered = batch;
        let batch: Vec<Observation> = numbered.iter().map(|b| b.1.clone()).collect();
        let n = batch.len();
        let done = match post(&agent, endpoint, auth, &batch, health.as_ref()) {
            Outcome::Stored {
                accepted,
                duplicate,
            } => {
                if let Some(t) = outage.take() {
                    tracing::info!("delivering again after {:.0} s", t.elapsed().as_secs_f64());
                }
                d.delivered += accepted;
                d.duplicates += duplicate;
                backoff = Duration::from_millis(250);
                true
            }
            Outcome::Rejected(why) => {
                tracing::warn!("{n} observation(s) refused and dropped: {why}");
                d.rejected += n as u64;
                true
            }
            Outcome::RejectedOne { index, field, why } => {
                let drop = to_drop(&numbered, index, &field, now_ms());
                tracing::warn!("{} observation(s) refused and dropped: {why}", drop.len());
                d.rejected += drop.len() as u64;
                let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
                q.items.retain(|(seq, _)| !drop.contains(seq));
                // The rest of the batch goes again at once.
                false
            }
            Outcome::Retry(why) => {
                if outage.is_none() {
                    tracing::warn!("{why}; keeping observations and retrying");
                    outage = Some(Instant::now());
                }
                if closed_at.is_some_and(|t| t.elapsed() >= give_up) {
                    return d;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(10));
                false
            }
        };
        if done {
            let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
            // Only the sent ones (the queue may have dropped its oldest meanwhile).
            while last.is_some_and(|last| q.items.front().is_some_and(|(seq, _)| *seq <= last)) {
                q.items.pop_front();
            }
            // The health report sent, unless a newer one came meanwhile.
            if q.health.as_ref().map(|h| h.0) == health.as_ref().map(|h| h.0) {
                q.health = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    fn obs(frame: u64) -> Observation {
        Observation {
            source: areya_core::SourceId::parse("cam").unwrap(),
            patient: areya_core::PatientId::parse("p").unwrap(),
            // Stamped now, as a camera stamps them (the server and the edge judge times by it).
            at_ms: now_ms() + frame as i64,
            frame,
            face: None,
        }
    }

    /// A fake server: answers 503 to the first `fail` requests, then 200 counting what it got,
    /// but 422 naming the observation of frame `refuse` in any batch that holds it.
    /// Returns its address and the frames it stored.
    fn fake_server(fail: usize) -> (String, std::sync::Arc<Mutex<Vec<u64>>>) {
        fake_server_refusing(fail, None)
    }

    fn fake_server_refusing(
        fail: usize,
        refuse: Option<u64>,
    ) -> (String, std::sync::Arc<Mutex<Vec<u64>>>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", l.local_addr().unwrap());
        let got: std::sync::Arc<Mutex<Vec<u64>>> = Default::default();
        let g = got.clone();
        std::thread::spawn(move || {
            for (n, stream) in l.incoming().enumerate() {
                let Ok(mut s) = stream else { return };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let (status, reply) = if n < fail {
                    ("503 Service Unavailable", "{}".to_string())
                } else {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    let frames: Vec<u64> = v["observations"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|o| o["frame"].as_u64()).collect())
                        .unwrap_or_default();
                    let k = frames.len();
                    match frames.iter().position(|f| Some(*f) == refuse) {
                        Some(i) => (
                            "422 Unprocessable Entity",
                            format!("{{\"error\":\"observations[{i}].at_ms: 2100-01-01T00:00:00.000Z is 74 years ahead\",\"field\":\"observations[{i}].at_ms\"}}"),
                        ),
                        None => {
                            g.lock().unwrap().extend(frames);
                            (
                                "200 OK",
                                format!("{{\"accepted\":{k},\"duplicate\":0,\"refused\":0}}"),
                            )
                        }
                    }
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        (addr, got)
    }

    #[test]
    fn retries_through_an_outage_and_delivers_everything_once_in_order() {
        let (url, got) = fake_server(3);
        let p = Poster::start(&url, "t", 10_000, Duration::from_secs(20)).unwrap();
        for f in 0..450 {
            p.send(obs(f));
        }
        let d = p.finish();
        assert_eq!(
            (d.delivered, d.undelivered, d.overflow, d.rejected),
            (450, 0, 0, 0)
        );
        assert_eq!(*got.lock().unwrap(), (0..450).collect::<Vec<_>>());
    }

    #[test]
    fn one_refused_observation_does_not_hold_back_the_others() {
        let (url, got) = fake_server_refusing(0, Some(7));
        let p = Poster::start(&url, "t", 10_000, Duration::from_secs(20)).unwrap();
        for f in 0..300 {
            p.send(obs(f));
        }
        // Out of range: dropped before it is ever sent.
        let mut bad = obs(300);
        bad.at_ms = 0;
        p.send(bad);
        let d = p.finish();
        assert_eq!((d.delivered, d.rejected, d.undelivered), (299, 2, 0));
        let want: Vec<u64> = (0..300).filter(|f| *f != 7).collect();
        assert_eq!(*got.lock().unwrap(), want);
    }

    #[test]
    fn a_refused_time_drops_the_older_ones_only_when_it_is_too_old() {
        let batch: Vec<(u64, Observation)> = (0..4).map(|f| (f, obs(f * 60_000))).collect();
        let now = obs(0).at_ms + 10 * 60_000;
        // Observation 2 refused for its time, ten minutes back: 0, 1 and 2 are as old or older.
        assert_eq!(to_drop(&batch, 2, "observations[2].at_ms", now), [0, 1, 2]);
        // Refused as ahead of the server's clock (by this host's clock it is not old): just it.
        assert_eq!(
            to_drop(&batch, 2, "observations[2].at_ms", obs(0).at_ms),
            [2]
        );
        // Any other field: just it.
        assert_eq!(to_drop(&batch, 1, "observations[1].patient", now), [1]);
        assert!(to_drop(&batch, 9, "observations[9].at_ms", now).is_empty());
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_says_so() {
        let p =
            Poster::start("http://127.0.0.1:1", "t", BATCH, Duration::from_millis(300)).unwrap();
        for f in 0..(BATCH as u64 + 50) {
            p.send(obs(f));
        }
        let d = p.finish();
        assert_eq!(d.overflow, 50);
        assert_eq!(
            d.undelivered, BATCH as u64,
            "kept the newest, gave up after the give-up time"
        );
        assert_eq!(d.delivered, 0);
    }

    #[test]
    fn bad_urls_and_tokens_are_refused_up_front() {
        for (url, token, want) in [
            ("https://x", "t", "plain HTTP"),
            ("x:80", "t", "expected http://HOST"),
            ("http://x", " ", "device token"),
        ] {
            let err = Poster::start(url, token, 10, Duration::from_secs(1))
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(want), "{url}: {err}");
        }
    }
}

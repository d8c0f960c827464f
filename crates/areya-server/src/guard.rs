//! What keeps a hostile or broken client from hurting everyone else: a bounded pool for
//! password hashing, login throttling (per client with backoff, per client and name with a
//! lock-out, per account only slowed, and a global budget), caps on live streams, and rate
//! gates for audit rows that a client could otherwise make the server write without end.
//! All time comes from the caller (the server's injected clock).

use crate::error::AppError;
use areya_core::time::duration_words;
use areya_core::Words;
use areya_monitor::{Millis, MINUTE, SECOND};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The limits, with their defaults (docs/operations.md lists them).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Password hashes computed at once (argon2id takes 19 MiB and tens of ms each): half the
    /// CPUs, at least one and at most four, so a login flood leaves CPU for the ward.
    pub hash_workers: usize,
    /// Logins that may wait for a hashing worker; beyond that a login is answered 503.
    pub hash_queue: usize,
    /// Longest login name and password, in characters (refused before any work).
    pub max_name_chars: usize,
    pub max_password_chars: usize,
    /// Failed logins a client may make before each further try waits (doubling from
    /// `backoff_base_ms` up to `backoff_max_ms`).
    pub client_free_failures: u32,
    pub backoff_base_ms: Millis,
    pub backoff_max_ms: Millis,
    /// Failed logins for one name from one client before that client is locked out of that
    /// name for `lockout_ms` (other clients are not).
    pub lockout_failures: u32,
    pub lockout_ms: Millis,
    /// Failed logins for one name from all clients (within `lockout_ms`) after which tries
    /// for that name are spaced `account_spacing_ms` apart: slowed, never locked.
    pub account_free_failures: u32,
    pub account_spacing_ms: Millis,
    /// Failed logins per minute on the whole server beyond which every client that has
    /// failed once waits its backoff as if it had used up its free failures.
    pub global_failures_per_min: u32,
    /// Audit rows per minute for failed or refused attempts, per client and in total; the
    /// rest are counted and summed up in the next row.
    pub audit_refusals_per_min_client: u32,
    pub audit_refusals_per_min_total: u32,
    /// A repeated view (the same user's ward view or alert list) is audited once per this.
    pub audit_view_every_ms: Millis,
    /// A connection that has not sent a whole request head within this is closed (idle
    /// keep-alive connections too).
    pub header_read_timeout_ms: Millis,
    /// Open connections at most; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Live-event streams per login and in total.
    pub live_per_session: usize,
    pub live_total: usize,
    /// Tracked clients, names and pairs at most (old entries are forgotten first).
    pub max_tracked: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Limits {
            hash_workers: (cpus / 2).clamp(1, 4),
            hash_queue: 32,
            max_name_chars: 64,
            max_password_chars: 256,
            client_free_failures: 5,
            backoff_base_ms: SECOND,
            backoff_max_ms: 5 * MINUTE,
            lockout_failures: 5,
            lockout_ms: 15 * MINUTE,
            account_free_failures: 10,
            account_spacing_ms: 3 * SECOND,
            global_failures_per_min: 300,
            audit_refusals_per_min_client: 10,
            audit_refusals_per_min_total: 120,
            audit_view_every_ms: 10 * MINUTE,
            header_read_timeout_ms: 10 * SECOND,
            max_connections: 1024,
            live_per_session: 4,
            live_total: 512,
            max_tracked: 50_000,
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs password hashes on `workers` threads of its own, with at most `queue` waiting.
/// Own threads, not tokio's blocking pool: each argon2 run takes 19 MiB, and the C allocator
/// keeps that much per thread that ever ran one, so a flood spread over the blocking pool's
/// many threads kept hundreds of megabytes (gigabytes unbounded) after it was over.
pub struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl HashPool {
    pub fn new(workers: usize, queue: usize) -> HashPool {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("areya-hash-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        // The server is gone.
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start password-hashing thread {i}: {e}");
            }
        }
        HashPool { jobs }
    }

    /// Runs `f` on a hashing thread; 503 at once when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let busy = || {
            AppError::Unavailable(
                "the server is busy checking passwords; try again in a few seconds".into(),
            )
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| busy())?;
        rx.await.map_err(|_| busy())
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    first_ms: Millis,
    last_ms: Millis,
}

impl Failures {
    /// Counts one failure at `now`, restarting the count once `window` has passed.
    fn add(&mut self, now: Millis, window: Millis) {
        if self.count == 0 || now - self.first_ms >= window {
            *self = Failures {
                count: 0,
                first_ms: now,
                last_ms: now,
            };
        }
        self.count += 1;
        self.last_ms = now;
    }

    fn current(&self, now: Millis, window: Millis) -> u32 {
        if now - self.first_ms < window {
            self.count
        } else {
            0
        }
    }
}

/// Why a login try was not even checked, and when to try again.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttled {
    pub retry_after_ms: Millis,
    pub why: Words,
}

impl Throttled {
    pub fn into_error(self) -> AppError {
        AppError::Busy(self.why.to_string())
    }
}

#[derive(Default)]
struct LoginState {
    clients: HashMap<IpAddr, Failures>,
    pairs: HashMap<(IpAddr, String), Failures>,
    accounts: HashMap<String, (Failures, Millis)>,
    /// Failed logins in the current minute (start, count).
    global: (Millis, u32),
}

/// Login throttling. Keys are lower-cased names, so "Admin" and "admin" count together.
pub struct LoginGuard {
    limits: Limits,
    state: Mutex<LoginState>,
}

impl LoginGuard {
    pub fn new(limits: Limits) -> LoginGuard {
        LoginGuard {
            limits,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LoginState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a try for `name` from `client` may be checked now.
    pub fn check(&self, client: IpAddr, name: &str, now: Millis) -> Result<(), Throttled> {
        let l = &self.limits;
        let key = name.to_lowercase();
        let st = self.lock();
        let under_attack = now - st.global.0 < MINUTE && st.global.1 >= l.global_failures_per_min;
        if let Some(f) = st.clients.get(&client) {
            let n = f.current(now, l.lockout_ms);
            let free = if under_attack {
                0
            } else {
                l.client_free_failures
            };
            if n > free {
                let doublings = (n - free - 1).min(20);
                let wait = (l.backoff_base_ms << doublings).min(l.backoff_max_ms);
                let until = f.last_ms + wait;
                if now < until {
                    return Err(Throttled {
                        retry_after_ms: until - now,
                        why: Words::new(
                            "too many failed logins from this device: try again in {wait}",
                        )
                        .with("wait", duration_words(until - now)),
                    });
                }
            }
        }
        if let Some(f) = st.pairs.get(&(client, key.clone())) {
            if f.current(now, l.lockout_ms) >= l.lockout_failures {
                let left = f.first_ms + l.lockout_ms - now;
                return Err(Throttled {
                    retry_after_ms: left,
                    why: Words::new(
                        "too many failed logins for '{name}' from this device: try again in {wait}",
                    )
                    .with("name", name)
                    .with("wait", duration_words(left)),
                });
            }
        }
        if let Some((f, next)) = st.accounts.get(&key) {
            if f.current(now, l.lockout_ms) >= l.account_free_failures && now < *next {
                return Err(Throttled {
                    retry_after_ms: next - now,
                    why: Words::new(
                        "many failed logins for '{name}' recently: try again in {wait}",
                    )
                    .with("name", name)
                    .with("wait", duration_words(next - now)),
                });
            }
        }
        Ok(())
    }

    /// Records the outcome of a checked try. A success clears the client's and the pair's
    /// failures, and the account's.
    pub fn record(&self, client: IpAddr, name: &str, ok: bool, now: Millis) {
        let l = self.limits.clone();
        let key = name.to_lowercase();
        let mut st = self.lock();
        if ok {
            st.clients.remove(&client);
            st.pairs.remove(&(client, key.clone()));
            st.accounts.remove(&key);
            return;
        }
        if now - st.global.0 >= MINUTE {
            st.global = (now, 0);
        }
        st.global.1 = st.global.1.saturating_add(1);
        st.clients.entry(client).or_default().add(now, l.lockout_ms);
        st.pairs
            .entry((client, key.clone()))
            .or_default()
            .add(now, l.lockout_ms);
        let acc = st.accounts.entry(key).or_default();
        acc.0.add(now, l.lockout_ms);
        acc.1 = now + l.account_spacing_ms;
        if st.clients.len() + st.pairs.len() + st.accounts.len() > l.max_tracked {
            let window = l.lockout_ms;
            st.clients.retain(|_, f| now - f.last_ms < window);
            st.pairs.retain(|_, f| now - f.last_ms < window);
            st.accounts.retain(|_, (f, _)| now - f.last_ms < window);
            // Still too many (a flood from very many addresses): forget the pairs, which
            // protect least (the account stays slowed and each client keeps its backoff).
            if st.clients.len() + st.pairs.len() + st.accounts.len() > l.max_tracked {
                st.pairs.clear();
            }
        }
    }
}

/// Lets through one event per key per `every`, plus an overall budget per minute; says how
/// many were held back since the last one let through.
pub struct RateGate {
    every_ms: Millis,
    per_key: u32,
    total_per_min: u32,
    state: Mutex<GateState>,
    max_keys: usize,
}

#[derive(Default)]
struct GateState {
    /// key → (window start, let through in window, held back since the last let through)
    keys: HashMap<String, (Millis, u32, u64)>,
    total: (Millis, u32),
}

impl RateGate {
    /// At most `per_key` events per key in each `every_ms`, and `total_per_min` overall.
    pub fn new(every_ms: Millis, per_key: u32, total_per_min: u32, max_keys: usize) -> RateGate {
        RateGate {
            every_ms: every_ms.max(1),
            per_key: per_key.max(1),
            total_per_min: total_per_min.max(1),
            state: Mutex::default(),
            max_keys,
        }
    }

    /// `Some(held back before this one)` when the event may be recorded now.
    pub fn allow(&self, key: &str, now: Millis) -> Option<u64> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if now - st.total.0 >= MINUTE {
            st.total = (now, 0);
        }
        if st.keys.len() >= self.max_keys && !st.keys.contains_key(key) {
            let every = self.every_ms;
            st.keys.retain(|_, e| now - e.0 < every);
        }
        let total_full = st.total.1 >= self.total_per_min;
        let (every, per_key) = (self.every_ms, self.per_key);
        let e = st.keys.entry(key.to_string()).or_insert((now, 0, 0));
        if now - e.0 >= every {
            e.0 = now;
            e.1 = 0;
        }
        if e.1 >= per_key || total_full {
            e.2 += 1;
            return None;
        }
        e.1 += 1;
        let held = std::mem::take(&mut e.2);
        st.total.1 += 1;
        Some(held)
    }
}

/// Open live-event streams, per login and in total.
#[derive(Default)]
pub struct LiveCounts {
    per_session: HashMap<String, usize>,
    total: usize,
}

/// Holds one live stream's place; gives it back when dropped (the stream ended).
pub struct LiveSlot {
    counts: Arc<Mutex<LiveCounts>>,
    session: String,
}

impl LiveSlot {
    /// A place for a new stream of `session`, or 429 when its or the server's cap is reached.
    pub fn take(
        counts: &Arc<Mutex<LiveCounts>>,
        session: &str,
        limits: &Limits,
    ) -> Result<LiveSlot, AppError> {
        let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
        let mine = c.per_session.get(session).copied().unwrap_or(0);
        if mine >= limits.live_per_session {
            return Err(AppError::Busy(format!(
                "live updates: this login already has {mine} open (at most {}); close another tab",
                limits.live_per_session
            )));
        }
        if c.total >= limits.live_total {
            return Err(AppError::Busy(format!(
                "live updates: the server has {} open, its limit; try again shortly",
                c.total
            )));
        }
        *c.per_session.entry(session.to_string()).or_default() += 1;
        c.total += 1;
        Ok(LiveSlot {
            counts: counts.clone(),
            session: session.to_string(),
        })
    }
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_session.get_mut(&self.session) {
            *n -= 1;
            if *n == 0 {
                c.per_session.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn a_client_backs_off_and_a_pair_locks_but_the_account_is_only_slowed() {
        let l = Limits::default();
        let g = LoginGuard::new(l.clone());
        let t = 1_000_000;
        for i in 0..5 {
            assert!(g.check(ip(1), "charge", t + i).is_ok(), "try {i}");
            g.record(ip(1), "charge", false, t + i);
        }
        // The attacker's client is locked out of that name ...
        let e = g.check(ip(1), "Charge", t + 10 * SECOND).unwrap_err();
        assert!(e.why.to_string().contains("from this device"), "{e:?}");
        // ... the nurse at another workstation is not.
        assert!(g.check(ip(2), "charge", t + 10).is_ok());
        // Many clients failing on one name slow it down, never lock it.
        for n in 3..13 {
            g.record(ip(n), "charge", false, t + 100);
        }
        let e = g.check(ip(2), "charge", t + 200).unwrap_err();
        assert!(e.retry_after_ms <= l.account_spacing_ms, "{e:?}");
        assert!(g
            .check(ip(2), "charge", t + 100 + l.account_spacing_ms)
            .is_ok());
        g.record(ip(2), "charge", true, t + 100 + l.account_spacing_ms);
        assert!(g
            .check(ip(2), "charge", t + 101 + l.account_spacing_ms)
            .is_ok());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let l = Limits::default();
        let g = LoginGuard::new(l.clone());
        let mut t = 0;
        let mut waits = vec![];
        for n in 0..16u8 {
            // A different name each time: only the client's own backoff applies.
            let name = format!("user{n}");
            match g.check(ip(9), &name, t) {
                Ok(()) => g.record(ip(9), &name, false, t),
                Err(e) => {
                    waits.push(e.retry_after_ms);
                    t += e.retry_after_ms;
                    g.record(ip(9), &name, false, t);
                }
            }
        }
        assert_eq!(&waits[..4], &[SECOND, 2 * SECOND, 4 * SECOND, 8 * SECOND]);
        assert!(waits.iter().all(|w| *w <= l.backoff_max_ms));
        assert_eq!(*waits.last().unwrap(), l.backoff_max_ms);
    }

    #[test]
    fn a_global_flood_removes_the_free_failures() {
        let l = Limits {
            global_failures_per_min: 10,
            ..Limits::default()
        };
        let g = LoginGuard::new(l);
        for n in 0..10 {
            g.record(ip(n), "x", false, 0);
        }
        assert!(
            g.check(ip(3), "y", 10).is_err(),
            "a failed client now waits"
        );
        assert!(g.check(ip(200), "y", 10).is_ok(), "a clean client does not");
    }

    #[test]
    fn the_rate_gate_counts_what_it_holds_back() {
        let g = RateGate::new(MINUTE, 2, 5, 100);
        assert_eq!(g.allow("a", 0), Some(0));
        assert_eq!(g.allow("a", 1), Some(0));
        assert_eq!(g.allow("a", 2), None);
        assert_eq!(g.allow("a", 3), None);
        assert_eq!(g.allow("a", MINUTE + 3), Some(2));
        // The total budget (5 per minute) holds every key back.
        for k in ["b", "c", "d", "e"] {
            assert_eq!(g.allow(k, MINUTE + 4), Some(0));
        }
        assert_eq!(g.allow("f", MINUTE + 5), None);
    }

    #[test]
    fn live_slots_are_capped_and_given_back() {
        let l = Limits {
            live_per_session: 2,
            live_total: 3,
            ..Limits::default()
        };
        let c = Arc::new(Mutex::new(LiveCounts::default()));
        let a = LiveSlot::take(&c, "s1", &l).unwrap();
        let _b = LiveSlot::take(&c, "s1", &l).unwrap();
        assert!(LiveSlot::take(&c, "s1", &l).is_err());
        let _d = LiveSlot::take(&c, "s2", &l).unwrap();
        assert!(LiveSlot::take(&c, "s3", &l).is_err(), "the total");
        drop(a);
        assert!(LiveSlot::take(&c, "s1", &l).is_ok());
    }
}

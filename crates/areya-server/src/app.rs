//! The server's state and the work behind the routes: ingest observations (idempotent,
//! consent first), let time pass (windows close, alerts escalate, cameras go offline), change
//! the directory, and read what the dashboard shows — each step saved in one store transaction
//! before it is broadcast as a live event. User actions on the ward engine (alerts, consent,
//! rules) are `command::Command`s run through one seam, `App::run`. Restarting rebuilds the
//! engine from the store. With several servers on one PostgreSQL ([`App::open_cluster`]) one
//! of them runs the engine and the others hand it their commands through the database (see
//! `cluster`).

use crate::cluster::Cluster;
use crate::credentials::{Credentials, Registry};
use crate::error::AppError;
use areya_core::{Observation, PatientId, SourceId, Words};
use areya_monitor::alerts::AlertEvent;
use areya_monitor::directory::{Bed, Directory};
use areya_monitor::engine::{Consent, Engine, EngineConfig, Output};
use areya_monitor::rules::RuleSet;
use areya_monitor::{Millis, MINUTE, SECOND};
use areya_store::{AuditAction, AuditEntry, Batch, Store};
use areya_store::{Db, PgCluster, PgStore};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::Mutex;

/// Milliseconds since the Unix epoch; injected so tests can move time.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(areya_core::time::now_ms)
}

/// Server settings (from the config file, environment and flags).
#[derive(Debug, Clone)]
pub struct Settings {
    pub engine: EngineConfig,
    /// A source silent this long is offline (technical alert).
    pub source_offline_after_ms: Millis,
    /// How long a login lasts.
    pub session_ms: Millis,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Most observations in one ingest request.
    pub max_batch: usize,
    /// Set by `areya demo` without real faces: the dashboard says the readings are simulated.
    pub banner: Option<String>,
    /// Mark the session cookie `Secure` (behind a TLS proxy).
    pub secure_cookie: bool,
    /// How often a live stream re-checks its session (a logged-out user's stream ends).
    pub live_recheck_ms: Millis,
    /// On a cluster follower: how long an action waits for the engine leader to take it
    /// before it is withdrawn and answered 503.
    pub command_wait_ms: Millis,
    /// How far ahead of the server's clock an observation may be stamped (device clocks
    /// drift a little; more than this is refused).
    pub max_future_ms: Millis,
    /// Limits on what any client can make the server do.
    pub limits: crate::guard::Limits,
    /// Take the client's address from the last `X-Forwarded-For` entry (set only behind a
    /// reverse proxy that writes it; otherwise any client could claim any address).
    pub trust_forwarded_for: bool,
    /// Signed webhooks to the hospital's messaging gateway (none: the dashboard only).
    pub webhook: Option<crate::webhook::WebhookSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            engine: EngineConfig::default(),
            source_offline_after_ms: 60 * SECOND,
            session_ms: 12 * 3600 * SECOND,
            body_limit: 1 << 20,
            max_batch: 1000,
            banner: None,
            secure_cookie: false,
            live_recheck_ms: 30 * SECOND,
            command_wait_ms: 10 * SECOND,
            max_future_ms: 30 * SECOND,
            limits: crate::guard::Limits::default(),
            trust_forwarded_for: false,
            webhook: None,
        }
    }
}

pub use crate::live::{Live, LiveEvent};

pub use areya_core::IngestReport;

pub struct App {
    pub store: Db,
    pub settings: Settings,
    engine: Mutex<Engine>,
    /// The directory's version, the directory and its credentials, changed together.
    directory: RwLock<(i64, Arc<Directory>, Arc<Credentials>)>,
    last_seen: std::sync::Mutex<HashMap<SourceId, Millis>>,
    /// Password hashing, bounded.
    pub(crate) hash_pool: crate::guard::HashPool,
    /// Login throttling.
    pub(crate) logins: crate::guard::LoginGuard,
    /// Audit rows for failed logins and refused requests, rate-limited per client.
    pub(crate) refusal_gate: crate::guard::RateGate,
    /// Audit rows for repeated views (ward view, alert list), once per user and view a while.
    pub(crate) view_gate: crate::guard::RateGate,
    /// Whether the last health check could write to the store.
    pub store_ok: std::sync::atomic::AtomicBool,
    /// Open live-event streams.
    pub(crate) live_counts: Arc<std::sync::Mutex<crate::guard::LiveCounts>>,
    /// Live events, numbered for resuming (`Last-Event-ID`).
    pub live: crate::live::LiveHub,
    pub clock: Clock,
    /// What `/metrics` reports.
    pub counters: crate::metrics::Metrics,
    /// Since when this server has run the engine (cameras never heard from count from here).
    pub(crate) engine_since: AtomicI64,
    /// One doctors' round at a time (each reads what the last one sent).
    pub(crate) doctors_round: tokio::sync::Mutex<()>,
    /// The start of the last local day whose finished days the doctors' round judged.
    pub(crate) days_judged: AtomicI64,
    /// Becomes true when the server shuts down, so live streams end.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Set when several servers share one PostgreSQL.
    pub(crate) cluster: Option<Cluster>,
}

/// Rebuilds the engine from the store: the newest rules and consents, stored windows and open
/// alerts, then `pending` (observations of windows that had not closed) replayed. Returns the
/// engine and what the replay produced (to be saved).
pub(crate) async fn restore_engine<S: Store>(
    store: &S,
    settings: &Settings,
    now: Millis,
    pending: Vec<Observation>,
) -> Result<(Engine, Vec<Output>), AppError> {
    let rules = match store.current_rules().await? {
        Some((_, text)) => {
            RuleSet::from_toml(&text).map_err(|e| AppError::refused(format!("stored {e}")))?
        }
        None => RuleSet::default(),
    };
    let mut engine = Engine::new(settings.engine, rules);
    for (p, c) in store.consents().await? {
        engine.set_consent(&p, c);
    }
    let windows = store
        .windows(None, now - settings.restore_span(), Millis::MAX)
        .await?;
    let last_end: HashMap<PatientId, Millis> = windows
        .iter()
        .map(|w| (w.patient.clone(), w.end_ms))
        .collect();
    engine
        .restore(
            &windows,
            store.patient_states().await?,
            store.alerts(None).await?,
            store.max_alert_id().await?,
        )
        .map_err(|e| AppError::refused(e.to_string()))?;
    let mut outputs = Vec::new();
    for o in pending {
        if last_end.get(&o.patient).is_some_and(|&end| o.at_ms < end) {
            continue;
        }
        // Stamped ahead of the clock (stored by a version that did not check): replaying it
        // would hold the patient's window open and make every real observation late.
        if o.at_ms > now + settings.max_future_ms {
            continue;
        }
        if let Some(out) = engine
            .ingest(&o, o.at_ms)
            .map_err(|e| AppError::refused(e.to_string()))?
        {
            outputs.extend(out);
        }
    }
    Ok((engine, outputs))
}

async fn load_directory<S: Store>(store: &S) -> Result<(i64, Registry), AppError> {
    Ok(match store.directory().await? {
        Some((v, doc)) => (
            v,
            crate::credentials::read_stored(&doc)
                .map_err(|e| AppError::refused(format!("stored directory: {e}")))?,
        ),
        None => (0, Registry::default()),
    })
}

impl Settings {
    /// How far back stored windows matter to a rebuilt engine.
    fn restore_span(&self) -> Millis {
        self.engine
            .state
            .horizon_ms
            .max(self.engine.state.baseline_ms)
    }

    /// How far back observations of still-open windows are replayed after a restart (however
    /// long the server was down, within the score's horizon).
    pub(crate) fn replay_span(&self) -> Millis {
        self.engine.state.horizon_ms.max(self.engine.window_ms * 2)
    }
}

impl App {
    /// Opens the server's state on `store`: the newest rules, directory and consents, and the
    /// engine rebuilt from stored windows, open alerts and the observations of open windows.
    pub async fn open(
        store: impl Into<Db>,
        settings: Settings,
        clock: Clock,
    ) -> Result<Arc<App>, AppError> {
        let store: Db = store.into();
        let now = clock();
        let pending = store
            .observations_since(now - settings.replay_span())
            .await?;
        let (engine, outputs) = restore_engine(&store, &settings, now, pending).await?;
        let batch = Batch::from_outputs(&outputs, &engine.alerts);
        if !batch.is_empty() {
            store.save(&batch).await?;
        }
        App::assemble(store, settings, clock, engine, None).await
    }

    /// Opens one of several servers sharing one PostgreSQL (`store` and `cluster` on the same
    /// database). Whichever server holds the leader lock runs the engine; this one takes it
    /// now if nobody does, or later when the leader goes away. [`crate::serve`] keeps the
    /// election, the leader's work and the live-event relay going.
    pub async fn open_cluster(
        store: PgStore,
        cluster: PgCluster,
        settings: Settings,
        clock: Clock,
    ) -> Result<Arc<App>, AppError> {
        // Rules and consents come with the engine when this server becomes the leader.
        let engine = Engine::new(settings.engine, RuleSet::default());
        let app = App::assemble(
            store.into(),
            settings,
            clock,
            engine,
            Some(Cluster::new(cluster)),
        )
        .await?;
        app.cluster_step().await;
        Ok(app)
    }

    async fn assemble(
        store: Db,
        settings: Settings,
        clock: Clock,
        engine: Engine,
        cluster: Option<Cluster>,
    ) -> Result<Arc<App>, AppError> {
        let now = clock();
        let (version, reg) = load_directory(&store).await?;
        // A random epoch: ids of an earlier run or another server never match this one's.
        let live = crate::live::LiveHub::new({
            let mut b = [0u8; 8];
            password_hash::rand_core::RngCore::fill_bytes(
                &mut password_hash::rand_core::OsRng,
                &mut b,
            );
            u64::from_le_bytes(b) >> 16
        });
        let limits = settings.limits.clone();
        Ok(Arc::new(App {
            store,
            settings,
            engine: Mutex::new(engine),
            directory: RwLock::new((version, Arc::new(reg.directory), Arc::new(reg.credentials))),
            last_seen: Default::default(),
            hash_pool: crate::guard::HashPool::new(limits.hash_workers, limits.hash_queue),
            logins: crate::guard::LoginGuard::new(limits.clone()),
            refusal_gate: crate::guard::RateGate::new(
                MINUTE,
                limits.audit_refusals_per_min_client,
                limits.audit_refusals_per_min_total,
                limits.max_tracked,
            ),
            view_gate: crate::guard::RateGate::new(
                limits.audit_view_every_ms,
                1,
                u32::MAX,
                limits.max_tracked,
            ),
            live_counts: Default::default(),
            store_ok: std::sync::atomic::AtomicBool::new(true),
            live,
            clock,
            counters: crate::metrics::Metrics::new(),
            engine_since: AtomicI64::new(now),
            doctors_round: tokio::sync::Mutex::new(()),
            days_judged: AtomicI64::new(i64::MIN),
            stopping: tokio::sync::watch::Sender::new(false),
            cluster,
        }))
    }

    /// Reads the directory again (another server changed it).
    pub async fn reload_directory(&self) -> Result<(), AppError> {
        let (version, reg) = load_directory(&self.store).await?;
        let now = (version, Arc::new(reg.directory), Arc::new(reg.credentials));
        match self.directory.write() {
            Ok(mut g) => *g = now,
            Err(p) => *p.into_inner() = now,
        }
        Ok(())
    }

    /// The engine, for the cluster's leader work.
    pub(crate) async fn engine(&self) -> tokio::sync::MutexGuard<'_, Engine> {
        self.engine.lock().await
    }

    pub(crate) fn saw_source(&self, source: &SourceId, now: Millis) {
        let mut seen = self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(source.clone(), now);
    }

    pub(crate) fn forget_sources(&self) {
        self.last_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub fn now(&self) -> Millis {
        (self.clock)()
    }

    /// The current credentials (a cheap shared copy): never sent anywhere.
    pub fn credentials(&self) -> Arc<Credentials> {
        match self.directory.read() {
            Ok(g) => g.2.clone(),
            Err(p) => p.into_inner().2.clone(),
        }
    }

    /// The current directory (a cheap shared copy).
    pub fn directory(&self) -> Arc<Directory> {
        match self.directory.read() {
            Ok(g) => g.1.clone(),
            Err(p) => p.into_inner().1.clone(),
        }
    }

    pub fn directory_version(&self) -> i64 {
        match self.directory.read() {
            Ok(g) => g.0,
            Err(p) => p.into_inner().0,
        }
    }

    /// Appends to the audit log unless `gate` has let through enough rows for `key` lately;
    /// a row let through after others were held back says how many.
    pub(crate) async fn audit_gated(
        &self,
        gate: &crate::guard::RateGate,
        key: &str,
        entry: (&str, AuditAction, Words, Words),
    ) -> Result<(), AppError> {
        let (actor, action, target, detail) = entry;
        let Some(held) = gate.allow(key, self.now()) else {
            return Ok(());
        };
        let detail = match held {
            0 => detail,
            n if detail.text.is_empty() => {
                Words::new("{n} more like it not logged one by one").with("n", n)
            }
            n => Words::new("{detail}; {n} more like it not logged one by one")
                .with("detail", detail)
                .with("n", n),
        };
        self.audit(actor, action, target, detail).await
    }

    /// Checks `password` against `hash` on the hashing pool (503 when its queue is full),
    /// counting every check that runs argon2.
    pub(crate) async fn check_password(
        &self,
        hash: String,
        password: String,
    ) -> Result<bool, AppError> {
        if crate::auth::runs_argon2(&hash) {
            self.counters.password_checks.inc();
        }
        self.hash_pool
            .run(move || crate::auth::verify_password(&hash, &password))
            .await
    }

    /// The ward a patient's bed is on.
    pub fn ward_of(&self, patient: &PatientId) -> Option<String> {
        self.directory().bed_of(patient).map(|(w, _)| w.id.clone())
    }

    /// Appends to the audit log (the target and detail in English, and as words).
    pub async fn audit(
        &self,
        actor: &str,
        action: AuditAction,
        target: Words,
        detail: Words,
    ) -> Result<(), AppError> {
        self.store
            .audit(&AuditEntry::new(self.now(), actor, action, target, detail))
            .await?;
        Ok(())
    }

    /// Saves what the engine produced, then tells the dashboards.
    pub(crate) async fn commit(
        &self,
        engine: &Engine,
        outputs: Vec<Output>,
    ) -> Result<(), AppError> {
        let mut batch = Batch::from_outputs(&outputs, &engine.alerts);
        if self.settings.webhook.is_some() {
            let dir = self.directory();
            for o in &outputs {
                if let Output::Alert { event } = o {
                    let id = areya_store::event_parts(event).0;
                    let alert = engine.alerts.open_alerts().find(|a| a.id == id);
                    batch
                        .deliveries
                        .extend(crate::webhook::alert_message(&dir, event, alert));
                }
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.store.save(&batch).await {
            self.counters.store_errors.inc();
            return Err(e.into());
        }
        let lives = outputs
            .into_iter()
            .filter_map(|o| self.live_event(engine, o))
            .collect();
        self.emit(lives).await;
        Ok(())
    }

    /// Sends live events to this server's dashboards and, in a cluster, to every other
    /// server's. Nobody listening is fine.
    pub(crate) async fn emit(&self, lives: Vec<Live>) {
        for l in &lives {
            self.live.send(l.clone());
        }
        if let Some(c) = &self.cluster {
            c.relay(&lives).await;
        }
    }

    fn live_event(&self, engine: &Engine, o: Output) -> Option<Live> {
        let (patient, event) = match o {
            Output::Window { .. } | Output::Patient { .. } | Output::AlertUpdated { .. } => {
                return None
            }
            Output::Assessment {
                patient,
                assessment,
            } => {
                let sources = self
                    .directory()
                    .bed_of(&patient)
                    .map(|(_, b)| b.sources.clone())
                    .unwrap_or_default();
                let camera_seen_ms = {
                    let seen = self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
                    sources.iter().filter_map(|s| seen.get(s).copied()).max()
                };
                (
                    patient.clone(),
                    LiveEvent::Score {
                        patient,
                        assessment,
                        camera_seen_ms,
                    },
                )
            }
            Output::Alert { event } => {
                if matches!(event, AlertEvent::Raised { .. }) {
                    self.counters.alerts_raised.inc();
                }
                let id = areya_store::event_parts(&event).0;
                let alert = engine.alerts.open_alerts().find(|a| a.id == id).cloned();
                let patient = match (&event, &alert) {
                    (_, Some(a)) => a.patient.clone(),
                    (AlertEvent::Raised { alert }, None) => alert.patient.clone(),
                    _ => {
                        // Resolved: the dashboard drops it by id, on every ward it is shown.
                        return Some(Live {
                            ward: None,
                            event: LiveEvent::Alert {
                                event: Box::new(event),
                                alert: None,
                            },
                        });
                    }
                };
                (
                    patient,
                    LiveEvent::Alert {
                        event: Box::new(event),
                        alert: alert.map(Box::new),
                    },
                )
            }
        };
        let ward = self.ward_of(&patient);
        Some(Live { ward, event })
    }

    /// Takes observations from an edge device of `ward`. Each must come from a source of a
    /// bed on that ward and name the bed's patient; the batch is refused whole otherwise.
    pub async fn ingest(
        &self,
        ward: &str,
        obs: Vec<Observation>,
    ) -> Result<IngestReport, AppError> {
        self.check_batch(obs.len())?;
        let dir = self.directory();
        let now = self.now();
        for (i, o) in obs.iter().enumerate() {
            self.check_observation(i, o, now)?;
            let Some((w, bed)) = dir.bed_of(&o.patient) else {
                return Err(AppError::invalid(
                    format!("observations[{i}].patient"),
                    format!("'{}' is not in any bed", o.patient),
                ));
            };
            if w.id != ward {
                return Err(AppError::NotAllowed(format!(
                    "observations[{i}].patient: '{}' is on ward '{}', not this device's ward '{ward}'",
                    o.patient, w.id
                )));
            }
            // A source id belongs to the bed it is assigned to: a device must not speak for
            // another ward's camera (it would hide that camera's outage).
            if let Some((sw, sb)) = dir.bed_of_source(&o.source) {
                if sw.id != ward {
                    return Err(AppError::NotAllowed(format!(
                        "observations[{i}].source: '{}' is a camera of ward '{}', not this device's ward '{ward}'",
                        o.source, sw.id
                    )));
                }
                if sb.id != bed.id {
                    return Err(AppError::invalid(
                        format!("observations[{i}].source"),
                        format!("'{}' feeds bed '{}', not bed '{}'", o.source, sb.id, bed.id),
                    ));
                }
            } else if !bed.sources.is_empty() {
                return Err(AppError::invalid(
                    format!("observations[{i}].source"),
                    format!("'{}' does not feed bed '{}'", o.source, bed.id),
                ));
            }
        }
        if let Some(c) = &self.cluster {
            return self.ingest_shared(c, obs, now).await;
        }
        let mut report = IngestReport::default();
        let mut engine = self.engine.lock().await;
        let (allowed, refused): (Vec<_>, Vec<_>) = obs
            .into_iter()
            .partition(|o| engine.consent(&o.patient).allows(now));
        report.refused = refused.len();
        {
            let mut seen = self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
            for o in &allowed {
                seen.insert(o.source.clone(), now);
            }
        }
        let new = self.store.insert_observations(&allowed).await?;
        let mut outputs = Vec::new();
        for (o, is_new) in allowed.iter().zip(new) {
            if !is_new {
                report.duplicate += 1;
                continue;
            }
            report.accepted += 1;
            if let Some(out) = engine
                .ingest(o, now)
                .map_err(|e| AppError::refused(e.to_string()))?
            {
                outputs.extend(out);
            }
        }
        self.counters.ingested.inc_by(report.accepted as u64);
        self.counters.duplicates.inc_by(report.duplicate as u64);
        self.counters.refused_consent.inc_by(report.refused as u64);
        self.commit(&engine, outputs).await?;
        Ok(report)
    }

    /// At most `max_batch` observations in one request.
    pub fn check_batch(&self, n: usize) -> Result<(), AppError> {
        if n > self.settings.max_batch {
            return Err(AppError::TooLarge(format!(
                "observations: {n} in one request; at most {}",
                self.settings.max_batch
            )));
        }
        Ok(())
    }

    /// Every value in range and the time close to the server's clock: not more than
    /// `max_future_ms` ahead (a future stamp would hold the patient's window open and turn
    /// every real observation after it into a late one), and not older than what a restart
    /// replays (it could never be folded into a window).
    fn check_observation(&self, i: usize, o: &Observation, now: Millis) -> Result<(), AppError> {
        o.check()
            .map_err(|e| AppError::invalid(format!("observations[{i}].{}", e.field), e.problem))?;
        let field = || format!("observations[{i}].at_ms");
        let ahead = o.at_ms.saturating_sub(now);
        if ahead > self.settings.max_future_ms {
            return Err(AppError::invalid(
                field(),
                format!(
                    "{} is {} ahead of the server's clock ({}); at most {} s is accepted — check the device's clock",
                    areya_core::time::iso8601_utc(o.at_ms),
                    areya_core::time::human_duration(ahead),
                    areya_core::time::iso8601_utc(now),
                    self.settings.max_future_ms / SECOND
                ),
            ));
        }
        let age = now.saturating_sub(o.at_ms);
        if age > self.settings.replay_span() {
            return Err(AppError::invalid(
                field(),
                format!(
                    "{} is {} old; observations older than {} min cannot be scored any more",
                    areya_core::time::iso8601_utc(o.at_ms),
                    areya_core::time::human_duration(age),
                    self.settings.replay_span() / MINUTE
                ),
            ));
        }
        Ok(())
    }

    /// Time passes: windows close, alerts escalate, silent cameras go offline.
    pub async fn tick(&self) -> Result<(), AppError> {
        if self.cluster.as_ref().is_some_and(|c| !c.is_leading()) {
            return Ok(());
        }
        let now = self.now();
        let dir = self.directory();
        let mut engine = self.engine.lock().await;
        let mut outputs = engine
            .tick(now)
            .map_err(|e| AppError::refused(e.to_string()))?;
        let seen = self
            .last_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let since = self.engine_since.load(Ordering::Relaxed);
        for w in &dir.wards {
            for bed in &w.beds {
                let (Some(p), false) = (&bed.patient, bed.sources.is_empty()) else {
                    continue;
                };
                if !engine.consent(p).allows(now) {
                    continue;
                }
                let newest = bed
                    .sources
                    .iter()
                    .map(|s| seen.get(s).copied().unwrap_or(since))
                    .max()
                    .unwrap_or(since);
                let offline = now - newest >= self.settings.source_offline_after_ms;
                outputs.extend(engine.source_offline(p, offline, now));
            }
        }
        self.commit(&engine, outputs).await
    }

    /// When a bed's camera last sent anything.
    pub async fn last_seen(&self, sources: &[SourceId]) -> Result<Option<Millis>, AppError> {
        if let Some(c) = self.follower() {
            return Ok(c.pg.last_observation(sources).await?);
        }
        let seen = self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        Ok(sources.iter().filter_map(|s| seen.get(s).copied()).max())
    }

    pub async fn open_alerts(&self) -> Result<Vec<areya_monitor::alerts::Alert>, AppError> {
        if let Some(c) = self.follower() {
            return Ok(c.pg.open_alerts().await?);
        }
        Ok(self
            .engine
            .lock()
            .await
            .alerts
            .open_alerts()
            .cloned()
            .collect())
    }

    pub async fn assessment(
        &self,
        p: &PatientId,
    ) -> Result<Option<areya_monitor::state::Assessment>, AppError> {
        let now = self.now();
        if let Some(c) = self.follower() {
            let since = now - self.settings.engine.state.horizon_ms;
            return Ok(c.pg.latest_assessment(p, since).await?);
        }
        Ok(self.engine.lock().await.assess(p, now))
    }

    pub async fn consent(&self, p: &PatientId) -> Result<Consent, AppError> {
        if let Some(c) = self.follower() {
            return Ok(c.pg.consent(p).await?);
        }
        Ok(self.engine.lock().await.consent(p))
    }

    /// The ward's rules: the engine's here, the stored ones on a follower (the defaults when
    /// none are stored or they cannot be read).
    pub async fn rules(&self) -> Result<RuleSet, AppError> {
        if self.follower().is_some() {
            return Ok(match self.store.current_rules().await? {
                Some((_, text)) => RuleSet::from_toml(&text).unwrap_or_default(),
                None => RuleSet::default(),
            });
        }
        Ok(self.engine.lock().await.rules().clone())
    }

    /// The ward's IANA time zone from the rules (`None`: a fixed offset), for the dashboard's
    /// clock.
    pub async fn time_zone(&self) -> Result<Option<String>, AppError> {
        Ok(self.rules().await?.time_zone)
    }

    /// The ward's clock (zone or fixed offset), for cutting a stay into the ward's days.
    pub async fn ward_zone(&self) -> Result<areya_core::time::WardZone, AppError> {
        Ok(self.rules().await?.zone())
    }

    /// What the ward view shows of `beds`, read in one go (one engine lock, or on a follower
    /// one query per kind instead of several per bed).
    pub async fn ward_snapshot(&self, beds: &[Bed]) -> Result<WardSnapshot, AppError> {
        let now = self.now();
        let patients: Vec<PatientId> = beds.iter().filter_map(|b| b.patient.clone()).collect();
        let sources: Vec<SourceId> = beds.iter().flat_map(|b| b.sources.clone()).collect();
        let mut snap = WardSnapshot::default();
        if let Some(c) = self.follower() {
            let consents: HashMap<PatientId, Consent> =
                self.store.consents().await?.into_iter().collect();
            for p in &patients {
                let consent = consents.get(p).copied().unwrap_or(Consent::Active);
                snap.consent.insert(p.clone(), consent);
            }
            let since = now - self.settings.engine.state.horizon_ms;
            snap.assessment =
                c.pg.latest_assessments(&patients, since)
                    .await?
                    .into_iter()
                    .collect();
            snap.last_seen =
                c.pg.last_observations(&sources)
                    .await?
                    .into_iter()
                    .collect();
            snap.time_zone = self.time_zone().await?;
            return Ok(snap);
        }
        {
            let engine = self.engine.lock().await;
            snap.time_zone = engine.rules().time_zone.clone();
            for p in &patients {
                snap.consent.insert(p.clone(), engine.consent(p));
                if let Some(a) = engine.assess(p, now) {
                    snap.assessment.insert(p.clone(), a);
                }
            }
        }
        let seen = self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        for s in &sources {
            if let Some(&t) = seen.get(s) {
                snap.last_seen.insert(s.to_string(), t);
            }
        }
        Ok(snap)
    }

    /// The open alert `id`, for the ward check before acting on it.
    pub async fn open_alert(&self, id: u64) -> Result<areya_monitor::alerts::Alert, AppError> {
        self.open_alerts()
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| {
                AppError::NotFound(format!("alert {id} does not exist or is already resolved"))
            })
    }

    /// Replaces the directory if `expected` is still the current version; everyone and
    /// everything still in it keeps its password or token.
    pub async fn set_directory(
        &self,
        expected: i64,
        author: &str,
        dir: Directory,
    ) -> Result<i64, AppError> {
        let credentials = (*self.credentials()).clone();
        self.set_registry(
            expected,
            author,
            Registry {
                directory: dir,
                credentials,
            },
        )
        .await
    }

    /// Replaces the directory and its credentials if `expected` is still the current version.
    pub async fn set_registry(
        &self,
        expected: i64,
        author: &str,
        reg: Registry,
    ) -> Result<i64, AppError> {
        let Registry {
            directory: dir,
            credentials,
        } = reg;
        dir.validate()
            .map_err(|e| AppError::refused(e.to_string()))?;
        let credentials = credentials.pruned(&dir);
        credentials.validate().map_err(AppError::refused)?;
        let doc = crate::credentials::stored(&dir, &credentials)
            .map_err(|e| AppError::refused(e.to_string()))?;
        let expected = (expected > 0).then_some(expected);
        let version = self
            .store
            .save_directory(expected, self.now(), author, &doc)
            .await?;
        let now = (version, Arc::new(dir), Arc::new(credentials));
        match self.directory.write() {
            Ok(mut g) => *g = now,
            Err(p) => *p.into_inner() = now,
        }
        if let Some(c) = &self.cluster {
            // Every server reloads it (and tells its own dashboards).
            if let Err(e) = c.pg.notify_config().await {
                tracing::warn!("telling the other servers about directory version {version}: {e}");
            }
        }
        self.live.send(Live {
            ward: None,
            event: LiveEvent::Directory { version },
        });
        Ok(version)
    }
}

/// Consent, current assessment and camera last-seen time for a ward's beds.
#[derive(Debug, Default)]
pub struct WardSnapshot {
    pub consent: HashMap<PatientId, Consent>,
    pub assessment: HashMap<PatientId, areya_monitor::state::Assessment>,
    /// By source name.
    pub last_seen: HashMap<String, Millis>,
    /// The ward's IANA time zone from the rules, for the dashboard's clock (`None`: the
    /// rules give a fixed offset or none; the browser's own zone is shown).
    pub time_zone: Option<String>,
}

impl WardSnapshot {
    /// When any of a bed's sources last sent anything.
    pub fn last_seen(&self, sources: &[SourceId]) -> Option<Millis> {
        sources
            .iter()
            .filter_map(|s| self.last_seen.get(s.as_str()).copied())
            .max()
    }
}

/// What a clinician does with an alert.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "act", rename_all = "snake_case")]
pub enum AlertAct {
    Acknowledge {
        actionable: bool,
        reason: Option<String>,
    },
    Snooze {
        seconds: u64,
    },
}

/// Runs `tick` every `every` until `shutdown` resolves. Storage errors are logged and retried
/// at the next tick; nothing already stored is touched.
pub async fn run_ticker(
    app: Arc<App>,
    every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    // The doctors' round runs in the first tick of every hour (and at start).
    let mut round_hour = i64::MIN;
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = interval.tick() => {
                if let Err(e) = app.tick().await {
                    tracing::warn!("tick: {e}");
                }
                let hour = app.now().div_euclid(areya_monitor::HOUR);
                if hour != round_hour {
                    match crate::doctors::round(&app).await {
                        Ok(_) => round_hour = hour,
                        Err(e) => tracing::warn!("doctors' round: {e}"),
                    }
                }
            }
        }
    }
}

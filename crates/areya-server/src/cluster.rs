//! Several servers sharing one PostgreSQL. Exactly one of them — whichever holds the leader
//! lock — runs the ward engine; any of them serves the dashboard and takes ingest.
//!
//! - Ingest: every server checks the batch and its consent and stores the observations (the
//!   store numbers them in commit order); the leader tails them in that order through its
//!   engine, woken by a notification and by a once-a-second poll.
//! - Alert actions, consent and rule changes on a follower are queued as commands in the
//!   database; the leader applies them as it would its own and writes back the answer, which
//!   the follower returns to its user (or, after `Settings::command_wait_ms`, withdraws the
//!   command and answers 503). The directory is saved by whichever server is asked; every server reloads
//!   it when told.
//! - Reads on a follower (ward view, inbox, patient state) come from the database.
//! - Live events: the leader publishes each one it sends its own dashboards; every other
//!   server relays them to its own (events too large for a notification become `resync`,
//!   which makes dashboards reload).
//! - Failover: when the leader stops (or its database session ends) the lock is free; the
//!   next server to take it rebuilds the engine from the store exactly as a restart does and
//!   continues the tail where the rebuilt state ends.

use crate::app::{restore_engine, App, IngestReport};
use crate::command::Command;
use crate::error::AppError;
use crate::live::{Live, LiveEvent};
use areya_core::{Observation, PatientId};
use areya_monitor::engine::Consent;
use areya_monitor::{Millis, SECOND};
use areya_store::{ClusterEvent, PgCluster, PgEvents, Store, MAX_PAYLOAD};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Observations the leader takes from the log at a time.
const TAIL_BATCH: i64 = 2000;
/// Answered commands are kept this long.
const KEEP_COMMANDS_MS: Millis = 3600 * SECOND;

/// This server's part in the cluster.
pub(crate) struct Cluster {
    pub pg: PgCluster,
    leading: AtomicBool,
    /// Observations up to this sequence number have been through the engine (leader only;
    /// changed under the engine lock).
    cursor: AtomicI64,
    /// Woken when the leader has answered a command.
    done: tokio::sync::Notify,
    last_purge: AtomicI64,
}

/// The leader's answer to a command.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Ok(serde_json::Value),
    Err {
        status: u16,
        message: String,
        /// A refusal's words, so the follower's client reads them in its language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        said: Option<areya_core::Words>,
    },
}

impl Answer {
    fn of(r: Result<serde_json::Value, AppError>) -> Answer {
        match r {
            Ok(v) => Answer::Ok(v),
            // The follower shows it to its client: no database text (logged here instead).
            Err(e) => {
                if let AppError::Store(s) = &e {
                    tracing::error!("applying a follower's command: {s}");
                }
                Answer::Err {
                    status: e.wire_code(),
                    message: e.client_message(),
                    said: e.said().cloned(),
                }
            }
        }
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn decode(text: &str) -> Result<serde_json::Value, AppError> {
        match serde_json::from_str::<Answer>(text) {
            Ok(Answer::Ok(v)) => Ok(v),
            Ok(Answer::Err {
                status,
                message,
                said,
            }) => Err(AppError::from_wire(status, message, said)),
            Err(e) => Err(AppError::Unavailable(format!(
                "the engine leader's answer is not readable: {e}"
            ))),
        }
    }
}

/// A live event as it travels between servers.
#[derive(Serialize, Deserialize)]
struct Relayed {
    node: String,
    ward: Option<String>,
    event: String,
    data: serde_json::Value,
}

impl Cluster {
    pub fn new(pg: PgCluster) -> Cluster {
        Cluster {
            pg,
            leading: AtomicBool::new(false),
            cursor: AtomicI64::new(0),
            done: tokio::sync::Notify::new(),
            last_purge: AtomicI64::new(0),
        }
    }

    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    /// Publishes this server's live events to the others.
    pub async fn relay(&self, lives: &[Live]) {
        if lives.is_empty() {
            return;
        }
        let payloads: Vec<String> = lives
            .iter()
            .map(|l| {
                let mut r = Relayed {
                    node: self.pg.node().to_string(),
                    ward: l.ward.clone(),
                    event: l.event.name().to_string(),
                    data: l.event.data(),
                };
                let text = serde_json::to_string(&r).unwrap_or_default();
                if text.len() <= MAX_PAYLOAD {
                    return text;
                }
                let resync = LiveEvent::Resync { missed: None };
                r.event = resync.name().into();
                r.data = resync.data();
                serde_json::to_string(&r).unwrap_or_default()
            })
            .collect();
        if let Err(e) = self.pg.publish(&payloads).await {
            tracing::warn!("relaying {} live events: {e}", payloads.len());
        }
    }
}

/// Whether this server runs the engine alone, as the cluster's leader, or as a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ServerRole)]
pub enum Role {
    Single,
    Leader,
    Follower,
}

impl App {
    pub fn role(&self) -> Role {
        match &self.cluster {
            None => Role::Single,
            Some(c) if c.is_leading() => Role::Leader,
            Some(_) => Role::Follower,
        }
    }

    /// The cluster, when this server is a follower (its work goes to the leader).
    pub(crate) fn follower(&self) -> Option<&Cluster> {
        self.cluster.as_ref().filter(|c| !c.is_leading())
    }

    /// Ingest on a cluster: stored here, run through the engine by the leader.
    pub(crate) async fn ingest_shared(
        &self,
        c: &Cluster,
        obs: Vec<Observation>,
        now: Millis,
    ) -> Result<IngestReport, AppError> {
        let consents: HashMap<PatientId, Consent> =
            self.store.consents().await?.into_iter().collect();
        let (allowed, refused): (Vec<_>, Vec<_>) = obs.into_iter().partition(|o| {
            consents
                .get(&o.patient)
                .copied()
                .unwrap_or(Consent::Active)
                .allows(now)
        });
        let new = self.store.insert_observations(&allowed).await?;
        let accepted = new.iter().filter(|n| **n).count();
        let report = IngestReport {
            accepted,
            duplicate: new.len() - accepted,
            refused: refused.len(),
        };
        let counters = &self.counters;
        counters.ingested.inc_by(report.accepted as u64);
        counters.duplicates.inc_by(report.duplicate as u64);
        counters.refused_consent.inc_by(report.refused as u64);
        // Stored is accepted. If reading the log fails here the next poll reads it again; a
        // failed save of what the engine produced is counted in areya_store_errors_total, as
        // on a single server.
        if accepted > 0 {
            if c.is_leading() {
                if let Err(e) = self.catch_up().await {
                    tracing::warn!("engine leader, processing stored observations: {e}");
                }
            } else if let Err(e) = c.pg.notify_ingest().await {
                tracing::warn!("waking the engine leader: {e}");
            }
        }
        Ok(report)
    }

    /// Hands `cmd` to the leader and waits for its answer.
    pub(crate) async fn forward(
        &self,
        c: &Cluster,
        cmd: Command,
    ) -> Result<serde_json::Value, AppError> {
        let text =
            serde_json::to_string(&cmd).map_err(|e| AppError::refused(format!("command: {e}")))?;
        let seq = c.pg.submit(self.now(), &text).await?;
        let started = Instant::now();
        let wait = Duration::from_millis(self.settings.command_wait_ms.max(0) as u64);
        let mut withdrawn_tried = false;
        loop {
            let notified = c.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(answer) = c.pg.result(seq).await? {
                return Answer::decode(&answer);
            }
            let waited = started.elapsed();
            if waited >= wait && !withdrawn_tried {
                withdrawn_tried = true;
                let msg = format!(
                    "no server took this request within {:.1} s (is a server running the ward engine?); nothing was changed — try again",
                    wait.as_secs_f64()
                );
                let gone = Answer::Err {
                    status: 503,
                    message: msg.clone(),
                    said: None,
                };
                if c.pg.cancel(seq, &gone.encode()).await? {
                    return Err(AppError::Unavailable(msg));
                }
                // Taken meanwhile: the leader is applying it; wait for its answer.
            } else if waited >= wait * 2 {
                return Err(AppError::Unavailable(
                    "the engine leader took this request but has not answered; check the alert before trying again".into(),
                ));
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(250).min(wait)) => {}
            }
        }
    }

    /// One round of the election, and the leader's work: take the lock if it is free (and
    /// rebuild the engine), notice if it was lost, then tail the log and answer commands.
    pub async fn cluster_step(&self) {
        let Some(c) = &self.cluster else {
            return;
        };
        let was = c.is_leading();
        match c.pg.try_lead().await {
            Ok(true) if !was => match self.become_leader(c).await {
                Ok(()) => tracing::info!("{}: this server now runs the ward engine", c.pg.node()),
                Err(e) => {
                    tracing::warn!("{}: taking over the ward engine failed: {e}", c.pg.node());
                    c.leading.store(false, Ordering::SeqCst);
                    c.pg.resign().await;
                }
            },
            Ok(true) => {}
            Ok(false) => {
                if was {
                    c.leading.store(false, Ordering::SeqCst);
                    tracing::warn!("{}: lost the engine-leader lock", c.pg.node());
                }
            }
            Err(e) => {
                if was {
                    c.leading.store(false, Ordering::SeqCst);
                }
                tracing::warn!("{}: cluster: {e}", c.pg.node());
            }
        }
        if c.is_leading() {
            if let Err(e) = self.catch_up().await {
                tracing::warn!("engine leader, reading the ingest log: {e}");
            }
            if let Err(e) = self.run_commands().await {
                tracing::warn!("engine leader, answering commands: {e}");
            }
            let now = self.now();
            if now - c.last_purge.load(Ordering::Relaxed) >= 60 * SECOND {
                c.last_purge.store(now, Ordering::Relaxed);
                if let Err(e) = c.pg.purge_commands(now - KEEP_COMMANDS_MS).await {
                    tracing::warn!("purging answered commands: {e}");
                }
            }
        }
    }

    async fn become_leader(&self, c: &Cluster) -> Result<(), AppError> {
        self.reload_directory().await?;
        let mut engine = self.engine().await;
        let now = self.now();
        // Every observation up to `upto` is committed (inserts are serialised), so the
        // rebuilt engine and the tail from `upto` see each one exactly once.
        let upto = c.pg.last_observation_seq().await?;
        let pending =
            c.pg.observations_upto(now - self.settings.replay_span(), upto)
                .await?;
        let (rebuilt, outputs) = restore_engine(&self.store, &self.settings, now, pending).await?;
        *engine = rebuilt;
        c.cursor.store(upto, Ordering::SeqCst);
        self.engine_since.store(now, Ordering::Relaxed);
        self.forget_sources();
        c.leading.store(true, Ordering::SeqCst);
        self.commit(&engine, outputs).await
    }

    /// The leader runs every observation stored since the last call through the engine.
    pub(crate) async fn catch_up(&self) -> Result<(), AppError> {
        let Some(c) = &self.cluster else {
            return Ok(());
        };
        let mut engine = self.engine().await;
        while c.is_leading() {
            let rows =
                c.pg.observations_after(c.cursor.load(Ordering::SeqCst), TAIL_BATCH)
                    .await?;
            let n = rows.len() as i64;
            let now = self.now();
            let mut outputs = Vec::new();
            for (seq, o) in rows {
                c.cursor.store(seq, Ordering::SeqCst);
                let Some(o) = o else { continue };
                // Stamped ahead of the clock (stored by a version that did not check).
                if o.at_ms > now + self.settings.max_future_ms {
                    continue;
                }
                if !engine.consent(&o.patient).allows(now) {
                    continue;
                }
                self.saw_source(&o.source, now);
                match engine.ingest(&o, now) {
                    Ok(Some(out)) => outputs.extend(out),
                    Ok(None) => {}
                    Err(e) => tracing::warn!("observation {} of {}: {e}", seq, o.patient),
                }
            }
            self.commit(&engine, outputs).await?;
            if n < TAIL_BATCH {
                break;
            }
        }
        Ok(())
    }

    /// The leader answers the commands followers have queued, oldest first.
    async fn run_commands(&self) -> Result<(), AppError> {
        let Some(c) = &self.cluster else {
            return Ok(());
        };
        for (seq, _, text) in c.pg.pending_commands().await? {
            if !c.is_leading() || !c.pg.claim(seq).await? {
                continue;
            }
            let answer = match serde_json::from_str::<Command>(&text) {
                Ok(cmd) => Answer::of(self.apply(cmd).await),
                Err(e) => Answer::Err {
                    status: 400,
                    message: format!("command {seq} is not readable: {e}"),
                    said: None,
                },
            };
            c.pg.finish(seq, &answer.encode()).await?;
        }
        Ok(())
    }

    async fn on_event(&self, c: &Cluster, e: ClusterEvent) {
        match e {
            ClusterEvent::Live(text) => {
                let Ok(r) = serde_json::from_str::<Relayed>(&text) else {
                    tracing::warn!("unreadable live event from another server");
                    return;
                };
                if r.node == c.pg.node() {
                    return;
                }
                // An event this version does not know is skipped.
                let Some(event) = LiveEvent::from_parts(&r.event, r.data) else {
                    return;
                };
                self.live.send(Live {
                    ward: r.ward,
                    event,
                });
            }
            ClusterEvent::Work(w) => match w.as_str() {
                "ingest" if c.is_leading() => {
                    if let Err(e) = self.catch_up().await {
                        tracing::warn!("engine leader, reading the ingest log: {e}");
                    }
                }
                "command" if c.is_leading() => {
                    if let Err(e) = self.run_commands().await {
                        tracing::warn!("engine leader, answering commands: {e}");
                    }
                }
                "done" => c.done.notify_waiters(),
                "config" => match self.reload_directory().await {
                    Ok(()) => {
                        self.live.send(Live {
                            ward: None,
                            event: LiveEvent::Directory {
                                version: self.directory_version(),
                            },
                        });
                    }
                    Err(e) => tracing::warn!("reloading the directory: {e}"),
                },
                _ => {}
            },
        }
    }
}

/// Keeps a cluster member going until `shutdown`: the election every second, the leader's
/// work, and the notifications (wake-ups and live events) as they come. On shutdown the
/// leader lock is given up so another server takes over at once.
pub async fn run_cluster(app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let Some(c) = &app.cluster else {
        return;
    };
    // The listener lives on a task of its own and hands notifications over a channel, so the
    // select below never drops a notification half-read.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ClusterEvent>(4096);
    let listener = tokio::spawn(listen(app.clone(), tx));
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = interval.tick() => app.cluster_step().await,
            Some(e) = rx.recv() => app.on_event(c, e).await,
        }
    }
    listener.abort();
    c.leading.store(false, Ordering::SeqCst);
    c.pg.resign().await;
}

/// Forwards the cluster's notifications to `tx`, reconnecting after a second when the
/// connection cannot be made (what is missed meanwhile, the leader's poll makes up for).
async fn listen(app: Arc<App>, tx: tokio::sync::mpsc::Sender<ClusterEvent>) {
    let Some(c) = &app.cluster else {
        return;
    };
    loop {
        let mut events: PgEvents = match c.pg.listen().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("cluster notifications: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            match events.recv().await {
                Ok(e) => {
                    if tx.send(e).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!("cluster notifications: {e}");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use areya_store::StoreError;

    #[test]
    fn a_leader_store_failure_reaches_the_follower_without_database_text() {
        let e = AppError::Store(StoreError::Db {
            what: "save alerts",
            cause: sqlx::Error::Protocol("relation \"alerts\" is locked by pid 4242".into()),
        });
        let text = Answer::of(Err(e)).encode();
        let err = Answer::decode(&text).expect_err("an error");
        assert_eq!(err.wire_code(), 503);
        let shown = err.client_message();
        assert!(shown.contains("storage unavailable"), "{shown}");
        assert!(
            !shown.contains("pid 4242") && !shown.contains("alerts"),
            "{shown}"
        );
        let ok = Answer::decode(&Answer::of(Ok(serde_json::json!(7))).encode()).expect("ok");
        assert_eq!(ok, 7);
    }
}

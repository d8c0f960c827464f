//! What several servers sharing one PostgreSQL need beyond the [`Store`](super::Store): the
//! engine-leader lock (a session advisory lock on a connection of its own), the ordered tail
//! of the ingest log, the queue of commands a follower hands to the leader, notifications
//! (`LISTEN`/`NOTIFY`) that wake the leader and fan live events out to every server, and the
//! reads a follower answers from the database instead of an engine in memory.

use super::parse;
use super::postgres::PgStore;
use super::{db, StoreError};
use areya_core::{Observation, PatientId, SourceId};
use areya_monitor::alerts::Alert;
use areya_monitor::engine::Consent;
use areya_monitor::state::Assessment;
use areya_monitor::Millis;
use sqlx::postgres::{PgConnection, PgListener};
use sqlx::{Connection, PgPool, Row};
use std::time::Duration;

/// Transaction advisory lock taken by every observation insert (sequence numbers become
/// visible in order).
pub(crate) const INGEST_LOCK: i64 = 0x4152_4559_0001;
/// Session advisory lock held by the one server that runs the ward engine.
const LEADER_LOCK: i64 = 0x4152_4559_0002;
/// Live events for every server's dashboards.
const LIVE: &str = "areya_live";
/// Work for the leader (`ingest`, `command`) and answers for followers (`done`, `config`).
const WORK: &str = "areya_work";
/// The longest notification payload PostgreSQL takes is 8000 bytes.
pub const MAX_PAYLOAD: usize = 7900;

/// One server's handle on the cluster tables and notifications.
pub struct PgCluster {
    pool: PgPool,
    node: String,
    /// The leader-lock connection and whether it holds the lock.
    lock: tokio::sync::Mutex<(Option<PgConnection>, bool)>,
}

/// A notification from another server (or this one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A live event (JSON) published by the leader.
    Live(String),
    /// `ingest`, `command`, `done` or `config`.
    Work(String),
}

/// The notifications this server listens to.
pub struct PgEvents(PgListener);

impl PgEvents {
    /// The next notification. After a lost connection it reconnects; notifications sent
    /// meanwhile are lost, which is why the leader also polls.
    pub async fn recv(&mut self) -> Result<ClusterEvent, StoreError> {
        let n = self.0.recv().await.map_err(db("listen"))?;
        Ok(match n.channel() {
            LIVE => ClusterEvent::Live(n.payload().to_string()),
            _ => ClusterEvent::Work(n.payload().to_string()),
        })
    }
}

impl PgCluster {
    /// `node` names this server in logs and in the commands it submits.
    pub fn new(store: &PgStore, node: impl Into<String>) -> PgCluster {
        PgCluster {
            pool: store.pool.clone(),
            node: node.into(),
            lock: tokio::sync::Mutex::new((None, false)),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Takes the leader lock if nobody holds it, or checks that this server still holds it.
    /// `Ok(true)`: this server is the leader. A broken lock connection means the lock is gone
    /// (PostgreSQL released it with the session): `Ok(false)`, and the next call tries again.
    pub async fn try_lead(&self) -> Result<bool, StoreError> {
        let mut guard = self.lock.lock().await;
        let (conn, held) = &mut *guard;
        if conn.is_none() {
            let opts = self.pool.connect_options();
            let c = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&opts))
                .await
                .map_err(|_| StoreError::Refused("database: connecting timed out".into()))?
                .map_err(db("connect for the leader lock"))?;
            *conn = Some(c);
            *held = false;
        }
        let Some(c) = conn.as_mut() else {
            return Ok(false);
        };
        let query = if *held {
            sqlx::query_scalar::<_, bool>("SELECT TRUE")
        } else {
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)").bind(LEADER_LOCK)
        };
        match tokio::time::timeout(Duration::from_secs(5), query.fetch_one(&mut *c)).await {
            Ok(Ok(got)) => {
                *held = got;
                Ok(got)
            }
            Ok(Err(e)) => {
                *conn = None;
                *held = false;
                Err(StoreError::Db {
                    what: "leader lock",
                    cause: e,
                })
            }
            Err(_) => {
                *conn = None;
                *held = false;
                Err(StoreError::Refused(
                    "database: the leader lock did not answer in 5 s".into(),
                ))
            }
        }
    }

    /// Gives the leader lock up (at shutdown), so another server takes over at once.
    pub async fn resign(&self) {
        let mut guard = self.lock.lock().await;
        if let Some(c) = guard.0.take() {
            // Closing the session releases its advisory locks.
            let _ = c.close().await;
        }
        guard.1 = false;
    }

    pub async fn listen(&self) -> Result<PgEvents, StoreError> {
        let mut l = PgListener::connect_with(&self.pool)
            .await
            .map_err(db("listen"))?;
        l.listen_all([LIVE, WORK]).await.map_err(db("listen"))?;
        Ok(PgEvents(l))
    }

    /// The newest observation sequence number (0: none).
    pub async fn last_observation_seq(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM observations")
            .fetch_one(&self.pool)
            .await
            .map_err(db("read observation sequence"))
    }

    /// Up to `limit` observations after sequence number `after`, in order; `None` for a row
    /// that cannot be read back or holds values out of range (written by an older version
    /// that did not check), so the tail moves past it instead of stopping there.
    pub async fn observations_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Option<Observation>)>, StoreError> {
        let rows =
            sqlx::query("SELECT seq, json FROM observations WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(db("read observations"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                let o = super::replayable([r.get::<String, _>(1)]).pop();
                (seq, o)
            })
            .collect())
    }

    /// Observations with `at_ms >= from` and sequence number `<= upto`, in time order (what a
    /// new leader replays into the open windows).
    pub async fn observations_upto(
        &self,
        from: Millis,
        upto: i64,
    ) -> Result<Vec<Observation>, StoreError> {
        let rows = sqlx::query("SELECT json FROM observations WHERE at_ms >= $1 AND seq <= $2 ORDER BY at_ms, source, frame")
            .bind(from)
            .bind(upto)
            .fetch_all(&self.pool)
            .await
            .map_err(db("read observations"))?;
        Ok(super::replayable(
            rows.iter().map(|r| r.get::<String, _>(0)),
        ))
    }

    /// Wakes the leader: new observations are stored.
    pub async fn notify_ingest(&self) -> Result<(), StoreError> {
        self.notify(WORK, "ingest").await
    }

    /// Tells every server the directory changed.
    pub async fn notify_config(&self) -> Result<(), StoreError> {
        self.notify(WORK, "config").await
    }

    async fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map_err(db("notify"))?;
        Ok(())
    }

    /// Sends live events to every server, in order, in one round trip. Each must be at most
    /// [`MAX_PAYLOAD`] bytes.
    pub async fn publish(&self, events: &[String]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "SELECT pg_notify($1, e) FROM unnest($2::text[]) WITH ORDINALITY AS t(e, i) ORDER BY i",
        )
        .bind(LIVE)
        .bind(events)
        .execute(&self.pool)
        .await
        .map_err(db("publish live events"))?;
        Ok(())
    }

    /// Queues a command for the leader and wakes it; returns the command's number.
    pub async fn submit(&self, at_ms: Millis, json: &str) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db("begin"))?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO commands (at_ms, node, json) VALUES ($1, $2, $3) RETURNING seq",
        )
        .bind(at_ms)
        .bind(&self.node)
        .bind(json)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("submit command"))?;
        sqlx::query("SELECT pg_notify($1, 'command')")
            .bind(WORK)
            .execute(&mut *tx)
            .await
            .map_err(db("notify"))?;
        tx.commit().await.map_err(db("commit"))?;
        Ok(seq)
    }

    /// Commands nobody has claimed yet: (number, submitted at, JSON), oldest first.
    pub async fn pending_commands(&self) -> Result<Vec<(i64, Millis, String)>, StoreError> {
        let rows = sqlx::query("SELECT seq, at_ms, json FROM commands WHERE NOT claimed AND result IS NULL ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .map_err(db("read commands"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// The leader takes command `seq` (false: it was cancelled or taken meanwhile).
    pub async fn claim(&self, seq: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE commands SET claimed = TRUE WHERE seq = $1 AND NOT claimed AND result IS NULL",
        )
        .bind(seq)
        .execute(&self.pool)
        .await
        .map_err(db("claim command"))?;
        Ok(n.rows_affected() == 1)
    }

    /// Records what a claimed command did and wakes the server waiting for it.
    pub async fn finish(&self, seq: i64, result: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db("begin"))?;
        sqlx::query("UPDATE commands SET result = $2 WHERE seq = $1")
            .bind(seq)
            .bind(result)
            .execute(&mut *tx)
            .await
            .map_err(db("finish command"))?;
        sqlx::query("SELECT pg_notify($1, 'done')")
            .bind(WORK)
            .execute(&mut *tx)
            .await
            .map_err(db("notify"))?;
        tx.commit().await.map_err(db("commit"))
    }

    /// Withdraws a command the leader has not claimed (true), recording `result` for it.
    pub async fn cancel(&self, seq: i64, result: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE commands SET result = $2 WHERE seq = $1 AND NOT claimed AND result IS NULL",
        )
        .bind(seq)
        .bind(result)
        .execute(&self.pool)
        .await
        .map_err(db("cancel command"))?;
        Ok(n.rows_affected() == 1)
    }

    /// What command `seq` did, once it is done.
    pub async fn result(&self, seq: i64) -> Result<Option<String>, StoreError> {
        let row: Option<Option<String>> =
            sqlx::query_scalar("SELECT result FROM commands WHERE seq = $1")
                .bind(seq)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("read command"))?;
        Ok(row.flatten())
    }

    /// Forgets commands submitted before `cutoff`.
    pub async fn purge_commands(&self, cutoff: Millis) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM commands WHERE at_ms < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db("purge commands"))?;
        Ok(n.rows_affected())
    }

    /// Alerts not resolved, oldest first.
    pub async fn open_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query("SELECT json FROM alerts WHERE state <> 'resolved' ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db("read alerts"))?;
        rows.iter()
            .map(|r| parse("alert", &r.get::<String, _>(0)))
            .collect()
    }

    /// The patient's newest assessment made at or after `since`.
    pub async fn latest_assessment(
        &self,
        p: &PatientId,
        since: Millis,
    ) -> Result<Option<Assessment>, StoreError> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT json FROM assessments WHERE patient = $1 AND at_ms >= $2 ORDER BY at_ms DESC LIMIT 1",
        )
        .bind(p.as_str())
        .bind(since)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("read assessments"))?;
        row.map(|s| parse("assessment", &s)).transpose()
    }

    /// The newest assessment made at or after `since` of each of `patients` that has one.
    pub async fn latest_assessments(
        &self,
        patients: &[PatientId],
        since: Millis,
    ) -> Result<Vec<(PatientId, Assessment)>, StoreError> {
        let names: Vec<String> = patients.iter().map(|p| p.to_string()).collect();
        let rows = sqlx::query(
            "SELECT DISTINCT ON (patient) patient, json FROM assessments WHERE patient = ANY($1) AND at_ms >= $2 ORDER BY patient, at_ms DESC",
        )
        .bind(names)
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(db("read assessments"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    super::patient("assessment", r.get(0))?,
                    parse("assessment", &r.get::<String, _>(1))?,
                ))
            })
            .collect()
    }

    /// When each of `sources` that ever sent an observation last did.
    pub async fn last_observations(
        &self,
        sources: &[SourceId],
    ) -> Result<Vec<(String, Millis)>, StoreError> {
        let names: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        let rows = sqlx::query(
            "SELECT source, MAX(at_ms) FROM observations WHERE source = ANY($1) GROUP BY source",
        )
        .bind(names)
        .fetch_all(&self.pool)
        .await
        .map_err(db("read observations"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The patient's consent (monitored when none is recorded).
    pub async fn consent(&self, p: &PatientId) -> Result<Consent, StoreError> {
        let row: Option<String> = sqlx::query_scalar("SELECT json FROM consent WHERE patient = $1")
            .bind(p.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("read consent"))?;
        Ok(row
            .map(|s| parse("consent", &s))
            .transpose()?
            .unwrap_or(Consent::Active))
    }

    /// When any of `sources` last sent an observation.
    pub async fn last_observation(
        &self,
        sources: &[SourceId],
    ) -> Result<Option<Millis>, StoreError> {
        let names: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        sqlx::query_scalar("SELECT MAX(at_ms) FROM observations WHERE source = ANY($1)")
            .bind(names)
            .fetch_one(&self.pool)
            .await
            .map_err(db("read observations"))
    }
}

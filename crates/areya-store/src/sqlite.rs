//! The SQLite store: the embedded default. WAL journal, `synchronous=FULL` (a committed batch
//! survives a crash or power loss), migrations embedded in the binary.

use super::{event_parts, json, parse, patient, AuditEntry, Batch, Purged, Store, StoreError};
use areya_core::{Emotion, Observation, PatientId};
use areya_monitor::alerts::{Alert, AlertEvent};
use areya_monitor::engine::Consent;
use areya_monitor::state::Assessment;
use areya_monitor::window::WindowAggregate;
use areya_monitor::Millis;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The pool is replaced after an I/O-class failure (disk full, I/O error, a lock that stays
/// held): a connection whose transaction could not be rolled back keeps SQLite's write lock
/// until it is closed, and every other write would fail with "database is locked" until then.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: RwLock<SqlitePool>,
    opts: SqliteConnectOptions,
    max: u32,
    in_memory: bool,
    /// Set by a failure that a fresh pool may cure; the next operation reopens.
    reopen: AtomicBool,
    last_reopen: Mutex<Option<Instant>>,
    reopens: AtomicU64,
}

/// SQLite's primary result codes that say the file or its locks are in trouble, not the SQL.
fn io_class(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14)),
        _ => false,
    }
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates `url`, e.g. `sqlite://areya.db` or `sqlite::memory:`.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(super::db("URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // An in-memory database exists once per connection: keep exactly one.
        let in_memory = url.contains(":memory:");
        let max = if in_memory { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(opts.clone())
            .await
            .map_err(super::db("open"))?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                pool: RwLock::new(pool),
                opts,
                max,
                in_memory,
                reopen: AtomicBool::new(false),
                last_reopen: Mutex::new(None),
                reopens: AtomicU64::new(0),
            }),
        })
    }

    /// The current pool; first replaces it if a failure asked for that (at most once a second).
    fn pool(&self) -> SqlitePool {
        let i = &self.inner;
        if i.reopen.load(Ordering::Relaxed) && !i.in_memory {
            let mut last = i.last_reopen.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                *last = Some(Instant::now());
                i.reopen.store(false, Ordering::Relaxed);
                let fresh = SqlitePoolOptions::new()
                    .max_connections(i.max)
                    .connect_lazy_with(i.opts.clone());
                let old = {
                    let mut g = i.pool.write().unwrap_or_else(|p| p.into_inner());
                    std::mem::replace(&mut *g, fresh)
                };
                i.reopens.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("SQLite: reopening the database after an I/O failure");
                // Closing waits for connections still in use; their locks go with them.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move { old.close().await });
                }
            }
        }
        i.pool.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Like [`super::db`], and marks the pool for reopening after an I/O-class failure.
    fn db(&self, what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |cause| {
            if io_class(&cause) {
                self.inner.reopen.store(true, Ordering::Relaxed);
            }
            StoreError::Db { what, cause }
        }
    }
}

impl Store for SqliteStore {
    async fn save(&self, b: &Batch) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
        for w in &b.windows {
            sqlx::query("INSERT OR REPLACE INTO windows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(w.patient.as_str())
                .bind(w.start_ms)
                .bind(w.end_ms)
                .bind(w.frames as i64)
                .bind(w.faces as i64)
                .bind(w.prob_sums.get(Emotion::Angry))
                .bind(w.prob_sums.get(Emotion::Happy))
                .bind(w.prob_sums.get(Emotion::Relaxed))
                .bind(w.prob_sums.get(Emotion::Sad))
                .bind(w.confidence_sum)
                .execute(&mut *tx)
                .await
                .map_err(self.db("save window"))?;
        }
        for (p, a) in &b.assessments {
            sqlx::query("INSERT OR REPLACE INTO assessments VALUES (?, ?, ?, ?, ?)")
                .bind(p.as_str())
                .bind(a.at_ms)
                .bind(a.score as i64)
                .bind(json(&a.status).trim_matches('"').to_string())
                .bind(json(a))
                .execute(&mut *tx)
                .await
                .map_err(self.db("save assessment"))?;
        }
        for a in &b.alerts {
            sqlx::query(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms, json = excluded.json",
            )
            .bind(a.id as i64)
            .bind(a.patient.as_str())
            .bind(json(&a.kind).trim_matches('"').to_string())
            .bind(json(&a.state).trim_matches('"').to_string())
            .bind(a.raised_ms)
            .bind(a.updated_ms)
            .bind(json(a))
            .execute(&mut *tx)
            .await
            .map_err(self.db("save alert"))?;
        }
        for e in &b.events {
            let (id, at, kind) = event_parts(e);
            sqlx::query(
                "INSERT INTO alert_events (alert_id, at_ms, kind, json) VALUES (?, ?, ?, ?)",
            )
            .bind(id as i64)
            .bind(at)
            .bind(kind)
            .bind(json(e))
            .execute(&mut *tx)
            .await
            .map_err(self.db("save alert event"))?;
            if let AlertEvent::Resolved { id, at_ms } = e {
                // The alert's snapshot says resolved too.
                let row = sqlx::query("SELECT json FROM alerts WHERE id = ?")
                    .bind(*id as i64)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(self.db("resolve alert"))?;
                if let Some(row) = row {
                    let mut a: Alert = parse("alert", &row.get::<String, _>(0))?;
                    a.state = areya_monitor::alerts::AlertState::Resolved;
                    a.updated_ms = *at_ms;
                    sqlx::query("UPDATE alerts SET state = 'resolved', updated_ms = ?, json = ? WHERE id = ?")
                        .bind(at_ms)
                        .bind(json(&a))
                        .bind(*id as i64)
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db("resolve alert"))?;
                }
            }
        }
        for snap in &b.patients {
            sqlx::query("INSERT INTO patient_state VALUES (?, ?, ?) ON CONFLICT(patient) DO UPDATE SET at_ms = excluded.at_ms, json = excluded.json")
                .bind(snap.patient.as_str())
                .bind(snap.at_ms)
                .bind(json(snap))
                .execute(&mut *tx)
                .await
                .map_err(self.db("save patient state"))?;
        }
        // The gateway's messages are queued with the events that caused them: none is lost.
        crate::shared::queue_deliveries!(tx, &b.deliveries, |w| self.db(w));
        tx.commit().await.map_err(self.db("commit"))
    }

    async fn windows(
        &self,
        p: Option<&PatientId>,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<WindowAggregate>, StoreError> {
        let rows = sqlx::query("SELECT * FROM windows WHERE (?1 IS NULL OR patient = ?1) AND start_ms >= ?2 AND start_ms < ?3 ORDER BY start_ms, patient")
            .bind(p.map(|p| p.as_str()))
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool())
            .await
            .map_err(self.db("read windows"))?;
        rows.iter().map(super::window_row).collect()
    }

    crate::shared::same_on_both_back_ends!();

    async fn alerts(&self, p: Option<&PatientId>) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query("SELECT json FROM alerts WHERE (?1 IS NULL OR patient = ?1) ORDER BY raised_ms DESC, id DESC")
            .bind(p.map(|p| p.as_str()))
            .fetch_all(&self.pool())
            .await
            .map_err(self.db("read alerts"))?;
        rows.iter()
            .map(|r| parse("alert", &r.get::<String, _>(0)))
            .collect()
    }

    async fn max_alert_id(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM alerts")
            .fetch_one(&self.pool())
            .await
            .map_err(self.db("read alert ids"))?;
        Ok(row.get::<i64, _>(0) as u64)
    }

    async fn save_rules(&self, at_ms: Millis, author: &str, toml: &str) -> Result<i64, StoreError> {
        areya_monitor::rules::RuleSet::from_toml(toml)
            .map_err(|e| StoreError::Refused(e.to_string()))?;
        let r = sqlx::query("INSERT INTO rules (at_ms, author, toml) VALUES (?, ?, ?)")
            .bind(at_ms)
            .bind(author)
            .bind(toml)
            .execute(&self.pool())
            .await
            .map_err(self.db("save rules"))?;
        Ok(r.last_insert_rowid())
    }

    async fn set_consent(&self, p: &PatientId, consent: Consent) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
        sqlx::query("INSERT OR REPLACE INTO consent VALUES (?, ?)")
            .bind(p.as_str())
            .bind(json(&consent))
            .execute(&mut *tx)
            .await
            .map_err(self.db("save consent"))?;
        if consent == Consent::OptedOut {
            for table in [
                "DELETE FROM windows WHERE patient = ?",
                "DELETE FROM assessments WHERE patient = ?",
                "DELETE FROM observations WHERE patient = ?",
                "DELETE FROM patient_state WHERE patient = ?",
            ] {
                sqlx::query(table)
                    .bind(p.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db("forget patient"))?;
            }
        }
        tx.commit().await.map_err(self.db("commit"))
    }

    async fn audit(&self, e: &AuditEntry) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO audit (at_ms, actor, action, target, detail, said) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(e.at_ms)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.detail)
        .bind(crate::words_json(e.said.as_ref()))
        .execute(&self.pool())
        .await
        .map_err(self.db("append audit"))?;
        Ok(r.last_insert_rowid())
    }

    async fn insert_observations(&self, obs: &[Observation]) -> Result<Vec<bool>, StoreError> {
        // Multi-row inserts; RETURNING names the rows that were new (a key repeated within
        // the request counts once).
        let mut new = vec![false; obs.len()];
        let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
        for (c, chunk) in obs.chunks(500).enumerate() {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO observations (source, at_ms, frame, patient, json) ",
            );
            q.push_values(chunk, |mut b, o| {
                b.push_bind(o.source.as_str())
                    .push_bind(o.at_ms)
                    .push_bind(o.frame as i64)
                    .push_bind(o.patient.as_str())
                    .push_bind(json(o));
            });
            q.push(" ON CONFLICT DO NOTHING RETURNING source, at_ms, frame");
            let rows = q
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(self.db("save observations"))?;
            let mut inserted: std::collections::HashSet<(String, i64, i64)> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            for (i, o) in chunk.iter().enumerate() {
                let key = (o.source.to_string(), o.at_ms, o.frame as i64);
                new[c * 500 + i] = inserted.remove(&key);
            }
        }
        tx.commit().await.map_err(self.db("commit"))?;
        Ok(new)
    }

    async fn save_directory(
        &self,
        expected: Option<i64>,
        at_ms: Millis,
        author: &str,
        doc: &str,
    ) -> Result<i64, StoreError> {
        super::check_directory(doc)?;
        let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
        // Taking the write lock first makes the version check and the insert one step.
        sqlx::query("UPDATE directory SET version = version WHERE 0")
            .execute(&mut *tx)
            .await
            .map_err(self.db("lock directory"))?;
        let current: Option<i64> = sqlx::query("SELECT MAX(version) FROM directory")
            .fetch_one(&mut *tx)
            .await
            .map_err(self.db("read directory"))?
            .get(0);
        if current != expected {
            return Err(super::directory_conflict(expected, current));
        }
        let version = current.unwrap_or(0) + 1;
        sqlx::query("INSERT INTO directory VALUES (?, ?, ?, ?)")
            .bind(version)
            .bind(at_ms)
            .bind(author)
            .bind(doc)
            .execute(&mut *tx)
            .await
            .map_err(self.db("save directory"))?;
        tx.commit().await.map_err(self.db("commit"))?;
        Ok(version)
    }

    fn reopens(&self) -> u64 {
        self.inner.reopens.load(Ordering::Relaxed)
    }

    async fn delete_sessions_of(&self, staff: &str, keep: Option<&str>) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE staff = ? AND token_hash IS NOT ?")
            .bind(staff)
            .bind(keep)
            .execute(&self.pool())
            .await
            .map_err(self.db("end sessions"))?;
        Ok(r.rows_affected())
    }

    async fn purge_before(&self, cutoff: Millis) -> Result<Purged, StoreError> {
        let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
        let n = |q: &'static str| sqlx::query(q).bind(cutoff);
        let windows = n("DELETE FROM windows WHERE end_ms <= ?")
            .execute(&mut *tx)
            .await
            .map_err(self.db("purge"))?
            .rows_affected();
        let assessments = n("DELETE FROM assessments WHERE at_ms < ?")
            .execute(&mut *tx)
            .await
            .map_err(self.db("purge"))?
            .rows_affected();
        let alert_events = n("DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM alerts WHERE state = 'resolved' AND updated_ms < ?)")
            .execute(&mut *tx)
            .await
            .map_err(self.db("purge"))?
            .rows_affected();
        let alerts = n("DELETE FROM alerts WHERE state = 'resolved' AND updated_ms < ?")
            .execute(&mut *tx)
            .await
            .map_err(self.db("purge"))?
            .rows_affected();
        let observations = n("DELETE FROM observations WHERE at_ms < ?")
            .execute(&mut *tx)
            .await
            .map_err(self.db("purge"))?
            .rows_affected();
        tx.commit().await.map_err(self.db("commit"))?;
        Ok(Purged {
            windows,
            assessments,
            alerts,
            alert_events,
            observations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_audit_log_refuses_updates_and_deletes() {
        let s = SqliteStore::open("sqlite::memory:").await.unwrap();
        let e = AuditEntry {
            seq: 0,
            at_ms: 1,
            actor: "admin".into(),
            action: "change rules".into(),
            target: "ward".into(),
            detail: String::new(),
            said: None,
        };
        s.audit(&e).await.unwrap();
        for q in [
            "UPDATE audit SET actor = 'someone else'",
            "DELETE FROM audit",
        ] {
            let err = sqlx::query(q)
                .execute(&s.pool())
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("append-only"), "{q}: {err}");
        }
        assert_eq!(s.audit_log(0, 10).await.unwrap()[0].actor, "admin");
    }
}

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

    /// A write that changes nothing takes SQLite's write lock: a directory change's version
    /// check and insert are then one step.
    const LOCK_DIRECTORY: &'static str = "UPDATE directory SET version = version WHERE 0";

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
    crate::shared::same_on_both_back_ends!();

    async fn insert_observations(&self, obs: &[Observation]) -> Result<Vec<bool>, StoreError> {
        // Multi-row inserts; RETURNING names the rows that were new (a key repeated within
        // the request counts once).
        let mut new = vec![false; obs.len()];
        let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
        crate::shared::insert_observation_rows!(tx, obs, new, sqlx::Sqlite, |w| self.db(w));
        tx.commit().await.map_err(self.db("commit"))?;
        Ok(new)
    }

    fn reopens(&self) -> u64 {
        self.inner.reopens.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_audit_log_refuses_updates_and_deletes() {
        let s = SqliteStore::open("sqlite::memory:").await.unwrap();
        let pool = s.pool();
        let exec = |q| crate::conformance::raw_sql(&pool, q);
        crate::conformance::audit_is_append_only(&s, &[], exec).await;
    }
}

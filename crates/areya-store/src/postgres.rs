//! The PostgreSQL store: for several servers sharing one database. Same records and the same
//! conformance suite as SQLite; migrations embedded in the binary; the audit log is made
//! append-only by triggers.

use super::{db, event_parts, json, parse, patient, AuditEntry, Batch, Purged, Store, StoreError};
use areya_core::{Emotion, Observation, PatientId};
use areya_monitor::alerts::{Alert, AlertEvent};
use areya_monitor::engine::Consent;
use areya_monitor::state::Assessment;
use areya_monitor::window::WindowAggregate;
use areya_monitor::Millis;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    /// Connects to and migrates `url`, e.g. `postgres://areya:secret@db/areya`.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let opts = PgConnectOptions::from_str(url).map_err(db("URL"))?;
        PgStore::open_with(opts).await
    }

    /// Connects with explicit options (tests give each run a database of its own).
    pub async fn open_with(opts: PgConnectOptions) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(db("open"))?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }
}

impl PgStore {
    /// Taken first in a directory change, so that its version check and its insert are one
    /// step.
    const LOCK_DIRECTORY: &'static str = "LOCK TABLE directory IN EXCLUSIVE MODE";

    fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    fn db(&self, what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        db(what)
    }
}

impl Store for PgStore {
    crate::shared::same_on_both_back_ends!();

    async fn insert_observations(&self, obs: &[Observation]) -> Result<Vec<bool>, StoreError> {
        // Multi-row inserts; RETURNING names the rows that were new (a key repeated within
        // the request counts once).
        let mut new = vec![false; obs.len()];
        let mut tx = self.pool.begin().await.map_err(db("begin"))?;
        // One ingest transaction at a time, so sequence numbers become visible in order and
        // the engine leader of a cluster can tail them without missing one.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(super::pg_cluster::INGEST_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db("lock ingest"))?;
        crate::shared::insert_observation_rows!(tx, obs, new, sqlx::Postgres, db);
        tx.commit().await.map_err(db("commit"))?;
        Ok(new)
    }
}

/// The URL of a fresh, empty database for a test, on the server `AREYA_POSTGRES_URL` names;
/// `None` (the test is skipped) when it is unset, unless `AREYA_REQUIRE_POSTGRES` is set (as CI
/// does), which fails instead.
pub async fn test_database_url() -> Option<String> {
    let Ok(url) = std::env::var("AREYA_POSTGRES_URL") else {
        assert!(
            std::env::var_os("AREYA_REQUIRE_POSTGRES").is_none(),
            "AREYA_REQUIRE_POSTGRES is set but AREYA_POSTGRES_URL is not"
        );
        eprintln!("skipped: AREYA_POSTGRES_URL is not set");
        return None;
    };
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "areya_test_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let opts = PgConnectOptions::from_str(&url).expect("AREYA_POSTGRES_URL is a postgres:// URL");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .expect("AREYA_POSTGRES_URL accepts connections");
    for q in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&q)
            .execute(&admin)
            .await
            .expect("create the test database");
    }
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        drop_databases_of_finished_tests(&admin).await;
    }
    admin.close().await;
    let (base, query) = url
        .split_once('?')
        .map_or((url.as_str(), ""), |(b, q)| (b, q));
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    Some(format!("{server}/{name}{q}"))
}

/// Drops the `areya_test_<pid>_<n>` databases of test processes that have ended, so that running
/// `cargo test` again and again does not pile them up (each test gets its own database and
/// cannot drop it itself: the store's pool may still be open when the test returns). Live
/// processes' databases are kept, so test binaries may run side by side. Only on Linux, where
/// `/proc/<pid>` tells whether a process is alive; failures are ignored (the next run retries).
async fn drop_databases_of_finished_tests(admin: &sqlx::PgPool) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'areya\\_test\\_%'",
    )
    .fetch_all(admin)
    .await
    else {
        return;
    };
    for name in names {
        if test_database_is_stale(&name, |pid| {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        }) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(admin)
                .await;
        }
    }
}

/// Whether `name` is a test database (`areya_test_<pid>_<n>`) whose process is no longer alive.
fn test_database_is_stale(name: &str, alive: impl Fn(u32) -> bool) -> bool {
    let Some(rest) = name.strip_prefix("areya_test_") else {
        return false;
    };
    let Some((pid, n)) = rest.split_once('_') else {
        return false;
    };
    match (pid.parse::<u32>(), n.parse::<u32>()) {
        (Ok(pid), Ok(_)) => pid != std::process::id() && !alive(pid),
        _ => false,
    }
}

/// A fresh, empty store for a test (see [`test_database_url`]).
pub async fn test_database() -> Option<PgStore> {
    let url = test_database_url().await?;
    Some(PgStore::open(&url).await.expect("open the test database"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_databases_of_ended_test_processes_are_stale() {
        let me = std::process::id();
        let alive = |pid: u32| pid == 100;
        for (name, stale) in [
            ("areya_test_99_0".to_string(), true),
            ("areya_test_99_17".to_string(), true),
            ("areya_test_100_0".to_string(), false),
            (format!("areya_test_{me}_0"), false),
            ("areya".to_string(), false),
            ("areya_test".to_string(), false),
            ("areya_test_99".to_string(), false),
            ("areya_test_x_0".to_string(), false),
            ("areya_test_99_x".to_string(), false),
            ("areya_prod_99_0".to_string(), false),
        ] {
            assert_eq!(test_database_is_stale(&name, alive), stale, "{name}");
        }
    }

    #[tokio::test]
    async fn a_test_run_drops_the_databases_of_ended_test_processes() {
        let Some(url) = test_database_url().await else {
            return;
        };
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(PgConnectOptions::from_str(&url).unwrap())
            .await
            .unwrap();
        // Above Linux's largest pid (2^22), so no such process can be alive.
        let dead = "areya_test_4294967_0";
        sqlx::query(&format!("DROP DATABASE IF EXISTS {dead}"))
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {dead}"))
            .execute(&admin)
            .await
            .unwrap();
        let exists = |name: String| {
            let admin = admin.clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1")
                    .bind(name)
                    .fetch_one(&admin)
                    .await
                    .unwrap()
                    == 1
            }
        };
        let mine = url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        assert!(exists(dead.to_string()).await);
        drop_databases_of_finished_tests(&admin).await;
        assert!(
            !exists(dead.to_string()).await,
            "the ended process's database is dropped"
        );
        assert!(exists(mine).await, "this process's own database is kept");
    }

    #[tokio::test]
    async fn the_audit_log_refuses_updates_deletes_and_truncation() {
        let Some(s) = test_database().await else {
            return;
        };
        let truncate = ["TRUNCATE audit"];
        let exec = |q| crate::conformance::raw_sql(&s.pool, q);
        crate::conformance::audit_is_append_only(&s, &truncate, exec).await;
    }
}

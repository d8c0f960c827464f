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
    fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    fn db(&self, what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        db(what)
    }
}

impl Store for PgStore {
    async fn save(&self, b: &Batch) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db("begin"))?;
        for w in &b.windows {
            sqlx::query("INSERT INTO windows VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (patient, start_ms) DO UPDATE SET end_ms = excluded.end_ms, frames = excluded.frames, faces = excluded.faces, sum_angry = excluded.sum_angry, sum_happy = excluded.sum_happy, sum_relaxed = excluded.sum_relaxed, sum_sad = excluded.sum_sad, confidence_sum = excluded.confidence_sum")
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
                .map_err(db("save window"))?;
        }
        for (p, a) in &b.assessments {
            sqlx::query("INSERT INTO assessments VALUES ($1, $2, $3, $4, $5) ON CONFLICT (patient, at_ms) DO UPDATE SET score = excluded.score, status = excluded.status, json = excluded.json")
                .bind(p.as_str())
                .bind(a.at_ms)
                .bind(a.score as i64)
                .bind(json(&a.status).trim_matches('"').to_string())
                .bind(json(a))
                .execute(&mut *tx)
                .await
                .map_err(db("save assessment"))?;
        }
        for a in &b.alerts {
            sqlx::query(
                "INSERT INTO alerts VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms, json = excluded.json",
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
            .map_err(db("save alert"))?;
        }
        for e in &b.events {
            let (id, at, kind) = event_parts(e);
            sqlx::query(
                "INSERT INTO alert_events (alert_id, at_ms, kind, json) VALUES ($1, $2, $3, $4)",
            )
            .bind(id as i64)
            .bind(at)
            .bind(kind)
            .bind(json(e))
            .execute(&mut *tx)
            .await
            .map_err(db("save alert event"))?;
            if let AlertEvent::Resolved { id, at_ms } = e {
                // The alert's snapshot says resolved too.
                let row = sqlx::query("SELECT json FROM alerts WHERE id = $1")
                    .bind(*id as i64)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("resolve alert"))?;
                if let Some(row) = row {
                    let mut a: Alert = parse("alert", &row.get::<String, _>(0))?;
                    a.state = areya_monitor::alerts::AlertState::Resolved;
                    a.updated_ms = *at_ms;
                    sqlx::query("UPDATE alerts SET state = 'resolved', updated_ms = $1, json = $2 WHERE id = $3")
                        .bind(at_ms)
                        .bind(json(&a))
                        .bind(*id as i64)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("resolve alert"))?;
                }
            }
        }
        for snap in &b.patients {
            sqlx::query("INSERT INTO patient_state VALUES ($1, $2, $3) ON CONFLICT(patient) DO UPDATE SET at_ms = excluded.at_ms, json = excluded.json")
                .bind(snap.patient.as_str())
                .bind(snap.at_ms)
                .bind(json(snap))
                .execute(&mut *tx)
                .await
                .map_err(db("save patient state"))?;
        }
        // The gateway's messages are queued with the events that caused them: none is lost.
        crate::shared::queue_deliveries!(tx, &b.deliveries, db);
        tx.commit().await.map_err(db("commit"))
    }

    async fn windows(
        &self,
        p: Option<&PatientId>,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<WindowAggregate>, StoreError> {
        let rows = sqlx::query("SELECT * FROM windows WHERE ($1::TEXT IS NULL OR patient = $1) AND start_ms >= $2 AND start_ms < $3 ORDER BY start_ms, patient")
            .bind(p.map(|p| p.as_str()))
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(db("read windows"))?;
        rows.iter().map(super::window_row).collect()
    }

    crate::shared::same_on_both_back_ends!();

    async fn alerts(&self, p: Option<&PatientId>) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query("SELECT json FROM alerts WHERE ($1::TEXT IS NULL OR patient = $1) ORDER BY raised_ms DESC, id DESC")
            .bind(p.map(|p| p.as_str()))
            .fetch_all(&self.pool)
            .await
            .map_err(db("read alerts"))?;
        rows.iter()
            .map(|r| parse("alert", &r.get::<String, _>(0)))
            .collect()
    }

    async fn max_alert_id(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0)::BIGINT FROM alerts")
            .fetch_one(&self.pool)
            .await
            .map_err(db("read alert ids"))?;
        Ok(row.get::<i64, _>(0) as u64)
    }

    async fn save_rules(&self, at_ms: Millis, author: &str, toml: &str) -> Result<i64, StoreError> {
        areya_monitor::rules::RuleSet::from_toml(toml)
            .map_err(|e| StoreError::Refused(e.to_string()))?;
        let r = sqlx::query(
            "INSERT INTO rules (at_ms, author, toml) VALUES ($1, $2, $3) RETURNING version",
        )
        .bind(at_ms)
        .bind(author)
        .bind(toml)
        .fetch_one(&self.pool)
        .await
        .map_err(db("save rules"))?;
        Ok(r.get(0))
    }

    async fn set_consent(&self, p: &PatientId, consent: Consent) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db("begin"))?;
        sqlx::query("INSERT INTO consent VALUES ($1, $2) ON CONFLICT (patient) DO UPDATE SET json = excluded.json")
            .bind(p.as_str())
            .bind(json(&consent))
            .execute(&mut *tx)
            .await
            .map_err(db("save consent"))?;
        if consent == Consent::OptedOut {
            for table in [
                "DELETE FROM windows WHERE patient = $1",
                "DELETE FROM assessments WHERE patient = $1",
                "DELETE FROM observations WHERE patient = $1",
                "DELETE FROM patient_state WHERE patient = $1",
            ] {
                sqlx::query(table)
                    .bind(p.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("forget patient"))?;
            }
        }
        tx.commit().await.map_err(db("commit"))
    }

    async fn audit(&self, e: &AuditEntry) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO audit (at_ms, actor, action, target, detail, said) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        )
        .bind(e.at_ms)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.detail)
        .bind(crate::words_json(e.said.as_ref()))
        .fetch_one(&self.pool)
        .await
        .map_err(db("append audit"))?;
        Ok(r.get(0))
    }

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
        for (c, chunk) in obs.chunks(500).enumerate() {
            let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
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
                .map_err(db("save observations"))?;
            let mut inserted: std::collections::HashSet<(String, i64, i64)> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            for (i, o) in chunk.iter().enumerate() {
                let key = (o.source.to_string(), o.at_ms, o.frame as i64);
                new[c * 500 + i] = inserted.remove(&key);
            }
        }
        tx.commit().await.map_err(db("commit"))?;
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
        let mut tx = self.pool.begin().await.map_err(db("begin"))?;
        // Taking the write lock first makes the version check and the insert one step.
        sqlx::query("LOCK TABLE directory IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db("lock directory"))?;
        let current: Option<i64> = sqlx::query("SELECT MAX(version) FROM directory")
            .fetch_one(&mut *tx)
            .await
            .map_err(db("read directory"))?
            .get(0);
        if current != expected {
            return Err(super::directory_conflict(expected, current));
        }
        let version = current.unwrap_or(0) + 1;
        sqlx::query("INSERT INTO directory VALUES ($1, $2, $3, $4)")
            .bind(version)
            .bind(at_ms)
            .bind(author)
            .bind(doc)
            .execute(&mut *tx)
            .await
            .map_err(db("save directory"))?;
        tx.commit().await.map_err(db("commit"))?;
        Ok(version)
    }

    async fn delete_sessions_of(&self, staff: &str, keep: Option<&str>) -> Result<u64, StoreError> {
        let r =
            sqlx::query("DELETE FROM sessions WHERE staff = $1 AND token_hash IS DISTINCT FROM $2")
                .bind(staff)
                .bind(keep)
                .execute(&self.pool)
                .await
                .map_err(db("end sessions"))?;
        Ok(r.rows_affected())
    }

    async fn purge_before(&self, cutoff: Millis) -> Result<Purged, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db("begin"))?;
        let n = |q: &'static str| sqlx::query(q).bind(cutoff);
        let windows = n("DELETE FROM windows WHERE end_ms <= $1")
            .execute(&mut *tx)
            .await
            .map_err(db("purge"))?
            .rows_affected();
        let assessments = n("DELETE FROM assessments WHERE at_ms < $1")
            .execute(&mut *tx)
            .await
            .map_err(db("purge"))?
            .rows_affected();
        let alert_events = n("DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM alerts WHERE state = 'resolved' AND updated_ms < $1)")
            .execute(&mut *tx)
            .await
            .map_err(db("purge"))?
            .rows_affected();
        let alerts = n("DELETE FROM alerts WHERE state = 'resolved' AND updated_ms < $1")
            .execute(&mut *tx)
            .await
            .map_err(db("purge"))?
            .rows_affected();
        let observations = n("DELETE FROM observations WHERE at_ms < $1")
            .execute(&mut *tx)
            .await
            .map_err(db("purge"))?
            .rows_affected();
        tx.commit().await.map_err(db("commit"))?;
        Ok(Purged {
            windows,
            assessments,
            alerts,
            alert_events,
            observations,
        })
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
            "TRUNCATE audit",
        ] {
            let err = sqlx::query(q)
                .execute(&s.pool)
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("append-only"), "{q}: {err}");
        }
        assert_eq!(s.audit_log(0, 10).await.unwrap()[0].actor, "admin");
    }
}

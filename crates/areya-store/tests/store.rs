//! The store conformance suite on both back ends (PostgreSQL where `scripts/postgres-env`
//! provides one), and the server's store type that picks between them.

mod sqlite_store {
    use areya_store::{conformance, SqliteStore, Store};

    async fn fresh() -> SqliteStore {
        SqliteStore::open("sqlite::memory:")
            .await
            .expect("in-memory SQLite")
    }

    #[tokio::test]
    async fn conformance_records_round_trip() {
        conformance::records_round_trip(&fresh().await).await;
    }

    #[tokio::test]
    async fn conformance_rules_and_consent() {
        conformance::rules_and_consent(&fresh().await).await;
    }

    #[tokio::test]
    async fn conformance_audit_and_retention() {
        conformance::audit_and_retention(&fresh().await).await;
    }

    #[tokio::test]
    async fn conformance_ingest_directory_and_sessions() {
        conformance::ingest_directory_and_sessions(&fresh().await).await;
    }

    #[tokio::test]
    async fn conformance_doctor_notices() {
        conformance::doctor_notices(&fresh().await).await;
    }

    #[tokio::test]
    async fn conformance_outbox() {
        conformance::outbox(&fresh().await).await;
    }

    #[tokio::test]
    async fn a_file_database_survives_reopening_and_bad_urls_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("areya.db").display());
        {
            let s = SqliteStore::open(&url).await.unwrap();
            s.save_rules(1, "admin", "[ward]\nenter = 0.7")
                .await
                .unwrap();
        }
        let s = SqliteStore::open(&url).await.unwrap();
        assert_eq!(s.current_rules().await.unwrap().map(|r| r.0), Some(1));
        let err = SqliteStore::open("sqlite:///no/such/dir/x.db")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("database open"), "{err}");
    }
}

mod db {
    use areya_store::{conformance, is_postgres, Db};

    /// The server's one store type opens the back end its URL names and passes the suite.
    #[tokio::test]
    async fn the_url_picks_the_back_end_and_the_suite_passes_through_it() {
        let db = Db::open("sqlite::memory:").await.expect("in-memory SQLite");
        assert!(matches!(db, Db::Sqlite(_)));
        conformance::records_round_trip(&db).await;
        conformance::rules_and_consent(&db).await;
        assert!(is_postgres("postgres://u@h/db") && is_postgres("postgresql://h/db"));
        assert!(!is_postgres("sqlite://x.db"));
    }
}

mod postgres_store {
    use areya_store::{conformance, postgres_test_database};

    #[tokio::test]
    async fn conformance_records_round_trip() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::records_round_trip(&s).await;
    }

    #[tokio::test]
    async fn conformance_rules_and_consent() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::rules_and_consent(&s).await;
    }

    #[tokio::test]
    async fn conformance_audit_and_retention() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::audit_and_retention(&s).await;
    }

    #[tokio::test]
    async fn conformance_ingest_directory_and_sessions() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::ingest_directory_and_sessions(&s).await;
    }

    #[tokio::test]
    async fn conformance_doctor_notices() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::doctor_notices(&s).await;
    }

    #[tokio::test]
    async fn conformance_outbox() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::outbox(&s).await;
    }
}

mod batch {
    use areya_core::{FaceBox, Observation, PatientId, Probabilities, SeenFace, SourceId};
    use areya_monitor::engine::{Engine, EngineConfig, Output};
    use areya_monitor::rules::RuleSet;
    use areya_monitor::SECOND;
    use areya_store::Batch;

    /// An open alert the engine updates in place (time, reason, peak score, no event) is in
    /// the step's batch: what a restart reads back is what the dashboard showed. It used to be
    /// left out, so a restarted server showed an older reason and time.
    #[test]
    fn an_alert_updated_in_place_is_saved_with_its_step() {
        let rules = RuleSet::from_toml("[ward]\nmin_duration_s = 120\n").expect("rules");
        let mut engine = Engine::new(EngineConfig::default(), rules);
        let p = PatientId::parse("p-1").expect("id");
        let (mut in_place, mut t) = (0, 0);
        while t < 40 * 60 * SECOND {
            let n = if t < 20 * 60 * SECOND { 0.1 } else { 0.9 };
            let o = Observation {
                source: SourceId::parse("cam").expect("id"),
                patient: p.clone(),
                at_ms: t,
                frame: (t / SECOND) as u64,
                face: Some(SeenFace::new(
                    FaceBox::square(0, 0, 80, 3.0),
                    Probabilities::new(0.0, 0.0, 1.0 - n, n).expect("a distribution"),
                )),
            };
            let before: Vec<_> = engine.alerts.open_alerts().cloned().collect();
            let out = engine.ingest(&o, t).expect("ingest").unwrap_or_default();
            let batch = Batch::from_outputs(&out, &engine.alerts);
            for a in engine.alerts.open_alerts() {
                if before.iter().any(|b| b == a) {
                    continue;
                }
                let evented = out.iter().any(|o| matches!(o, Output::Alert { .. }));
                in_place += usize::from(!evented);
                assert!(
                    batch.alerts.contains(a),
                    "alert changed at {t} ms but not saved: {a:?}"
                );
            }
            t += 2 * SECOND;
        }
        assert!(in_place > 0, "no alert was updated in place");
    }
}

/// The server and `areya` print an error with its chain of sources: a storage error whose
/// message already includes its cause must not chain it too, or the cause is said twice.
#[test]
fn no_storage_error_says_its_cause_twice() {
    use std::error::Error as _;
    let errors = [
        areya_store::StoreError::from(sqlx::migrate::MigrateError::VersionMissing(7)),
        areya_store::StoreError::Db {
            what: "read",
            cause: sqlx::Error::RowNotFound,
        },
    ];
    for e in errors {
        if let Some(cause) = e.source() {
            assert!(
                !e.to_string().contains(&cause.to_string()),
                "{e} also chains {cause}"
            );
        }
    }
}

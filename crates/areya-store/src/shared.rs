//! The `Store` methods whose SQL and row mapping are the same on SQLite and PostgreSQL, written
//! once. `$1`-style parameters work on both (sqlx numbers SQLite's `$N` by N). Each back end
//! provides `self.pool()` (its pool, cheap to clone) and `self.db(what)` (its mapping of a
//! driver error to `StoreError`, where SQLite also notes I/O-class failures to reopen its pool)
//! and imports what these bodies name.

/// A queued message from an `outbox` row (either back end's row type).
macro_rules! delivery_of {
    ($r:expr) => {
        $crate::Delivery {
            id: $r.get("id"),
            key: $r.get("key"),
            created_ms: $r.get("created_ms"),
            ward: $r.get("ward"),
            body: $r.get("body"),
            attempts: $r.get::<i64, _>("attempts").clamp(0, i64::from(u32::MAX)) as u32,
            next_ms: $r.get("next_ms"),
            state: $crate::DeliveryState::parse(&$r.get::<String, _>("state")),
            last_error: $r.get("last_error"),
            last_said: $crate::words_of($r.get("last_said")),
            done_ms: $r.get("done_ms"),
        }
    };
}
pub(crate) use delivery_of;

/// Queues the gateway's messages `$items` on the transaction `$tx` (`$db`: the back end's
/// error mapping); a key already queued is left as it is.
macro_rules! queue_deliveries {
    ($tx:expr, $items:expr, $db:expr) => {
        for d in $items {
            sqlx::query("INSERT INTO outbox (key, created_ms, ward, body, attempts, next_ms, state) VALUES ($1, $2, $3, $4, 0, $2, 'pending') ON CONFLICT (key) DO NOTHING")
                .bind(&d.key)
                .bind(d.created_ms)
                .bind(&d.ward)
                .bind(&d.body)
                .execute(&mut *$tx)
                .await
                .map_err(($db)("queue message"))?;
        }
    };
}
pub(crate) use queue_deliveries;

/// Inserts `$obs` on the transaction `$tx` in multi-row statements (`$Db`: the back end's sqlx
/// database, `$db`: its error mapping), setting `$new[i]` for each observation that was new
/// (RETURNING names them; a key repeated within the request counts once).
macro_rules! insert_observation_rows {
    ($tx:expr, $obs:expr, $new:expr, $Db:ty, $db:expr) => {
        for (c, chunk) in $obs.chunks(500).enumerate() {
            let mut q = sqlx::QueryBuilder::<$Db>::new(
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
                .fetch_all(&mut *$tx)
                .await
                .map_err(($db)("save observations"))?;
            let mut inserted: std::collections::HashSet<(String, i64, i64)> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            for (i, o) in chunk.iter().enumerate() {
                let key = (o.source.to_string(), o.at_ms, o.frame as i64);
                $new[c * 500 + i] = inserted.remove(&key);
            }
        }
    };
}
pub(crate) use insert_observation_rows;

/// Expands, inside an `impl Store for …` block, to the methods both back ends share.
macro_rules! same_on_both_back_ends {
    () => {
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
            sqlx::query(Self::LOCK_DIRECTORY)
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
            sqlx::query("INSERT INTO directory VALUES ($1, $2, $3, $4)")
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

        async fn delete_sessions_of(&self, staff: &str, keep: Option<&str>) -> Result<u64, StoreError> {
            let r =
                sqlx::query("DELETE FROM sessions WHERE staff = $1 AND token_hash IS DISTINCT FROM $2")
                    .bind(staff)
                    .bind(keep)
                    .execute(&self.pool())
                    .await
                    .map_err(self.db("end sessions"))?;
            Ok(r.rows_affected())
        }

        async fn purge_before(&self, cutoff: Millis) -> Result<Purged, StoreError> {
            let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
            let mut n = [0u64; 5];
            for (count, q) in n.iter_mut().zip([
                "DELETE FROM windows WHERE end_ms <= $1",
                "DELETE FROM assessments WHERE at_ms < $1",
                "DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM alerts WHERE state = 'resolved' AND updated_ms < $1)",
                "DELETE FROM alerts WHERE state = 'resolved' AND updated_ms < $1",
                "DELETE FROM observations WHERE at_ms < $1",
            ]) {
                *count = sqlx::query(q)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db("purge"))?
                    .rows_affected();
            }
            let [windows, assessments, alert_events, alerts, observations] = n;
            tx.commit().await.map_err(self.db("commit"))?;
            Ok(Purged {
                windows,
                assessments,
                alerts,
                alert_events,
                observations,
            })
        }

        async fn save(&self, b: &Batch) -> Result<(), StoreError> {
            let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
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
                    .map_err(self.db("save window"))?;
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
                    .map_err(self.db("save assessment"))?;
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
                .map_err(self.db("save alert"))?;
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
                .map_err(self.db("save alert event"))?;
                if let AlertEvent::Resolved { id, at_ms } = e {
                    // The alert's snapshot says resolved too.
                    let row = sqlx::query("SELECT json FROM alerts WHERE id = $1")
                        .bind(*id as i64)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(self.db("resolve alert"))?;
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
                            .map_err(self.db("resolve alert"))?;
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
                    .map_err(self.db("save patient state"))?;
            }
            // The gateway's messages are queued with the events that caused them: none is lost.
            $crate::shared::queue_deliveries!(tx, &b.deliveries, |w| self.db(w));
            tx.commit().await.map_err(self.db("commit"))
        }

        async fn windows(
            &self,
            p: Option<&PatientId>,
            from: Millis,
            to: Millis,
        ) -> Result<Vec<WindowAggregate>, StoreError> {
            let rows = sqlx::query("SELECT * FROM windows WHERE (CAST($1 AS TEXT) IS NULL OR patient = $1) AND start_ms >= $2 AND start_ms < $3 ORDER BY start_ms, patient")
                .bind(p.map(|p| p.as_str()))
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read windows"))?;
            rows.iter().map(super::window_row).collect()
        }

        async fn alerts(&self, p: Option<&PatientId>) -> Result<Vec<Alert>, StoreError> {
            let rows = sqlx::query("SELECT json FROM alerts WHERE (CAST($1 AS TEXT) IS NULL OR patient = $1) ORDER BY raised_ms DESC, id DESC")
                .bind(p.map(|p| p.as_str()))
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read alerts"))?;
            rows.iter()
                .map(|r| parse("alert", &r.get::<String, _>(0)))
                .collect()
        }

        async fn max_alert_id(&self) -> Result<u64, StoreError> {
            let row = sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM alerts")
                .fetch_one(&self.pool())
                .await
                .map_err(self.db("read alert ids"))?;
            Ok(row.get::<i64, _>(0) as u64)
        }

        async fn save_rules(&self, at_ms: Millis, author: &str, toml: &str) -> Result<i64, StoreError> {
            areya_monitor::rules::RuleSet::from_toml(toml)
                .map_err(|e| StoreError::Refused(e.to_string()))?;
            let r = sqlx::query("INSERT INTO rules (at_ms, author, toml) VALUES ($1, $2, $3) RETURNING version")
                .bind(at_ms)
                .bind(author)
                .bind(toml)
                .fetch_one(&self.pool())
                .await
                .map_err(self.db("save rules"))?;
            Ok(r.get(0))
        }

        async fn set_consent(&self, p: &PatientId, consent: Consent) -> Result<(), StoreError> {
            let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
            sqlx::query("INSERT INTO consent VALUES ($1, $2) ON CONFLICT (patient) DO UPDATE SET json = excluded.json")
                .bind(p.as_str())
                .bind(json(&consent))
                .execute(&mut *tx)
                .await
                .map_err(self.db("save consent"))?;
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
                        .map_err(self.db("forget patient"))?;
                }
            }
            tx.commit().await.map_err(self.db("commit"))
        }

        async fn audit(&self, e: &AuditEntry) -> Result<i64, StoreError> {
            let r = sqlx::query("INSERT INTO audit (at_ms, actor, action, target, detail, said) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq")
                .bind(e.at_ms)
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.target)
                .bind(&e.detail)
                .bind(crate::words_json(e.said.as_ref()))
                .fetch_one(&self.pool())
                .await
                .map_err(self.db("append audit"))?;
            Ok(r.get(0))
        }

        async fn assessments(
            &self,
            p: &PatientId,
            from: Millis,
            to: Millis,
        ) -> Result<Vec<Assessment>, StoreError> {
            let rows = sqlx::query("SELECT json FROM assessments WHERE patient = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY at_ms")
                .bind(p.as_str())
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read assessments"))?;
            rows.iter()
                .map(|r| parse("assessment", &r.get::<String, _>(0)))
                .collect()
        }

        async fn alert_events(&self, alert_id: u64) -> Result<Vec<AlertEvent>, StoreError> {
            let rows = sqlx::query("SELECT json FROM alert_events WHERE alert_id = $1 ORDER BY seq")
                .bind(alert_id as i64)
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read alert events"))?;
            rows.iter()
                .map(|r| parse("alert event", &r.get::<String, _>(0)))
                .collect()
        }

        async fn patient_states(
            &self,
        ) -> Result<Vec<areya_monitor::engine::PatientSnapshot>, StoreError> {
            let rows = sqlx::query("SELECT json FROM patient_state ORDER BY patient")
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read patient states"))?;
            rows.iter()
                .map(|r| parse("patient state", &r.get::<String, _>(0)))
                .collect()
        }

        async fn current_rules(&self) -> Result<Option<(i64, String)>, StoreError> {
            let row = sqlx::query("SELECT version, toml FROM rules ORDER BY version DESC LIMIT 1")
                .fetch_optional(&self.pool())
                .await
                .map_err(self.db("read rules"))?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        }

        async fn consents(&self) -> Result<Vec<(PatientId, Consent)>, StoreError> {
            let rows = sqlx::query("SELECT patient, json FROM consent ORDER BY patient")
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read consent"))?;
            rows.iter()
                .map(|r| {
                    Ok((
                        patient("consent", r.get(0))?,
                        parse("consent", &r.get::<String, _>(1))?,
                    ))
                })
                .collect()
        }

        async fn audit_log(&self, from: Millis, to: Millis) -> Result<Vec<AuditEntry>, StoreError> {
            let rows = sqlx::query("SELECT seq, at_ms, actor, action, target, detail, said FROM audit WHERE at_ms >= $1 AND at_ms < $2 ORDER BY seq")
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read audit"))?;
            Ok(rows.iter().map(super::audit_row).collect())
        }

        async fn audit_of(
            &self,
            action: &str,
            target: &str,
            from: Millis,
            to: Millis,
        ) -> Result<Vec<AuditEntry>, StoreError> {
            let rows = sqlx::query("SELECT seq, at_ms, actor, action, target, detail, said FROM audit WHERE action = $1 AND target = $2 AND at_ms >= $3 AND at_ms < $4 ORDER BY seq")
                .bind(action)
                .bind(target)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read audit"))?;
            Ok(rows.iter().map(super::audit_row).collect())
        }

        async fn observations_since(&self, from: Millis) -> Result<Vec<Observation>, StoreError> {
            let rows = sqlx::query(
                "SELECT json FROM observations WHERE at_ms >= $1 ORDER BY at_ms, source, frame",
            )
            .bind(from)
            .fetch_all(&self.pool())
            .await
            .map_err(self.db("read observations"))?;
            Ok(super::replayable(
                rows.iter().map(|r| r.get::<String, _>(0)),
            ))
        }

        async fn directory(&self) -> Result<Option<(i64, String)>, StoreError> {
            let row = sqlx::query("SELECT version, json FROM directory ORDER BY version DESC LIMIT 1")
                .fetch_optional(&self.pool())
                .await
                .map_err(self.db("read directory"))?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        }

        async fn create_session(
            &self,
            hash: &str,
            staff: &str,
            expires_ms: Millis,
        ) -> Result<(), StoreError> {
            sqlx::query("INSERT INTO sessions VALUES ($1, $2, $3)")
                .bind(hash)
                .bind(staff)
                .bind(expires_ms)
                .execute(&self.pool())
                .await
                .map_err(self.db("save session"))?;
            Ok(())
        }

        async fn session(&self, hash: &str, now: Millis) -> Result<Option<String>, StoreError> {
            let row =
                sqlx::query("SELECT staff FROM sessions WHERE token_hash = $1 AND expires_ms > $2")
                    .bind(hash)
                    .bind(now)
                    .fetch_optional(&self.pool())
                    .await
                    .map_err(self.db("read session"))?;
            Ok(row.map(|r| r.get(0)))
        }

        async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(hash)
                .execute(&self.pool())
                .await
                .map_err(self.db("delete session"))?;
            Ok(())
        }

        async fn enqueue(&self, items: &[$crate::NewDelivery]) -> Result<(), StoreError> {
            let mut tx = self.pool().begin().await.map_err(self.db("begin"))?;
            $crate::shared::queue_deliveries!(tx, items, |w| self.db(w));
            tx.commit().await.map_err(self.db("commit"))?;
            Ok(())
        }

        async fn due_deliveries(
            &self,
            now: Millis,
            limit: u32,
        ) -> Result<Vec<$crate::Delivery>, StoreError> {
            let rows = sqlx::query("SELECT * FROM outbox WHERE state = 'pending' AND next_ms <= $1 ORDER BY id LIMIT $2")
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read the outbox"))?;
            Ok(rows.iter().map(|r| $crate::shared::delivery_of!(r)).collect())
        }

        async fn finish_delivery(
            &self,
            id: i64,
            outcome: &$crate::DeliveryOutcome,
        ) -> Result<(), StoreError> {
            use $crate::{DeliveryOutcome as O, DeliveryState as S};
            let (state, attempts, next, error, done) = match outcome {
                O::Delivered { at_ms } => (S::Delivered, None, None, None, Some(*at_ms)),
                O::Retry { attempts, next_ms, error } => {
                    (S::Pending, Some(*attempts), Some(*next_ms), Some(error), None)
                }
                O::Dead { attempts, at_ms, error } => {
                    (S::Dead, Some(*attempts), None, Some(error), Some(*at_ms))
                }
            };
            // A delivered message counts its last try too; the error is the last failed one's.
            sqlx::query("UPDATE outbox SET state = $1, attempts = COALESCE($2, attempts + 1), next_ms = COALESCE($3, next_ms), last_error = COALESCE($4, last_error), last_said = COALESCE($5, last_said), done_ms = $6 WHERE id = $7")
                .bind(state.as_str())
                .bind(attempts.map(i64::from))
                .bind(next)
                .bind(error.map(|e| e.to_string()))
                .bind($crate::words_json(error))
                .bind(done)
                .bind(id)
                .execute(&self.pool())
                .await
                .map_err(self.db("record a delivery"))?;
            Ok(())
        }

        async fn deliveries(
            &self,
            from: Millis,
            limit: u32,
        ) -> Result<Vec<$crate::Delivery>, StoreError> {
            let rows = sqlx::query("SELECT * FROM outbox WHERE created_ms >= $1 ORDER BY id DESC LIMIT $2")
                .bind(from)
                .bind(i64::from(limit))
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read the outbox"))?;
            Ok(rows.iter().map(|r| $crate::shared::delivery_of!(r)).collect())
        }

        async fn failed_deliveries(
            &self,
            ward: &str,
            from: Millis,
            limit: u32,
        ) -> Result<Vec<$crate::Delivery>, StoreError> {
            let rows = sqlx::query("SELECT * FROM outbox WHERE ward = $1 AND created_ms >= $2 AND (state = 'dead' OR (state = 'pending' AND attempts > 0)) ORDER BY id DESC LIMIT $3")
                .bind(ward)
                .bind(from)
                .bind(i64::from(limit))
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read the outbox"))?;
            Ok(rows.iter().map(|r| $crate::shared::delivery_of!(r)).collect())
        }

        async fn add_notice(&self, n: &areya_monitor::notice::Notice) -> Result<u64, StoreError> {
            let row = sqlx::query("INSERT INTO notices (at_ms, doctor, kind, json, acked_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(n.at_ms)
                .bind(&n.doctor)
                .bind(n.kind.as_str())
                .bind(json(n))
                .bind(n.ack.as_ref().map(|a| a.at_ms))
                .fetch_one(&self.pool())
                .await
                .map_err(self.db("save notice"))?;
            Ok(row.get::<i64, _>(0) as u64)
        }

        async fn notices(
            &self,
            doctor: Option<&str>,
            from: Millis,
        ) -> Result<Vec<areya_monitor::notice::Notice>, StoreError> {
            let rows = sqlx::query("SELECT id, json FROM notices WHERE (CAST($1 AS TEXT) IS NULL OR doctor = $1) AND at_ms >= $2 ORDER BY at_ms DESC, id DESC")
                .bind(doctor)
                .bind(from)
                .fetch_all(&self.pool())
                .await
                .map_err(self.db("read notices"))?;
            rows.iter()
                .map(|r| {
                    let mut n: areya_monitor::notice::Notice =
                        parse("notice", &r.get::<String, _>(1))?;
                    n.id = r.get::<i64, _>(0) as u64;
                    Ok(n)
                })
                .collect()
        }

        async fn ack_notice(
            &self,
            id: u64,
            doctor: &str,
            ack: &areya_monitor::notice::NoticeAck,
        ) -> Result<Option<(areya_monitor::notice::Notice, bool)>, StoreError> {
            let row = sqlx::query("SELECT json FROM notices WHERE id = $1 AND doctor = $2")
                .bind(id as i64)
                .bind(doctor)
                .fetch_optional(&self.pool())
                .await
                .map_err(self.db("read notice"))?;
            let Some(row) = row else {
                return Ok(None);
            };
            let mut n: areya_monitor::notice::Notice = parse("notice", &row.get::<String, _>(0))?;
            n.id = id;
            if n.ack.is_some() {
                return Ok(Some((n, false)));
            }
            n.ack = Some(ack.clone());
            // Only the first acknowledgement is kept (two at once: one updates the row).
            let done = sqlx::query("UPDATE notices SET json = $1, acked_ms = $2 WHERE id = $3 AND acked_ms IS NULL")
                .bind(json(&n))
                .bind(ack.at_ms)
                .bind(id as i64)
                .execute(&self.pool())
                .await
                .map_err(self.db("acknowledge notice"))?;
            if done.rows_affected() == 0 {
                // Someone acknowledged it meanwhile: theirs stands.
                let row = sqlx::query("SELECT json FROM notices WHERE id = $1")
                    .bind(id as i64)
                    .fetch_one(&self.pool())
                    .await
                    .map_err(self.db("read notice"))?;
                n = parse("notice", &row.get::<String, _>(0))?;
                n.id = id;
                return Ok(Some((n, false)));
            }
            Ok(Some((n, true)))
        }

        async fn check_writable(&self, at_ms: Millis) -> Result<(), StoreError> {
            sqlx::query("INSERT INTO health (id, at_ms) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms")
                .bind(at_ms)
                .execute(&self.pool())
                .await
                .map_err(self.db("write heartbeat"))?;
            Ok(())
        }
    };
}

pub(crate) use same_on_both_back_ends;

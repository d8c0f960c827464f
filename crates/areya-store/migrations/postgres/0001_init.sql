-- Areya monitor schema (PostgreSQL). Never frames: only aggregates, scores, alerts, rules,
-- audit, the ingest log, the directory and session token hashes.
CREATE TABLE windows (
    patient TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    frames BIGINT NOT NULL,
    faces BIGINT NOT NULL,
    sum_angry DOUBLE PRECISION NOT NULL,
    sum_happy DOUBLE PRECISION NOT NULL,
    sum_relaxed DOUBLE PRECISION NOT NULL,
    sum_sad DOUBLE PRECISION NOT NULL,
    confidence_sum DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (patient, start_ms)
);
CREATE INDEX windows_by_time ON windows (start_ms);

CREATE TABLE assessments (
    patient TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    score BIGINT NOT NULL,
    status TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (patient, at_ms)
);
CREATE INDEX assessments_by_time ON assessments (at_ms);

CREATE TABLE alerts (
    id BIGINT PRIMARY KEY,
    patient TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    raised_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX alerts_by_patient ON alerts (patient, raised_ms);

CREATE TABLE alert_events (
    seq BIGSERIAL PRIMARY KEY,
    alert_id BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX alert_events_by_alert ON alert_events (alert_id, seq);

CREATE TABLE rules (
    version BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    author TEXT NOT NULL,
    toml TEXT NOT NULL
);

CREATE TABLE consent (
    patient TEXT PRIMARY KEY,
    json TEXT NOT NULL
);

CREATE TABLE audit (
    seq BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE observations (
    source TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    frame BIGINT NOT NULL,
    patient TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (source, at_ms, frame)
);
CREATE INDEX observations_by_time ON observations (at_ms);
CREATE INDEX observations_by_patient ON observations (patient);

CREATE TABLE directory (
    version BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    author TEXT NOT NULL,
    json TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);

-- Areya monitor schema (SQLite). Never frames: only aggregates, scores, alerts, rules, audit.
CREATE TABLE windows (
    patient TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    faces INTEGER NOT NULL,
    sum_angry REAL NOT NULL,
    sum_happy REAL NOT NULL,
    sum_relaxed REAL NOT NULL,
    sum_sad REAL NOT NULL,
    confidence_sum REAL NOT NULL,
    PRIMARY KEY (patient, start_ms)
);
CREATE INDEX windows_by_time ON windows (start_ms);

CREATE TABLE assessments (
    patient TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    score INTEGER NOT NULL,
    status TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (patient, at_ms)
);
CREATE INDEX assessments_by_time ON assessments (at_ms);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    patient TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    raised_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX alerts_by_patient ON alerts (patient, raised_ms);

CREATE TABLE alert_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX alert_events_by_alert ON alert_events (alert_id, seq);

CREATE TABLE rules (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    author TEXT NOT NULL,
    toml TEXT NOT NULL
);

CREATE TABLE consent (
    patient TEXT PRIMARY KEY,
    json TEXT NOT NULL
);

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

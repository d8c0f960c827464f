-- Server records: the ingest log (idempotent by source, time and frame; aggregates only, never
-- frames), the ward directory (versioned documents), and staff sessions (token hashes only).
CREATE TABLE observations (
    source TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    patient TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (source, at_ms, frame)
);
CREATE INDEX observations_by_time ON observations (at_ms);
CREATE INDEX observations_by_patient ON observations (patient);

CREATE TABLE directory (
    version INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    author TEXT NOT NULL,
    json TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);

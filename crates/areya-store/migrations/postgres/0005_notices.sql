-- Doctors' inboxes: notices (never alarms) about their patients and their daily digests. The
-- record is the JSON; the columns are what the inbox and the acknowledgement look up.
CREATE TABLE notices (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    doctor TEXT NOT NULL,
    kind TEXT NOT NULL,
    json TEXT NOT NULL,
    acked_ms BIGINT
);
CREATE INDEX notices_doctor ON notices (doctor, at_ms);

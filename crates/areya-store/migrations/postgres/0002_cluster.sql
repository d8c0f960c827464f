-- Several servers on one database. Observations get a sequence number in commit order (their
-- inserts are serialised by a transaction advisory lock), which the engine leader tails; alert
-- actions, consent and rule changes made on another server wait in `commands` for the leader.
ALTER TABLE observations ADD COLUMN seq BIGSERIAL;
CREATE INDEX observations_by_seq ON observations (seq);

CREATE TABLE commands (
    seq BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    node TEXT NOT NULL,
    json TEXT NOT NULL,
    claimed BOOLEAN NOT NULL DEFAULT FALSE,
    result TEXT
);

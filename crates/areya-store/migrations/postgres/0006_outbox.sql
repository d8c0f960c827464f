-- Messages for the hospital's messaging gateway (signed webhooks), queued in the transaction
-- that caused them and delivered by the engine's server: each once (key), retried until
-- delivered or, after the last try, a dead letter.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    ward TEXT,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    done_ms BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_ms);

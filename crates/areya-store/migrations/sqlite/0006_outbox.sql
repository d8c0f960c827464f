-- Messages for the hospital's messaging gateway (signed webhooks), queued in the transaction
-- that caused them and delivered by the engine's server: each once (key), retried until
-- delivered or, after the last try, a dead letter.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    ward TEXT,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    done_ms INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_ms);

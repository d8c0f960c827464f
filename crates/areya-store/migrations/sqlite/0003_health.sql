-- One heartbeat row that /healthz rewrites: a store that cannot write (disk full, I/O errors)
-- shows as degraded even while reads still work.
CREATE TABLE health (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL
);

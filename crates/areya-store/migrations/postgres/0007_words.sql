-- What the audit log and the messaging gateway's failures say, as words (a sentence with named
-- slots, JSON) that a dashboard writes in its reader's language; the English columns stay the
-- record. Rows written before have none, and show their English.
ALTER TABLE audit ADD COLUMN said TEXT;
ALTER TABLE outbox ADD COLUMN last_said TEXT;

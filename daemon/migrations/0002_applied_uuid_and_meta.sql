-- The UUID the core has for a key, so a rotated key is pending until the core has the new
-- one; and a small key/value table for one-time facts (e.g. that adoption has run).

ALTER TABLE keys ADD COLUMN applied_uuid TEXT;

DROP INDEX keys_pending;
CREATE INDEX keys_pending ON keys (id)
    WHERE applied IS NOT state OR (state = 'active' AND applied_uuid IS NOT uuid);

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Keys and the audit trail. Append-only: never edit a migration that has shipped; add a
-- new numbered file instead.

CREATE TABLE keys (
    -- AUTOINCREMENT so an id is never reused after a delete: scripts may hold old ids.
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Unique over all rows, deleted ones included: two users with one UUID lock each other out.
    uuid           TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    -- Lower-cased NFC name: uniqueness is case-insensitive in every script.
    name_fold      TEXT    NOT NULL,
    note           TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    -- Desired state, what the operator asked for.
    state          TEXT    NOT NULL CHECK (state IN ('active', 'disabled', 'deleted')),
    -- Applied state, what the core is known to have; NULL until first applied.
    applied        TEXT    CHECK (applied IN ('active', 'disabled', 'deleted')),
    disable_reason TEXT    CHECK (disable_reason IN ('manual', 'limited', 'expired')),
    data_limit     INTEGER CHECK (data_limit IS NULL OR data_limit >= 0),
    expires_at     INTEGER,
    deleted_at     INTEGER
);

-- A deleted key frees its name.
CREATE UNIQUE INDEX keys_live_name ON keys (name_fold) WHERE state <> 'deleted';
CREATE INDEX keys_state ON keys (state);
-- The applier's work list: rows whose core state lags behind.
CREATE INDEX keys_pending ON keys (id) WHERE applied IS NOT state;

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    time    INTEGER NOT NULL,
    uid     INTEGER NOT NULL,
    gid     INTEGER,
    pid     INTEGER,
    method  TEXT    NOT NULL,
    key_id  INTEGER,
    key_ref TEXT,
    outcome TEXT    NOT NULL,
    detail  TEXT
);

CREATE INDEX audit_key ON audit (key_id, id);

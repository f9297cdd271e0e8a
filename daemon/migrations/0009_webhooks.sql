-- Webhooks (`[[webhook]]` in veild.toml): an outbox written in the same transaction as the
-- change it reports, so no event is lost when veild dies between the change and its
-- delivery. `webhooks` mirrors the configured receivers (their names and what they want;
-- never their URL's secrets or their signing secret) and keeps their counters; it is
-- brought in line with the config at every start. Times are Unix seconds, except the
-- delivery schedule, in milliseconds (retries may be sub-second in tests).
CREATE TABLE webhooks (
    name            TEXT    PRIMARY KEY,
    -- JSON array of event kinds, `["*"]` for every kind.
    events          TEXT    NOT NULL,
    -- JSON array of usage shares (0 < share <= 1) that send `key.usage` when crossed.
    usage_shares    TEXT    NOT NULL DEFAULT '[]',
    -- Seconds before a key's expiry when `key.expiring` is sent; NULL: never.
    expiry_warning  INTEGER,
    delivered       INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_success_at INTEGER,
    last_error      TEXT
);
-- One row per event; `body` is the exact JSON sent (and signed), id included.
CREATE TABLE webhook_events (
    seq        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL
);
-- One row per event and receiver that wants it.
CREATE TABLE webhook_deliveries (
    webhook         TEXT    NOT NULL REFERENCES webhooks(name) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL REFERENCES webhook_events(seq) ON DELETE CASCADE,
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    done_at         INTEGER,
    PRIMARY KEY (webhook, event_seq)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (done_at)
    WHERE state <> 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);
-- What was already announced, so `key.usage` fires once per crossing (per share, period
-- and limit) and `key.expiring` once per expiry time.
CREATE TABLE webhook_marks (
    webhook    TEXT    NOT NULL REFERENCES webhooks(name) ON DELETE CASCADE,
    key_id     INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    threshold  REAL    NOT NULL,
    period     INTEGER NOT NULL,
    data_limit INTEGER,
    PRIMARY KEY (webhook, key_id, kind, threshold)
) WITHOUT ROWID;

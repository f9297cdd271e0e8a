-- Traffic accounting: per-key totals with the last raw counter values read from the core
-- (updated together, in one transaction per poller cycle), history buckets, resets, and the
-- indexes the limit/expiry enforcement needs. Append-only: never edit once shipped.

CREATE TABLE traffic (
    key_id            INTEGER PRIMARY KEY REFERENCES keys (id),
    -- Bytes since the last reset (client -> server, server -> client).
    uplink            INTEGER NOT NULL DEFAULT 0 CHECK (uplink >= 0),
    downlink          INTEGER NOT NULL DEFAULT 0 CHECK (downlink >= 0),
    -- Bytes since the key was made; resets leave these alone.
    lifetime_uplink   INTEGER NOT NULL DEFAULT 0,
    lifetime_downlink INTEGER NOT NULL DEFAULT 0,
    -- The core's counters as last accounted, and the core epoch they belong to. A counter
    -- of another epoch counts from zero.
    raw_uplink        INTEGER NOT NULL DEFAULT 0,
    raw_downlink      INTEGER NOT NULL DEFAULT 0,
    epoch             INTEGER NOT NULL DEFAULT 0,
    -- The last cycle in which the key moved bytes.
    last_active       INTEGER,
    -- Periodic reset: 'none', 'daily', 'weekly' (day 1-7, Monday = 1) or 'monthly' (1-31).
    reset_period      TEXT    NOT NULL DEFAULT 'none'
                      CHECK (reset_period IN ('none', 'daily', 'weekly', 'monthly')),
    reset_day         INTEGER NOT NULL DEFAULT 0,
    next_reset_at     INTEGER,
    last_reset_at     INTEGER
);

CREATE INDEX traffic_next_reset ON traffic (next_reset_at) WHERE next_reset_at IS NOT NULL;

-- History: per-minute buckets, rolled up into hours and days once complete (unix minute,
-- hour and day numbers, UTC).
CREATE TABLE traffic_minutes (
    key_id   INTEGER NOT NULL,
    minute   INTEGER NOT NULL,
    uplink   INTEGER NOT NULL,
    downlink INTEGER NOT NULL,
    PRIMARY KEY (key_id, minute)
) WITHOUT ROWID;
CREATE INDEX traffic_minutes_time ON traffic_minutes (minute);

CREATE TABLE traffic_hours (
    key_id   INTEGER NOT NULL,
    hour     INTEGER NOT NULL,
    uplink   INTEGER NOT NULL,
    downlink INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour)
) WITHOUT ROWID;
CREATE INDEX traffic_hours_time ON traffic_hours (hour);

CREATE TABLE traffic_days (
    key_id   INTEGER NOT NULL,
    day      INTEGER NOT NULL,
    uplink   INTEGER NOT NULL,
    downlink INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;
CREATE INDEX traffic_days_time ON traffic_days (day);

-- Every reset of a key's totals, with the usage it cleared.
CREATE TABLE traffic_resets (
    id       INTEGER PRIMARY KEY,
    key_id   INTEGER NOT NULL REFERENCES keys (id),
    at       INTEGER NOT NULL,
    uplink   INTEGER NOT NULL,
    downlink INTEGER NOT NULL,
    reason   TEXT    NOT NULL CHECK (reason IN ('manual', 'periodic'))
);
CREATE INDEX traffic_resets_key ON traffic_resets (key_id, id);

-- Enforcement: active keys with an expiry or a data limit, and keys the daemon disabled
-- itself (the only ones it may enable again).
CREATE INDEX keys_active_expiry ON keys (expires_at)
    WHERE state = 'active' AND expires_at IS NOT NULL;
CREATE INDEX keys_active_limit ON keys (id)
    WHERE state = 'active' AND data_limit IS NOT NULL;
CREATE INDEX keys_auto_disabled ON keys (id)
    WHERE state = 'disabled' AND disable_reason IN ('limited', 'expired');

-- Fleet mode: the keys a node changed that the registry (PostgreSQL) has not taken yet, and
-- the other nodes' traffic of each key. Both stay empty on a single server: the triggers
-- fire only while `meta` says this database is a fleet node. Append-only.

-- Manual traffic resets of the key made anywhere in the fleet: a node that sees the count
-- grow resets its own share of the key's traffic.
ALTER TABLE keys ADD COLUMN fleet_resets INTEGER NOT NULL DEFAULT 0;

-- Placement: the nodes a key is on (a JSON array of names; NULL: every node), and whether
-- that includes this node. A key active but placed elsewhere is one this node's core must
-- not have: for the core it counts as disabled.
ALTER TABLE keys ADD COLUMN nodes TEXT;
ALTER TABLE keys ADD COLUMN here INTEGER NOT NULL DEFAULT 1;

CREATE TRIGGER keys_here_insert AFTER INSERT ON keys WHEN NEW.nodes IS NOT NULL
BEGIN
    UPDATE keys SET here = EXISTS (
        SELECT 1 FROM json_each(NEW.nodes)
         WHERE value = (SELECT value FROM meta WHERE name = 'fleet.node'))
     WHERE id = NEW.id;
END;

CREATE TRIGGER keys_here_update AFTER UPDATE OF nodes ON keys
BEGIN
    UPDATE keys SET here = NEW.nodes IS NULL OR EXISTS (
        SELECT 1 FROM json_each(NEW.nodes)
         WHERE value = (SELECT value FROM meta WHERE name = 'fleet.node'))
     WHERE id = NEW.id;
END;

-- The applier's work list, with placement: the core state a key should have here.
DROP INDEX keys_pending;
CREATE INDEX keys_pending ON keys (id)
    WHERE (applied IS NOT (CASE WHEN here = 0 AND state = 'active' THEN 'disabled' ELSE state END) OR (state = 'active' AND here = 1 AND applied_uuid IS NOT uuid));

CREATE TABLE fleet_outbox (
    key_id INTEGER PRIMARY KEY
);

CREATE TRIGGER fleet_outbox_insert AFTER INSERT ON keys
    WHEN EXISTS (SELECT 1 FROM meta WHERE name = 'fleet.node')
BEGIN
    INSERT INTO fleet_outbox (key_id) VALUES (NEW.id) ON CONFLICT (key_id) DO NOTHING;
END;

-- Only what the operator (or the daemon's enforcement) decides travels; what this node's
-- core has applied is the node's own business.
CREATE TRIGGER fleet_outbox_update AFTER UPDATE OF
    uuid, name, name_fold, note, state, disable_reason, data_limit, expires_at, deleted_at,
    fleet_resets, nodes
    ON keys
    WHEN EXISTS (SELECT 1 FROM meta WHERE name = 'fleet.node')
BEGIN
    INSERT INTO fleet_outbox (key_id) VALUES (NEW.id) ON CONFLICT (key_id) DO NOTHING;
END;

-- The other nodes' bytes of each key since its last reset, as last read from the registry.
CREATE TABLE fleet_traffic (
    key_id   INTEGER PRIMARY KEY,
    uplink   INTEGER NOT NULL DEFAULT 0,
    downlink INTEGER NOT NULL DEFAULT 0
);

-- What this node last wrote to the registry of its own traffic, so it writes only keys
-- that moved.
CREATE TABLE fleet_traffic_sent (
    key_id   INTEGER PRIMARY KEY,
    uplink   INTEGER NOT NULL,
    downlink INTEGER NOT NULL
);

-- A reset of a key's totals on this node starts this node's view of the others' share
-- again from zero too: the next exchange adds their current figures back, so a reset made
-- on every node (the periodic ones) leaves the sum of every node's bytes since its reset.
CREATE TRIGGER fleet_traffic_reset AFTER INSERT ON traffic_resets
BEGIN
    UPDATE fleet_traffic SET uplink = 0, downlink = 0 WHERE key_id = NEW.key_id;
END;

-- Every node of the fleet as last read from the registry (for `node.list`, the dashboard
-- and subscriptions, also while the registry is away).
CREATE TABLE fleet_nodes (
    name      TEXT PRIMARY KEY,
    draining  INTEGER NOT NULL DEFAULT 0,
    -- Unix seconds of the node's last beat, NULL before its first.
    last_seen INTEGER,
    -- What the node publishes: its health (JSON) and its server (host + endpoint, JSON).
    health    TEXT,
    server    TEXT,
    -- The node's own bytes of every key since their resets.
    uplink    INTEGER NOT NULL DEFAULT 0,
    downlink  INTEGER NOT NULL DEFAULT 0
);

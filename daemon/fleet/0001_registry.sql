-- The fleet's registry, in PostgreSQL. Applied by `veild fleet init` as the database's
-- owner; the nodes' roles (members of veil_nodes) never own anything, so row-level
-- security holds for them. Append-only: a new numbered file for every change.

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'veil_nodes') THEN
        CREATE ROLE veil_nodes NOLOGIN;
    END IF;
END $$;

-- Every node: its name, the role it logs in as, and what it publishes about itself.
CREATE TABLE fleet_nodes (
    name      text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    role      name NOT NULL UNIQUE,
    -- Written by the node itself: the server its keys dial (host + endpoint) and health.
    server    jsonb,
    health    jsonb,
    last_seen timestamptz
);

-- Drained nodes (`veil node drain`, from any node): left out of subscriptions, they keep
-- serving the keys they have.
CREATE TABLE node_drain (
    node       text PRIMARY KEY REFERENCES fleet_nodes (name),
    drained_at bigint NOT NULL,
    drained_by text   NOT NULL
);

-- Every change of a key takes the next number; a node reads what is above the last it saw.
CREATE SEQUENCE key_versions;

CREATE TABLE keys (
    id             bigint PRIMARY KEY,
    uuid           uuid   NOT NULL UNIQUE,
    name           text   NOT NULL,
    name_fold      text   NOT NULL,
    note           text   NOT NULL DEFAULT '',
    created_at     bigint NOT NULL,
    updated_at     bigint NOT NULL,
    state          text   NOT NULL CHECK (state IN ('active', 'disabled', 'deleted')),
    disable_reason text   CHECK (disable_reason IN ('manual', 'limited', 'expired')),
    data_limit     bigint CHECK (data_limit IS NULL OR data_limit >= 0),
    expires_at     bigint,
    deleted_at     bigint,
    -- Manual traffic resets so far: each node resets its share when this grows.
    resets         bigint NOT NULL DEFAULT 0,
    -- The nodes the key is on (a JSON array of names); NULL: every node.
    nodes          text,
    version        bigint NOT NULL,
    written_by     text   NOT NULL
);
CREATE UNIQUE INDEX keys_live_name ON keys (name_fold) WHERE state <> 'deleted';
CREATE INDEX keys_version ON keys (version);

-- Each node's bytes of each key since its last reset (absolute figures: writing them again
-- after a crash or an outage never counts twice).
CREATE TABLE node_traffic (
    node       text   NOT NULL REFERENCES fleet_nodes (name),
    key_id     bigint NOT NULL,
    uplink     bigint NOT NULL CHECK (uplink >= 0),
    downlink   bigint NOT NULL CHECK (downlink >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, key_id)
);

-- Nodes hear of every change in one notification per statement.
CREATE FUNCTION veil_notify_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('veil_registry', 'keys');
    RETURN NULL;
END $$;
CREATE TRIGGER keys_notify AFTER INSERT OR UPDATE ON keys
    FOR EACH STATEMENT EXECUTE FUNCTION veil_notify_keys();

-- Row-level security: a node reads everything, manages keys, and writes only its own
-- node row and its own traffic rows.
ALTER TABLE fleet_nodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE node_traffic ENABLE ROW LEVEL SECURITY;

CREATE POLICY nodes_read ON fleet_nodes FOR SELECT TO veil_nodes USING (true);
CREATE POLICY nodes_own ON fleet_nodes FOR UPDATE TO veil_nodes
    USING (role = current_user) WITH CHECK (role = current_user);
CREATE POLICY traffic_read ON node_traffic FOR SELECT TO veil_nodes USING (true);
CREATE POLICY traffic_insert ON node_traffic FOR INSERT TO veil_nodes
    WITH CHECK (node = (SELECT n.name FROM fleet_nodes n WHERE n.role = current_user));
CREATE POLICY traffic_update ON node_traffic FOR UPDATE TO veil_nodes
    USING (node = (SELECT n.name FROM fleet_nodes n WHERE n.role = current_user))
    WITH CHECK (node = (SELECT n.name FROM fleet_nodes n WHERE n.role = current_user));

GRANT SELECT ON fleet_nodes TO veil_nodes;
GRANT UPDATE (server, health, last_seen) ON fleet_nodes TO veil_nodes;
GRANT SELECT, INSERT, UPDATE ON keys TO veil_nodes;
GRANT SELECT, INSERT, DELETE ON node_drain TO veil_nodes;
GRANT USAGE ON SEQUENCE key_versions TO veil_nodes;
GRANT SELECT, INSERT, UPDATE ON node_traffic TO veil_nodes;

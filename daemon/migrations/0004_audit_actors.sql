-- Actors of every kind in the audit trail: a socket peer (uid, gid, pid), an API token (its
-- name and the client's address) or veild itself (which task). `uid` was NOT NULL, which
-- only a socket peer can fill, so the table is rebuilt; every old row keeps its id, time
-- and credentials. Rows veild wrote for its own work (limit and expiry enforcement,
-- periodic resets) carried veild's own uid; they become `daemon` rows, credentials kept.

CREATE TABLE audit_v4 (
    id      INTEGER PRIMARY KEY,
    time    INTEGER NOT NULL,
    actor   TEXT    NOT NULL CHECK (actor IN ('peer', 'token', 'daemon')),
    uid     INTEGER,
    gid     INTEGER,
    pid     INTEGER,
    -- API token actors: the token's name (never the token) and the client's address.
    token   TEXT,
    remote  TEXT,
    -- Daemon actors: what veild was doing (enforce, reset, adopt).
    task    TEXT,
    method  TEXT    NOT NULL,
    key_id  INTEGER,
    key_ref TEXT,
    outcome TEXT    NOT NULL,
    detail  TEXT,
    CHECK (actor <> 'peer' OR uid IS NOT NULL),
    CHECK (actor <> 'token' OR token IS NOT NULL),
    CHECK (actor <> 'daemon' OR task IS NOT NULL)
);

INSERT INTO audit_v4 (id, time, actor, uid, gid, pid, task, method, key_id, key_ref, outcome, detail)
SELECT id, time,
       CASE WHEN method = 'traffic.enforce' THEN 'daemon'
            WHEN method = 'traffic.reset' AND key_ref IS NULL THEN 'daemon'
            ELSE 'peer' END,
       uid, gid, pid,
       CASE WHEN method = 'traffic.enforce' THEN 'enforce'
            WHEN method = 'traffic.reset' AND key_ref IS NULL THEN 'reset'
            ELSE NULL END,
       method, key_id, key_ref, outcome, detail
FROM audit;

DROP TABLE audit;
ALTER TABLE audit_v4 RENAME TO audit;
CREATE INDEX audit_key ON audit (key_id, id);

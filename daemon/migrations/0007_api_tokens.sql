-- API tokens of the HTTP API: only a SHA-256 digest of each secret is kept (the secret is
-- shown once, when the token is made). A revoked token keeps its row (and its name) so the
-- audit trail still names it; times are Unix seconds.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    hash         TEXT    NOT NULL UNIQUE,
    read_only    INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

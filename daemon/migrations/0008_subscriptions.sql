-- Subscription tokens: at most one live token per key. The token itself is never stored:
-- it is derived from a server secret (HMAC-SHA256 over the key id and `generation`, the
-- secret in a 0600 file beside the database), and `token_hash` (SHA-256 of the token's
-- text) is what `GET /sub/{token}` looks up. Rotating bumps `generation` (the old token
-- stops matching at once); revoking sets `revoked_at` and clears the hash.
CREATE TABLE subscriptions (
    key_id      INTEGER PRIMARY KEY REFERENCES keys(id) ON DELETE CASCADE,
    generation  INTEGER NOT NULL DEFAULT 1,
    token_hash  BLOB UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

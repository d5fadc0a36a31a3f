-- lakebox catalog, migration 003: API keys for the HTTP server.
-- Secrets are random 256-bit tokens: a salted SHA-256 is enough (no stretching needed for
-- high-entropy secrets) and keeps verification cheap on every request.

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    prefix      TEXT    NOT NULL UNIQUE,        -- public part of the key, used to look it up
    salt        BLOB    NOT NULL,
    hash        BLOB    NOT NULL,
    scopes      TEXT    NOT NULL,               -- JSON list
    created_at  TEXT    NOT NULL,
    revoked_at  TEXT
);

-- lakebox catalog, migration 020: principals (users and services) with a role in this box's
-- project, and API keys that belong to a principal, expire, rotate and record their last use.
-- A key's effective scopes are its own scopes within its principal's current role, so
-- changing a role takes effect on the next request.

CREATE TABLE principals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'editor', 'viewer', 'serving')),
    created_at  TEXT    NOT NULL,
    removed_at  TEXT
);

ALTER TABLE api_keys ADD COLUMN principal_id INTEGER REFERENCES principals(id);
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;      -- ISO-8601 UTC; NULL: never
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;    -- recorded at most once a minute per key
ALTER TABLE api_keys ADD COLUMN rotated_at TEXT;      -- the secret was replaced then

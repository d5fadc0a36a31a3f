-- lakebox catalog, migration 022: what this project shares with other projects of the same
-- home (read-only). Kept in the owner's catalog, so revoking takes effect at the grantee's
-- next read (every read checks the share).

CREATE TABLE shares (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('feature_group', 'feature_view')),
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    grantee     TEXT    NOT NULL,              -- the other project's name
    access      TEXT    NOT NULL CHECK (access IN ('read')),
    created_at  TEXT    NOT NULL,
    revoked_at  TEXT
);

CREATE UNIQUE INDEX shares_live ON shares (kind, name, version, grantee) WHERE revoked_at IS NULL;

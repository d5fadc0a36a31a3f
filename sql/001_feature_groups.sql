-- lakebox catalog, migration 001: feature groups, their features and the commit log.
-- Applied in one transaction; PRAGMA user_version records the last applied migration.

CREATE TABLE feature_groups (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    description     TEXT    NOT NULL DEFAULT '',
    primary_key     TEXT    NOT NULL,            -- JSON list of column names
    event_time      TEXT,                        -- column name, or NULL: one row per key
    online_enabled  INTEGER NOT NULL DEFAULT 0,
    table_name      TEXT    NOT NULL,            -- Iceberg identifier inside the warehouse
    settings        TEXT    NOT NULL DEFAULT '{}', -- JSON: retention policy and friends
    created_at      TEXT    NOT NULL,
    UNIQUE (name, version)
);

-- The schema, once known (explicit features=[...] or the first insert).
CREATE TABLE features (
    group_id     INTEGER NOT NULL REFERENCES feature_groups(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    type         TEXT    NOT NULL,               -- lakebox type name, e.g. bigint, double, timestamp
    description  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (group_id, name)
);

-- One row per lakebox commit. Derived from the Iceberg snapshot summaries (which carry the
-- same fields), so a process killed between the Iceberg commit and this insert is repaired
-- on the next read. Rows outlive expired snapshots so history stays explainable.
CREATE TABLE commits (
    group_id       INTEGER NOT NULL REFERENCES feature_groups(id) ON DELETE CASCADE,
    commit_id      INTEGER NOT NULL,
    snapshot_id    INTEGER NOT NULL,
    committed_ms   INTEGER NOT NULL,             -- wall-clock commit time, UTC epoch ms
    kind           TEXT    NOT NULL,             -- insert | delete | rollback | compact
    rows_inserted  INTEGER NOT NULL DEFAULT 0,
    rows_updated   INTEGER NOT NULL DEFAULT 0,
    rows_deleted   INTEGER NOT NULL DEFAULT 0,
    expired        INTEGER NOT NULL DEFAULT 0,   -- 1 once retention removed its snapshot
    PRIMARY KEY (group_id, commit_id)
);

CREATE INDEX commits_by_time ON commits (group_id, committed_ms);

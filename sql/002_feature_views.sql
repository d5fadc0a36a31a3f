-- lakebox catalog, migration 002: feature views and their training datasets.

CREATE TABLE feature_views (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    description     TEXT    NOT NULL DEFAULT '',
    query           TEXT    NOT NULL,            -- JSON: the serialised Query
    labels          TEXT    NOT NULL DEFAULT '[]',
    transformations TEXT    NOT NULL DEFAULT '{}', -- JSON: {feature: function name}
    created_at      TEXT    NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE training_datasets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    view_id         INTEGER NOT NULL REFERENCES feature_views(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL CHECK (version >= 1),
    description     TEXT    NOT NULL DEFAULT '',
    data_format     TEXT    NOT NULL,
    location        TEXT    NOT NULL,            -- relative to the box's artifacts/ folder
    spec            TEXT    NOT NULL,            -- JSON: split sizes or times, seed, time range
    snapshots       TEXT    NOT NULL,            -- JSON: [{group, version, commit_id, snapshot_id}]
    transformations TEXT    NOT NULL DEFAULT '{}', -- JSON: fitted parameters (train split only)
    columns         TEXT    NOT NULL,            -- JSON: {"features": [...], "labels": [...]}
    statistics      TEXT    NOT NULL DEFAULT '{}',
    row_counts      TEXT    NOT NULL DEFAULT '{}',
    created_at      TEXT    NOT NULL,
    UNIQUE (view_id, version)
);

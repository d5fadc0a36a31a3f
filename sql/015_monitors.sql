-- lakebox catalog, migration 015: drift monitors, their results, and catalog events (issue 13).
--
-- A monitor compares a window of logged predictions' features (or of a feature group's
-- rows) with a training dataset's rows. Each run stores one result per feature and metric;
-- an alerting run also records an event (kind 'drift_alert') that the CLI and the TUI list.
-- Monitors are assets (kind 'monitor').

CREATE TABLE monitors (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    name                      TEXT    NOT NULL UNIQUE,
    description               TEXT    NOT NULL DEFAULT '',
    source_kind               TEXT    NOT NULL CHECK (source_kind IN ('deployment', 'feature_group')),
    source_name               TEXT    NOT NULL,
    source_version            INTEGER,           -- the feature group's version (NULL for a deployment)
    feature_view              TEXT    NOT NULL,
    feature_view_version      INTEGER NOT NULL,
    training_dataset_version  INTEGER NOT NULL,
    features                  TEXT    NOT NULL,  -- JSON list of feature names
    window_s                  REAL    NOT NULL CHECK (window_s > 0),
    metrics                   TEXT    NOT NULL,  -- JSON list: psi, ks, mean_shift
    thresholds                TEXT    NOT NULL,  -- JSON {metric: threshold}
    created_at                TEXT    NOT NULL
);

CREATE TABLE monitor_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id    INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    run_at        TEXT    NOT NULL,
    window_start  TEXT    NOT NULL,
    window_end    TEXT    NOT NULL,
    rows          INTEGER NOT NULL,  -- rows in the window
    alert         INTEGER NOT NULL   -- 1 when any feature alerted
);
CREATE INDEX monitor_runs_by_monitor ON monitor_runs (monitor_id, id);

CREATE TABLE monitor_results (
    run_id     INTEGER NOT NULL REFERENCES monitor_runs(id) ON DELETE CASCADE,
    feature    TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    score      REAL,              -- NULL when the window had no values of the feature
    threshold  REAL    NOT NULL,
    alert      INTEGER NOT NULL,
    PRIMARY KEY (run_id, feature, metric)
);

CREATE TABLE catalog_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,  -- e.g. drift_alert
    asset_kind  TEXT    NOT NULL,
    asset_name  TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    details     TEXT    NOT NULL DEFAULT '{}',  -- JSON
    created_at  TEXT    NOT NULL
);
CREATE INDEX catalog_events_by_time ON catalog_events (created_at);

CREATE TRIGGER monitors_ai AFTER INSERT ON monitors BEGIN
    INSERT INTO assets (kind, name, version, description, keywords, ref_id)
    VALUES ('monitor', new.name, NULL, new.description,
            trim(new.source_name || ' ' || new.feature_view || ' drift monitor ' ||
                 coalesce((SELECT group_concat(value, ' ') FROM json_each(new.features)), '')), new.id);
END;

CREATE TRIGGER monitors_ad AFTER DELETE ON monitors BEGIN
    DELETE FROM assets WHERE kind = 'monitor' AND ref_id = old.id;
END;

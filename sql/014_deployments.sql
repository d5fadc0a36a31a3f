-- lakebox catalog, migration 014: model deployments (issue 13).
--
-- A deployment serves one registered model (name + default version, optionally a traffic
-- split over several versions) behind the online store: it looks features up through the
-- model's feature view, transforms them as for its training dataset, predicts and logs.
-- `generation` grows with every change, so a long-lived server notices a new default
-- version or traffic split on its next request. Deployments are assets (kind
-- 'deployment'): searchable, tagged, linked to their model in the lineage.

CREATE TABLE deployments (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    name                      TEXT    NOT NULL UNIQUE,
    description               TEXT    NOT NULL DEFAULT '',
    model_name                TEXT    NOT NULL,
    model_version             INTEGER NOT NULL CHECK (model_version >= 1),  -- the default version
    traffic                   TEXT    NOT NULL DEFAULT '{}',  -- JSON {version: percent}; {} = all to the default
    predictor                 TEXT,              -- a predictor.py path relative to the model folder, or NULL (auto)
    serving_keys              TEXT    NOT NULL DEFAULT '[]',  -- JSON list of entry key names
    feature_view              TEXT    NOT NULL,
    feature_view_version      INTEGER NOT NULL,
    training_dataset_version  INTEGER NOT NULL,
    features                  TEXT    NOT NULL DEFAULT '[]',  -- JSON [[name, type], ...]: the model's inputs, in order
    log_group                 TEXT,              -- the prediction-log feature group, NULL when logging is off
    generation                INTEGER NOT NULL DEFAULT 1,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL
);

CREATE TRIGGER deployments_ai AFTER INSERT ON deployments BEGIN
    INSERT INTO assets (kind, name, version, description, keywords, ref_id)
    VALUES ('deployment', new.name, NULL, new.description,
            trim(new.model_name || ' ' || new.feature_view || ' deployment serving prediction'), new.id);
END;

CREATE TRIGGER deployments_au AFTER UPDATE OF description, model_name ON deployments BEGIN
    UPDATE assets SET description = new.description,
        keywords = trim(new.model_name || ' ' || new.feature_view || ' deployment serving prediction')
    WHERE kind = 'deployment' AND ref_id = new.id;
END;

CREATE TRIGGER deployments_ad AFTER DELETE ON deployments BEGIN
    DELETE FROM assets WHERE kind = 'deployment' AND ref_id = old.id;
END;

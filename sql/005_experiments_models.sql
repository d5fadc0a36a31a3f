-- lakebox catalog, migration 005: experiments (runs of experiment.lagom), their trials, and
-- the model registry.
--
-- Experiments and models are assets (kind 'experiment' and 'model'): triggers keep `assets`
-- and its FTS5 index in step inside the same transaction, as migration 004 does for groups and
-- views, so search, tags and lineage work on them and a deleted model leaves no asset behind.

CREATE TABLE experiments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    run          INTEGER NOT NULL CHECK (run >= 1),  -- 1, 2, 3, ... per name
    kind         TEXT    NOT NULL,  -- single | hyperparameter_search | ablation | distributed
    status       TEXT    NOT NULL,  -- running | finished | failed | interrupted
    description  TEXT    NOT NULL DEFAULT '',
    function     TEXT    NOT NULL,  -- module.qualname of the training function
    config       TEXT    NOT NULL,  -- JSON: the config as given
    hparams      TEXT    NOT NULL DEFAULT '{}',  -- JSON: the run's (or the best trial's) hparams
    metrics      TEXT    NOT NULL DEFAULT '{}',  -- JSON: the run's (or the best trial's) metrics
    metric       TEXT,              -- the optimised metric, if any
    direction    TEXT,              -- max | min
    best_value   REAL,
    files        TEXT    NOT NULL DEFAULT '{}',  -- JSON: {key: path relative to artifacts/}
    environment  TEXT    NOT NULL DEFAULT '{}',  -- JSON: python, packages, git commit
    error        TEXT,
    location     TEXT    NOT NULL,  -- relative to the box's artifacts/ folder
    started_at   TEXT    NOT NULL,
    finished_at  TEXT,
    duration_s   REAL,
    UNIQUE (name, run)
);

CREATE TABLE experiment_trials (
    experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    trial          INTEGER NOT NULL,  -- 0, 1, 2, ... in the order trials were started
    hparams        TEXT    NOT NULL,  -- JSON
    status         TEXT    NOT NULL,  -- finished | pruned | failed
    metrics        TEXT    NOT NULL DEFAULT '{}',  -- JSON
    value          REAL,              -- the optimised metric (the last reported value if pruned)
    steps          TEXT    NOT NULL DEFAULT '[]',  -- JSON: [[step, value], ...] from experiment.report
    files          TEXT    NOT NULL DEFAULT '{}',
    outputs        TEXT    NOT NULL DEFAULT '{}',  -- JSON: returned values that are neither metrics nor files
    attempts       INTEGER NOT NULL DEFAULT 1,
    worker         INTEGER,
    error          TEXT,
    started_at     TEXT    NOT NULL,
    duration_s     REAL,
    PRIMARY KEY (experiment_id, trial)
);

CREATE TABLE models (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT    NOT NULL,
    version           INTEGER NOT NULL CHECK (version >= 1),
    description       TEXT    NOT NULL DEFAULT '',
    metrics           TEXT    NOT NULL DEFAULT '{}',  -- JSON: {name: number}
    input_example     TEXT,              -- JSON
    training_dataset  TEXT,              -- JSON: {feature_view, feature_view_version, version}
    experiment_id     INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
    location          TEXT    NOT NULL,  -- relative to the box's artifacts/ folder
    created_at        TEXT    NOT NULL,
    UNIQUE (name, version)
);

-- one row per numeric metric, so get_best_model orders in SQL
CREATE TABLE model_metrics (
    model_id  INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    name      TEXT    NOT NULL,
    value     REAL    NOT NULL,
    PRIMARY KEY (model_id, name)
);
CREATE INDEX model_metrics_by_name ON model_metrics (name, value);

-- assets: searchable by name, description and metric / hyperparameter names -------------
CREATE TRIGGER experiments_ai AFTER INSERT ON experiments BEGIN
    INSERT INTO assets (kind, name, version, description, keywords, ref_id)
    VALUES ('experiment', new.name, new.run, new.description,
            trim(new.kind || ' ' || new.function || ' ' || coalesce(new.metric, '') || ' ' ||
                 coalesce((SELECT group_concat(key, ' ') FROM json_each(new.hparams)), '')),
            new.id);
END;

CREATE TRIGGER experiments_au AFTER UPDATE OF description, hparams, metrics, status ON experiments BEGIN
    UPDATE assets SET
        description = new.description,
        keywords = trim(new.kind || ' ' || new.status || ' ' || new.function || ' ' ||
                        coalesce(new.metric, '') || ' ' ||
                        coalesce((SELECT group_concat(key, ' ') FROM json_each(new.hparams)), '') || ' ' ||
                        coalesce((SELECT group_concat(key, ' ') FROM json_each(new.metrics)), ''))
    WHERE kind = 'experiment' AND ref_id = new.id;
END;

CREATE TRIGGER experiments_ad AFTER DELETE ON experiments BEGIN
    DELETE FROM assets WHERE kind = 'experiment' AND ref_id = old.id;
END;

CREATE TRIGGER models_ai AFTER INSERT ON models BEGIN
    INSERT INTO assets (kind, name, version, description, keywords, ref_id)
    VALUES ('model', new.name, new.version, new.description,
            coalesce((SELECT group_concat(key, ' ') FROM json_each(new.metrics)), ''), new.id);
END;

CREATE TRIGGER models_au AFTER UPDATE OF description, metrics ON models BEGIN
    UPDATE assets SET
        description = new.description,
        keywords = coalesce((SELECT group_concat(key, ' ') FROM json_each(new.metrics)), '')
    WHERE kind = 'model' AND ref_id = new.id;
END;

CREATE TRIGGER models_ad AFTER DELETE ON models BEGIN
    DELETE FROM assets WHERE kind = 'model' AND ref_id = old.id;
END;

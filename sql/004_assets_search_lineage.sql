-- lakebox catalog, migration 004: one asset table over everything a user can find, its
-- full-text index, tags, lineage, statistics and validation reports.
--
-- Triggers keep `assets` and the FTS5 index in step with the catalog tables inside the same
-- transaction as the change, so search can never disagree with the catalog.

CREATE TABLE assets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,  -- feature_group | feature | feature_view | training_dataset | model | experiment
    name         TEXT    NOT NULL,
    version      INTEGER,
    parent       TEXT,              -- "group:version" for a feature, "view:version" for a training dataset
    description  TEXT    NOT NULL DEFAULT '',
    keywords     TEXT    NOT NULL DEFAULT '',  -- feature names, labels: searchable, weighted below names
    ref_id       INTEGER NOT NULL,  -- the row id in the asset's own table
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (kind, ref_id, name)
);
CREATE INDEX assets_by_name ON assets (name, kind);

CREATE TABLE asset_tags (
    asset_id  INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,     -- JSON
    PRIMARY KEY (asset_id, key)
);

CREATE VIRTUAL TABLE asset_search USING fts5(
    name, description, keywords, tags,
    tokenize = 'porter unicode61',
    prefix = '2 3 4'
);

CREATE TABLE lineage (
    src       INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    dst       INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    relation  TEXT    NOT NULL,     -- e.g. reads, materializes, trained_on, produced
    details   TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (src, dst, relation)
);
CREATE INDEX lineage_by_dst ON lineage (dst);

CREATE TABLE statistics (
    group_id     INTEGER NOT NULL REFERENCES feature_groups(id) ON DELETE CASCADE,
    commit_id    INTEGER NOT NULL,
    computed_at  TEXT    NOT NULL,
    stats        TEXT    NOT NULL,  -- JSON of lakebox.stats.Statistics.to_dict()
    PRIMARY KEY (group_id, commit_id)
);

CREATE TABLE validation_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id    INTEGER NOT NULL REFERENCES feature_groups(id) ON DELETE CASCADE,
    commit_id   INTEGER,            -- NULL when strict validation rejected the batch
    created_at  TEXT    NOT NULL,
    success     INTEGER NOT NULL,
    mode        TEXT    NOT NULL,   -- strict | warn
    report      TEXT    NOT NULL    -- JSON of lakebox.expect.ValidationReport.to_dict()
);

-- the index follows the asset table ------------------------------------------------------
CREATE TRIGGER assets_ai AFTER INSERT ON assets BEGIN
    INSERT INTO asset_search (rowid, name, description, keywords, tags)
    VALUES (new.id, new.name, new.description, new.keywords, '');
END;

CREATE TRIGGER assets_au AFTER UPDATE ON assets BEGIN
    UPDATE asset_search SET name = new.name, description = new.description, keywords = new.keywords
    WHERE rowid = new.id;
END;

CREATE TRIGGER assets_ad AFTER DELETE ON assets BEGIN
    DELETE FROM asset_search WHERE rowid = old.id;
END;

CREATE TRIGGER asset_tags_ai AFTER INSERT ON asset_tags BEGIN
    UPDATE asset_search SET tags = (
        SELECT group_concat(key || ' ' || value, ' ') FROM asset_tags WHERE asset_id = new.asset_id
    ) WHERE rowid = new.asset_id;
END;

CREATE TRIGGER asset_tags_au AFTER UPDATE ON asset_tags BEGIN
    UPDATE asset_search SET tags = (
        SELECT group_concat(key || ' ' || value, ' ') FROM asset_tags WHERE asset_id = new.asset_id
    ) WHERE rowid = new.asset_id;
END;

CREATE TRIGGER asset_tags_ad AFTER DELETE ON asset_tags BEGIN
    UPDATE asset_search SET tags = coalesce((
        SELECT group_concat(key || ' ' || value, ' ') FROM asset_tags WHERE asset_id = old.asset_id
    ), '') WHERE rowid = old.asset_id;
END;

-- feature groups and their features -------------------------------------------------------
CREATE TRIGGER feature_groups_ai AFTER INSERT ON feature_groups BEGIN
    INSERT INTO assets (kind, name, version, description, ref_id)
    VALUES ('feature_group', new.name, new.version, new.description, new.id);
END;

CREATE TRIGGER feature_groups_au AFTER UPDATE OF description ON feature_groups BEGIN
    UPDATE assets SET description = new.description WHERE kind = 'feature_group' AND ref_id = new.id;
END;

CREATE TRIGGER feature_groups_ad AFTER DELETE ON feature_groups BEGIN
    DELETE FROM assets WHERE kind IN ('feature_group', 'feature') AND ref_id = old.id;
END;

CREATE TRIGGER features_ai AFTER INSERT ON features BEGIN
    INSERT OR REPLACE INTO assets (kind, name, version, parent, description, ref_id)
    SELECT 'feature', new.name, g.version, g.name || ':' || g.version, new.description, new.group_id
    FROM feature_groups AS g WHERE g.id = new.group_id;
    UPDATE assets SET keywords = (
        SELECT group_concat(name, ' ') FROM features WHERE group_id = new.group_id
    ) WHERE kind = 'feature_group' AND ref_id = new.group_id;
END;

CREATE TRIGGER features_au AFTER UPDATE OF description ON features BEGIN
    UPDATE assets SET description = new.description
    WHERE kind = 'feature' AND ref_id = new.group_id AND name = new.name;
END;

CREATE TRIGGER features_ad AFTER DELETE ON features BEGIN
    DELETE FROM assets WHERE kind = 'feature' AND ref_id = old.group_id AND name = old.name;
    UPDATE assets SET keywords = coalesce((
        SELECT group_concat(name, ' ') FROM features WHERE group_id = old.group_id
    ), '') WHERE kind = 'feature_group' AND ref_id = old.group_id;
END;

-- feature views and training datasets -----------------------------------------------------
CREATE TRIGGER feature_views_ai AFTER INSERT ON feature_views BEGIN
    INSERT INTO assets (kind, name, version, description, keywords, ref_id)
    VALUES ('feature_view', new.name, new.version, new.description, new.labels, new.id);
END;

CREATE TRIGGER feature_views_au AFTER UPDATE OF description ON feature_views BEGIN
    UPDATE assets SET description = new.description WHERE kind = 'feature_view' AND ref_id = new.id;
END;

CREATE TRIGGER feature_views_ad AFTER DELETE ON feature_views BEGIN
    DELETE FROM assets WHERE kind = 'feature_view' AND ref_id = old.id;
END;

CREATE TRIGGER training_datasets_ai AFTER INSERT ON training_datasets BEGIN
    INSERT INTO assets (kind, name, version, parent, description, keywords, ref_id)
    SELECT 'training_dataset', v.name, new.version, v.name || ':' || v.version, new.description,
           new.data_format, new.id
    FROM feature_views AS v WHERE v.id = new.view_id;
END;

CREATE TRIGGER training_datasets_ad AFTER DELETE ON training_datasets BEGIN
    DELETE FROM assets WHERE kind = 'training_dataset' AND ref_id = old.id;
END;

-- assets created before this migration ----------------------------------------------------
INSERT INTO assets (kind, name, version, description, ref_id)
    SELECT 'feature_group', name, version, description, id FROM feature_groups;
INSERT INTO assets (kind, name, version, parent, description, ref_id)
    SELECT 'feature', f.name, g.version, g.name || ':' || g.version, f.description, f.group_id
    FROM features AS f JOIN feature_groups AS g ON g.id = f.group_id;
UPDATE assets SET keywords = coalesce((
    SELECT group_concat(name, ' ') FROM features WHERE group_id = assets.ref_id
), '') WHERE kind = 'feature_group';
INSERT INTO assets (kind, name, version, description, keywords, ref_id)
    SELECT 'feature_view', name, version, description, labels, id FROM feature_views;
INSERT INTO assets (kind, name, version, parent, description, keywords, ref_id)
    SELECT 'training_dataset', v.name, t.version, v.name || ':' || v.version, t.description, t.data_format, t.id
    FROM training_datasets AS t JOIN feature_views AS v ON v.id = t.view_id;

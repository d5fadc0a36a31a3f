-- lakebox catalog, migration 010: a training dataset version is reserved before its files are
-- written. A row is `pending` while its creator writes and pins, `ready` once complete, and
-- `deleting` while its files and pins are removed; readers see `ready` rows only. The owner
-- (pid and host) lets a later creator clean up after a creator that was killed.

ALTER TABLE training_datasets ADD COLUMN state TEXT NOT NULL DEFAULT 'ready'
    CHECK (state IN ('pending', 'ready', 'deleting'));
ALTER TABLE training_datasets ADD COLUMN owner_pid INTEGER;
ALTER TABLE training_datasets ADD COLUMN owner_host TEXT;

CREATE INDEX training_datasets_by_state ON training_datasets (state);

-- a dataset is an asset (searchable, taggable) only while it is ready
DROP TRIGGER training_datasets_ai;

CREATE TRIGGER training_datasets_ai AFTER INSERT ON training_datasets WHEN new.state = 'ready' BEGIN
    INSERT INTO assets (kind, name, version, parent, description, keywords, ref_id)
    SELECT 'training_dataset', v.name, new.version, v.name || ':' || v.version, new.description,
           new.data_format, new.id
    FROM feature_views AS v WHERE v.id = new.view_id;
END;

CREATE TRIGGER training_datasets_ready AFTER UPDATE OF state ON training_datasets
WHEN new.state = 'ready' AND old.state <> 'ready' BEGIN
    INSERT INTO assets (kind, name, version, parent, description, keywords, ref_id)
    SELECT 'training_dataset', v.name, new.version, v.name || ':' || v.version, new.description,
           new.data_format, new.id
    FROM feature_views AS v WHERE v.id = new.view_id;
END;

CREATE TRIGGER training_datasets_unready AFTER UPDATE OF state ON training_datasets
WHEN old.state = 'ready' AND new.state <> 'ready' BEGIN
    DELETE FROM assets WHERE kind = 'training_dataset' AND ref_id = old.id;
END;

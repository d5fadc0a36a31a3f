-- lakebox catalog, migration 006: a group's searchable feature names are written once per
-- schema change (by the code that writes the features, in the same transaction) instead of
-- once per feature row, which made a group of N features cost O(N^2) index updates.

DROP TRIGGER features_ai;
DROP TRIGGER features_ad;

CREATE TRIGGER features_ai AFTER INSERT ON features BEGIN
    INSERT OR REPLACE INTO assets (kind, name, version, parent, description, ref_id)
    SELECT 'feature', new.name, g.version, g.name || ':' || g.version, new.description, new.group_id
    FROM feature_groups AS g WHERE g.id = new.group_id;
END;

CREATE TRIGGER features_ad AFTER DELETE ON features BEGIN
    DELETE FROM assets WHERE kind = 'feature' AND ref_id = old.group_id AND name = old.name;
END;

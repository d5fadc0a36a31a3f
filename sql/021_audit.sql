-- lakebox catalog, migration 021: the audit log. Key, principal and role changes and failed
-- authentication are recorded by the code that makes them (in the same transaction);
-- writes are recorded by triggers on the catalog tables every writer goes through, so no
-- write path can forget them. The principal of a write is NULL for local (in-process) use;
-- the server fills it in for the writes it makes.

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,                   -- ISO-8601 UTC
    principal   TEXT,                               -- principal or key name; NULL: local
    project     TEXT,
    action      TEXT    NOT NULL,                   -- e.g. write.insert, key.create, auth.failed
    object      TEXT,                               -- e.g. feature_group:players:1, key:ci
    outcome     TEXT    NOT NULL DEFAULT 'ok',      -- ok | denied
    details     TEXT    NOT NULL DEFAULT '{}'       -- JSON
);

CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_object ON audit_log (object, at);

CREATE TRIGGER audit_commits AFTER INSERT ON commits
BEGIN
    INSERT INTO audit_log (at, action, object, details)
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'write.' || new.kind,
           'feature_group:' || g.name || ':' || g.version,
           json_object('commit_id', new.commit_id, 'rows_inserted', new.rows_inserted,
                       'rows_updated', new.rows_updated, 'rows_deleted', new.rows_deleted)
    FROM feature_groups g WHERE g.id = new.group_id;
END;

CREATE TRIGGER audit_group_created AFTER INSERT ON feature_groups
BEGIN
    INSERT INTO audit_log (at, action, object)
    VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'create', 'feature_group:' || new.name || ':' || new.version);
END;

CREATE TRIGGER audit_group_deleted AFTER DELETE ON feature_groups
BEGIN
    INSERT INTO audit_log (at, action, object)
    VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'delete', 'feature_group:' || old.name || ':' || old.version);
END;

CREATE TRIGGER audit_view_created AFTER INSERT ON feature_views
BEGIN
    INSERT INTO audit_log (at, action, object)
    VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'create', 'feature_view:' || new.name || ':' || new.version);
END;

CREATE TRIGGER audit_view_deleted AFTER DELETE ON feature_views
BEGIN
    INSERT INTO audit_log (at, action, object)
    VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'delete', 'feature_view:' || old.name || ':' || old.version);
END;

CREATE TRIGGER audit_model_created AFTER INSERT ON models
BEGIN
    INSERT INTO audit_log (at, action, object)
    VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'create', 'model:' || new.name || ':' || new.version);
END;
